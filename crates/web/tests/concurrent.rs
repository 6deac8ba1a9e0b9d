//! 50 simulated raters in parallel threads against a real listener on 127.0.0.1:0 (issue
//! #6): every item ends with exactly N answers, no rater answers an item twice, none is lost.

mod common;

use common::{relevance_items, STUDY};
use rectify_study::{Answer, Item};
use rectify_web::{serve_on, simulate::simulate, AppState, StudyDb};
use std::collections::{HashMap, HashSet};

#[test]
fn fifty_raters_fill_every_item_exactly_n_times() {
    let (n, n_items, n_raters) = (5, 60, 50);
    let dir = tempfile::tempdir().unwrap();
    let items = relevance_items(dir.path(), n_items);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let (db, tokens, addr, stop) = rt.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display());
        let db = StudyDb::connect(&url).await.unwrap();
        db.put_study(STUDY, n, &items).await.unwrap();
        let tokens = db.create_invites(STUDY, n_raters).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(db.clone(), dir.path(), STUDY);
        tokio::spawn(serve_on(state, listener, async {
            let _ = stopped.await;
        }));
        (db, tokens, addr, stop)
    });
    let oracle = |item: &Item| if item.key.ends_with("/0") { Answer::No } else { Answer::Yes };
    let started = std::time::Instant::now();
    let report = simulate(&format!("http://{addr}"), &tokens, &items, dir.path(), oracle, 0.1, 7).unwrap();
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(report.answers, n * n_items, "acknowledged answers");
    assert_eq!(report.per_rater.len(), n_raters);
    assert_eq!(report.per_rater.iter().sum::<usize>(), n * n_items, "answers per rater add up");
    // Every answer and every `next` (one per answer, plus each rater's last, empty one) is timed.
    assert!(report.latencies_ms.len() >= 2 * n * n_items + n_raters, "{} latencies", report.latencies_ms.len());
    let (p50, p99) = (report.latency_quantile(0.5).unwrap(), report.latency_quantile(0.99).unwrap());
    assert!(0.0 < p50 && p50 <= p99 && p99 <= wall_ms, "p50 {p50} ms, p99 {p99} ms, run {wall_ms} ms");

    let votes = rt.block_on(db.votes(STUDY)).unwrap();
    assert_eq!(votes.len(), n * n_items, "stored answers");
    let mut per_item: HashMap<&str, usize> = HashMap::new();
    let mut pairs = HashSet::new();
    for v in &votes {
        *per_item.entry(v.item.as_str()).or_default() += 1;
        assert!(pairs.insert((v.item.as_str(), v.rater.as_str())), "duplicate vote {v:?}");
        assert_eq!(v.source, "server");
    }
    assert_eq!(per_item.len(), n_items);
    assert!(per_item.values().all(|&c| c == n), "{per_item:?}");
    let open = rt.block_on(db.assignments(STUDY)).unwrap().into_iter().filter(|a| a.state != "answered").count();
    assert_eq!(open, 0, "leases left open");
    let _ = stop.send(());
}
