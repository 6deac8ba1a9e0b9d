//! The same database code against PostgreSQL, when `RECTIFY_TEST_POSTGRES_URL` names a
//! server (e.g. `postgres://user:pw@localhost/rectify_test`; `.ci/run` starts Debian's
//! PostgreSQL and sets it). Skipped otherwise, unless `RECTIFY_REQUIRE_POSTGRES=1` (CI), which
//! makes a missing server a failure.

mod common;

use common::relevance_items;
use rectify_study::Answer;
use rectify_web::StudyDb;

#[tokio::test]
async fn postgres_round_trip_when_configured() {
    let Ok(url) = std::env::var("RECTIFY_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("RECTIFY_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "RECTIFY_REQUIRE_POSTGRES=1 but RECTIFY_TEST_POSTGRES_URL is not set"
        );
        eprintln!("skipped: RECTIFY_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), 3);
    let db = StudyDb::connect(&url).await.unwrap();
    let study = format!("pg-test-{}", std::process::id());
    db.put_study(&study, 2, &items).await.unwrap();
    db.create_invites(&study, 1).await.unwrap();
    let item = db.next_item(&study, "rater-a").await.unwrap().unwrap();
    assert_eq!(db.next_item(&study, "rater-a").await.unwrap().unwrap().id, item.id);
    assert!(db.answer(&study, "rater-a", &item.item.key, &Answer::No, Some("r")).await.unwrap().recorded);
    assert!(!db.answer(&study, "rater-a", &item.item.key, &Answer::No, Some("r")).await.unwrap().recorded);
    let votes = db.votes(&study).await.unwrap();
    assert_eq!(votes.len(), 1);
    assert_eq!(votes[0].answer, Answer::No);
    // Admin sign-in (migration 2): a one-time login code for a session, once; a new admin token
    // ends both (migration 4).
    db.admin_token(&study).await.unwrap().expect("the first admin token");
    let code = db.create_admin_login(&study).await.unwrap();
    let session = db.redeem_admin_login(&study, &code).await.unwrap().expect("a session");
    assert!(db.redeem_admin_login(&study, &code).await.unwrap().is_none(), "a login code works once");
    assert!(db.check_admin_session(&study, &session).await.unwrap());
    assert!(!db.check_admin_session(&study, &code).await.unwrap());
    let unused = db.create_admin_login(&study).await.unwrap();
    db.rotate_admin_token(&study).await.unwrap();
    assert!(!db.check_admin_session(&study, &session).await.unwrap(), "a new admin token ends the session");
    assert!(db.redeem_admin_login(&study, &unused).await.unwrap().is_none(), "and the login codes");
}
