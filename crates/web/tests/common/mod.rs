//! Shared fixtures: a temporary run directory with tiny image files, a study in a temporary
//! SQLite file, and a helper that sends one request through the app without a socket.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rectify_study::{AssignOption, ClassRef, Design, ImageRef, Item, Question};
use rectify_web::{app, AppState, StudyDb};
use serde_json::Value;
use tower::ServiceExt;

pub mod server;

/// A study served from a temporary directory.
pub struct Fixture {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// The app state.
    pub state: AppState,
    /// The admin token.
    pub admin: String,
}

pub const STUDY: &str = "test-study";

pub fn class(c: i64) -> ClassRef {
    ClassRef { class: c, name: format!("class {c}"), gloss: format!("gloss of {c}") }
}

/// The bytes of the fake image `name`: PNG's signature (the server checks it), then its name.
pub fn fake_png(name: &str) -> Vec<u8> {
    [&b"\x89PNG\r\n\x1a\n"[..], format!("fake image {name}").as_bytes()].concat()
}

/// Writes `img/<name>` and returns its relative ImageRef.
pub fn image(dir: &std::path::Path, name: &str) -> ImageRef {
    std::fs::create_dir_all(dir.join("img")).unwrap();
    std::fs::write(dir.join("img").join(name), fake_png(name)).unwrap();
    ImageRef { path: format!("img/{name}") }
}

/// `n` relevance-top1 items, each with its own image.
pub fn relevance_items(dir: &std::path::Path, n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| Item {
            key: format!("relevance-top1/val_{i:05}.JPEG/{}", i % 7),
            design: Design::RelevanceTop1,
            variant: Some("top1-misclassified".into()),
            arm: None,
            image_id: Some(i as i64),
            question: Question::Relevance { image: image(dir, &format!("{i}.png")), class: class(i as i64 % 7) },
            gold: None,
            truth: None,
        })
        .collect()
}

/// `n` adversarial items alternating between the arms `whole` and `explanation`.
pub fn arm_items(dir: &std::path::Path, n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let arm = if i % 2 == 0 { "whole" } else { "explanation" };
            Item {
                key: format!("adversarial/adv_{i}.png/{arm}"),
                design: Design::Adversarial,
                variant: None,
                arm: Some(arm.into()),
                image_id: None,
                question: Question::Relevance { image: image(dir, &format!("adv{i}.png")), class: class(3) },
                gold: None,
                truth: None,
            }
        })
        .collect()
}

/// One multi-relevance and one assignment item.
pub fn mixed_items(dir: &std::path::Path) -> Vec<Item> {
    vec![
        Item {
            key: "relevance-top5/x.JPEG".into(),
            design: Design::RelevanceTop5,
            variant: None,
            arm: None,
            image_id: None,
            question: Question::MultiRelevance { image: image(dir, "x.png"), classes: (10..15).map(class).collect() },
            gold: None,
            truth: None,
        },
        Item {
            key: "assignment/t.JPEG".into(),
            design: Design::Assignment,
            variant: Some("random/6p".into()),
            arm: None,
            image_id: None,
            question: Question::Assignment {
                target: image(dir, "t.png"),
                options: (0..6)
                    .map(|o| AssignOption {
                        class: class(o),
                        images: (0..6).map(|k| image(dir, &format!("o{o}_{k}.png"))).collect(),
                    })
                    .collect(),
            },
            gold: None,
            truth: Some(rectify_study::Answer::Option(2)),
        },
    ]
}

impl Fixture {
    /// A study of the items `make(dir)` with N answers per item.
    pub async fn new(n: usize, make: impl FnOnce(&std::path::Path) -> Vec<Item>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let items = make(dir.path());
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display());
        let db = StudyDb::connect(&url).await.unwrap();
        db.put_study(STUDY, n, &items).await.unwrap();
        let admin = db.admin_token(STUDY).await.unwrap().unwrap();
        let state = AppState::new(db, dir.path(), STUDY);
        Fixture { dir, state, admin }
    }

    pub fn db(&self) -> &StudyDb {
        self.state.db()
    }

    pub async fn invites(&self, n: usize) -> Vec<String> {
        self.db().create_invites(STUDY, n).await.unwrap()
    }

    /// Sends a request; returns the status and the body (JSON when it parses, else a string).
    pub async fn call(&self, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
        self.call_with(method, uri, body, None).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        uri: &str,
        body: Option<&str>,
        bearer: Option<&str>,
    ) -> (StatusCode, Value) {
        let (status, bytes) = self.raw(method, uri, body, bearer).await;
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        body: Option<&str>,
        bearer: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let (status, _, bytes) = self.request(method, uri, body, &headers).await;
        (status, bytes)
    }

    /// Sends a request with `headers`; returns the status, the response headers and the body.
    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Body::from(body.unwrap_or("").to_string())).unwrap();
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
        (status, headers, bytes.to_vec())
    }

    /// GET next for a token: the item (or Null).
    pub async fn next(&self, token: &str) -> Value {
        let (status, body) = self.call("GET", &format!("/api/r/{token}/next"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["item"].clone()
    }

    /// The key of the item `/next` gave `token` (the server's side; raters never see it).
    pub async fn key_of(&self, token: &str, item: &Value) -> String {
        let rater = self.db().rater_for_token(STUDY, token).await.unwrap().expect("a rater");
        let lease = item["id"].as_str().expect("a lease id");
        self.db().leased_item(STUDY, &rater, lease).await.unwrap().expect("a leased item").item.key
    }

    /// POSTs an answer.
    pub async fn answer(&self, token: &str, item: &Value, answer: &str, request_id: &str) -> (StatusCode, Value) {
        let body = format!(r#"{{"item": {item}, "answer": {answer}, "request_id": "{request_id}"}}"#);
        self.call("POST", &format!("/api/r/{token}/answer"), Some(&body)).await
    }
}
