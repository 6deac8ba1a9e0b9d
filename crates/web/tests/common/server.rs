//! A study on a real listener, on SQLite and on PostgreSQL (`RECTIFY_TEST_POSTGRES_URL`; required
//! where `RECTIFY_REQUIRE_POSTGRES=1`, as in CI), and plain HTTP helpers for hostile clients.
#![allow(dead_code)]

use rectify_study::Item;
use rectify_web::enrollment::Enrollment;
use rectify_web::{serve_on, AppState, StudyDb};
use std::collections::HashMap;

/// The database URLs to run on: a fresh SQLite file, and PostgreSQL when configured.
pub fn backends(dir: &std::path::Path) -> Vec<String> {
    let mut urls = vec![format!("sqlite://{}?mode=rwc", dir.join("rectify.db").display())];
    match std::env::var("RECTIFY_TEST_POSTGRES_URL") {
        Ok(url) => urls.push(url),
        Err(_) => assert!(
            std::env::var("RECTIFY_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "RECTIFY_REQUIRE_POSTGRES=1 but RECTIFY_TEST_POSTGRES_URL is not set"
        ),
    }
    urls
}

/// A study name unique to this test run (PostgreSQL keeps studies between runs).
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

pub struct Server {
    pub rt: tokio::runtime::Runtime,
    pub db: StudyDb,
    pub base: String,
    pub study: String,
    pub stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// `servers` listeners, each with its own connection pool, on one database.
    pub fn start(
        url: &str,
        dir: &std::path::Path,
        study: &str,
        items: &[Item],
        n: usize,
        e: &Enrollment,
        servers: usize,
    ) -> (Server, Vec<String>) {
        Self::start_with(url, dir, study, items, n, e, servers, rectify_web::db::DEFAULT_LEASE)
    }

    /// [`Server::start`] with another lease timeout.
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        url: &str,
        dir: &std::path::Path,
        study: &str,
        items: &[Item],
        n: usize,
        e: &Enrollment,
        servers: usize,
        lease: std::time::Duration,
    ) -> (Server, Vec<String>) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        let (db, bases, stops) = rt.block_on(async {
            let db = StudyDb::connect(url).await.unwrap();
            db.put_study(study, n, items).await.unwrap();
            db.put_enrollment(study, e).await.unwrap();
            let mut bases = Vec::new();
            let mut stops = Vec::new();
            for _ in 0..servers {
                let own = StudyDb::connect(url).await.unwrap().with_lease_timeout(lease);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bases.push(format!("http://{}", listener.local_addr().unwrap()));
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(serve_on(AppState::new(own, dir, study), listener, async {
                    let _ = stopped.await;
                }));
                stops.push(stop);
            }
            (db, bases, stops)
        });
        let base = bases[0].clone();
        (Server { rt, db, base, study: study.to_string(), stops }, bases)
    }

    pub fn votes_per_item(&self) -> HashMap<String, usize> {
        let mut per = HashMap::new();
        for v in self.rt.block_on(self.db.votes(&self.study)).unwrap() {
            *per.entry(v.item).or_default() += 1;
        }
        per
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for s in self.stops.drain(..) {
            let _ = s.send(());
        }
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build())
}

/// GET → (status, Location, body, headers as (name, value)).
pub fn get(url: &str) -> (u16, Option<String>, String, Vec<(String, String)>) {
    let mut r = agent().get(url).call().unwrap();
    let headers = r.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), location, r.body_mut().read_to_string().unwrap(), headers)
}

pub fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let mut r = agent().post(url).send_json(body).unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or_default())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Prolific's `STUDY_ID` in these tests.
pub const S: &str = "5f0000000000000000000517";

/// A Prolific id (24 hexadecimal digits) made from `n`.
pub fn hex24(n: u64) -> String {
    format!("{n:024x}")
}
