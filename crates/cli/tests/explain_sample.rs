//! `rectify explain` on bundled images: files written, determinism by seed, adversarial images,
//! flag errors (issue #4).

mod common;

use common::*;

fn explain(run: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["explain", "--run", s(run), "--device", "cpu", "--samples", "150", "--batch-size", "50"];
    args.extend_from_slice(extra);
    rectify_ok(&args)
}

#[test]
fn writes_explanations_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "3");
    explain(&run, &["--limit", "2", "--seed", "5", "--name", "a"]);
    explain(&run, &["--limit", "2", "--seed", "5", "--name", "b"]);
    explain(&run, &["--limit", "2", "--seed", "6", "--name", "c"]);
    let file = "ILSVRC2012_val_00000347.JPEG";
    let read = |name: &str| std::fs::read(run.join("explain").join(name).join(format!("{file}.json"))).unwrap();
    let (a, b, c) = (read("a"), read("b"), read("c"));
    assert_eq!(a, b, "same seed, different bytes");
    assert_ne!(a, c, "another seed should draw other masks");
    let j: serde_json::Value = serde_json::from_slice(&a).unwrap();
    for key in
        ["params", "seed", "label", "segments", "weights", "intercept", "r2", "local_pred", "path", "random_path"]
    {
        assert!(j.get(key).is_some(), "missing key {key}");
    }
    let segments = j["segments"].as_u64().unwrap() as usize;
    assert!(segments > 5, "{segments} superpixels");
    assert_eq!(j["weights"].as_array().unwrap().len(), segments);
    assert_eq!(j["path"].as_array().unwrap().len(), segments + 1);
    assert_eq!(j["random_path"].as_array().unwrap().len(), segments + 1);
    assert_eq!(j["label"], 472, "canoe is explained as its top class");
    for png in ["attention", "overlay", "heatmap"] {
        let p = run.join("explain/a").join(format!("{file}.{png}.png"));
        let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!((img.width(), img.height()), (224, 224));
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("explain/a/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["n"], 2);
    // Rerunning skips what is done.
    let out = explain(&run, &["--limit", "2", "--seed", "5", "--name", "a"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("(2 already explained)"));
}

#[test]
fn explains_adversarial_images_and_misclassified_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "50");
    // --misclassified: exactly the images whose top-1 is not their label.
    let wrong: Vec<String> = predictions(&run)
        .into_iter()
        .filter(|r| r[2].split(' ').next() != Some(r[1].as_str()))
        .map(|r| r[0].clone())
        .collect();
    assert!(!wrong.is_empty(), "the bundled images include misclassified ones");
    explain(&run, &["--misclassified", "--name", "wrong"]);
    let mut explained: Vec<String> = std::fs::read_dir(run.join("explain/wrong"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().unwrap().strip_suffix(".json").map(str::to_string))
        .filter(|f| f != "summary")
        .collect();
    explained.sort();
    assert_eq!(explained, wrong, "--misclassified explains the misclassified images, and only those");

    rectify_ok(&[
        "attack",
        "--run",
        s(&run),
        "--steps",
        "2",
        "--step",
        "0.004",
        "--save-images",
        "--device",
        "cpu",
        "--name",
        "adv",
        "--limit",
        "2",
    ]);
    explain(&run, &["--attack", "adv", "--limit", "1", "--segmenter", "slic"]);
    let dir = run.join("explain/adv-lime-slic-k8-seed0");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["n"], 1);
    // The adversarial PNG is what was explained: its explained class is the model's top-1 on the
    // saved 8-bit image, as the attack recorded it.
    let store = rectify_store::RunStore::open(&run).unwrap();
    let (attack_run, _) = store.run("attack", Some("adv")).unwrap();
    let first = store.attacks(attack_run).unwrap().remove(0);
    let file = store.images().unwrap().into_iter().find(|i| i.id == first.image_id).unwrap().file;
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{file}.json"))).unwrap()).unwrap();
    assert_eq!(j["label"].as_i64(), first.quantized_top1, "{file}");
    assert_eq!(j["params"]["segmenter"]["algorithm"], "slic", "{}", j["params"]);
    assert_eq!(j["params"]["attack"], "adv", "{}", j["params"]);

    let res = rectify(&["explain", "--run", s(&run), "--attack", "nope", "--device", "cpu"]);
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("no attack run named \"nope\""),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let res = rectify(&["explain", "--run", s(&run), "--files", "missing.jpg", "--device", "cpu"]);
    assert!(String::from_utf8_lossy(&res.stderr).contains("missing.jpg is not among"));
    let res = rectify(&["explain", "--run", s(&run), "--samples", "1", "--device", "cpu"]);
    assert_eq!(res.status.code(), Some(2));
}
