//! The entry routes of recruitment platforms, and the participant's session API.
//!
//! | route | who |
//! | --- | --- |
//! | `GET /prolific?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…` | Prolific's study URL |
//! | `GET /mturk?assignmentId=…&hitId=…&workerId=…&turkSubmitTo=…` | an MTurk ExternalQuestion (preview: `assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE`, leases nothing) |
//! | `GET /join?pid=…` | any other panel |
//! | `GET /practice/image/0` | the practice item's image (anyone: it is not data) |
//! | `GET /api/r/{token}/session` | what the rater page needs: platform, consent, instructions, practice, progress, completion |
//! | `POST /api/r/{token}/consent` | the participant consents |
//! | `POST /api/r/{token}/complete` | ends the batch → `{code, redirect, mturk_submit, answered}` |
//!
//! A visit answers `303 See Other` to the rater page `/r/{token}`, or a page that says why not
//! (enrollment closed, already finished — with the completion code again —, excluded, a
//! malformed id). Pages of MTurk participants may be framed by MTurk's origins and post to
//! `turkSubmitTo`; every other page keeps `frame-ancestors 'none'` and `form-action 'none'`.

use crate::app::{page_with, AppState, PageCsp};
use crate::enroll::{completion, Joined, Refusal, Visit};
use crate::enrollment::{normalise_id, Enrollment, Platform, MTURK_PREVIEW};
use crate::error::AppError;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Routes: the entry routes, the practice image and the session API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/prolific", get(prolific))
        .route("/mturk", get(mturk))
        .route("/join", get(generic))
        .route("/practice/image/{n}", get(practice_image))
        .route("/api/r/{token}/session", get(session))
        .route("/api/r/{token}/consent", post(consent))
        .route("/api/r/{token}/complete", post(complete))
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A small page with a heading and paragraphs (already HTML).
fn message(status: StatusCode, csp: &PageCsp, title: &str, body: &str) -> Response {
    page_with(
        status,
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
             <style>body{{font:17px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}}\
             .code{{font:700 1.4rem ui-monospace,monospace;letter-spacing:.05em}}</style>\
             <h1>{t}</h1>{body}</html>",
            t = esc(title)
        ),
        csp,
    )
    .into_response()
}

/// A required id of `platform`, normalised ([`normalise_id`]).
fn check_id(platform: Platform, name: &str, value: Option<&String>) -> Result<String, String> {
    let v = value.ok_or_else(|| format!("the link lacks {name}"))?;
    normalise_id(platform, name, v)
}

/// An optional id: absent is fine, malformed is not.
fn optional_id(platform: Platform, name: &str, value: Option<&String>) -> Result<Option<String>, String> {
    value.map(|v| normalise_id(platform, name, v)).transpose()
}

/// The cookie that binds a panel participant's batch to the browser that started it.
pub const PID_COOKIE: &str = "rectify_pid";

async fn enrollment_for(state: &AppState, platform: Platform) -> Result<Option<Enrollment>, AppError> {
    Ok(state.db().enrollment(state.study()).await?.filter(|e| e.platforms.contains(&platform)))
}

fn closed(csp: &PageCsp) -> Response {
    message(
        StatusCode::NOT_FOUND,
        csp,
        "This study is not open",
        "<p>This study does not take participants through this link. Check the link you were given.</p>",
    )
}

fn bad_link(csp: &PageCsp, why: &str) -> Response {
    message(
        StatusCode::BAD_REQUEST,
        csp,
        "This link is incomplete",
        &format!("<p>{}.</p><p>Please open the study again from the site you came from.</p>", esc(why)),
    )
}

async fn prolific(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let csp = PageCsp::default();
    let Some(enrollment) = enrollment_for(&state, Platform::Prolific).await? else { return Ok(closed(&csp)) };
    let visit = (|| -> Result<Visit, String> {
        Ok(Visit {
            external_id: check_id(Platform::Prolific, "PROLIFIC_PID", q.get("PROLIFIC_PID"))?,
            session_id: Some(check_id(Platform::Prolific, "SESSION_ID", q.get("SESSION_ID"))?),
            platform_study: optional_id(Platform::Prolific, "STUDY_ID", q.get("STUDY_ID"))?,
            ..Visit::default()
        })
    })();
    match visit {
        Ok(v) => enter(&state, &enrollment, Platform::Prolific, &v, &csp).await,
        Err(why) => Ok(bad_link(&csp, &why)),
    }
}

async fn generic(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let csp = PageCsp::default();
    let Some(enrollment) = enrollment_for(&state, Platform::Pid).await? else { return Ok(closed(&csp)) };
    let secret = crate::app::cookie_in(&headers, PID_COOKIE).filter(|s| s.len() <= 128);
    match check_id(Platform::Pid, "pid", q.get("pid")) {
        Ok(id) => {
            let visit = Visit { external_id: id, secret, ..Visit::default() };
            enter(&state, &enrollment, Platform::Pid, &visit, &csp).await
        }
        Err(why) => Ok(bad_link(&csp, &why)),
    }
}

async fn mturk(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Result<Response, AppError> {
    let Some(enrollment) = enrollment_for(&state, Platform::Mturk).await? else {
        // Still inside MTurk's frame: MTurk's own sites may show the page.
        return Ok(closed(&PageCsp::mturk(&Enrollment::new(vec![Platform::Mturk], 1), None)));
    };
    let mut csp = PageCsp::mturk(&enrollment, None);
    let assignment = q.get("assignmentId").map(String::as_str).unwrap_or(MTURK_PREVIEW);
    if assignment == MTURK_PREVIEW {
        return Ok(preview(&enrollment, &csp));
    }
    let visit = (|| -> Result<Visit, String> {
        let submit_to = q.get("turkSubmitTo").ok_or("the link lacks turkSubmitTo")?;
        if !enrollment.accepts_submit_to(submit_to) {
            return Err(format!("turkSubmitTo {submit_to:?} is not an MTurk site"));
        }
        Ok(Visit {
            external_id: check_id(Platform::Mturk, "workerId", q.get("workerId"))?,
            assignment_id: Some(check_id(Platform::Mturk, "assignmentId", q.get("assignmentId"))?),
            hit_id: optional_id(Platform::Mturk, "hitId", q.get("hitId"))?,
            submit_to: Some(submit_to.trim_end_matches('/').to_string()),
            ..Visit::default()
        })
    })();
    match visit {
        Ok(v) => {
            csp = PageCsp::mturk(&enrollment, v.submit_to.as_deref());
            enter(&state, &enrollment, Platform::Mturk, &v, &csp).await
        }
        Err(why) => Ok(bad_link(&csp, &why)),
    }
}

/// MTurk's preview: what the task looks like, nothing leased, nobody created.
fn preview(enrollment: &Enrollment, csp: &PageCsp) -> Response {
    let mut body = String::from("<p><strong>Preview.</strong> Accept the HIT to start; you will then answer ");
    body.push_str(&format!("{} short questions about images.</p>", enrollment.per_participant));
    if let Some(html) = &enrollment.instructions_html {
        body.push_str(&format!("<section aria-label=\"Instructions\">{html}</section>"));
    }
    if let Some(p) = &enrollment.practice {
        let (question, _) = practice_text(&p.question);
        body.push_str(&format!(
            "<h2>An example</h2><p>{}</p><img src=\"/practice/image/0\" alt=\"An example image\" \
             style=\"max-width:100%;width:448px;border:1px solid #ccc\">",
            esc(&question)
        ));
    }
    message(StatusCode::OK, csp, "Rating images", &body)
}

/// The question of a practice item in words, and its image path.
fn practice_text(q: &rectify_study::Question) -> (String, &str) {
    use rectify_study::Question;
    match q {
        Question::Relevance { image, class } => {
            (format!("Is the class “{}” relevant for this image?", class.name), &image.path)
        }
        Question::Attribute { image, attribute } => (format!("Does this image show {attribute}?"), &image.path),
        Question::MultiRelevance { image, .. } => {
            ("Tick every class that is relevant for this image.".into(), &image.path)
        }
        Question::Assignment { target, .. } => ("Which class does this image belong to?".into(), &target.path),
    }
}

async fn enter(
    state: &AppState,
    enrollment: &Enrollment,
    platform: Platform,
    visit: &Visit,
    csp: &PageCsp,
) -> Result<Response, AppError> {
    match state.db().join(state.study(), enrollment, platform, visit).await? {
        Joined::Started { token, secret } => {
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/r/{token}"))]).into_response();
            if let Some(secret) = secret {
                // The browser that started a panel participant's batch is the only one that may
                // resume it (and be shown its code again).
                let cookie = format!(
                    "{PID_COOKIE}={secret}; Path=/join; HttpOnly; SameSite=Lax; Max-Age=2592000{}",
                    if state.secure_cookies() { "; Secure" } else { "" }
                );
                if let Ok(v) = header::HeaderValue::from_str(&cookie) {
                    response.headers_mut().insert(header::SET_COOKIE, v);
                }
            }
            Ok(response)
        }
        Joined::Resumed { token } => {
            Ok((StatusCode::SEE_OTHER, [(header::LOCATION, format!("/r/{token}"))]).into_response())
        }
        Joined::Finished { participant: p, show_code } => {
            let code = p.completion_code.clone().unwrap_or_default();
            let done = completion(enrollment, &p, code.clone(), 0);
            let mut body =
                "<p>You have already completed this study — thank you. It cannot be taken twice.</p>".to_string();
            if platform == Platform::Mturk {
                body.push_str("<p>Please return this HIT.</p>");
            } else if show_code && !code.is_empty() {
                body.push_str(&format!("<p>Your completion code: <span class=\"code\">{}</span></p>", esc(&code)));
                if let Some(url) = done.redirect {
                    body.push_str(&format!("<p><a href=\"{}\">Back to the study site</a></p>", esc(&url)));
                }
            } else {
                body.push_str(
                    "<p>Your completion code was shown in the session that completed the study; \
                     it is not shown again here.</p>",
                );
            }
            Ok(message(StatusCode::OK, csp, "Already completed", &body))
        }
        Joined::Excluded { .. } => Ok(message(
            StatusCode::FORBIDDEN,
            csp,
            "You cannot take part in this study",
            "<p>You took part in a related study, and this one needs people who did not. \
             Please return the task; thank you for your interest.</p>",
        )),
        Joined::Refused(why) => {
            let text = match why {
                Refusal::OtherParticipant => {
                    "<p>This task was started by another participant's account, so it cannot be taken here.</p>"
                }
                Refusal::OtherSession => {
                    "<p>You already started this study in another session (another assignment, submission or \
                     browser), and only that session can continue it. Please go back to it, or return this task.</p>"
                }
                Refusal::NoSession => "<p>The link lacks the session the platform always passes.</p>",
            };
            Ok(message(
                StatusCode::FORBIDDEN,
                csp,
                "This link cannot be used",
                &format!("{text}{}", return_hint(platform)),
            ))
        }
        Joined::Full => Ok(message(
            StatusCode::OK,
            csp,
            "This study is full",
            &format!(
                "<p>Every question of this study already has enough answers, so there is nothing left for you to do. \
                 Nothing was recorded and you have not consented to anything.</p>{}",
                return_hint(platform)
            ),
        )),
    }
}

/// How to give the task back on the platform, so that nobody is paid for nothing and the
/// participant is not penalised.
fn return_hint(platform: Platform) -> &'static str {
    match platform {
        Platform::Prolific => {
            "<p>Please <strong>return</strong> your submission on Prolific (\"Return submission\" on the study's \
             page); returning does not count against you.</p>"
        }
        Platform::Mturk => "<p>Please <strong>return</strong> this HIT.</p>",
        Platform::Pid => "<p>Please close this page and tell the study's organisers.</p>",
    }
}

async fn practice_image(State(state): State<AppState>, Path(n): Path<String>) -> Result<Response, AppError> {
    let missing = || AppError::NotFound("no practice image".to_string());
    if n != "0" {
        return Err(missing());
    }
    let enrollment = state.db().enrollment(state.study()).await?.ok_or_else(missing)?;
    let practice = enrollment.practice.ok_or_else(missing)?;
    let (_, path) = practice_text(&practice.question);
    crate::rater::image_file(&state, path).await
}

/// `{"platform", "consented", "instructions_html", "practice", "answered", "batch", "of", "completed"}`.
async fn session(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<Value>, AppError> {
    let rater = state.rater(&token).await?;
    let enrollment = state.db().enrollment(state.study()).await?;
    let answered = state.db().answered_by(state.study(), &rater).await? as i64;
    let Some(p) = state.db().participant(state.study(), &rater).await? else {
        return Ok(Json(json!({
            "platform": "invite", "consented": true, "answered": answered, "of": null, "batch": null,
            "instructions_html": null, "practice": null, "completed": null,
        })));
    };
    let enrollment = enrollment.ok_or_else(|| AppError::Conflict("enrollment is closed".to_string()))?;
    // Questions per batch: K data items and the gold items mixed in at the gold rate.
    let gold_items = state.db().stored_items(state.study()).await?.iter().filter(|i| i.item.gold.is_some()).count();
    let gold = ((enrollment.per_participant as f64 * enrollment.gold_rate).ceil() as usize).min(gold_items);
    let k = (enrollment.per_participant + gold) as i64;
    let before = (p.batches - 1) * k;
    let completed =
        p.completed_at.map(|_| completion(&enrollment, &p, p.completion_code.clone().unwrap_or_default(), answered));
    let practice = enrollment.practice.as_ref().map(|pr| {
        let (question, _) = practice_text(&pr.question);
        json!({
            "question": crate::rater::question_view(&pr.question, "/practice/image"),
            "text": question,
            "answer": pr.answer,
            "explanation": pr.explanation,
        })
    });
    Ok(Json(json!({
        "platform": p.platform.name(),
        "consented": p.consented_at.is_some(),
        "instructions_html": enrollment.instructions_html,
        "practice": practice,
        "answered": answered,
        "batch": (answered - before).clamp(0, k),
        "of": k,
        "completed": completed,
    })))
}

async fn consent(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<Value>, AppError> {
    let rater = state.rater(&token).await?;
    if state.db().participant(state.study(), &rater).await?.is_none() {
        return Ok(Json(json!({ "consented": true })));
    }
    state.db().consent(state.study(), &rater).await?;
    Ok(Json(json!({ "consented": true })))
}

async fn complete(State(state): State<AppState>, Path(token): Path<String>) -> Result<Json<Value>, AppError> {
    let rater = state.rater(&token).await?;
    let enrollment = state
        .db()
        .enrollment(state.study())
        .await?
        .ok_or_else(|| AppError::Conflict("enrollment is closed".to_string()))?;
    let done = state.db().complete(state.study(), &enrollment, &rater).await?;
    Ok(Json(serde_json::to_value(done).map_err(|e| AppError::Internal(e.to_string()))?))
}
