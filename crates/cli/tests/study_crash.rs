//! Issue #12: the rating server killed with SIGKILL twice while 40 simulated raters answer a
//! study through its HTTP API, and restarted on the same port each time; the raters retry.
//! Nothing is lost, by identity: every answer the server acknowledged — (rater, item, answer) —
//! is in the export, nothing the server did not acknowledge is, and every item ends with exactly
//! 5 answers from 5 distinct raters.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use rectify_study::{Answer, Item};

fn oracle(item: &Item) -> Answer {
    if item.key.len().is_multiple_of(2) {
        Answer::Yes
    } else {
        Answer::No
    }
}

#[test]
fn server_killed_twice_mid_study_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample_with(&run, &[]);
    for a in 0..4 {
        rectify_ok(&["study", "design", "--run", s(&run), "--design", "attribute", "--attribute", &format!("a{a}")]);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}?mode=rwc", run.join("rectify.db").display());
    let db = rt.block_on(rectify_web::StudyDb::connect(&url)).unwrap();
    let study = "main";
    let items = rt.block_on(db.items(study)).unwrap();
    assert_eq!(items.len(), 200);
    let tokens = rt.block_on(db.create_invites(study, 40)).unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = serve_study(&run, study, port);
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    let (report, kills) = std::thread::scope(|s| {
        let sim = s.spawn(|| rectify_web::simulate(&base, &tokens, &items, oracle, 0.1, 7).expect("the simulation"));
        let mut kills = Vec::new();
        for at in [250, 600] {
            while rt.block_on(db.votes(study)).unwrap().len() < at && !sim.is_finished() {
                std::thread::sleep(Duration::from_millis(10));
            }
            server.kill().unwrap(); // SIGKILL
            server.wait().unwrap();
            kills.push(rt.block_on(db.votes(study)).unwrap().len());
            std::thread::sleep(Duration::from_millis(300));
            server = serve_study(&run, study, port);
        }
        (sim.join().unwrap(), kills)
    });
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "40 raters, 200 items x 5: killed with {kills:?} answers stored; {} acknowledged, {} retried requests, \
         {} conflicts, {:.1} s",
        report.acknowledged.len(),
        report.retries,
        report.conflicts,
        start.elapsed().as_secs_f64()
    );
    assert!(kills.iter().all(|&k| k < 1000), "both kills came while answers were still missing: {kills:?}");
    assert!(report.retries > 0, "the raters met the dead server");
    let acknowledged = acknowledged_votes(&rt, &db, study, &tokens, &report);
    assert_eq!(acknowledged.len(), report.acknowledged.len(), "each answer acknowledged once");
    let stored = check_study_export(&run, study, items.len(), 5, &acknowledged);
    assert_eq!(stored, 1000);
}
