//! The database layer without HTTP: leases that expire, imported votes, upserts, migrations.

mod common;

use common::{relevance_items, STUDY};
use rectify_study::{Answer, Vote};
use rectify_web::{DbError, StudyDb};
use std::time::Duration;

async fn db_with(dir: &tempfile::TempDir, n: usize, items: usize) -> (StudyDb, Vec<rectify_study::Item>) {
    let items = relevance_items(dir.path(), items);
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display());
    let db = StudyDb::connect(&url).await.unwrap().with_lease_timeout(Duration::from_secs(60));
    db.put_study(STUDY, n, &items).await.unwrap();
    (db, items)
}

#[tokio::test]
async fn an_expired_lease_frees_the_slot_and_a_late_answer_is_refused_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = db_with(&dir, 1, 1).await;
    let t0 = 1_000_000_000;
    let a = db.next_item_at(STUDY, "a", t0).await.unwrap().unwrap();
    assert!(db.next_item_at(STUDY, "b", t0 + 59_000).await.unwrap().is_none(), "lease still open");
    let b = db.next_item_at(STUDY, "b", t0 + 61_000).await.unwrap().unwrap();
    assert_eq!(a.id, b.id, "the expired lease no longer counts");
    let late = db.answer_at(STUDY, "a", &a.item.key, &Answer::Yes, None, t0 + 62_000).await;
    assert!(matches!(late, Err(DbError::LeaseExpired(_))), "{late:?}");
    assert!(db.next_item_at(STUDY, "a", t0 + 63_000).await.unwrap().is_none(), "never the same item twice");
    let done = db.answer_at(STUDY, "b", &b.item.key, &Answer::No, None, t0 + 65_500).await.unwrap();
    assert_eq!(done.seconds, Some(4.5), "time on task measured by the server");
    assert_eq!(db.votes(STUDY).await.unwrap().len(), 1);
}

/// Issue #29 §4: asking again never renews an expired lease (a participant who never answers
/// cannot hold items by reloading): the lease is released and the item never comes back to them;
/// an answer on an expired lease is still taken while the item has room. Mutation: renewing the
/// lease in `next_item` (as before) hands `b` the same item again.
#[tokio::test]
async fn an_expired_lease_is_released_by_asking_and_still_answerable_with_room() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = db_with(&dir, 2, 1).await;
    let t0 = 1_000_000_000;
    let a = db.next_item_at(STUDY, "a", t0).await.unwrap().unwrap();
    let done = db.answer_at(STUDY, "a", &a.item.key, &Answer::Yes, None, t0 + 130_000).await.unwrap();
    assert_eq!(done.seconds, Some(130.0), "a late answer with room is taken; time counts from the lease");
    let b = db.next_item_at(STUDY, "b", t0).await.unwrap().unwrap();
    assert!(db.next_item_at(STUDY, "b", t0 + 120_000).await.unwrap().is_none(), "not renewed by asking");
    let late = db.answer_at(STUDY, "b", &b.item.key, &Answer::Yes, None, t0 + 121_000).await;
    assert!(matches!(late, Err(DbError::LeaseExpired(_))), "released: {late:?}");
    let c = db.next_item_at(STUDY, "c", t0 + 122_000).await.unwrap();
    assert_eq!(c.map(|c| c.id), Some(a.id), "the released slot is someone else's");
}

#[tokio::test]
async fn imported_votes_are_idempotent_and_count_toward_n() {
    let dir = tempfile::tempdir().unwrap();
    let (db, items) = db_with(&dir, 2, 2).await;
    let vote = |rater: &str, answer: Answer, source: &str| Vote {
        item: items[0].key.clone(),
        rater: rater.into(),
        answer,
        seconds: None,
        source: source.into(),
    };
    let batch = [vote("x", Answer::Yes, "real-raters"), vote("y", Answer::Maybe, "real-raters")];
    assert_eq!(db.put_votes(STUDY, &batch).await.unwrap().inserted, 2);
    assert_eq!(db.put_votes(STUDY, &batch).await.unwrap().unchanged, 2);
    let rerun = db.put_votes(STUDY, &[vote("x", Answer::No, "real-raters")]).await.unwrap();
    assert_eq!(rerun.replaced, 1, "an importer re-run replaces its own vote");
    let clash = db.put_votes(STUDY, &[vote("x", Answer::Yes, "csv")]).await;
    assert!(matches!(clash, Err(DbError::VoteConflict { .. })), "{clash:?}");
    let mut unknown = vote("z", Answer::Yes, "csv");
    unknown.item = "relevance-top1/nope".into();
    assert!(matches!(db.put_votes(STUDY, &[unknown]).await, Err(DbError::UnknownItem { .. })));
    // Item 0 has its N = 2 answers from the import: a server rater gets item 1 only.
    let got = db.next_item(STUDY, "server-rater").await.unwrap().unwrap();
    assert_eq!(got.item.key, items[1].key);
    let votes = db.votes(STUDY).await.unwrap();
    assert_eq!(votes.len(), 2);
    assert_eq!(votes[0].answer, Answer::No);
}

#[tokio::test]
async fn put_study_upserts_items_and_keeps_answers_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut items) = db_with(&dir, 1, 2).await;
    let first = db.next_item(STUDY, "a").await.unwrap().unwrap();
    db.answer(STUDY, "a", &first.item.key, &Answer::Yes, None).await.unwrap();
    items[0].variant = Some("changed".into());
    items.extend(relevance_items(dir.path(), 3).into_iter().skip(2));
    db.put_study(STUDY, 3, &items).await.unwrap();
    let stored = db.stored_items(STUDY).await.unwrap();
    assert_eq!(stored.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(stored[0].item.variant.as_deref(), Some("changed"));
    assert_eq!(db.votes(STUDY).await.unwrap().len(), 1);
    assert_eq!(db.study(STUDY).await.unwrap().unwrap().answers_per_item, 3);
}

#[tokio::test]
async fn shares_the_runs_sqlite_file_without_touching_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display());
    {
        let store = StudyDb::connect(&url).await.unwrap();
        store.close().await;
    }
    // Pretend to be the run store: its own table and user_version.
    let opts: sqlx::any::AnyPoolOptions = sqlx::any::AnyPoolOptions::new().max_connections(1);
    let pool = opts.connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE images (id INTEGER PRIMARY KEY)").execute(&pool).await.unwrap();
    sqlx::query("PRAGMA user_version = 7").execute(&pool).await.unwrap();
    pool.close().await;
    let (db, _) = db_with(&dir, 1, 1).await;
    db.close().await;
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let v: i64 = sqlx::Row::get(&sqlx::query("PRAGMA user_version").fetch_one(&pool).await.unwrap(), 0);
    assert_eq!(v, 7);
    let mode: String = sqlx::Row::get(&sqlx::query("PRAGMA journal_mode").fetch_one(&pool).await.unwrap(), 0);
    assert_eq!(mode, "wal");
}
