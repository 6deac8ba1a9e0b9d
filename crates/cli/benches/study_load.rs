//! Load test of the rating server (issue #6; a bench, not CI): 200 simulated raters on loopback
//! answer a study until every item has 5 answers, through the real HTTP API of
//! `rectify study serve`; p50 / p99 request latency printed, then every item is checked to hold
//! exactly 5 answers from 5 distinct raters (zero lost, duplicated or over-assigned). Then the
//! same with the server killed (SIGKILL) mid-run and restarted on the same port: the raters
//! retry, and no acknowledged answer is lost. "Nothing lost" is checked by identity: every
//! acknowledged (rater, item, answer) is in the export, and nothing unacknowledged is
//! (`tests/study_crash.rs` runs the kill-and-restart part in CI).
//!
//! Then the recruitment burst (issue #13): two `study serve` processes on one database
//! (`RECTIFY_TEST_POSTGRES_URL` when set, else the run's SQLite file), 200 participants
//! arriving at once through the Prolific route, 5 items each: p50 / p99 printed, no item over
//! 5 answers, every participant completed with the code.
//!
//! Items: the `attribute` design, 10 attributes × the 50 bundled images = 500 items, 2,500
//! answers. `cargo bench -p rectify --bench study_load`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{acknowledged_votes, check_study_export, serve_enrolled, serve_study as serve};
use rectify_study::{Answer, Item};

const BIN: &str = env!("CARGO_BIN_EXE_rectify");
const RATERS: usize = 200;

fn rectify(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("rectify runs");
    assert!(out.status.success(), "rectify {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn oracle(item: &Item) -> Answer {
    if item.key.len().is_multiple_of(2) {
        Answer::Yes
    } else {
        Answer::No
    }
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let root = rectify_testkit::workspace_root();
    rectify(&[
        "eval",
        "--images",
        root.join("assets/sample-images").to_str().unwrap(),
        "--labels",
        root.join("assets/sample-labels.csv").to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let runs = run.to_str().unwrap();
    for study in ["load", "crash", "burst"] {
        for a in 0..10 {
            rectify(&[
                "study",
                "design",
                "--run",
                runs,
                "--study",
                study,
                "--design",
                "attribute",
                "--attribute",
                &format!("attribute-{a}"),
            ]);
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", run.join("rectify.db").display());
    let db = rt.block_on(rectify_web::StudyDb::connect(&db_url)).unwrap();
    let mut goals = rectify_testkit::goals::Goals::new("study_load");

    for (study, crash) in [("load", false), ("crash", true)] {
        let items = rt.block_on(db.items(study)).unwrap();
        let tokens = rt.block_on(db.create_invites(study, RATERS)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = serve(&run, study, port);
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        let report = std::thread::scope(|s| {
            let sim =
                s.spawn(|| rectify_web::simulate(&base, &tokens, &items, &run, oracle, 0.1, 7).expect("simulation"));
            if crash {
                std::thread::sleep(Duration::from_millis(1500));
                server.kill().unwrap(); // SIGKILL
                server.wait().unwrap();
                std::thread::sleep(Duration::from_millis(500));
                server = serve(&run, study, port);
            }
            sim.join().unwrap()
        });
        let secs = start.elapsed().as_secs_f64();
        let _ = server.kill();
        let _ = server.wait();
        let acknowledged = acknowledged_votes(&rt, &db, study, &tokens, &report);
        let stored = check_study_export(&run, study, items.len(), 5, &acknowledged);
        println!(
            "{study}: {RATERS} raters, {} items x 5: {} answers acknowledged, {stored} stored, {} retried requests, {} conflicts, \
             {:.1} s ({:.0} answers/s); latency p50 {:.1} ms, p99 {:.1} ms{}",
            items.len(),
            report.answers,
            report.retries,
            report.conflicts,
            secs,
            stored as f64 / secs,
            report.latency_quantile(0.5).unwrap_or(f64::NAN),
            report.latency_quantile(0.99).unwrap_or(f64::NAN),
            if crash { "; server killed with SIGKILL after 1.5 s and restarted" } else { "" }
        );
        assert_eq!(stored, items.len() * 5);
        if !crash {
            // A rater waits at most 2 s for the next item, 99 times in 100 (README, *Load*).
            let p99 = report.latency_quantile(0.99).unwrap_or(f64::NAN);
            goals.check("200 raters, p99 latency", p99, rectify_testkit::goals::Cmp::AtMost, 2000.0, " ms");
        }
    }

    // The recruitment burst, on PostgreSQL when configured.
    let url = std::env::var("RECTIFY_TEST_POSTGRES_URL").unwrap_or(db_url);
    let study = if url.starts_with("postgres") {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let study = format!("burst-{nanos}");
        for a in 0..10 {
            let attribute = format!("attribute-{a}");
            rectify(&[
                "study",
                "design",
                "--run",
                runs,
                "--database-url",
                &url,
                "--study",
                &study,
                "--design",
                "attribute",
                "--attribute",
                &attribute,
            ]);
        }
        study
    } else {
        "burst".to_string()
    };
    let db = rt.block_on(rectify_web::StudyDb::connect(&url)).unwrap();
    let items = rt.block_on(db.items(&study)).unwrap();
    let ports: Vec<u16> =
        (0..2).map(|_| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
    let mut servers: Vec<_> = ports.iter().map(|&p| serve_enrolled(&run, &url, &study, p, 5, "BENCH")).collect();
    let bases: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let start = Instant::now();
    let report = rectify_web::simulate_participants(
        &bases,
        &rectify_web::Flow::Prolific,
        "bench",
        RATERS,
        &items,
        &run,
        oracle,
        0.1,
        7,
    )
    .expect("simulation");
    let secs = start.elapsed().as_secs_f64();
    for s in &mut servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    let votes = rt.block_on(db.votes(&study)).unwrap();
    let mut per: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for v in &votes {
        *per.entry(v.item.as_str()).or_default() += 1;
    }
    let completed = report.codes.iter().filter(|c| c.as_deref() == Some("BENCH")).count();
    println!(
        "burst ({}): {RATERS} Prolific participants x 5 items on 2 servers: {completed} completed, {} answers stored, \
         {:.1} s; latency p50 {:.1} ms, p99 {:.1} ms",
        if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" },
        votes.len(),
        secs,
        report.answers.latency_quantile(0.5).unwrap_or(f64::NAN),
        report.answers.latency_quantile(0.99).unwrap_or(f64::NAN)
    );
    assert_eq!(completed, RATERS);
    assert_eq!(votes.len(), RATERS * 5);
    assert!(per.values().all(|&c| c <= 5), "an item over N");
    // 200 participants arriving at once on 2 servers: each waits at most 5 s, 99 times in 100.
    let p99 = report.answers.latency_quantile(0.99).unwrap_or(f64::NAN);
    goals.check("burst of 200 participants, p99 latency", p99, rectify_testkit::goals::Cmp::AtMost, 5000.0, " ms");
    goals.finish();
}
