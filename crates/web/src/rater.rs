//! The rater's side: the page `/r/{token}` and the JSON API under `/api/r/{token}/`.
//!
//! Raters see an item only under its lease's opaque id (128 random bits, new for every lease):
//! the question with image URLs under that id (never paths), and nothing of its key, kind
//! (data, gold, attention), gold answer, truth, variant or arm. They can fetch only the images
//! of items leased to them or answered by them, and never anyone's answers.

use crate::app::{page_with, AppState, PageCsp};
use crate::error::AppError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rectify_study::{Answer, ImageRef, Question};
use serde::Deserialize;
use serde_json::{json, Value};

const RATER_PAGE: &str = include_str!("pages/rater.html");

/// Routes: `GET /r/{token}`, `GET /api/r/{token}/next`, `POST /api/r/{token}/answer`,
/// `GET /api/r/{token}/image/{item}/{n}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/r/{token}", get(rater_page))
        .route("/api/r/{token}/next", get(next))
        .route("/api/r/{token}/answer", post(answer))
        .route("/api/r/{token}/image/{item}/{n}", get(image))
}

async fn rater_page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    match state.db().rater_for_token(state.study(), &token).await? {
        Some(rater) => {
            let csp = match state.db().participant(state.study(), &rater).await? {
                Some(p) if p.platform == crate::enrollment::Platform::Mturk => {
                    let enrollment = state.db().enrollment(state.study()).await?;
                    match enrollment {
                        Some(e) => PageCsp::mturk(&e, p.submit_to.as_deref()),
                        None => PageCsp::default(),
                    }
                }
                _ => PageCsp::default(),
            };
            Ok(page_with(StatusCode::OK, RATER_PAGE, &csp.with_script_of(RATER_PAGE)))
        }
        None => Err(AppError::NotFound("this invite link is unknown or was replaced by a newer one".to_string())),
    }
}

/// `{"item": view | null, "answered": k}`: the rater's next item, leased to them. A
/// participant from a platform must have consented first (409), and gets none once their batch
/// is answered.
async fn next(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<Value>, AppError> {
    let rater = state.rater(&token).await?;
    if let Some(p) = state.db().participant(state.study(), &rater).await? {
        if p.consented_at.is_none() {
            return Err(crate::error::DbError::ConsentFirst.into());
        }
    }
    let item = state.db().next_item(state.study(), &rater).await?;
    let answered = state.db().answered_by(state.study(), &rater).await?;
    let view = item.and_then(|s| {
        let lease = s.lease?;
        Some(json!({
            "id": lease,
            "question": question_view(&s.item.question, &format!("/api/r/{token}/image/{lease}")),
        }))
    });
    Ok(Json(json!({ "item": view, "answered": answered })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerRequest {
    /// The lease id `/next` gave.
    item: String,
    answer: Answer,
    request_id: Option<String>,
}

/// Records an answer: `{"recorded": bool, "seconds": s, "answered": k}`.
async fn answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let rater = state.rater(&token).await?;
    let request: AnswerRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "expected {{\"item\": id or key, \"answer\": {{\"kind\": ...}}, \"request_id\": string}}: {e}"
        ))
    })?;
    if request.request_id.as_ref().is_some_and(|r| r.len() > 200) {
        return Err(AppError::BadRequest("request_id is longer than 200 characters".to_string()));
    }
    if request.item.len() > 64 {
        return Err(AppError::BadRequest("item is longer than 64 characters".to_string()));
    }
    let done = state
        .db()
        .answer_lease(state.study(), &rater, &request.item, &request.answer, request.request_id.as_deref())
        .await?;
    let answered = state.db().answered_by(state.study(), &rater).await?;
    Ok(Json(json!({ "recorded": done.recorded, "seconds": done.seconds, "answered": answered })))
}

/// The `n`-th image of the item leased to (or answered by) this rater under lease `item`.
async fn image(
    State(state): State<AppState>,
    Path((token, item, n)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let rater = state.rater(&token).await?;
    let missing = || AppError::NotFound("no such image".to_string());
    let n: usize = n.parse().map_err(|_| AppError::BadRequest(format!("bad image number {n:?}")))?;
    let stored = state.db().leased_item(state.study(), &rater, &item).await?.ok_or_else(missing)?;
    let image = images(&stored.item.question).get(n).copied().ok_or_else(missing)?;
    image_file(&state, &image.path).await
}

/// Most bytes of an image served.
const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// An image file (relative paths under the run directory) with its type, or 404.
///
/// The path comes from the study's database, so it is checked as untrusted: once links are
/// resolved it must lie inside the run directory or the eval's images folder
/// ([`AppState::image_roots`]), be a regular file of at most 64 MiB, and its bytes must begin as
/// the JPEG, PNG, WebP, GIF or BMP its name says. Anything else is 404 to the rater and a line in
/// the server's log.
pub(crate) async fn image_file(state: &AppState, image: &str) -> Result<Response, AppError> {
    let path = std::path::Path::new(image);
    let path = if path.is_absolute() { path.to_path_buf() } else { state.run_dir().join(path) };
    let refuse = |why: String| {
        eprintln!("rectify-web: image {}: {why}; not served", path.display());
        AppError::NotFound("image unavailable".to_string())
    };
    let resolved = tokio::fs::canonicalize(&path).await.map_err(|e| refuse(e.to_string()))?;
    if !state.image_roots().iter().any(|root| resolved.starts_with(root)) {
        return Err(refuse(format!("{} is outside the run and its images folder", resolved.display())));
    }
    let ext = resolved.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let (mime, magic): (&str, &[&[u8]]) = match ext.as_str() {
        "jpg" | "jpeg" => ("image/jpeg", &[b"\xff\xd8\xff"]),
        "png" => ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
        "webp" => ("image/webp", &[b"RIFF"]), // and "WEBP" at byte 8, checked below
        "gif" => ("image/gif", &[b"GIF87a", b"GIF89a"]),
        "bmp" => ("image/bmp", &[b"BM"]),
        _ => return Err(refuse("not a JPEG, PNG, WebP, GIF or BMP file name".to_string())),
    };
    let read = resolved.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        rectify_data::files::read_bounded(&read, MAX_IMAGE_BYTES, "an image to serve")
    })
    .await
    .map_err(|e| refuse(e.to_string()))?
    .map_err(|e| refuse(e.to_string()))?;
    if !magic.iter().any(|m| bytes.starts_with(m)) || (ext == "webp" && bytes.get(8..12) != Some(b"WEBP")) {
        return Err(refuse(format!("its bytes are not those of a .{ext} image")));
    }
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

/// The question's images in URL order: the image (or target) first, then each option's.
pub fn images(question: &Question) -> Vec<&ImageRef> {
    match question {
        Question::Relevance { image, .. }
        | Question::MultiRelevance { image, .. }
        | Question::Attribute { image, .. } => vec![image],
        Question::Assignment { target, options } => {
            std::iter::once(target).chain(options.iter().flat_map(|o| o.images.iter())).collect()
        }
    }
}

/// What a rater sees of a question: classes and attribute, image URLs under `base`.
pub(crate) fn question_view(question: &Question, base: &str) -> Value {
    let url = |n: usize| format!("{base}/{n}");
    match question {
        Question::Relevance { class, .. } => json!({ "kind": "relevance", "image": url(0), "class": class }),
        Question::MultiRelevance { classes, .. } => {
            json!({ "kind": "multi-relevance", "image": url(0), "classes": classes })
        }
        Question::Attribute { attribute, .. } => {
            json!({ "kind": "attribute", "image": url(0), "attribute": attribute })
        }
        Question::Assignment { options, .. } => {
            let mut n = 1;
            let options: Vec<Value> = options
                .iter()
                .map(|o| {
                    let urls: Vec<String> = (n..n + o.images.len()).map(url).collect();
                    n += o.images.len();
                    json!({ "class": o.class, "images": urls })
                })
                .collect();
            json!({ "kind": "assignment", "target": url(0), "options": options })
        }
    }
}
