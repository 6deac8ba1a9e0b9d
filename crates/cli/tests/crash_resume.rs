//! Issue #12: crashes resume exactly. `eval`, `attack` and `explain` are killed with SIGKILL at
//! random points (5 times each, the points drawn from a fixed seed and printed), then the same
//! command is run to the end; every output — CSV, JSON, NPY, PNG, the rows of the store — equals
//! that of an uninterrupted run, timestamps and durations aside, and no temporary file is left.
//!
//! Why this can be exact even with the default numerics, whose rounding depends on the batch: a
//! batch is committed to the store in one transaction, so a killed run leaves whole batches done
//! and the resumed run forms the same batches from what is left.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rectify_store::RunStore;

/// Every file under `dir` (relative path → bytes), JSON files without their timing fields.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if rel.starts_with("rectify.db") {
                // The store is compared row by row (store_rows); its pages hold times.
            } else if rel.ends_with(".json") {
                let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                for key in ["throughput", "seconds"] {
                    v.as_object_mut().map(|o| o.remove(key));
                }
                out.insert(rel, serde_json::to_vec_pretty(&v).unwrap());
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The store's rows of every run of `kind`, as text (predictions with their logits and features,
/// errors, attack trajectories, explanations, criticisms).
fn store_rows(dir: &Path) -> Vec<String> {
    let store = RunStore::open(dir).unwrap();
    let mut rows = vec![format!("{:?}", store.images().unwrap())];
    if let Some((run, _)) = store.find_run("eval", None).unwrap() {
        rows.push(format!("{:?}", store.predictions(run, true).unwrap()));
        rows.push(format!("{:?}", store.errors(run).unwrap()));
    }
    if let Some((run, _)) = store.find_run("attack", None).unwrap() {
        rows.push(format!("{:?}", store.attacks(run).unwrap()));
    }
    if let Some((run, _)) = store.find_run("explain", None).unwrap() {
        rows.push(format!("{:?}", store.explanations(run).unwrap()));
    }
    rows
}

/// SplitMix64, for the kill points.
struct Points(u64);

impl Points {
    fn next(&mut self, below: Duration) -> Duration {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        below.mul_f64(((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64)
    }
}

fn rectify_cmd(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rectify"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// How the work of one command is counted in its run directory: (items done, items in all).
type Progress = fn(&Path) -> (usize, usize);

/// Runs `args` to the end (timed) in a fresh run directory and keeps its outputs. Then, in the
/// same directory made afresh (so that the paths recorded in the outputs agree), starts the
/// command again and again, killing it with SIGKILL at a random point of the work it has left,
/// until it has been killed 5 times with work left (a run that finishes first starts the
/// sequence over); runs it once more to the end; and checks that the outputs and the store's rows
/// equal the uninterrupted run's.
fn kill_and_resume(
    what: &str,
    seed: u64,
    args: impl Fn(&Path) -> Vec<String>,
    prepare: impl Fn(&Path),
    progress: Progress,
) {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    prepare(&run);
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rectify")).args(args(&run)).output().unwrap();
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    let measured = start.elapsed();
    let mut full = measured;
    let (files, rows) = (snapshot(&run), store_rows(&run));

    std::fs::remove_dir_all(&run).unwrap();
    prepare(&run);
    let mut points = Points(seed);
    let mut kills = Vec::new();
    for _ in 0..60 {
        let (done, total) = progress(&run);
        if kills.len() == 5 {
            break;
        }
        if done == total {
            // A restarted run got through all the work before its kill point (the machine ran
            // faster than during the timed run, which shared the cores with the other kill
            // tests): start the sequence of kills over, with kill points 40 % earlier.
            full = full.mul_f64(0.6);
            std::fs::remove_dir_all(&run).unwrap();
            prepare(&run);
            kills.clear();
            continue;
        }
        let left = full.mul_f64(0.8 * (total - done) as f64 / total as f64);
        let at = points.next(left);
        let mut child = rectify_cmd(&args(&run)).spawn().unwrap();
        std::thread::sleep(at);
        match child.try_wait().unwrap() {
            None => {
                let _ = child.kill(); // SIGKILL
                kills.push(format!("{:.2} s ({done}/{total} done before)", at.as_secs_f64()));
            }
            Some(status) => assert!(status.success(), "{what}: a restarted run failed ({status})"),
        }
        child.wait().unwrap();
    }
    println!("{what}: uninterrupted {:.1} s; killed at {} (seed {seed})", measured.as_secs_f64(), kills.join(", "));
    assert_eq!(kills.len(), 5, "{what}: killed 5 times while work was left");
    let out = Command::new(env!("CARGO_BIN_EXE_rectify")).args(args(&run)).output().unwrap();
    assert!(out.status.success(), "{what}, resumed: {}", String::from_utf8_lossy(&out.stderr));

    let resumed = snapshot(&run);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        resumed.keys().collect::<Vec<_>>(),
        "{what}: the same files, no temporary ones"
    );
    for (file, bytes) in &files {
        if file.ends_with(".json") || file.ends_with(".csv") {
            let (a, b) = (String::from_utf8_lossy(bytes), String::from_utf8_lossy(&resumed[file]));
            assert_eq!(a, b, "{what}: {file} differs after the crashes");
        }
        assert!(bytes == &resumed[file], "{what}: {file} differs after the crashes");
    }
    assert_eq!(rows, store_rows(&run), "{what}: the store's rows differ");
    println!("{what}: {} files and the store equal an uninterrupted run's", files.len());
}

/// Rows stored so far by the run of `kind` (0 before the store exists), out of `total`.
fn stored(dir: &Path, kind: &str, total: usize) -> (usize, usize) {
    let Ok(store) = RunStore::open(dir) else { return (0, total) };
    let done = match store.find_run(kind, None) {
        Ok(Some((run, _))) => match kind {
            "eval" => store.predictions(run, false).map_or(0, |p| p.len()),
            "attack" => store.attacked_ids(run).map_or(0, |p| p.len()),
            _ => store.explanations(run).map_or(0, |p| p.len()),
        },
        _ => 0,
    };
    (done, total)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sample_eval(dir: &Path, extra: &[&str]) -> Vec<String> {
    let (images, labels) = (assets().join("sample-images"), assets().join("sample-labels.csv"));
    let mut a = strings(&["eval", "--images", s(&images), "--labels", s(&labels), "--out", s(dir), "--device", "cpu"]);
    a.extend(strings(extra));
    a
}

#[test]
fn eval_killed_five_times_resumes_exactly() {
    kill_and_resume(
        "eval",
        1,
        |dir| sample_eval(dir, &["--batch-size", "2", "--save-logits", "--save-features", "--workers", "1"]),
        |_| {},
        |dir| stored(dir, "eval", 50),
    );
}

#[test]
fn attack_killed_five_times_resumes_exactly() {
    kill_and_resume(
        "attack",
        2,
        |dir| {
            let a =
                ["attack", "--run", s(dir), "--steps", "4", "--step", "0.002", "--batch-size", "2", "--save-images"];
            strings(&[&a[..], &["--device", "cpu"]].concat())
        },
        |dir| {
            rectify_ok(&sample_eval(dir, &["--limit", "16"]).iter().map(String::as_str).collect::<Vec<_>>());
        },
        |dir| stored(dir, "attack", 16),
    );
}

#[test]
fn explain_killed_five_times_resumes_exactly() {
    kill_and_resume(
        "explain",
        3,
        |dir| {
            strings(&[
                "explain",
                "--run",
                s(dir),
                "--limit",
                "6",
                "--samples",
                "120",
                "--batch-size",
                "40",
                "--device",
                "cpu",
            ])
        },
        |dir| {
            rectify_ok(&sample_eval(dir, &["--limit", "6"]).iter().map(String::as_str).collect::<Vec<_>>());
        },
        |dir| stored(dir, "explain", 6),
    );
}
