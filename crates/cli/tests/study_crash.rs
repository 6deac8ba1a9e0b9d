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
        let sim =
            s.spawn(|| rectify_web::simulate(&base, &tokens, &items, &run, oracle, 0.1, 7).expect("the simulation"));
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

/// Issue #13 §5: two `study serve` processes on one database (the run's SQLite file, and
/// PostgreSQL where configured — required in CI), 200 participants through the Prolific route
/// spread over both, and one server SIGKILLed mid-run: its participants move to the other
/// (re-joining with their Prolific id). No item gets more than N answers, every participant
/// completes with the code, and every acknowledged answer is stored, by identity.
#[test]
fn two_servers_one_killed_two_hundred_prolific_participants() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample_with(&run, &[]);
    let mut urls = vec![format!("sqlite://{}?mode=rwc", run.join("rectify.db").display())];
    match std::env::var("RECTIFY_TEST_POSTGRES_URL") {
        Ok(url) => urls.push(url),
        Err(_) => assert!(std::env::var("RECTIFY_REQUIRE_POSTGRES").as_deref() != Ok("1"), "no PostgreSQL URL"),
    }
    for url in urls {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let study = format!("kill-{}-{nanos}", std::process::id());
        for a in 0..4 {
            let attribute = format!("a{a}");
            let args = ["study", "design", "--run", s(&run), "--database-url", &url, "--study", &study];
            rectify_ok(&[&args[..], &["--design", "attribute", "--attribute", &attribute]].concat());
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = rt.block_on(rectify_web::StudyDb::connect(&url)).unwrap();
        let items = rt.block_on(db.items(&study)).unwrap();
        assert_eq!(items.len(), 200);
        let ports: Vec<u16> =
            (0..2).map(|_| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
        let mut servers: Vec<_> = ports.iter().map(|&p| serve_enrolled(&run, &url, &study, p, 3, "K1LLED")).collect();
        let bases: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
        let start = Instant::now();
        let (report, killed_at) = std::thread::scope(|sc| {
            let sim = sc.spawn(|| {
                rectify_web::simulate_participants(
                    &bases,
                    &rectify_web::Flow::Prolific,
                    "k",
                    200,
                    &items,
                    &run,
                    oracle,
                    0.1,
                    9,
                )
                .expect("the simulation")
            });
            while rt.block_on(db.votes(&study)).unwrap().len() < 200 && !sim.is_finished() {
                std::thread::sleep(Duration::from_millis(10));
            }
            servers[0].kill().unwrap(); // SIGKILL
            servers[0].wait().unwrap();
            let killed_at = rt.block_on(db.votes(&study)).unwrap().len();
            (sim.join().unwrap(), killed_at)
        });
        let _ = servers[1].kill();
        let _ = servers[1].wait();
        println!(
            "{url}: 200 participants on 2 servers, one SIGKILLed at {killed_at} answers: {} acknowledged, {} re-joins, \
             {:.1} s; p50 {:.1} ms, p99 {:.1} ms",
            report.answers.acknowledged.len(),
            report.rejoins,
            start.elapsed().as_secs_f64(),
            report.answers.latency_quantile(0.5).unwrap(),
            report.answers.latency_quantile(0.99).unwrap()
        );
        assert!(killed_at < 600, "the kill came mid-run ({killed_at} of 600 answers)");
        assert!(report.rejoins > 0, "participants of the killed server moved to the other");
        assert!(report.codes.iter().all(|c| c.as_deref() == Some("K1LLED")), "every participant completed");
        let people = rt.block_on(db.participants(&study)).unwrap();
        assert_eq!(people.len(), 200);
        let rater_of: std::collections::HashMap<&str, &str> =
            people.iter().map(|p| (p.external_id.as_str(), p.rater.as_str())).collect();
        let votes = rt.block_on(db.votes(&study)).unwrap();
        let stored: std::collections::HashSet<(String, String, Answer)> =
            votes.iter().map(|v| (v.rater.clone(), v.item.clone(), v.answer.clone())).collect();
        for (i, key, answer) in &report.answers.acknowledged {
            let rater = rater_of[report.ids[*i].as_str()].to_string();
            assert!(stored.contains(&(rater, key.clone(), answer.clone())), "acknowledged answer lost: {key}");
        }
        let mut per_item: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for v in &votes {
            *per_item.entry(v.item.as_str()).or_default() += 1;
        }
        assert!(per_item.values().all(|&c| c <= 5), "an item over N = 5");
        assert_eq!(votes.len(), 600, "200 participants × 3");
    }
}
