//! Helpers shared by the CLI tests: run the real binary, read its outputs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository's `assets/` folder (bundled sample images and labels).
pub fn assets() -> PathBuf {
    rectify_testkit::workspace_root().join("assets")
}

/// Runs `rectify args…`, returning its output.
pub fn rectify(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rectify")).args(args).output().expect("rectify runs")
}

/// Runs `rectify args…` and fails the test with its stderr unless it succeeds.
pub fn rectify_ok(args: &[&str]) -> Output {
    let out = rectify(args);
    assert!(out.status.success(), "rectify {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `summary.json` of a run directory.
pub fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// `predictions.csv` rows as (file, label, top5, probs) strings.
pub fn predictions(run: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(run.join("predictions.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// A path as `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `rectify eval` of the first `limit` bundled sample images into `dir`, on the CPU.
pub fn eval_sample(dir: &Path, limit: &str) {
    eval_sample_with(dir, &["--limit", limit]);
}

/// `rectify eval` of the bundled sample images into `dir`, on the CPU, with `extra` flags.
pub fn eval_sample_with(dir: &Path, extra: &[&str]) {
    let (images, labels) = (assets().join("sample-images"), assets().join("sample-labels.csv"));
    let mut args = vec!["eval", "--images", s(&images), "--labels", s(&labels), "--out", s(dir), "--device", "cpu"];
    args.extend_from_slice(extra);
    rectify_ok(&args);
}

/// `rectify eval` of val-1300 (`shared`) into `dir`, on the CPU, with `extra` flags.
#[allow(dead_code)] // not every test binary evaluates val-1300
pub fn eval_val1300(shared: &Path, dir: &Path, extra: &[&str]) {
    let (images, labels) = (shared.join("data/imagenet-val-1300"), shared.join("data/imagenet-val-1300.csv"));
    let mut args = vec!["eval", "--images", s(&images), "--labels", s(&labels), "--out", s(dir), "--device", "cpu"];
    args.extend_from_slice(extra);
    rectify_ok(&args);
}

/// `rectify study serve` of `study` in `run` on 127.0.0.1:`port`, once it answers.
pub fn serve_study(run: &Path, study: &str, port: u16) -> std::process::Child {
    spawn_server(&["study", "serve", "--run", s(run), "--study", study], port)
}

/// A `rectify study serve` process on `url`'s database, open to Prolific participants with
/// batches of `per_participant` and completion code `code`.
pub fn serve_enrolled(
    run: &Path,
    url: &str,
    study: &str,
    port: u16,
    per_participant: usize,
    code: &str,
) -> std::process::Child {
    let k = per_participant.to_string();
    spawn_server(
        &["study", "serve", "--run", s(run), "--database-url", url, "--study", study, "--platform", "prolific"]
            .into_iter()
            .chain(["--per-participant", &k, "--completion-code", code])
            .collect::<Vec<_>>(),
        port,
    )
}

/// `rectify ARGS --addr 127.0.0.1:PORT`, returned once it answers HTTP.
fn spawn_server(args: &[&str], port: u16) -> std::process::Child {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rectify"))
        .args(args)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while ureq::get(&format!("http://127.0.0.1:{port}/")).call().is_err() {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

/// Exports `study` and checks that every item has exactly `n` answers from distinct raters and
/// that every acknowledged (rater id, item, answer) is among the stored votes, and nothing else
/// is; returns the number of stored votes.
pub fn check_study_export(
    run: &Path,
    study: &str,
    items: usize,
    n: usize,
    acknowledged: &std::collections::BTreeSet<(String, String, String)>,
) -> usize {
    use std::collections::{BTreeSet, HashMap, HashSet};
    let out = run.join(format!("{study}-export.jsonl"));
    rectify_ok(&["study", "export", "--run", s(run), "--study", study, "--format", "jsonl", "--out", s(&out)]);
    let mut per: HashMap<String, HashSet<String>> = HashMap::new();
    let mut stored = BTreeSet::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (item, rater) = (v["item"].as_str().unwrap().to_string(), v["rater"].as_str().unwrap().to_string());
        assert!(per.entry(item.clone()).or_default().insert(rater.clone()), "a rater answered an item twice: {line}");
        stored.insert((rater, item, v["answer"].to_string()));
    }
    assert_eq!(per.len(), items, "every item answered");
    assert!(per.values().all(|r| r.len() == n), "every item has exactly {n} answers");
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged answers are not stored, e.g. {:?}", lost.len(), lost.first());
    let unacknowledged: Vec<_> = stored.difference(acknowledged).collect();
    assert!(
        unacknowledged.is_empty(),
        "{} stored answers were never acknowledged: {:?}",
        unacknowledged.len(),
        unacknowledged.first()
    );
    stored.len()
}

/// The acknowledged answers of a simulation as (rater id, item, answer JSON), the raters' ids
/// looked up by their invite tokens.
pub fn acknowledged_votes(
    rt: &tokio::runtime::Runtime,
    db: &rectify_web::StudyDb,
    study: &str,
    tokens: &[String],
    report: &rectify_web::SimReport,
) -> std::collections::BTreeSet<(String, String, String)> {
    let ids: Vec<String> =
        tokens.iter().map(|t| rt.block_on(db.rater_for_token(study, t)).unwrap().expect("an invited rater")).collect();
    report
        .acknowledged
        .iter()
        .map(|(i, item, answer)| (ids[*i].clone(), item.clone(), serde_json::to_value(answer).unwrap().to_string()))
        .collect()
}

/// Copies a run directory (its process has exited, so the store is closed).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with the given extension, relative, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(root, &p, ext, out);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, ext, &mut out);
    out.sort();
    out
}
