//! Issue #30 §1: the server stops asking about an item once the 4-of-5 rule has decided it.
//! 40 simulated raters answer 200 relevance items through two servers sharing one database,
//! on SQLite and on PostgreSQL: no item gets more than N answers, every item is decided, no
//! lease is granted on an item after it was decided, the items drawn to get all N answers get
//! them, and the answers asked stay within 1.15 × what asking one at a time would use.

mod common;

use common::relevance_items;
use common::server::{backends, unique, Server};
use rectify_study::stopping::Stopping;
use rectify_study::{Answer, Item};
use rectify_web::enrollment::{Enrollment, Platform};
use rectify_web::simulate::simulate;
use std::collections::HashMap;

/// The expected answers asked, one at a time, about an item whose answers are yes with
/// probability `q` independently, until `k` yes or `n − k + 1` not yes: Σₜ P(undecided after t).
fn serial_expectation(k: usize, n: usize, q: f64) -> f64 {
    let no_needed = n - k + 1;
    // p[y][m]: probability of reaching y yes and m not yes while undecided.
    let mut p = vec![vec![0.0; no_needed + 1]; k + 1];
    p[0][0] = 1.0;
    let mut expected = 0.0;
    for t in 0..n {
        for y in 0..k {
            let m = t.wrapping_sub(y);
            if m >= no_needed || y > t {
                continue;
            }
            let here = p[y][m];
            expected += here; // undecided after t answers: a (t+1)-th is asked
            p[y + 1][m] += here * q;
            p[y][m + 1] += here * (1.0 - q);
        }
    }
    expected
}

#[test]
fn serial_expectation_by_hand() {
    // Always no: 2 answers; always yes: 4; a fair coin: by enumerating the 2⁵ sequences.
    assert!((serial_expectation(4, 5, 0.0) - 2.0).abs() < 1e-12);
    assert!((serial_expectation(4, 5, 1.0) - 4.0).abs() < 1e-12);
    let mut total = 0.0;
    for bits in 0u32..32 {
        let (mut y, mut m, mut t) = (0, 0, 0);
        for i in 0..5 {
            t += 1;
            if bits & (1 << i) != 0 {
                y += 1
            } else {
                m += 1
            }
            if y >= 4 || m >= 2 {
                break;
            }
        }
        total += t as f64 / 32.0;
    }
    assert!((serial_expectation(4, 5, 0.5) - total).abs() < 1e-12);
}

#[test]
fn forty_raters_stop_each_item_at_its_decision() {
    let (n, n_items, n_raters, noise) = (5usize, 200, 40, 0.1);
    for url in backends(tempfile::tempdir().unwrap().path()) {
        let dir = tempfile::tempdir().unwrap();
        let url = if url.starts_with("sqlite:") {
            format!("sqlite://{}?mode=rwc", dir.path().join("rectify.db").display())
        } else {
            url
        };
        let study = unique("stopping");
        let items = relevance_items(dir.path(), n_items);
        let e = Enrollment::new(vec![Platform::Pid], 5);
        let (server, bases) = Server::start(&url, dir.path(), &study, &items, n, &e, 2);
        let stopping = Stopping { k: 4, n, full_fraction: 0.1, seed: 11 };
        let tokens = server.rt.block_on(async {
            server.db.put_stopping(&study, Some(&stopping)).await.unwrap();
            server.db.create_invites(&study, n_raters).await.unwrap()
        });
        // Three items in five are relevant; each answer is wrong with probability `noise`.
        let relevant = |item: &Item| item.image_id.unwrap() % 5 < 3;
        let oracle = |item: &Item| if relevant(item) { Answer::Yes } else { Answer::No };
        let halves: Vec<&[String]> = tokens.chunks(n_raters / 2).collect();
        let reports: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = bases
                .iter()
                .zip(&halves)
                .enumerate()
                .map(|(i, (base, toks))| {
                    let (items, dir) = (&items, dir.path());
                    scope.spawn(move || simulate(base, toks, items, dir, oracle, noise, 7 + i as u64).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let acknowledged: usize = reports.iter().map(|r| r.answers).sum();

        let rows = server.rt.block_on(server.db.assignments(&study)).unwrap();
        let decided = server.rt.block_on(server.db.decided_items(&study)).unwrap();
        assert!(rows.iter().all(|r| r.state == "answered"), "no lease left open");
        assert_eq!(rows.len(), acknowledged, "every answer acknowledged is stored");
        let mut per_item: HashMap<&str, Vec<&rectify_web::db::AssignmentRow>> = HashMap::new();
        for r in &rows {
            per_item.entry(r.item.as_str()).or_default().push(r);
        }
        let (mut expected, mut full_items) = (0.0, 0);
        for item in &items {
            let its = per_item.get(item.key.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            assert!(its.len() <= n, "{}: {} answers, more than N = {n}", item.key, its.len());
            let at = *decided.get(&item.key).unwrap_or_else(|| panic!("{} was never decided", item.key));
            if stopping.is_full(&item.key) {
                full_items += 1;
                assert_eq!(its.len(), n, "{}: drawn to get all N answers", item.key);
                expected += n as f64;
                continue;
            }
            // Stopped at its decision: no lease granted after it was decided, and the answers
            // in the order they came decide it at the moment recorded.
            for r in its {
                assert!(r.assigned_at.unwrap() <= at, "{}: leased to {} after it was decided", item.key, r.rater);
            }
            let mut by_time: Vec<&&rectify_web::db::AssignmentRow> = its.iter().collect();
            by_time.sort_by_key(|r| r.answered_at);
            let answers: Vec<Answer> = by_time.iter().map(|r| r.answer.clone().unwrap()).collect();
            let first = (1..=answers.len()).find(|&t| stopping.decision(&item.question, &answers[..t]).is_some());
            let first = first.unwrap_or_else(|| panic!("{}: {answers:?} decide nothing", item.key));
            assert!(by_time[first - 1].answered_at.unwrap() <= at, "{}", item.key);
            let q = if relevant(item) { 1.0 - noise } else { noise };
            expected += serial_expectation(4, n, q);
        }
        let total = rows.len() as f64;
        println!(
            "{}: {total} answers for {n_items} items ({:.2} per item; {full_items} asked all {n}), serial expectation \
             {expected:.1} (ratio {:.3}); without stopping {}",
            if url.starts_with("sqlite:") { "SQLite" } else { "PostgreSQL" },
            total / n_items as f64,
            total / expected,
            n * n_items
        );
        assert!(full_items > 0, "the seed draws some full items");
        assert!(total <= 1.15 * expected, "{total} answers, more than 1.15 × the serial expectation {expected:.1}");
    }
}
