//! The admin side, behind the study's admin token (`Authorization: Bearer …`) or the session
//! cookie a one-time login link sets (`/admin/login/{code}`, minted by `rectify study serve` and
//! `rectify study admin-link`): the dashboard `/admin`, `/api/admin/progress`,
//! `/api/admin/export?format=csv|jsonl` and `POST /api/admin/invites?count=k`.

use crate::app::{page_with, query_param, Admin, AppState, PageCsp, ADMIN_COOKIE};
use crate::error::AppError;
use crate::stats::Progress;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

const ADMIN_PAGE: &str = include_str!("pages/admin.html");

/// Routes: `GET /admin`, `GET /api/admin/progress`, `GET /api/admin/export`,
/// `POST /api/admin/invites`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/login/{code}", get(login))
        .route("/api/admin/progress", get(progress_json))
        .route("/api/admin/export", get(export))
        .route("/api/admin/invites", post(invites))
}

async fn dashboard(_: Admin) -> impl IntoResponse {
    page_with(StatusCode::OK, ADMIN_PAGE, &PageCsp::default().with_script_of(ADMIN_PAGE))
}

/// Exchanges a one-time login code for a session cookie (HttpOnly, SameSite=Strict, for the
/// session's lifetime) and redirects to the dashboard, so that no token stays in the address
/// bar, the history or a `Referer`.
async fn login(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, AppError> {
    let Some(session) = state.db().redeem_admin_login(state.study(), &code).await? else {
        return Err(AppError::NotFound(
            "this login link is unknown, used or expired: run `rectify study admin-link` for a new one".to_string(),
        ));
    };
    let cookie = format!(
        "{ADMIN_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        crate::db::ADMIN_SESSION_TTL_MS / 1000,
        if state.secure_cookies() { "; Secure" } else { "" }
    );
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/admin".to_string()), (header::SET_COOKIE, cookie)])
        .into_response())
}

async fn progress_json(_: Admin, State(state): State<AppState>) -> Result<Json<Progress>, AppError> {
    Ok(Json(crate::stats::progress_for_run(state.db(), state.study(), state.run_dir()).await?))
}

/// All votes as CSV (`item,design,variant,arm,rater,answer,seconds,source`; answers `yes`,
/// `no`, `maybe`, `classes:3;7`, `option:2`) or JSONL (one `Vote` per line).
async fn export(_: Admin, State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let format = query_param(query.as_deref().unwrap_or(""), "format").unwrap_or_else(|| "jsonl".to_string());
    let votes = state.db().votes(state.study()).await?;
    let (mime, body) = match format.as_str() {
        "jsonl" => ("application/x-ndjson", rectify_study::export::votes_jsonl(&votes).into_bytes()),
        "csv" => {
            let items = state.db().items(state.study()).await?;
            ("text/csv; charset=utf-8", rectify_study::export::votes_csv(&items, &votes))
        }
        other => return Err(AppError::BadRequest(format!("format {other:?}: expected csv or jsonl"))),
    };
    let disposition = format!("attachment; filename=\"{}-votes.{format}\"", file_safe(state.study()));
    Ok(([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// A study name as a file name in a `Content-Disposition` header: ASCII letters, digits, `.`,
/// `-` and `_` kept, anything else (quotes, newlines, non-ASCII) becomes `_`.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect()
}

/// Creates `count` (1–1000) invites: `{"tokens": [...], "links": ["/r/…"]}`.
async fn invites(_: Admin, State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Json<Value>, AppError> {
    let count = query_param(query.as_deref().unwrap_or(""), "count").unwrap_or_else(|| "1".to_string());
    let count: usize = count
        .parse()
        .ok()
        .filter(|c| (1..=1000).contains(c))
        .ok_or_else(|| AppError::BadRequest(format!("count {count:?}: expected 1 to 1000")))?;
    let tokens = state.db().create_invites(state.study(), count).await?;
    let links: Vec<String> = tokens.iter().map(|t| format!("/r/{t}")).collect();
    Ok(Json(json!({ "tokens": tokens, "links": links })))
}
