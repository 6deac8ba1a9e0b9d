//! Acceptance of issue #3: IFGSM (L∞, step 0.001, 10 steps, untargeted) on the first 200 images
//! of val-1300 with MobileNetV2.
//!
//! * Default numerics against PyTorch's trajectories in
//!   ../shared/reference/ifgsm_mobilenet_v2_first200.csv: the same `steps_to_flip` on 200/200
//!   images and the same accuracy after every step.
//! * `--exact` against PyTorch 2.11 run on the same machine (`scripts/fixtures/ifgsm.py`): the
//!   same top-1 class after every step on 200/200 images and the true class's probability
//!   bit-identical, i.e. the same trajectories.
//!
//! Why the per-step top-1 column is not asserted at 200/200 against the shared reference: once an
//! image is misclassified, its top-1 among the wrong classes is decided by logit margins below
//! the float32 rounding of the backward pass, which depends on the CPU's kernels. PyTorch itself,
//! on this machine, agrees with the shared reference on 197 to 200 images per step (the fixture
//! records it: 200, 200, 200, 200, 199, 197, 200, 199, 198, 200, 199), and `--exact` equals
//! PyTorch here. The default numerics (BatchNorm folded, NHWC) measured 196 to 200 per step; the
//! test asserts that floor, and 200/200 on steps 0–3, where every image still near its label
//! decides the comparison.

mod common;

use std::collections::HashMap;

use common::*;
use rectify_store::RunStore;

/// The lowest per-step agreement of the default numerics with the shared reference, measured
/// (see the module comment).
const DEFAULT_COLUMN_FLOOR: usize = 196;

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

fn attack(run: &std::path::Path, extra: &[&str]) {
    let mut args = vec!["attack", "--run", s(run), "--method", "ifgsm", "--step", "0.001", "--steps", "10"];
    args.extend_from_slice(&["--device", "cpu"]);
    args.extend_from_slice(extra);
    rectify_ok(&args);
}

#[test]
fn ifgsm_matches_pytorch_on_the_first_200() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_val1300(&shared, &run, &["--limit", "200"]);
    attack(&run, &[]);
    let dir = run.join("attack/ifgsm-linf-0.001x10");
    let ours: HashMap<String, HashMap<String, String>> =
        read_csv(&dir.join("trajectory.csv")).into_iter().map(|r| (r["file"].clone(), r)).collect();
    let reference = read_csv(&shared.join("reference/ifgsm_mobilenet_v2_first200.csv"));
    assert_eq!((ours.len(), reference.len()), (200, 200));
    let mut same_flip = 0;
    let mut same_column = [0usize; 11];
    for r in &reference {
        let o = &ours[&r["file"]];
        let ours_flip = o["steps_to_flip"].parse::<usize>().ok();
        assert_eq!(ours_flip, flip(o), "steps_to_flip column disagrees with the pred_step columns: {o:?}");
        same_flip += usize::from(ours_flip == flip(r));
        for (k, same) in same_column.iter_mut().enumerate() {
            let col = format!("pred_step{k}");
            *same += usize::from(o[&col] == r[&col]);
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let ours_acc: Vec<f64> =
        summary["accuracy_per_step"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let ref_acc: Vec<f64> = (0..=10)
        .map(|s| reference.iter().filter(|r| r[&format!("pred_step{s}")] == r["label"]).count() as f64 / 200.0)
        .collect();
    println!("steps_to_flip equal to PyTorch's on {same_flip}/200 images");
    println!("pred_stepK equal to PyTorch's: {same_column:?} of 200");
    println!("accuracy per step: rectify {ours_acc:?}\n                   pytorch {ref_acc:?}");
    assert_eq!(same_flip, 200, "steps_to_flip equal to PyTorch's on every image");
    assert_eq!(ours_acc, ref_acc, "accuracy per step identical to PyTorch's");
    assert_eq!(same_column[..4], [200; 4], "steps 0-3 identical on every image");
    for (k, same) in same_column.iter().enumerate() {
        assert!(*same >= DEFAULT_COLUMN_FLOOR, "pred_step{k} equal to PyTorch's on only {same}/200");
    }
    assert_eq!(summary["n"], 200);
}

#[test]
fn exact_ifgsm_is_pytorchs_trajectory_on_this_machine() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let Some(fx) = rectify_testkit::fixtures("ifgsm") else { return };
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fx.join("pytorch_first200.json"))
            .expect("ifgsm fixture (made with ../shared present: rerun scripts/fixtures.sh)"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_val1300(&shared, &run, &["--limit", "200", "--exact"]);
    attack(&run, &["--exact", "--batch-size", "16"]);
    let store = RunStore::open(&run).unwrap();
    let files: HashMap<i64, String> = store.images().unwrap().into_iter().map(|i| (i.id, i.file)).collect();
    let (attack_run, _) = store.run("attack", None).unwrap();
    let ours: HashMap<String, rectify_store::AttackRow> =
        store.attacks(attack_run).unwrap().into_iter().map(|r| (files[&r.image_id].clone(), r)).collect();
    let images = fixture["images"].as_array().unwrap();
    assert_eq!((ours.len(), images.len()), (200, 200));
    let (mut same_top1, mut same_prob) = ([0usize; 11], [0usize; 11]);
    for img in images {
        let row = &ours[img["file"].as_str().unwrap()];
        assert_eq!(row.steps.len(), 11);
        for (k, step) in row.steps.iter().enumerate() {
            same_top1[k] += usize::from(step.top1 == img["top1"][k].as_i64().unwrap());
            same_prob[k] += usize::from(step.true_prob == img["true_prob"][k].as_f64().unwrap() as f32);
        }
    }
    println!("--exact vs PyTorch here: top-1 {same_top1:?}, p(true) bit-identical {same_prob:?} of 200");
    assert_eq!(same_top1, [200; 11], "--exact: PyTorch's top-1 after every step on every image");
    assert_eq!(same_prob, [200; 11], "--exact: PyTorch's probability of the true class, bit for bit");
}
