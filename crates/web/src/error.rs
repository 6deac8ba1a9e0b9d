//! Errors: [`AppError`] for HTTP responses, from the database layer's [`DbError`] (`rectify_study::db`).
//!
//! `AppError` turns bad input into a 4xx with a JSON `{"error": message}` body and hides
//! internal errors behind a 500 whose detail only goes to the server's log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use rectify_study::db::DbError;

/// An HTTP error: a status and a message for the client.
#[derive(Debug)]
pub enum AppError {
    /// 400: a malformed request (bad JSON, bad path parameter).
    BadRequest(String),
    /// 401: no or a wrong admin token.
    Unauthorized,
    /// 404: unknown invite token, item or image.
    NotFound(String),
    /// 405: a route that exists, with another method.
    MethodNotAllowed,
    /// 409: the request conflicts with the state (not leased, already answered).
    Conflict(String),
    /// 422: well-formed but invalid (an answer of the wrong kind).
    Unprocessable(String),
    /// 500: anything else; the detail is logged, never sent.
    Internal(String),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match &e {
            DbError::UnknownStudy(_) | DbError::UnknownItem { .. } => AppError::NotFound(e.to_string()),
            DbError::NotLeased(_)
            | DbError::LeaseExpired(_)
            | DbError::AlreadyAnswered(_)
            | DbError::VoteConflict { .. }
            | DbError::NotParticipant(_)
            | DbError::ConsentFirst
            | DbError::BatchNotDone { .. }
            | DbError::NoAnswers => AppError::Conflict(e.to_string()),
            DbError::BadSettings(_) => AppError::BadRequest(e.to_string()),
            DbError::BadAnswer { .. } => AppError::Unprocessable(e.to_string()),
            DbError::Sql(_) | DbError::Json(_) | DbError::Random(_) | DbError::Migration { .. } | DbError::Busy(_) => {
                AppError::Internal(e.to_string())
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or wrong admin token".to_string()),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            AppError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "method not allowed for this route".to_string())
            }
            AppError::Conflict(m) => (StatusCode::CONFLICT, m),
            AppError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
            AppError::Internal(detail) => {
                eprintln!("rectify-web: internal error: {detail}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_string())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
