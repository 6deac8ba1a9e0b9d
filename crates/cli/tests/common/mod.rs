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
