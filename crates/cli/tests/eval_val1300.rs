//! Acceptance of issue #2 on val-1300: `rectify eval` (bundled MobileNetV2 by default)
//! against torchvision's outputs in ../shared/reference.

mod common;

use std::collections::HashMap;

use common::*;
use rectify_data::npy;

fn reference_top1(path: &std::path::Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].split(' ').next().unwrap().to_string())
        })
        .collect()
}

fn mean_max_abs(a: &[f32], b: &[f32]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let (mut sum, mut max) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let d = f64::from((x - y).abs());
        sum += d;
        max = max.max(d);
    }
    (sum / a.len() as f64, max)
}

#[test]
fn val1300_matches_torchvision() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("val1300");
    let real = shared.join("data/labels/real.json");
    eval_val1300(&shared, &run, &["--real-labels", s(&real), "--save-logits", "--save-features"]);
    let sum = summary(&run);
    let reference = reference_top1(&shared.join("reference/mobilenet_v2_top5_val1300.csv"));
    let rows = predictions(&run);
    assert_eq!(rows.len(), 1300);
    let agree = rows.iter().filter(|r| reference[&r[0]] == r[2].split(' ').next().unwrap()).count();
    let top1 = sum["top1"].as_f64().unwrap();
    println!("top-1 agreement with torchvision {agree}/1300; top1 {top1:.5} (torchvision 0.79692)");
    println!("top5 {}, ReaL top-1 {} top-5 {} over {}", sum["top5"], sum["real_top1"], sum["real_top5"], sum["real_n"]);
    assert!(agree as f64 / 1300.0 >= 0.995, "top-1 agreement {agree}/1300");
    assert!((top1 - 0.79692).abs() <= 0.003, "top1 {top1}");
    assert!(sum["real_n"].as_u64().unwrap() > 1000 && sum["real_top1"].as_f64().unwrap() > top1);

    let logits = npy::read_f32(&run.join("logits.npy")).unwrap();
    let want = npy::read_f32(&shared.join("reference/mobilenet_v2_logits_first64.npy")).unwrap();
    let (mean, max) = mean_max_abs(&logits.data[..64 * 1000], &want.data);
    println!("logits (first 64): mean |diff| {mean:.2e}, max {max:.2e}");
    assert!(max <= 0.05, "logits max-abs {max}");

    let feats = npy::read_f32(&run.join("features.npy")).unwrap();
    let want = npy::read_f32(&shared.join("reference/mobilenet_v2_features_val1300.npy")).unwrap();
    assert_eq!(feats.shape, want.shape);
    let (mean, max) = mean_max_abs(&feats.data, &want.data);
    println!("features: mean |diff| {mean:.2e}, max {max:.2e}");
    assert!(mean <= 0.01, "features mean-abs {mean}");
}

/// The original files through `--weights` (the `.pth` read directly, and the safetensors copy),
/// computed with `--exact` (PyTorch's NCHW layout).
#[test]
fn float32_pth_weights_match_torchvision_logits() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("f32");
    for weights in ["models/mobilenet_v2-b0353104.pth", "models/mobilenet_v2_imagenet1k_v1.safetensors"] {
        let _ = std::fs::remove_dir_all(&run);
        rectify_ok(&[
            "eval",
            "--images",
            s(&shared.join("data/imagenet-val-1300")),
            "--labels",
            s(&shared.join("data/imagenet-val-1300.csv")),
            "--weights",
            s(&shared.join(weights)),
            "--out",
            s(&run),
            "--limit",
            "64",
            "--save-logits",
            "--exact",
            "--device",
            "cpu",
        ]);
        let logits = npy::read_f32(&run.join("logits.npy")).unwrap();
        let want = npy::read_f32(&shared.join("reference/mobilenet_v2_logits_first64.npy")).unwrap();
        let (mean, max) = mean_max_abs(&logits.data, &want.data);
        println!("{weights}: logits (first 64) mean |diff| {mean:.2e}, max {max:.2e}");
        assert!(max <= 0.05, "{weights}: logits max-abs {max}");
    }
}
