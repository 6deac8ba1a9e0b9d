//! Acceptance of issue #3: IFGSM (L∞, step 0.001, 10 steps, untargeted) on the first 200 images
//! of val-1300 with MobileNetV2, against PyTorch's trajectories in
//! ../shared/reference/ifgsm_mobilenet_v2_first200.csv.

mod common;

use std::collections::HashMap;

use common::*;

fn read_csv(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines.map(|l| header.iter().map(|h| h.to_string()).zip(l.split(',').map(str::to_string)).collect()).collect()
}

/// First step whose prediction differs from the label, from a row's pred_step columns.
fn flip(row: &HashMap<String, String>) -> Option<usize> {
    (0..=10).find(|s| row[&format!("pred_step{s}")] != row["label"])
}

#[test]
fn ifgsm_matches_pytorch_on_the_first_200() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_val1300(&shared, &run, &["--limit", "200"]);
    rectify_ok(&[
        "attack",
        "--run",
        s(&run),
        "--method",
        "ifgsm",
        "--step",
        "0.001",
        "--steps",
        "10",
        "--device",
        "cpu",
    ]);
    let dir = run.join("attack/ifgsm-linf-0.001x10");
    let ours: HashMap<String, HashMap<String, String>> =
        read_csv(&dir.join("trajectory.csv")).into_iter().map(|r| (r["file"].clone(), r)).collect();
    let reference = read_csv(&shared.join("reference/ifgsm_mobilenet_v2_first200.csv"));
    assert_eq!(ours.len(), 200);
    let mut same_flip = 0;
    for r in &reference {
        let o = &ours[&r["file"]];
        let ours_flip = o["steps_to_flip"].parse::<usize>().ok();
        assert_eq!(ours_flip, flip(o), "steps_to_flip column disagrees with the pred_step columns: {o:?}");
        same_flip += usize::from(ours_flip == flip(r));
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let ours_acc: Vec<f64> =
        summary["accuracy_per_step"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let ref_acc: Vec<f64> = (0..=10)
        .map(|s| reference.iter().filter(|r| r[&format!("pred_step{s}")] == r["label"]).count() as f64 / 200.0)
        .collect();
    println!("steps_to_flip equal to PyTorch's on {same_flip}/200 images");
    println!("accuracy per step: rectify {ours_acc:?}\n                   pytorch {ref_acc:?}");
    assert!(same_flip >= 190, "steps_to_flip equal on only {same_flip}/200 (need 95 %)");
    assert_eq!(ours_acc.len(), 11);
    for (s, (a, b)) in ours_acc.iter().zip(&ref_acc).enumerate() {
        assert!((a - b).abs() <= 0.015, "step {s}: accuracy {a} vs PyTorch's {b}");
    }
    assert_eq!(summary["n"], 200);
}
