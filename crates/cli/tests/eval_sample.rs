//! `rectify eval` on the bundled sample: outputs, resuming, sharding + merge, bad model flags.

mod common;

use common::*;
use rectify_data::npy;

/// Same files, labels and top-5 classes; probabilities equal up to float rounding. libtorch's
/// convolutions pick algorithms by batch size, so batches of 7 and of 32 round differently
/// (measured: at most 2e-6 apart in probability), as they do in PyTorch.
fn assert_same_predictions(a: &[Vec<String>], b: &[Vec<String>]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x[..3], y[..3], "{x:?} vs {y:?}");
        for (p, q) in x[3].split(' ').zip(y[3].split(' ')) {
            let (p, q): (f64, f64) = (p.parse().unwrap(), q.parse().unwrap());
            assert!((p - q).abs() <= 1e-5, "{x:?} vs {y:?}");
        }
    }
}

fn sample_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "eval",
        "--images",
        ASSET_IMAGES.as_str(),
        "--labels",
        ASSET_LABELS.as_str(),
        "--out",
        out,
        "--device",
        "cpu",
    ];
    a.extend_from_slice(extra);
    a
}

static ASSET_IMAGES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| s(&assets().join("sample-images")).to_string());
static ASSET_LABELS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| s(&assets().join("sample-labels.csv")).to_string());

#[test]
fn writes_every_output_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    rectify_ok(&sample_args(s(&full), &["--save-logits", "--save-features", "--batch-size", "16"]));
    let sum = summary(&full);
    assert_eq!(sum["n"], 50);
    assert_eq!(sum["failed"], 0);
    // The bundled images are val-1300 images: the same top-5 as torchvision's on every one, so
    // the same top-1 accuracy.
    if let Some(reference) = rectify_testkit::shared_file("reference/mobilenet_v2_top5_val1300.csv") {
        let text = std::fs::read_to_string(reference).unwrap();
        let want: std::collections::HashMap<&str, &str> = text
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0], f[2])
            })
            .collect();
        let rows = predictions(&full);
        let (mut wrong, mut same) = (0, 0);
        for r in &rows {
            same += usize::from(want[r[0].as_str()] == r[2]);
            wrong += usize::from(r[2].split(' ').next() != Some(r[1].as_str()));
        }
        assert_eq!(same, 50, "torchvision's top-5 on every bundled image");
        assert!((sum["top1"].as_f64().unwrap() - (50 - wrong) as f64 / 50.0).abs() < 1e-12, "{sum}");
        println!("bundled images: {wrong} of 50 misclassified");
    }
    assert!(sum["provenance"]["model"]["weights_sha256"].as_str().unwrap().len() == 64);
    let rows = predictions(&full);
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0][3].split(' ').count(), 5);
    let logits = npy::read_f32(&full.join("logits.npy")).unwrap();
    assert_eq!(logits.shape, vec![50, 1000]);
    let feats = npy::read_f32(&full.join("features.npy")).unwrap();
    assert_eq!(feats.shape, vec![50, 1280]);
    assert!(full.join("rectify.db").is_file() && full.join("artifacts").is_dir());

    // Interrupted after 10 images, then resumed: the same predictions, and only 40 recomputed.
    let resumed = tmp.path().join("resumed");
    rectify_ok(&sample_args(s(&resumed), &["--limit", "10"]));
    assert_eq!(predictions(&resumed).len(), 10);
    let out = rectify_ok(&sample_args(s(&resumed), &["--batch-size", "7"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10 already stored, 40 to evaluate"));
    assert_same_predictions(&predictions(&resumed), &rows);
    assert_eq!(summary(&resumed)["throughput"]["images"], 40);
}

#[test]
fn shards_merge_into_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    rectify_ok(&sample_args(s(&whole), &["--save-logits"]));
    let mut shards = Vec::new();
    for i in 0..3 {
        let dir = tmp.path().join(format!("shard{i}"));
        let spec = format!("{i}/3");
        rectify_ok(&sample_args(s(&dir), &["--shard", &spec, "--save-logits"]));
        assert!(predictions(&dir).len() < 50);
        shards.push(dir);
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge", "--out", s(&merged)];
    args.extend(shards.iter().map(|p| s(p)));
    rectify_ok(&args);
    assert_same_predictions(&predictions(&merged), &predictions(&whole));
    assert_eq!(summary(&merged)["top1"], summary(&whole)["top1"]);
    // The merged run records the whole listing, as the unsharded eval does: no shard (found by
    // the Slurm test, issue #28 §2: it recorded the first shard's "0/3").
    let params = |run: &std::path::Path| summary(run)["provenance"]["params"].clone();
    assert_eq!(params(&merged)["shard"], serde_json::Value::Null);
    assert_eq!(params(&merged)["shard"], params(&whole)["shard"]);
    let (a, b) =
        (npy::read_f32(&merged.join("logits.npy")).unwrap(), npy::read_f32(&whole.join("logits.npy")).unwrap());
    assert_eq!(a.shape, b.shape);
    assert!(a.data.iter().zip(&b.data).all(|(x, y)| (x - y).abs() < 1e-4));
}

/// Shards made with different models (other weights, or other numerics) are never merged.
#[test]
fn merge_refuses_shards_of_different_models() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    rectify_ok(&sample_args(s(&a), &["--shard", "0/2", "--limit", "3"]));
    rectify_ok(&sample_args(s(&b), &["--shard", "1/2", "--limit", "3", "--exact"]));
    let merged = tmp.path().join("merged");
    let res = rectify(&["merge", "--out", s(&merged), s(&a), s(&b)]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("numerics"), "the message names what differs: {err}");
    assert!(!merged.join("predictions.csv").exists(), "nothing is written");
    let Some(pth) = rectify_testkit::shared_file("models/mobilenet_v2-b0353104.pth") else { return };
    let c = tmp.path().join("c");
    rectify_ok(&sample_args(s(&c), &["--shard", "1/2", "--limit", "3", "--weights", s(&pth)]));
    let res = rectify(&["merge", "--out", s(&tmp.path().join("merged2")), s(&a), s(&c)]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("weights sha256"), "the message names what differs: {err}");
}

#[test]
fn resuming_with_other_weights_is_refused() {
    let Some(pth) = rectify_testkit::shared_file("models/mobilenet_v2-b0353104.pth") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    rectify_ok(&sample_args(s(&out), &["--limit", "2"]));
    let res = rectify(&sample_args(s(&out), &["--weights", s(&pth)]));
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("weights sha256"), "{err}");
}

#[test]
fn model_flag_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let res = rectify(&sample_args(s(&out), &["--arch", "resnet50"]));
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("no weights are bundled for resnet50"));
    let res = rectify(&sample_args(s(&out), &["--arch", "vgg16"]));
    assert!(String::from_utf8_lossy(&res.stderr).contains("unknown architecture"));
    let mut args = sample_args(s(&out), &[]);
    let at = args.iter().position(|a| *a == "cpu").unwrap();
    args[at] = "cuda:7";
    let res = rectify(&args);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("no CUDA device"));
    // The bundled MobileNetV2 weights offered to a ResNet: tensors named, architecture guessed.
    let Some(pth) = rectify_testkit::shared_file("models/mobilenet_v2-b0353104.pth") else { return };
    let res = rectify(&sample_args(s(&out), &["--arch", "resnet50", "--weights", s(&pth)]));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("missing: ") && err.contains("try --arch mobilenet_v2"), "{err}");
}

/// `--device` and `--rule` are parsed once, when the flags are: a bad value is a usage error
/// (exit 2) that names it, before any image is read or any run directory is made.
#[test]
fn bad_device_and_rule_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let mut args = sample_args(s(&out), &[]);
    let at = args.iter().position(|a| *a == "--device").expect("sample args name a device");
    args[at + 1] = "tpu";
    let res = rectify(&args);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("tpu") && err.contains("--device"), "{err}");
    assert!(!out.exists(), "nothing is made");
    let res = rectify(&["study", "results", "--run", s(&out), "--rule", "k-of-n:6/5"]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("need 1 ≤ K ≤ N") && err.contains("--rule"), "{err}");
    assert!(!out.exists(), "nothing is made");
}
