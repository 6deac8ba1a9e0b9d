//! `rectify criticize` (issue #5) on bundled sample images: every method, galleries, groups from
//! a CSV, resuming, errors; and `--features` on the reference matrix reproduces Kim et al.

mod common;

use std::path::Path;

use common::*;

fn selection(run: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("criticize").join(name).join("selection.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn eval_with_features(run: &Path, limit: &str) {
    eval_sample_with(run, &["--limit", limit, "--save-features"]);
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

#[test]
fn mmd_probability_random_with_galleries_and_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_with_features(&run, "16");

    let criticize = || {
        rectify_ok(&[
            "criticize",
            "--run",
            s(&run),
            "--method",
            "mmd",
            "--per",
            "all",
            "--prototypes",
            "4",
            "--criticisms",
            "3",
        ])
    };
    criticize();
    let sel = selection(&run, "mmd-all");
    let g = &sel["groups"][0];
    assert_eq!((g["group"].as_str(), g["size"].as_i64()), (Some("all"), Some(16)));
    let (p, c) = (ids(&g["prototypes"]), ids(&g["criticisms"]));
    assert_eq!((p.len(), c.len()), (4, 3));
    assert!(c.iter().all(|x| !p.contains(x)), "criticisms are not prototypes");
    assert_eq!(g["prototype_files"].as_array().unwrap().len(), 4);
    assert_eq!(sel["provenance"]["model"]["arch"], "mobilenet_v2");
    let png = image::open(run.join("criticize/mmd-all/galleries/all.png")).unwrap();
    assert_eq!((png.width(), png.height()), (6 + 4 * (120 + 6), 6 + 2 * (120 + 6)));
    // Rerunning gives the same picks.
    criticize();
    assert_eq!(selection(&run, "mmd-all")["groups"], sel["groups"]);

    // Per class: 16 images of 16 classes → one group each, named by class.
    rectify_ok(&["criticize", "--run", s(&run), "--method", "probability", "--no-galleries"]);
    let sel = selection(&run, "probability-class");
    let groups = sel["groups"].as_array().unwrap();
    assert!(groups.len() >= 8, "{} groups", groups.len());
    assert!(groups[0]["group"].as_str().unwrap().contains(' '), "class index and name: {}", groups[0]["group"]);
    for g in groups {
        for (role, above) in [("prototypes", true), ("criticisms", false)] {
            for score in g["scores"][role].as_array().unwrap() {
                let p = score.as_f64().unwrap();
                assert!(if above { p > 0.9 } else { p < 0.1 }, "{role} with p = {p}");
            }
        }
    }

    // Groups from a CSV: two groups by file.
    let files: Vec<String> = predictions(&run).iter().map(|r| r[0].clone()).collect();
    let csv: String = std::iter::once("file,group\n".to_string())
        .chain(files.iter().enumerate().map(|(i, f)| format!("{f},{}\n", if i % 2 == 0 { "even" } else { "odd" })))
        .collect();
    let groups_csv = tmp.path().join("halves.csv");
    std::fs::write(&groups_csv, csv).unwrap();
    for _ in 0..2 {
        rectify_ok(&["criticize", "--run", s(&run), "--method", "random", "--seed", "3", "--per", s(&groups_csv)]);
    }
    let sel = selection(&run, "random-halves");
    let names: Vec<&str> = sel["groups"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["even", "odd"]);
    assert_eq!(sel["groups"][0]["size"], 8);
    assert!(run.join("criticize/random-halves/galleries/even.png").exists());
}

#[test]
fn adversarial_reads_the_attack_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "12");
    let out = rectify(&["criticize", "--run", s(&run), "--method", "adversarial"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rectify attack"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rectify_ok(&["attack", "--run", s(&run), "--steps", "10", "--step", "0.001", "--device", "cpu", "--name", "ifgsm"]);
    rectify_ok(&["criticize", "--run", s(&run), "--method", "adversarial", "--attack", "ifgsm", "--per", "all"]);
    let sel = selection(&run, "adversarial-all");
    // Check against the attack's own trajectory file.
    let traj = std::fs::read_to_string(run.join("attack/ifgsm/trajectory.csv")).unwrap();
    let mut resist = Vec::new();
    let mut flip1 = Vec::new();
    for line in traj.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (label, preds) = (f[1], &f[2..13]);
        if preds[0] == label && preds.iter().all(|p| *p == label) {
            resist.push(f[0].to_string());
        } else if preds[0] == label && preds[1] != label {
            flip1.push(f[0].to_string());
        }
    }
    let files = |k: &str| -> Vec<String> {
        sel["groups"][0][k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    let (mut p, mut c) = (files("prototype_files"), files("criticism_files"));
    assert_eq!(p.len(), resist.len().min(6));
    assert_eq!(c.len(), flip1.len().min(6));
    p.retain(|f| !resist.contains(f));
    c.retain(|f| !flip1.contains(f));
    assert!(p.is_empty() && c.is_empty(), "prototypes resist 10 steps, criticisms flip at step 1");
}

#[test]
fn bad_inputs_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "3");
    let err = |args: &[&str]| {
        let out = rectify(args);
        assert_eq!(out.status.code(), Some(2), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(err(&["criticize", "--run", s(&run), "--method", "mmd"]).contains("--save-features"));
    assert!(err(&["criticize", "--run", s(&run), "--method", "random", "--gamma=-1"]).contains("--gamma"));
    assert!(err(&["criticize", "--run", s(&run), "--method", "probability", "--above", "0.1", "--below", "0.5"])
        .contains("--below"));
    assert!(
        err(&["criticize", "--run", s(&run), "--method", "random", "--per", "/no/such.csv"]).contains("/no/such.csv")
    );
    let npy = tmp.path().join("x.npy");
    rectify_data::npy::write_f32(&npy, &[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let out = tmp.path().join("o.json");
    assert!(err(&["criticize", "--features", s(&npy), "--out", s(&out)]).contains("2-D"));
}

#[test]
fn features_mode_reproduces_kim_et_al_on_the_dogs() {
    let Some(features) = rectify_testkit::shared_file("reference/mobilenet_v2_features_val1300.npy") else { return };
    let labels = rectify_testkit::shared_file("data/imagenet-val-1300.csv").unwrap();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(rectify_testkit::shared_file("reference/mmd_critic_reference.json").unwrap()).unwrap(),
    )
    .unwrap();
    let dogs = &reference["cases"][1];
    assert_eq!(dogs["name"], "dogs-151-268");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dogs.json");
    rectify_ok(&[
        "criticize",
        "--features",
        s(&features),
        "--labels",
        s(&labels),
        "--only-labels",
        "151-268",
        "--per",
        "all",
        "--prototypes",
        "8",
        "--criticisms",
        "4",
        "--out",
        s(&out),
    ]);
    let got: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(got["groups"][0]["prototypes"], dogs["prototypes"]);
    assert_eq!(got["groups"][0]["criticisms"], dogs["criticisms"]);
    assert_eq!(got["groups"][0]["size"], 144);
}
