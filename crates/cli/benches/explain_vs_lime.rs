//! Benchmarks of issue #4, each in one run on the same machine:
//! 1. LIME, 1000 samples, quickshift (lime's settings), on the first BENCH_LIME_IMAGES (5)
//!    images of val-1300: `rectify explain` against `../shared/anchors/lime_image_bench.py`
//!    (lime_image + the same torchvision MobileNetV2), median seconds per image on both sides,
//!    ratio printed (goal ≤ 0.5×). Both sides segment, perturb and fit; both run batches of
//!    BENCH_BATCH (32). The anchor runs with glibc's allocator defaults and with rectify's
//!    allocator settings (`rectify_testkit::anchor`); both ratios are printed.
//! 2. Quality on BENCH_QUALITY_IMAGES (20) images with the paper preset: how often the area under
//!    the explanation path exceeds the random order's (goal ≥ 80 %), and the mean Jaccard overlap
//!    of the top-8 superpixels between seeds 0 and 1 (lime users complain results change run to run).
//!    The faithfulness goal is asserted.
//!
//! `cargo bench -p rectify --bench explain_vs_lime` (after `. scripts/env.sh --bench`).

use std::collections::BTreeSet;

use rectify_testkit::anchor::{self, Allocator};
use std::path::Path;
use std::process::Command;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn rectify(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_rectify")).args(args).output().expect("rectify runs");
    assert!(out.status.success(), "rectify {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn top8(dir: &Path, file: &str) -> BTreeSet<u64> {
    let j = json(&dir.join(format!("{file}.json")));
    j["ranked"].as_array().unwrap().iter().take(8).map(|v| v.as_u64().unwrap()).collect()
}

fn main() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let images = shared.join("data/imagenet-val-1300");
    let labels = shared.join("data/imagenet-val-1300.csv");
    let (n_lime, n_quality) = (env_or("BENCH_LIME_IMAGES", "5"), env_or("BENCH_QUALITY_IMAGES", "20"));
    let (batch, threads) = (env_or("BENCH_BATCH", "32"), env_or("BENCH_THREADS", "2"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = tmp.path().join("run");
    let run_s = run.to_str().unwrap();
    let limit = n_lime.parse::<usize>().unwrap().max(n_quality.parse().unwrap()).to_string();
    rectify(&[
        "eval",
        "--images",
        images.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--out",
        run_s,
        "--limit",
        &limit,
        "--device",
        "cpu",
    ]);

    // 1. Speed against lime_image.
    // lime 0.2.0.1 (the anchors' pin) lacks the `progress_bar` argument the anchor passes:
    // scripts/anchors/lime_compat.py runs the anchor unchanged with that argument dropped.
    let compat = rectify_testkit::workspace_root().join("scripts/anchors/lime_compat.py");
    let anchor_args = [
        "--images",
        images.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--limit",
        &n_lime,
        "--samples",
        "1000",
        "--batch",
        &batch,
        "--threads",
        &threads,
    ];
    let anchors: Vec<serde_json::Value> = Allocator::BOTH
        .iter()
        .map(|&a| anchor::run(&[compat.as_path()], &shared.join("anchors/lime_image_bench.py"), &anchor_args, a))
        .collect();
    let theirs: Vec<f64> = anchors.iter().map(|j| j["seconds_per_image_median"].as_f64().unwrap()).collect();
    rectify(&[
        "explain",
        "--run",
        run_s,
        "--limit",
        &n_lime,
        "--samples",
        "1000",
        "--batch-size",
        &batch,
        "--threads",
        &threads,
        "--device",
        "cpu",
        "--name",
        "speed",
    ]);
    let ours =
        json(&run.join("explain/speed/summary.json"))["throughput"]["seconds_per_image_median"].as_f64().unwrap();
    println!(
        "lime, 1000 samples, quickshift, {n_lime} images, batch {batch}, {threads} threads, cpu, median s/image: \
         rectify {ours:.2} (segmentation, masks, forwards, fit, both paths and PNGs); lime_image {:.2} with {}, {:.2} with {}",
        theirs[0],
        Allocator::GlibcDefault.label(),
        theirs[1],
        Allocator::KeepFreed.label()
    );
    println!(
        "ratio {:.2}x (goal <= 0.5x), {:.2}x against the anchor with rectify's allocator settings; lime's segment counts {}",
        ours / theirs[0],
        ours / theirs[1],
        anchors[0]["segments"]
    );
    let mut goals = rectify_testkit::goals::Goals::new("explain_vs_lime");
    goals.check("s/image / lime_image's", ours / theirs[0], rectify_testkit::goals::Cmp::AtMost, 0.5, "x");

    // 2. Faithfulness and stability with the paper's preset.
    for seed in ["0", "1"] {
        rectify(&[
            "explain",
            "--run",
            run_s,
            "--limit",
            &n_quality,
            "--preset",
            "paper",
            "--seed",
            seed,
            "--batch-size",
            &batch,
            "--threads",
            &threads,
            "--device",
            "cpu",
            "--name",
            &format!("paper{seed}"),
        ]);
    }
    let dir0 = run.join("explain/paper0");
    let dir1 = run.join("explain/paper1");
    let (mut better, mut jaccard, mut n) = (0, 0.0, 0);
    for entry in std::fs::read_dir(&dir0).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(file) = name.strip_suffix(".json").filter(|f| *f != "summary") else { continue };
        let j = json(&dir0.join(&name));
        let (a, r) = (j["auc_path"].as_f64().unwrap(), j["auc_random"].as_f64().unwrap());
        println!(
            "  {file}: class {} p={:.3}, path AUC {a:.3} vs random {r:.3}",
            j["label"],
            j["probability"].as_f64().unwrap()
        );
        better += usize::from(a > r);
        let (s0, s1) = (top8(&dir0, file), top8(&dir1, file));
        jaccard += s0.intersection(&s1).count() as f64 / s0.union(&s1).count().max(1) as f64;
        n += 1;
    }
    println!(
        "paper preset on {n} images: explanation path above the random order's on {better}/{n} ({:.0} %, goal >= 80 %); \
         mean Jaccard of the top-8 superpixels between seeds 0 and 1: {:.3}",
        100.0 * better as f64 / n as f64,
        jaccard / n as f64
    );
    let share = 100.0 * better as f64 / n.max(1) as f64;
    goals.check("path above the random order (% of images)", share, rectify_testkit::goals::Cmp::AtLeast, 80.0, " %");
    goals.finish();
}
