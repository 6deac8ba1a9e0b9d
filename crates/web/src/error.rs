//! Errors: [`DbError`] from the database layer, [`AppError`] for HTTP responses.
//!
//! `AppError` turns bad input into a 4xx with a JSON `{"error": message}` body and hides
//! internal errors behind a 500 whose detail only goes to the server's log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// What can go wrong in the study database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database itself (connection, SQL, constraint).
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A stored or given JSON document that does not parse.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// No study of this name.
    #[error("no study {0:?}")]
    UnknownStudy(String),
    /// No item of this key (or id) in the study.
    #[error("no item {item:?} in study {study:?}")]
    UnknownItem {
        /// The study.
        study: String,
        /// The item key or id asked for.
        item: String,
    },
    /// The item is not leased to this rater.
    #[error("item {0:?} is not assigned to you")]
    NotLeased(String),
    /// The lease ran out and the item has since filled up.
    #[error("the lease on item {0:?} expired and the item has enough answers")]
    LeaseExpired(String),
    /// The rater already answered this item differently.
    #[error("item {0:?} was already answered with a different answer")]
    AlreadyAnswered(String),
    /// An answer of the wrong kind for the item's question.
    #[error("bad answer for item {item:?}: {message}")]
    BadAnswer {
        /// The item.
        item: String,
        /// What is wrong.
        message: String,
    },
    /// `put_votes`: the same rater already has a different answer for the item from another source.
    #[error("rater {rater:?} already has a different answer for item {item:?} (source {source_name:?})")]
    VoteConflict {
        /// The item.
        item: String,
        /// The rater.
        rater: String,
        /// The source of the stored vote.
        source_name: String,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
    /// Enrollment settings that make no sense.
    #[error("enrollment settings: {0}")]
    BadSettings(String),
    /// The database stayed busy (contention that retrying did not resolve).
    #[error("busy: {0}")]
    Busy(String),
    /// The rater did not come from a recruitment platform.
    #[error("rater {0:?} did not join through a recruitment platform")]
    NotParticipant(String),
    /// The participant must consent before getting items.
    #[error("please read the instructions and consent first")]
    ConsentFirst,
    /// The batch is not finished yet.
    #[error("{answered} of {of} items answered: finish the batch first")]
    BatchNotDone {
        /// Answered so far.
        answered: i64,
        /// Items they may answer.
        of: i64,
    },
    /// A migration that cannot be applied.
    #[error("migration {version}: {message}")]
    Migration {
        /// Its version.
        version: i64,
        /// What failed.
        message: String,
    },
}

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
            | DbError::BatchNotDone { .. } => AppError::Conflict(e.to_string()),
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
