//! The axum application: [`AppState`] and [`app`], which merges each resource module's router.

use crate::db::StudyDb;
use crate::error::AppError;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What every handler shares: the database, the run directory that relative image paths are
/// resolved against, and the study served.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: StudyDb,
    run_dir: PathBuf,
    study: String,
}

impl AppState {
    /// The state of a server for `study`, with images relative to `run_dir`.
    pub fn new(db: StudyDb, run_dir: impl Into<PathBuf>, study: impl Into<String>) -> AppState {
        AppState { inner: Arc::new(Inner { db, run_dir: run_dir.into(), study: study.into() }) }
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

/// The whole application: rater pages and API, admin dashboard and API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", axum::routing::get(index))
        .merge(crate::rater::router())
        .merge(crate::admin::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
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

/// Proof that the request carries the admin token (`Authorization: Bearer …` or `?token=…`).
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
            .map(str::trim)
            .map(str::to_string);
        let token = bearer.or_else(|| query_param(parts.uri.query().unwrap_or(""), "token"));
        match token {
            Some(t) if state.db().check_admin_token(state.study(), &t).await? => Ok(Admin),
            _ => Err(AppError::Unauthorized),
        }
    }
}

/// The value of `name` in a query string (no percent-decoding: tokens are hex).
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

/// An HTML page with the security headers every page gets (no external requests allowed).
pub(crate) fn page(status: StatusCode, html: impl Into<String>) -> impl IntoResponse {
    (
        status,
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                 connect-src 'self'; base-uri 'none'; form-action 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        html.into(),
    )
}
