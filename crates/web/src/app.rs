//! The axum application: [`AppState`] and [`app`], which merges each resource module's router.

use crate::db::StudyDb;
use crate::error::AppError;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What every handler shares: the database, the run directory that relative image paths are
/// resolved against, the folders images may be served from, and the study served.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: StudyDb,
    run_dir: PathBuf,
    /// Canonical folders an image must lie in once links are resolved: the run directory and
    /// the images folder of its eval run (see [`AppState::with_image_roots`]).
    image_roots: Vec<PathBuf>,
    study: String,
    /// The server's public URL is https: cookies get `Secure`.
    secure_cookies: bool,
}

impl AppState {
    /// The state of a server for `study`, with images relative to `run_dir` and served only from
    /// inside it.
    pub fn new(db: StudyDb, run_dir: impl Into<PathBuf>, study: impl Into<String>) -> AppState {
        Self::with_image_roots(db, run_dir, study, Vec::new())
    }

    /// [`AppState::new`], with images also served from inside each of `roots` (the images folder
    /// of the run's eval, where the study's questions about its images point). The study's
    /// database is untrusted like any stored file: an item whose image lies elsewhere (an absolute
    /// path to `/etc/shadow`, a link out of the folder) is never served.
    pub fn with_image_roots(
        db: StudyDb,
        run_dir: impl Into<PathBuf>,
        study: impl Into<String>,
        roots: Vec<PathBuf>,
    ) -> AppState {
        let run_dir = run_dir.into();
        // The filesystem's root is never a folder of images: a store naming it is refused here.
        let image_roots = std::iter::once(run_dir.clone())
            .chain(roots)
            .filter_map(|r| r.canonicalize().ok())
            .filter(|r| r.parent().is_some())
            .collect();
        AppState { inner: Arc::new(Inner { db, run_dir, image_roots, study: study.into(), secure_cookies: false }) }
    }

    /// The same state for a server reached at `public_url`: when it is `https://…`, every cookie
    /// it sets (admin session, a panel browser's secret) is `Secure`.
    pub fn with_public_url(self, public_url: &str) -> AppState {
        let inner = Inner {
            db: self.inner.db.clone(),
            run_dir: self.inner.run_dir.clone(),
            image_roots: self.inner.image_roots.clone(),
            study: self.inner.study.clone(),
            secure_cookies: public_url.starts_with("https://"),
        };
        AppState { inner: Arc::new(inner) }
    }

    /// Whether cookies get `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    /// The canonical folders images are served from.
    pub fn image_roots(&self) -> &[PathBuf] {
        &self.inner.image_roots
    }

    /// The database.
    pub fn db(&self) -> &StudyDb {
        &self.inner.db
    }

    /// The run directory.
    pub fn run_dir(&self) -> &Path {
        &self.inner.run_dir
    }

    /// The study served.
    pub fn study(&self) -> &str {
        &self.inner.study
    }

    /// The rater behind an invite token, or 404.
    pub(crate) async fn rater(&self, token: &str) -> Result<String, AppError> {
        self.db()
            .rater_for_token(self.study(), token)
            .await?
            .ok_or_else(|| AppError::NotFound("unknown invite token".to_string()))
    }
}

/// The whole application: rater pages and API, admin dashboard and API. Every response gets the
/// headers of `secure`; an error is `{"error": …}` under `/api/` and an HTML page elsewhere.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", axum::routing::get(index))
        .route("/favicon.ico", axum::routing::get(|| async { StatusCode::NO_CONTENT }))
        .merge(crate::rater::router())
        .merge(crate::join::router())
        .merge(crate::admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), secure))
        .layer(axum::middleware::from_fn(request_deadline))
        .with_state(state)
}

/// How long one request may take, its body included: a client that sends its body slowly
/// gets 408 rather than holding a connection and a database lease open.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn request_deadline(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

/// Whether a path is one of the pages a participant opens (entry routes and the rater page),
/// whose errors MTurk's frame must be able to show.
fn participant_page(path: &str) -> bool {
    path == "/mturk" || path.starts_with("/r/")
}

/// Headers on every response: nothing is cached (pages and answers carry invite tokens, the admin
/// side fresh tokens and votes), nothing is sniffed, no page can be framed by another site —
/// but participants' pages and their errors, by MTurk's origins when MTurk is open.
///
/// Errors: under `/api/` every error is the documented `{"error": …}` (axum's own rejections —
/// 413 for a body over 64 KiB, 415, … — included); everywhere else an error is an HTML page
/// that says what happened in words, never raw JSON.
async fn secure(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let is_json = content_type.starts_with("application/json");
    let is_html = content_type.starts_with("text/html");
    let api = path.starts_with("/api/");
    let error = status.is_client_error() || status.is_server_error();
    let mut response = if error && ((api && !is_json) || (!api && !is_html)) {
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let message = if is_json {
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| text.trim().to_string())
        } else if text.trim().is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            text.trim().to_string()
        };
        let mut out = if api {
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
        } else {
            let mut csp = PageCsp::default();
            if participant_page(&path) {
                if let Ok(Some(e)) = state.db().enrollment(state.study()).await {
                    if e.platforms.contains(&crate::enrollment::Platform::Mturk) {
                        csp = PageCsp::mturk(&e, None);
                    }
                }
            }
            error_page(status, &message, &csp)
        };
        for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
            if let Some(v) = parts.headers.get(&name) {
                out.headers_mut().insert(name, v.clone());
            }
        }
        out
    } else {
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    // Only the pages of MTurk participants relax framing (to MTurk's origins, in their CSP);
    // X-Frame-Options cannot name origins, so it is left off there.
    let framable = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.contains("frame-ancestors 'none'"));
    if !framable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// An error as a small HTML page: a heading for the status and the message, escaped.
pub(crate) fn error_page(status: StatusCode, message: &str, csp: &PageCsp) -> Response {
    let title = match status.as_u16() {
        400 => "This link or request is not valid",
        401 => "Sign-in needed",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Not allowed",
        408 => "Too slow",
        409 => "Not possible now",
        413 => "Too large",
        500..=599 => "Server error",
        _ => "Something went wrong",
    };
    let mut m = message.to_string();
    if let Some(first) = m.get(..1) {
        m = first.to_uppercase() + &m[1..];
    }
    page_with(
        status,
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
             <style>body{{font:17px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}}</style>\
             <h1>{t}</h1><p>{m}.</p><p>If you came from a study site, please open the study again from there.</p></html>",
            t = title,
            m = crate::join::esc(m.trim_end_matches('.'))
        ),
        csp,
    )
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>rectify study</title>\
         <p>This is a rating study. Open the invite link you were given.</p></html>",
    )
}

async fn not_found() -> AppError {
    AppError::NotFound("no such page".to_string())
}

/// The cookie that carries an admin session (HttpOnly, SameSite=Strict), set by
/// `/admin/login/{code}`.
pub const ADMIN_COOKIE: &str = "rectify_admin";

/// Proof that the request is the admin's: `Authorization: Bearer <admin token>` (scripts), or the
/// session cookie a one-time login link set (the dashboard). A token in the query string is not
/// accepted: URLs end up in logs, histories and `Referer` headers.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, AppError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(t) = bearer {
            return match state.db().check_admin_token(state.study(), t).await? {
                true => Ok(Admin),
                false => Err(AppError::Unauthorized),
            };
        }
        match cookie(parts, ADMIN_COOKIE) {
            Some(session) if state.db().check_admin_session(state.study(), &session).await? => Ok(Admin),
            _ => Err(AppError::Unauthorized),
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// The value of cookie `name` in `Cookie` headers.
pub(crate) fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The value of `name` in a query string (no percent-decoding: tokens are hex).
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

/// Who may frame a page and where its forms may post: nobody and nowhere, except for the
/// pages of MTurk participants ([`PageCsp::mturk`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct PageCsp {
    frame_ancestors: Vec<String>,
    form_action: Option<String>,
    /// `'sha256-…'` of the page's one inline script; without it no script runs.
    script: Option<String>,
}

impl PageCsp {
    /// MTurk frames the page from its origins; the page posts to `submit_to` when known.
    pub(crate) fn mturk(enrollment: &crate::enrollment::Enrollment, submit_to: Option<&str>) -> PageCsp {
        PageCsp {
            frame_ancestors: enrollment.mturk_origins.clone(),
            form_action: submit_to.and_then(crate::enrollment::origin),
            script: None,
        }
    }

    /// The same policy for a page whose one inline script is that of `html`: only that script
    /// runs (by its hash), no other inline script, handler or `javascript:` URL.
    pub(crate) fn with_script_of(mut self, html: &str) -> PageCsp {
        self.script = script_hash(html);
        self
    }

    fn header(&self) -> String {
        let list = |v: &[String]| if v.is_empty() { "'none'".to_string() } else { v.join(" ") };
        format!(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src {}; \
             connect-src 'self'; base-uri 'none'; form-action {}; frame-ancestors {}",
            self.script.as_deref().unwrap_or("'none'"),
            self.form_action.as_deref().unwrap_or("'none'"),
            list(&self.frame_ancestors)
        )
    }
}

/// `'sha256-…'` (CSP's hash source) of the text of the first `<script>` element of `html`.
pub(crate) fn script_hash(html: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let start = html.find("<script>")? + "<script>".len();
    let end = html[start..].find("</script>")? + start;
    Some(format!("'sha256-{}'", base64(&Sha256::digest(&html.as_bytes()[start..end]))))
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            out.push(if i <= chunk.len() { ABC[(n >> shift) as usize & 63] as char } else { '=' });
        }
    }
    out
}

/// An HTML page with the security headers every page gets (no external requests allowed), the
/// framing and form targets of `csp`.
pub(crate) fn page_with(status: StatusCode, html: impl Into<String>, csp: &PageCsp) -> Response {
    let csp = HeaderValue::from_str(&csp.header()).unwrap_or(HeaderValue::from_static("default-src 'none'"));
    (
        status,
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        ],
        html.into(),
    )
        .into_response()
}
