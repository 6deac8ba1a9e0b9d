//! The HTTP API through `app().oneshot(request)`, on a temporary SQLite file (issue #6).

mod common;

use axum::http::StatusCode;
use common::*;
use rectify_study::{Answer, ImageRef, Question};
use rectify_web::StudyDb;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

const YES: &str = r#"{"kind": "yes"}"#;

#[tokio::test]
async fn invite_next_answer_records_the_vote() {
    let f = Fixture::new(3, |d| relevance_items(d, 2)).await;
    let token = &f.invites(1).await[0];
    let leased = std::time::Instant::now();
    let item = f.next(token).await;
    let lease = item["id"].as_str().unwrap();
    assert!(lease.len() == 32 && lease.bytes().all(|b| b.is_ascii_hexdigit()), "an opaque lease id: {item}");
    assert_eq!(item["question"]["kind"], "relevance");
    assert_eq!(item["question"]["image"], format!("/api/r/{token}/image/{lease}/0"));
    for hidden in ["gold", "arm", "key", "design", "variant", "truth"] {
        assert!(item.get(hidden).is_none(), "{hidden} must not reach raters: {item}");
    }
    assert!(!item.to_string().contains("img/"), "paths must not reach raters: {item}");
    // The rater looks at the item for a while: the server measures it, from lease to answer.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, body) = f.answer(token, &item["id"], YES, "req-1").await;
    let elapsed = leased.elapsed().as_secs_f64();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recorded"], true);
    assert_eq!(body["answered"], 1);
    let votes = f.db().votes(STUDY).await.unwrap();
    assert_eq!(votes.len(), 1);
    assert_eq!(votes[0].item, f.key_of(token, &item).await);
    assert_eq!(votes[0].answer, Answer::Yes);
    assert_eq!(votes[0].source, "server");
    let seconds = votes[0].seconds.expect("time on task");
    assert!((0.3..=elapsed).contains(&seconds), "time on task {seconds} s, 0.3 s waited, {elapsed} s in all");
    assert_eq!(body["seconds"].as_f64(), Some(seconds), "the answer's response reports it");
    assert_ne!(votes[0].rater, *token, "votes name the rater id, never the token");
}

#[tokio::test]
async fn a_retried_answer_is_not_double_counted() {
    let f = Fixture::new(3, |d| relevance_items(d, 2)).await;
    let token = &f.invites(1).await[0];
    let item = f.next(token).await;
    let first = f.answer(token, &item["id"], YES, "req-1").await;
    let again = f.answer(token, &item["id"], YES, "req-1").await;
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(again.1["recorded"], false);
    assert_eq!(again.1["answered"], 1);
    let changed = f.answer(token, &item["id"], r#"{"kind": "no"}"#, "req-2").await;
    assert_eq!(changed.0, StatusCode::CONFLICT, "{}", changed.1);
    assert!(changed.1["error"].as_str().unwrap().contains("already answered"));
    assert_eq!(f.db().votes(STUDY).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_open_lease_is_handed_out_again_and_counts_toward_n() {
    let f = Fixture::new(1, |d| relevance_items(d, 1)).await;
    let tokens = f.invites(2).await;
    let a = f.next(&tokens[0]).await;
    assert_eq!(f.next(&tokens[0]).await, a, "the same open lease again");
    assert_eq!(f.next(&tokens[1]).await, Value::Null, "N = 1 is taken by the open lease");
    f.answer(&tokens[0], &a["id"], YES, "r").await;
    assert_eq!(f.next(&tokens[0]).await, Value::Null, "never the same item twice");
    assert_eq!(f.next(&tokens[1]).await, Value::Null);
}

#[tokio::test]
async fn every_item_ends_with_exactly_n_answers_and_no_rater_sees_one_twice() {
    let n = 3;
    let f = Fixture::new(n, |d| relevance_items(d, 5)).await;
    let tokens = f.invites(5).await;
    let mut seen: HashMap<&str, HashSet<String>> = HashMap::new();
    // Round-robin: each rater takes one item per round until nobody gets one.
    loop {
        let mut any = false;
        for t in &tokens {
            let item = f.next(t).await;
            if item.is_null() {
                continue;
            }
            any = true;
            assert!(seen.entry(t).or_default().insert(f.key_of(t, &item).await), "rater got an item twice");
            let (status, body) = f.answer(t, &item["id"], YES, &format!("{t}-{}", item["id"].as_str().unwrap())).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        if !any {
            break;
        }
    }
    let votes = f.db().votes(STUDY).await.unwrap();
    let mut per_item: HashMap<&str, usize> = HashMap::new();
    for v in &votes {
        *per_item.entry(v.item.as_str()).or_default() += 1;
    }
    assert_eq!(per_item.len(), 5);
    assert!(per_item.values().all(|&c| c == n), "{per_item:?}");
    assert_eq!(votes.len(), 5 * n);
}

#[tokio::test]
async fn a_rater_never_gets_the_other_arm() {
    let f = Fixture::new(4, |d| arm_items(d, 8)).await;
    let tokens = f.invites(3).await;
    for t in &tokens {
        let mut arms = HashSet::new();
        let mut count = 0;
        loop {
            let item = f.next(t).await;
            if item.is_null() {
                break;
            }
            arms.insert(f.key_of(t, &item).await.rsplit('/').next().unwrap().to_string());
            f.answer(t, &item["id"], YES, &format!("{t}-{}", item["id"].as_str().unwrap())).await;
            count += 1;
        }
        assert_eq!(arms.len(), 1, "rater saw both arms: {arms:?}");
        assert_eq!(count, 4, "a rater answers every item of their arm");
    }
}

#[tokio::test]
async fn bad_input_is_a_4xx_with_a_message() {
    let f = Fixture::new(2, mixed_items).await;
    let token = &f.invites(1).await[0];
    let multi = f.next(token).await;
    assert_eq!(multi["question"]["kind"], "multi-relevance");
    let other = f.invites(1).await.remove(0);
    let theirs = f.next(&other).await;
    let l = multi["id"].as_str().unwrap().to_string();
    let t = theirs["id"].as_str().unwrap().to_string();
    let cases: Vec<(String, StatusCode)> = vec![
        ("not json".into(), StatusCode::BAD_REQUEST),
        (format!(r#"{{"item": "{l}"}}"#), StatusCode::BAD_REQUEST),
        (format!(r#"{{"item": "{l}", "answer": {{"kind": "perhaps"}}}}"#), StatusCode::BAD_REQUEST),
        (format!(r#"{{"item": "{l}", "answer": {{"kind": "yes"}}}}"#), StatusCode::UNPROCESSABLE_ENTITY),
        (
            format!(r#"{{"item": "{l}", "answer": {{"kind": "classes", "value": [10, 99]}}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!(r#"{{"item": "{l}", "answer": {{"kind": "classes", "value": [10, 10]}}}}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (format!(r#"{{"item": "{t}", "answer": {{"kind": "option", "value": 1}}}}"#), StatusCode::CONFLICT),
        // Items are named by lease only: ids and keys of the study are not accepted.
        (r#"{"item": 1, "answer": {"kind": "yes"}}"#.into(), StatusCode::BAD_REQUEST),
        (r#"{"item": "relevance-top5/x.JPEG", "answer": {"kind": "yes"}}"#.into(), StatusCode::CONFLICT),
        (r#"{"item": "nope", "answer": {"kind": "yes"}}"#.into(), StatusCode::CONFLICT),
    ];
    for (body, want) in &cases {
        let (status, res) = f.call("POST", &format!("/api/r/{token}/answer"), Some(body)).await;
        assert_eq!(status, *want, "{body} -> {res}");
        assert!(res["error"].as_str().is_some_and(|m| !m.is_empty()), "{body} -> {res}");
        assert!(!res.to_string().contains(".JPEG") || body.contains(".JPEG"), "an error names an item: {res}");
    }
    let ok = f.answer(token, &multi["id"], r#"{"kind": "classes", "value": [12, 10]}"#, "a").await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.1);
    let assign = f.next(token).await;
    assert_eq!(assign["question"]["options"].as_array().unwrap().len(), 6);
    let bad = f.answer(token, &assign["id"], r#"{"kind": "option", "value": 6}"#, "b").await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.1);
    let ok = f.answer(token, &assign["id"], r#"{"kind": "option", "value": 5}"#, "b").await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.1);

    for uri in ["/api/r/not-a-token/next", "/r/not-a-token", "/nowhere"] {
        assert_eq!(f.call("GET", uri, None).await.0, StatusCode::NOT_FOUND, "{uri}");
    }
    let (status, res) = f.call("POST", "/api/r/not-a-token/answer", Some(YES)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{res}");
    assert_eq!(f.call("GET", &format!("/api/r/{token}/image/1/x"), None).await.0, StatusCode::BAD_REQUEST);
    let huge = format!(r#"{{"item": 1, "answer": {{"kind": "yes"}}, "request_id": "{}"}}"#, "x".repeat(100_000));
    assert!(f.call("POST", &format!("/api/r/{token}/answer"), Some(&huge)).await.0.is_client_error());
}

/// A hostile study database (issue #28 §4): items whose image paths lead outside the run (absolute,
/// `..`, a link out of the folder), at a named pipe, at a non-image or at a file whose bytes are not
/// its type's are all 404, and the one honest image is served. Mutation: serving
/// `run_dir.join(path)` unchecked (as before) serves `/…/secret.png` and blocks on the FIFO.
#[tokio::test]
async fn images_outside_the_run_or_not_images_are_never_served() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.png");
    std::fs::write(&secret, fake_png("secret")).unwrap();
    let secret_path = secret.display().to_string();
    let f = Fixture::new(1, |d| {
        std::fs::create_dir_all(d.join("img")).unwrap();
        std::os::unix::fs::symlink(&secret, d.join("img/link.png")).unwrap();
        let made = std::process::Command::new("mkfifo").arg(d.join("img/fifo.png")).status().unwrap();
        assert!(made.success());
        std::fs::write(d.join("img/text.png"), b"#!/bin/sh\necho not a png\n").unwrap();
        std::fs::write(
            d.join("img/page.svg"),
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        )
        .unwrap();
        let up = format!("../{}/secret.png", outside.path().file_name().unwrap().to_str().unwrap());
        let paths = [
            secret_path.clone(),
            up,
            "img/link.png".into(),
            "img/fifo.png".into(),
            "img/text.png".into(),
            "img/page.svg".into(),
        ];
        let mut items = relevance_items(d, paths.len() + 1);
        for (item, path) in items.iter_mut().zip(paths) {
            item.question = Question::Relevance { image: ImageRef { path }, class: class(1) };
        }
        items
    })
    .await;
    let token = f.invites(1).await.remove(0);
    let mut served = Vec::new();
    for n in 0..7 {
        let item = f.next(&token).await;
        let url = item["question"]["image"].as_str().unwrap().to_string();
        let (status, bytes) = tokio::time::timeout(std::time::Duration::from_secs(10), f.raw("GET", &url, None, None))
            .await
            .expect("no hang");
        if status == StatusCode::OK {
            served.push(bytes);
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "item {n}");
        }
        assert_eq!(f.answer(&token, &item["id"], YES, &format!("r{n}")).await.0, StatusCode::OK);
    }
    assert_eq!(served, vec![fake_png("6.png")], "only the honest image is served");
}

#[tokio::test]
async fn raters_see_only_their_own_items_images() {
    let f = Fixture::new(1, |d| relevance_items(d, 2)).await;
    let tokens = f.invites(2).await;
    let a = f.next(&tokens[0]).await;
    let b = f.next(&tokens[1]).await;
    assert_ne!(a["id"], b["id"]);
    let url = a["question"]["image"].as_str().unwrap();
    let (status, bytes) = f.raw("GET", url, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, common::fake_png("0.png"));
    let stolen = url.replace(&tokens[0], &tokens[1]);
    assert_eq!(f.raw("GET", &stolen, None, None).await.0, StatusCode::NOT_FOUND, "B reads A's image");
    let key = f.key_of(&tokens[0], &a).await;
    let by_key = format!("/api/r/{}/image/{}/0", tokens[1], key.replace('/', "%2F"));
    assert_eq!(f.raw("GET", &by_key, None, None).await.0, StatusCode::NOT_FOUND);
    let by_key = format!("/api/r/{}/image/{}/0", tokens[0], key.replace('/', "%2F"));
    assert_eq!(f.raw("GET", &by_key, None, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(f.raw("GET", &format!("/api/r/{}/image/1/1", tokens[0]), None, None).await.0, StatusCode::NOT_FOUND);
    // B cannot answer (nor learn about) A's item.
    let (status, _) = f.answer(&tokens[1], &a["id"], YES, "steal").await;
    assert_eq!(status, StatusCode::CONFLICT);
    // After answering, A may still load the image; admin endpoints stay closed to raters.
    f.answer(&tokens[0], &a["id"], YES, "x").await;
    assert_eq!(f.raw("GET", url, None, None).await.0, StatusCode::OK);
    for t in &tokens {
        let uri = format!("/api/admin/export?format=jsonl&token={t}");
        assert_eq!(f.call("GET", &uri, None).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn admin_progress_export_and_invites_need_the_admin_token() {
    let f = Fixture::new(2, |d| relevance_items(d, 3)).await;
    let tokens = f.invites(2).await;
    for t in &tokens {
        let item = f.next(t).await;
        f.answer(t, &item["id"], YES, "x").await;
    }
    assert_eq!(f.call("GET", "/api/admin/progress", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(f.call_with("GET", "/api/admin/progress", None, Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(f.call("GET", "/admin", None).await.0, StatusCode::UNAUTHORIZED);
    let (status, page) = f.raw("GET", "/admin", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page).contains("Progress per design"));

    let (status, p) = f.call_with("GET", "/api/admin/progress", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let d = &p["designs"][0];
    assert_eq!((d["design"].as_str(), d["items"].as_u64()), (Some("relevance-top1"), Some(3)));
    assert_eq!((d["complete"].as_u64(), d["partial"].as_u64(), d["unstarted"].as_u64()), (Some(1), Some(0), Some(2)));
    assert_eq!(d["fleiss_kappa"], Value::Null, "all answers agree: chance agreement is 1");
    assert_eq!(p["raters"].as_array().unwrap().len(), 2);
    assert!(p["raters"].as_array().unwrap().iter().all(|r| r["answered"] == 1));

    let (status, csv) = f.raw("GET", "/api/admin/export?format=csv", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "item,design,variant,arm,rater,answer,seconds,source");
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("relevance-top1/val_00000.JPEG/0,relevance-top1,top1-misclassified,,r"));
    assert!(lines[1].contains(",yes,") && lines[1].ends_with(",server"));

    let (status, jsonl) = f.raw("GET", "/api/admin/export?format=jsonl", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::OK);
    let votes: Vec<rectify_study::Vote> =
        String::from_utf8(jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(votes, f.db().votes(STUDY).await.unwrap());
    let (status, res) = f.call_with("GET", "/api/admin/export?format=xml", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");

    let (status, res) = f.call_with("POST", "/api/admin/invites?count=2", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let new = res["tokens"][0].as_str().unwrap();
    assert!(new.len() >= 32);
    assert_eq!(f.call("GET", &format!("/r/{new}"), None).await.0, StatusCode::OK);
    let (status, _) = f.call_with("POST", "/api/admin/invites?count=0", None, Some(&f.admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_rater_page_is_self_contained_and_accessible() {
    let f = Fixture::new(1, |d| relevance_items(d, 1)).await;
    let token = &f.invites(1).await[0];
    let (status, html) = f.raw("GET", &format!("/r/{token}"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    for needle in
        ["aria-live", "role=\"status\"", "answered", "kbd(\"y\")", "kbd(\"n\")", "alt", "focus-visible", "request_id"]
    {
        assert!(html.contains(needle), "rater page lacks {needle}");
    }
    for external in ["http://", "https://", "<link", "src=\"/"] {
        assert!(!html.contains(external), "rater page makes an external request: {external}");
    }
}

#[tokio::test]
async fn admin_token_is_issued_once_and_can_be_rotated() {
    let f = Fixture::new(1, |d| relevance_items(d, 1)).await;
    assert_eq!(f.db().admin_token(STUDY).await.unwrap(), None);
    assert!(f.db().check_admin_token(STUDY, &f.admin).await.unwrap());
    let new = f.db().rotate_admin_token(STUDY).await.unwrap();
    assert!(!f.db().check_admin_token(STUDY, &f.admin).await.unwrap());
    assert!(f.db().check_admin_token(STUDY, &new).await.unwrap());
}

/// Issue #12: the admin token is never accepted in a URL (URLs end up in logs, histories and
/// `Referer` headers). The dashboard signs in with a one-time login link, which sets an HttpOnly,
/// SameSite=Strict session cookie and redirects; the link works once.
#[tokio::test]
async fn admin_sign_in_keeps_tokens_out_of_urls() {
    let f = Fixture::new(2, |d| relevance_items(d, 2)).await;
    for uri in [format!("/admin?token={}", f.admin), format!("/api/admin/export?format=csv&token={}", f.admin)] {
        assert_eq!(f.raw("GET", &uri, None, None).await.0, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let code = f.db().create_admin_login(STUDY).await.unwrap();
    let (status, headers, _) = f.request("GET", &format!("/admin/login/{code}"), None, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/admin");
    let set_cookie = headers["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains(&f.admin) && !set_cookie.contains(&code),
        "a fresh session, not a token: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let with_cookie = [("cookie", cookie.as_str())];
    let (status, _, page) = f.request("GET", "/admin", None, &with_cookie).await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(!page.contains("token"), "the dashboard neither reads nor writes tokens");
    assert!(page.contains("href=\"/api/admin/export?format=csv\""), "export links carry no token");
    let (status, _, csv) = f.request("GET", "/api/admin/export?format=csv", None, &with_cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(csv).unwrap().starts_with("item,design"));
    // Once only; an unknown code and a made-up cookie get nothing.
    let (status, _, body) = f.request("GET", &format!("/admin/login/{code}"), None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&body).contains("rectify study admin-link"));
    assert_eq!(f.request("GET", "/admin/login/0123", None, &[]).await.0, StatusCode::NOT_FOUND);
    let forged = [("cookie", "rectify_admin=00112233445566778899aabbccddeeff00112233")];
    assert_eq!(f.request("GET", "/api/admin/progress", None, &forged).await.0, StatusCode::UNAUTHORIZED);
    // A wrong bearer token is refused even alongside a valid cookie.
    let both = [("cookie", cookie.as_str()), ("authorization", "Bearer wrong")];
    assert_eq!(f.request("GET", "/api/admin/progress", None, &both).await.0, StatusCode::UNAUTHORIZED);
}

/// The sign-in link lives 15 minutes and the session 12 hours (README, issue #28 §1): the cookie's
/// Max-Age is 43,200 s, the stored expiries are 15 min and 12 h after creation, and the clock is
/// obeyed at both ends — a link one second before its expiry signs in, one second after it does
/// not; a session past its expiry is refused. The stored times are moved (the database is reached
/// below StudyDb), as a clock would move them. Mutation: a TTL of 16 min or 13 h fails here.
#[tokio::test]
async fn admin_sign_in_links_live_15_minutes_and_sessions_12_hours() {
    use sqlx::Row;
    let f = Fixture::new(1, |d| relevance_items(d, 1)).await;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", f.dir.path().join("rectify.db").display());
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let ttl = |kind: &'static str| {
        let pool = pool.clone();
        async move {
            let row = sqlx::query(
                "SELECT expires_at - created_at FROM study_admin_sessions WHERE kind = $1 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(kind)
            .fetch_one(&pool)
            .await
            .unwrap();
            row.get::<i64, _>(0)
        }
    };
    let set_expiry = |kind: &'static str, at: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE study_admin_sessions SET expires_at = $1 WHERE kind = $2")
                .bind(at)
                .bind(kind)
                .execute(&pool)
                .await
                .unwrap();
        }
    };

    // A link one second before its 15 minutes are up still signs in.
    let code = f.db().create_admin_login(STUDY).await.unwrap();
    assert_eq!(ttl("login").await, 15 * 60 * 1000);
    set_expiry("login", now() + 1000).await;
    let (status, headers, _) = f.request("GET", &format!("/admin/login/{code}"), None, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set_cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.split(';').any(|a| a.trim() == "Max-Age=43200"), "{set_cookie}");
    assert_eq!(ttl("session").await, 12 * 60 * 60 * 1000);
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let with_cookie = [("cookie", cookie.as_str())];
    assert_eq!(f.request("GET", "/api/admin/progress", None, &with_cookie).await.0, StatusCode::OK);
    // Past its 12 hours, the session is refused.
    set_expiry("session", now() - 1000).await;
    assert_eq!(f.request("GET", "/api/admin/progress", None, &with_cookie).await.0, StatusCode::UNAUTHORIZED);

    // A link one second past its 15 minutes does not sign in.
    let code = f.db().create_admin_login(STUDY).await.unwrap();
    sqlx::query("UPDATE study_admin_sessions SET expires_at = $1 WHERE kind = 'login' AND used_at IS NULL")
        .bind(now() - 1000)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(f.request("GET", &format!("/admin/login/{code}"), None, &[]).await.0, StatusCode::NOT_FOUND);
}

/// Issue #12: every response is uncacheable, unsniffable and unframeable — the pages, the rater
/// API, the admin API and the invite response that carries fresh tokens.
#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let f = Fixture::new(2, |d| relevance_items(d, 2)).await;
    let token = f.invites(1).await.remove(0);
    let bearer = format!("Bearer {}", f.admin);
    let admin = [("authorization", bearer.as_str())];
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: Vec<(&str, String, Headers)> = vec![
        ("GET", "/".into(), &[]),
        ("GET", format!("/r/{token}"), &[]),
        ("GET", format!("/api/r/{token}/next"), &[]),
        ("GET", "/admin".into(), &admin),
        ("GET", "/api/admin/progress".into(), &admin),
        ("GET", "/api/admin/export?format=csv".into(), &admin),
        ("POST", "/api/admin/invites?count=1".into(), &admin),
        ("GET", "/api/admin/progress".into(), &[]),
        ("GET", "/no/such/page".into(), &[]),
    ];
    for (method, uri, headers) in cases {
        let (status, h, _) = f.request(method, &uri, None, headers).await;
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert_eq!(get("cache-control"), "no-store", "{method} {uri} ({status})");
        assert_eq!(get("x-content-type-options"), "nosniff", "{method} {uri}");
        assert_eq!(get("x-frame-options"), "DENY", "{method} {uri}");
        assert!(get("content-security-policy").contains("frame-ancestors 'none'"), "{method} {uri}");
    }
}

/// Issue #12: every error is the documented `{"error": …}`, axum's own rejections included (413
/// for a body over 64 KiB, 405 for a known route with another method, 404, 415).
#[tokio::test]
async fn every_error_is_json() {
    let f = Fixture::new(2, |d| relevance_items(d, 2)).await;
    let token = f.invites(1).await.remove(0);
    let big = format!(r#"{{"item": 1, "answer": {{"kind": "yes"}}, "request_id": "{}"}}"#, "x".repeat(70 * 1024));
    let answer = format!("/api/r/{token}/answer");
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<(&'a str, &'a str)>, StatusCode);
    let cases: Vec<Case> = vec![
        ("POST", &answer, Some(&big), vec![("content-type", "application/json")], StatusCode::PAYLOAD_TOO_LARGE),
        ("GET", &answer, None, vec![], StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", "/api/admin/progress", None, vec![], StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/api/nowhere", None, vec![], StatusCode::NOT_FOUND),
        ("POST", &answer, Some("{not json"), vec![], StatusCode::BAD_REQUEST),
    ];
    for (method, uri, body, headers, want) in cases {
        let mut req = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        if body.is_some() && headers.is_empty() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(axum::body::Body::from(body.unwrap_or("").to_string())).unwrap();
        let res = tower::ServiceExt::oneshot(rectify_web::app(f.state.clone()), req).await.unwrap();
        let status = res.status();
        let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{method} {uri}: {bytes:?}"));
        assert_eq!(status, want, "{method} {uri}: {json}");
        assert!(ctype.starts_with("application/json"), "{method} {uri}: {ctype}");
        assert!(json["error"].as_str().is_some_and(|m| !m.is_empty()), "{method} {uri}: {json}");
    }
}

/// Issue #12: a study whose name holds a newline, quotes or non-ASCII letters exports (it used to
/// be a 500: the name went into the `Content-Disposition` header as it was).
#[tokio::test]
async fn export_of_a_study_with_an_odd_name_works() {
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 1);
    let db = StudyDb::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display())).await.unwrap();
    let name = "line\nbreak \"quoted\" étude";
    db.put_study(name, 1, &items).await.unwrap();
    let admin = db.admin_token(name).await.unwrap().unwrap();
    let state = rectify_web::AppState::new(db, dir.path(), name);
    let req = axum::http::Request::builder()
        .uri("/api/admin/export?format=csv")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(rectify_web::app(state), req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"].to_str().unwrap();
    assert_eq!(disposition, "attachment; filename=\"line_break__quoted___tude-votes.csv\"");
}
