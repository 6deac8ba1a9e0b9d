//! Benchmark (issue #2): images/s of `rectify eval` against the torchvision anchor
//! (`../shared/anchors/eval_torchvision.py`: PIL decode + Resize/CenterCrop/Normalize in DataLoader
//! workers, batched MobileNetV2 forward), on the same images, batch size, threads and device, in
//! one run, printing the ratio. Goal: ≥ 1.2× the anchor's throughput on CPU. rectify runs twice per
//! repeat: with its default numerics and with `--exact` (PyTorch's forward op for op). The anchor
//! runs twice per repeat too: with glibc's allocator defaults and with rectify's allocator
//! settings (`rectify_testkit::anchor`), and both ratios are printed. Every number is the median
//! of the repeats, on both sides.
//!
//! `cargo bench -p rectify --bench eval_throughput` (after `. scripts/env.sh --bench`).
//! Environment: BENCH_LIMIT (images, default 640), BENCH_BATCH (32), BENCH_THREADS (2),
//! BENCH_REPEATS (3), RECTIFY_PYTHON (default: the activated venv's python), BENCH_ARCH (any
//! zoo architecture, default mobilenet_v2) and BENCH_WEIGHTS (default: the bundled MobileNetV2,
//! or for another architecture its random-weight torchvision checkpoint from the `zoo` fixtures:
//! throughput does not depend on the values). Issue #15 runs it for `vit_b_16` and
//! `convnext_tiny` (goal there: ≥ 1.0× PyTorch eager).

use std::process::Command;

use rectify_testkit::anchor::{self, median, Allocator};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let images = shared.join("data/imagenet-val-1300");
    let labels = shared.join("data/imagenet-val-1300.csv");
    let (limit, batch, threads) =
        (env_or("BENCH_LIMIT", "640"), env_or("BENCH_BATCH", "32"), env_or("BENCH_THREADS", "2"));
    let repeats: usize = env_or("BENCH_REPEATS", "3").parse().expect("BENCH_REPEATS is a number");
    let arch = env_or("BENCH_ARCH", "mobilenet_v2");
    let weights = match std::env::var("BENCH_WEIGHTS") {
        Ok(w) => Some(w),
        Err(_) if arch == "mobilenet_v2" => None,
        Err(_) => {
            let Some(zoo) = rectify_testkit::fixtures("zoo") else { return };
            Some(zoo.join(format!("{arch}.pth")).display().to_string())
        }
    };
    let mut model_args = vec!["--arch".to_string(), arch.clone()];
    if let Some(w) = &weights {
        model_args.extend(["--weights".to_string(), w.clone()]);
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let (mut ours, mut exact, mut theirs, mut theirs_kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut top1 = (0.0, 0.0);
    for r in 0..repeats {
        for alloc in Allocator::BOTH {
            let mut args = vec!["--images", images.to_str().unwrap(), "--labels", labels.to_str().unwrap()];
            args.extend(["--limit", &limit, "--batch", &batch, "--workers", &threads, "--threads", &threads]);
            args.extend(model_args.iter().map(String::as_str));
            let j = anchor::run(&[], &shared.join("anchors/eval_torchvision.py"), &args, alloc);
            let ips = j["images_per_s"].as_f64().unwrap();
            match alloc {
                Allocator::GlibcDefault => theirs.push(ips),
                Allocator::KeepFreed => theirs_kept.push(ips),
            }
            top1.1 = j["top1"].as_f64().unwrap();
        }
        // rectify, same images, batch, threads; a fresh run directory each time (no resuming).
        for (mode, into) in [("fast", &mut ours), ("exact", &mut exact)] {
            let run = tmp.path().join(format!("{mode}{r}"));
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_rectify"));
            cmd.args(["eval", "--images", images.to_str().unwrap(), "--labels", labels.to_str().unwrap()])
                .args(["--out", run.to_str().unwrap(), "--limit", &limit, "--batch-size", &batch])
                .args(["--threads", &threads, "--workers", &threads, "--device", "cpu"])
                .args(&model_args);
            if mode == "exact" {
                cmd.arg("--exact");
            }
            let out = cmd.output().expect("rectify runs");
            assert!(out.status.success(), "rectify failed: {}", String::from_utf8_lossy(&out.stderr));
            let s: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
            into.push(s["throughput"]["images_per_s"].as_f64().unwrap());
            top1.0 = s["top1"].as_f64().unwrap();
        }
        eprintln!(
            "repeat {r}: rectify {:.1} images/s (--exact {:.1}), torchvision {:.1} images/s ({:.1} with rectify's allocator settings)",
            ours[r], exact[r], theirs[r], theirs_kept[r]
        );
    }
    let (o, e, t, k) = (median(ours), median(exact), median(theirs), median(theirs_kept));
    println!(
        "eval throughput of {arch}, {limit} val-1300 images, batch {batch}, {threads} threads, cpu, medians of {repeats}: \
         rectify {o:.1} images/s, --exact {e:.1}; torchvision {t:.1} images/s with {}, {k:.1} with {}",
        Allocator::GlibcDefault.label(),
        Allocator::KeepFreed.label()
    );
    println!(
        "ratio {:.2}x (goal >= 1.2x for mobilenet_v2, >= 1.0x for vit_b_16 and convnext_tiny), {:.2}x against the anchor with rectify's allocator settings; \
         --exact {:.2}x / {:.2}x; top-1 {:.4} vs {:.4}",
        o / t,
        o / k,
        e / t,
        e / k,
        top1.0,
        top1.1
    );
    // The README's goals: >= 1.2x the torchvision anchor (glibc defaults, as Python users run it)
    // for MobileNetV2, >= 1.0x PyTorch eager for ViT-B/16 and ConvNeXt-T.
    let mut goals = rectify_testkit::goals::Goals::new(&format!("eval_throughput {arch}"));
    let goal = match arch.as_str() {
        "mobilenet_v2" => Some(1.2),
        "vit_b_16" | "convnext_tiny" => Some(1.0),
        _ => None,
    };
    if let Some(goal) = goal {
        goals.check("throughput / the anchor's", o / t, rectify_testkit::goals::Cmp::AtLeast, goal, "x");
    }
    goals.finish();
}
