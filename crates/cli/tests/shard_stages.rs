//! `attack`, `explain` and `criticize --shard I/N --out DIR` + `rectify merge --into RUN` equal
//! the unsharded stages, file for file (issue #15 §5): every JSON, CSV and NPY file by
//! `scripts/compare-runs.py` (timings aside), every PNG byte for byte, and the store's rows.

mod common;

use std::path::Path;

use common::*;

/// Runs a stage unsharded on `whole` and as `n` shards of `sharded`, then merges the shards.
fn both(whole: &Path, sharded: &Path, shards: &Path, tag: &str, n: usize, stage: &[&str]) {
    let mut args = stage.to_vec();
    args.extend(["--run", s(whole)]);
    rectify_ok(&args);
    let mut dirs = Vec::new();
    for i in 0..n {
        let dir = shards.join(format!("{tag}{i}"));
        let spec = format!("{i}/{n}");
        let mut args = stage.to_vec();
        args.extend(["--run", s(sharded), "--shard", &spec, "--out", s(&dir)]);
        rectify_ok(&args);
        dirs.push(dir);
    }
    let mut args = vec!["merge", "--into", s(sharded)];
    args.extend(dirs.iter().map(|d| s(d)));
    rectify_ok(&args);
}

#[test]
fn shards_and_merge_equal_the_unsharded_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, sharded, shards) = (tmp.path().join("whole"), tmp.path().join("sharded"), tmp.path().join("shards"));
    eval_sample_with(&whole, &["--save-features"]);
    copy_dir(&whole, &sharded);
    // Five groups of ten images for MMD-critic (the sample has one image per class).
    let groups = tmp.path().join("groups.csv");
    let rows: Vec<String> =
        predictions(&whole).iter().enumerate().map(|(i, r)| format!("{},g{}", r[0], i % 5)).collect();
    std::fs::write(&groups, format!("file,group\n{}\n", rows.join("\n"))).unwrap();

    // Attack: 50 images in batches of 16 over 3 shards (uneven: batches 0 and 3, 1, 2).
    both(&whole, &sharded, &shards, "attack", 3, &["attack", "--name", "adv", "--save-images", "--steps", "4"]);
    both(&whole, &sharded, &shards, "explain", 3, &["explain", "--misclassified", "--samples", "40", "--name", "e"]);
    let per = ["criticize", "--method", "mmd", "--per", s(&groups), "--prototypes", "3", "--criticisms", "2"];
    both(&whole, &sharded, &shards, "mmd", 2, &per);
    for method in ["random", "adversarial", "probability"] {
        let stage = ["criticize", "--method", method, "--attack", "adv", "--resist-steps", "4"];
        both(&whole, &sharded, &shards, method, 4, &stage);
    }

    let compare = std::process::Command::new("python3")
        .arg(rectify_testkit::workspace_root().join("scripts/compare-runs.py"))
        .args([s(&whole), s(&sharded)])
        .output()
        .expect("python3 runs scripts/compare-runs.py");
    let said = String::from_utf8_lossy(&compare.stdout);
    assert!(compare.status.success(), "the merged shards differ from the unsharded run:\n{said}");
    println!("compare-runs: {said}");
    for needed in ["attack/adv/trajectory.csv", "explain/e/summary.json", "criticize/mmd-groups/selection.json"] {
        assert!(sharded.join(needed).is_file(), "{needed}");
    }

    let pngs = files(&whole, "png");
    assert_eq!(pngs, files(&sharded, "png"), "the same pictures");
    assert!(pngs.iter().filter(|p| p.starts_with("attack")).count() == 50, "{pngs:?}");
    assert!(pngs.iter().any(|p| p.starts_with("explain")) && pngs.iter().any(|p| p.starts_with("criticize")));
    for p in &pngs {
        let (a, b) = (std::fs::read(whole.join(p)).unwrap(), std::fs::read(sharded.join(p)).unwrap());
        assert!(a == b, "{} differs", p.display());
    }

    // The store rows too (the report reads them).
    let (a, b) = (rectify_store::RunStore::open(&whole).unwrap(), rectify_store::RunStore::open(&sharded).unwrap());
    let attack = |st: &rectify_store::RunStore| st.attacks(st.run("attack", Some("adv")).unwrap().0).unwrap();
    assert_eq!(attack(&a), attack(&b));
    let explain = |st: &rectify_store::RunStore| st.explanations(st.run("explain", Some("e")).unwrap().0).unwrap();
    assert_eq!(explain(&a), explain(&b));
    for name in ["mmd-groups", "random-class", "adversarial-class", "probability-class"] {
        let picks = |st: &rectify_store::RunStore| st.criticisms(st.run("criticize", Some(name)).unwrap().0).unwrap();
        assert_eq!(picks(&a), picks(&b), "{name}");
        assert!(!picks(&a).is_empty());
    }
}

#[test]
fn shards_that_do_not_fit_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "12");
    let dir = |name: &str| tmp.path().join(name);
    let attack = |spec: &str, out: &Path, batch: &str| {
        rectify(&["attack", "--run", s(&run), "--steps", "1", "--batch-size", batch, "--shard", spec, "--out", s(out)])
    };
    assert!(attack("0/2", &dir("a0"), "4").status.success());
    assert!(attack("1/2", &dir("a1"), "3").status.success());
    let stderr = |o: std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // Shards of other batch sizes do not partition the images.
    let res = rectify(&["merge", "--into", s(&run), s(&dir("a0")), s(&dir("a1"))]);
    assert_eq!(res.status.code(), Some(2));
    let err = stderr(res);
    assert!(err.contains("--batch-size 4 and 3"), "{err}");
    assert!(no_attack_run(&run), "nothing merged: {err}");

    // One directory per shard.
    let err = stderr(attack("1/2", &dir("a0"), "4"));
    assert!(err.contains("holds shard 0/2 and this is shard 1/2"), "{err}");
    // A run directory is not a shard's, and a shard is not its run.
    let err = stderr(attack("1/2", &run, "4"));
    assert!(err.contains("is the run itself"), "{err}");
    // --shard and --out go together.
    let res = rectify(&["attack", "--run", s(&run), "--shard", "0/2"]);
    assert_eq!(res.status.code(), Some(2), "{}", stderr(res));

    // A stage shard merges into its run, not into a new directory without an eval run.
    let err = stderr(rectify(&["merge", "--out", s(&dir("new")), s(&dir("a0"))]));
    assert!(err.contains("merge it --into that run"), "{err}");
    assert!(!dir("new").exists(), "nothing is created");
    // Nor into another model's run.
    let other = dir("other");
    eval_sample_with(&other, &["--limit", "12", "--exact"]);
    let err = stderr(rectify(&["merge", "--into", s(&other), s(&dir("a0"))]));
    assert!(err.contains("was made from another run") && err.contains("numerics"), "{err}");

    // The matching shard merges; the missing one is named.
    assert!(attack("1/2", &dir("a1b"), "4").status.success());
    let out = rectify_ok(&["merge", "--into", s(&run), s(&dir("a0"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds 8 of the run's 12 images: a shard is missing"), "{err}");
    rectify_ok(&["merge", "--into", s(&run), s(&dir("a1b"))]);
    let trajectories = std::fs::read_to_string(run.join("attack/ifgsm-linf-0.001x1/trajectory.csv")).unwrap();
    assert_eq!(trajectories.lines().count(), 13, "12 images and the header");
}

fn no_attack_run(run: &Path) -> bool {
    let store = rectify_store::RunStore::open(run).unwrap();
    store.runs_of("attack").unwrap().is_empty()
}
