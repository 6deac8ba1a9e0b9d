//! Benchmark (issue #3): IFGSM, 10 steps of 0.001, on batches of 16, `rectify attack` against the
//! plain PyTorch loop (`../shared/anchors/ifgsm_pytorch.py`), same images, batch, threads, in one
//! run, printing the ratio of the median seconds per batch on both sides (the anchor reports its
//! median over batches; rectify's summary records every batch's time). Goal: ≤ 1.0× PyTorch's
//! time. The anchor runs with glibc's allocator defaults and with rectify's allocator settings
//! (`rectify_testkit::anchor`); both ratios are printed.
//!
//! `cargo bench -p rectify --bench ifgsm_vs_pytorch` (after `. scripts/env.sh --bench`).
//! Environment: BENCH_BATCHES (3), BENCH_THREADS (2), RECTIFY_PYTHON (default: the venv's python).
//! rectify's time includes decoding the images; the anchor's does not.

use std::process::Command;

use rectify_testkit::anchor::{self, Allocator};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn rectify(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_rectify")).args(args).output().expect("rectify runs");
    assert!(out.status.success(), "rectify {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn main() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let images = shared.join("data/imagenet-val-1300");
    let labels = shared.join("data/imagenet-val-1300.csv");
    let (batches, threads) = (env_or("BENCH_BATCHES", "3"), env_or("BENCH_THREADS", "2"));
    let n = (16 * batches.parse::<usize>().expect("BENCH_BATCHES is a number")).to_string();

    let anchor_args = [
        "--images",
        images.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--batch",
        "16",
        "--steps",
        "10",
        "--step",
        "0.001",
        "--batches",
        &batches,
        "--threads",
        &threads,
    ];
    let runs: Vec<serde_json::Value> = Allocator::BOTH
        .iter()
        .map(|&a| anchor::run(&[], &shared.join("anchors/ifgsm_pytorch.py"), &anchor_args, a))
        .collect();
    let theirs: Vec<f64> = runs.iter().map(|j| j["seconds_per_batch_median"].as_f64().unwrap()).collect();

    let tmp = tempfile::tempdir().expect("temp dir");
    let run = tmp.path().join("run");
    let run_s = run.to_str().unwrap();
    rectify(
        &["eval", "--images", images.to_str().unwrap(), "--labels", labels.to_str().unwrap()]
            .into_iter()
            .chain(["--out", run_s, "--limit", &n, "--device", "cpu"])
            .collect::<Vec<_>>(),
    );
    let mut per_batch = Vec::new();
    for exact in [false, true] {
        let name = if exact { "exact" } else { "fast" };
        let mut args = vec!["attack", "--run", run_s, "--limit", &n, "--batch-size", "16", "--steps", "10"];
        args.extend(["--step", "0.001", "--threads", &threads, "--device", "cpu", "--name", name]);
        if exact {
            args.push("--exact");
        }
        rectify(&args);
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("attack").join(name).join("summary.json")).unwrap())
                .unwrap();
        per_batch.push(s["throughput"]["seconds_per_batch_median"].as_f64().unwrap());
        println!("rectify ({name}) accuracy per step {}", s["accuracy_per_step"]);
    }
    println!("pytorch accuracy per step {}", runs[0]["accuracy_per_step"]);
    println!(
        "ifgsm 10 steps, batch 16, {threads} threads, cpu, median s/batch of {batches}: rectify {:.2}, --exact {:.2}; \
         pytorch {:.2} with {}, {:.2} with {}",
        per_batch[0],
        per_batch[1],
        theirs[0],
        Allocator::GlibcDefault.label(),
        theirs[1],
        Allocator::KeepFreed.label()
    );
    println!(
        "ratio {:.2}x (goal <= 1.0x), {:.2}x against the anchor with rectify's allocator settings; --exact {:.2}x / {:.2}x",
        per_batch[0] / theirs[0],
        per_batch[0] / theirs[1],
        per_batch[1] / theirs[0],
        per_batch[1] / theirs[1]
    );
    let mut goals = rectify_testkit::goals::Goals::new("ifgsm_vs_pytorch");
    goals.check("s/batch / PyTorch's", per_batch[0] / theirs[0], rectify_testkit::goals::Cmp::AtMost, 1.0, "x");
    goals.finish();
}
