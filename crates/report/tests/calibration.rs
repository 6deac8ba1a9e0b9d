//! The calibration section (issue #17): expected calibration error and the reliability diagram's
//! bins equal numpy's (`scripts/fixtures/calibration.py`, Guo et al.'s binning) on the same
//! probabilities — a synthetic set with confidences on bin edges, unlabelled rows and quoted file
//! names, and torchvision's own MobileNetV2 probabilities on val-1300. Sums are in another order
//! than numpy's pairwise ones, hence 1e-12 rather than equality for the means and the ECE.

use std::path::Path;

use rectify_report::report::{build, render};
use serde_json::Value;

fn expected(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: Option<f64>, b: &Value, what: &str) {
    match (a, b.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{what}: ours {a}, numpy {b}"),
        (a, _) => panic!("{what}: ours {a:?}, numpy {b}"),
    }
}

/// The report of run `dir` agrees with numpy's numbers `want`.
fn check(dir: &Path, want: &Value) {
    let report = build(&[dir.to_path_buf()]).unwrap();
    assert_eq!(report.calibration.len(), 1);
    let c = &report.calibration[0];
    assert_eq!((c.n, c.bins), (want["n"].as_u64().unwrap(), 15));
    let counts: Vec<u64> = want["count"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(c.bin_count, counts, "images per bin");
    for m in 0..15 {
        close(c.bin_accuracy[m], &want["accuracy"][m], &format!("accuracy of bin {m}"));
        close(c.bin_confidence[m], &want["confidence"][m], &format!("confidence of bin {m}"));
    }
    close(c.ece, &want["ece"], "ECE");
    let html = render(&report);
    assert!(html.contains(r#"data-ptr="/calibration/0/ece""#) && html.contains("reliability diagram"));
    assert_eq!(html.matches(r#"<rect class="bar""#).count(), counts.iter().filter(|&&k| k > 0).count());
}

#[test]
fn ece_equals_numpys_on_a_synthetic_run() {
    let Some(fx) = rectify_testkit::fixtures("calibration") else { return };
    let want = expected(&fx.join("synthetic.json"));
    assert!(want["count"].as_array().unwrap().iter().all(|k| k.as_u64().unwrap() > 0), "every bin is exercised");
    check(&fx.join("synthetic"), &want);
}

#[test]
fn ece_equals_numpys_on_torchvisions_val1300_probabilities() {
    let Some(reference) = rectify_testkit::shared_file("reference/mobilenet_v2_top5_val1300.csv") else { return };
    let Some(fx) = rectify_testkit::fixtures("calibration") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&reference, dir.path().join("predictions.csv")).unwrap();
    std::fs::write(dir.path().join("rectify.db"), b"").unwrap();
    let want = expected(&fx.join("val1300.json"));
    assert_eq!(want["n"], 1300);
    check(dir.path(), &want);
}

#[test]
fn a_malformed_predictions_file_is_an_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rectify.db"), b"").unwrap();
    std::fs::write(
        dir.path().join("predictions.csv"),
        "file,label,top5,top5_probs\na.JPEG,1,1 2,0.5 0.2\nb.JPEG,1,1 2,1.5 0.2\n",
    )
    .unwrap();
    let err = build(&[dir.path().to_path_buf()]).unwrap_err().to_string();
    assert!(err.contains("predictions.csv: line 3: probability 1.5 is outside [0, 1]"), "{err}");
    std::fs::write(dir.path().join("predictions.csv"), "file,top5\na,1\n").unwrap();
    let err = build(&[dir.path().to_path_buf()]).unwrap_err().to_string();
    assert!(err.contains("no column \"label\""), "{err}");
}
