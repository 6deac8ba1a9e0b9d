//! `rectify attack` on a few bundled images: outputs, saved images, targets, resuming, flag errors.

mod common;

use common::*;
use rectify_model::{bundled, Classifier, ImageNetModel, Numerics};
use rectify_store::RunStore;

/// The bundled model's top-1 on each saved 8-bit PNG, read back from disk in this test.
fn top1_of_pngs(pngs: &[std::path::PathBuf]) -> Vec<i64> {
    let (sd, sha) = bundled::mobilenet_v2();
    let model =
        ImageNetModel::new(bundled::ARCH, &sd, bundled::ORIGIN, &sha, tch::Device::Cpu, Numerics::default()).unwrap();
    let mut bytes = Vec::new();
    for p in pngs {
        let img = image::open(p).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (224, 224));
        bytes.extend_from_slice(img.as_raw());
    }
    let pixels = rectify_model::classifier::pixels_from_u8(&bytes, pngs.len(), 224, 224, tch::Device::Cpu).unwrap();
    Vec::try_from(tch::no_grad(|| model.logits(&pixels)).argmax(1, false)).unwrap()
}

fn summary_of(run: &std::path::Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("attack").join(name).join("summary.json")).unwrap()).unwrap()
}

#[test]
fn saves_images_and_reevaluates_them() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "6");
    rectify_ok(&["attack", "--run", s(&run), "--steps", "3", "--step", "0.004", "--save-images", "--device", "cpu"]);
    let name = "ifgsm-linf-0.004x3";
    let sum = summary_of(&run, name);
    assert_eq!(sum["n"], 6);
    assert_eq!(sum["accuracy_per_step"].as_array().unwrap().len(), 4);
    let q = sum["quantized_accuracy"].as_f64().expect("re-evaluated accuracy");
    let pngs: Vec<_> = std::fs::read_dir(run.join("attack").join(name).join("images")).unwrap().collect();
    assert_eq!(pngs.len(), 6);
    // `quantized_accuracy` is the accuracy of the saved PNGs: read them back and classify them here.
    let store = RunStore::open(&run).unwrap();
    let (attack_run, _) = store.run("attack", None).unwrap();
    let rows = store.attacks(attack_run).unwrap();
    let labels: std::collections::HashMap<i64, i64> =
        store.images().unwrap().into_iter().map(|i| (i.id, i.label.unwrap())).collect();
    let files: Vec<std::path::PathBuf> = rows.iter().map(|r| run.join(r.image.as_ref().unwrap())).collect();
    let top1 = top1_of_pngs(&files);
    for (r, t) in rows.iter().zip(&top1) {
        assert_eq!(r.quantized_top1, Some(*t), "stored prediction on the 8-bit image of {}", r.image_id);
    }
    let correct = rows.iter().zip(&top1).filter(|(r, t)| labels[&r.image_id] == **t).count();
    assert_eq!(q, correct as f64 / 6.0, "quantized accuracy");
    // The 8-bit image is the float adversarial image rounded: within step × steps (+ rounding)
    // of the clean crop.
    let pre = rectify_data::preprocess::Preprocess::default();
    let images = assets().join("sample-images");
    for (r, f) in rows.iter().zip(&files) {
        let file = store.images().unwrap().into_iter().find(|i| i.id == r.image_id).unwrap().file;
        let clean = pre.load(&images.join(file)).unwrap();
        let adv = image::open(f).unwrap().to_rgb8().into_raw();
        let max = clean.iter().zip(&adv).map(|(a, b)| (i16::from(*a) - i16::from(*b)).abs()).max().unwrap();
        assert!(f64::from(max) <= 0.004 * 3.0 * 255.0 + 1.0, "{}: moved {max} levels", f.display());
    }
    let traj = std::fs::read_to_string(run.join("attack").join(name).join("trajectory.csv")).unwrap();
    assert!(traj.starts_with("file,label,pred_step0,pred_step1,pred_step2,pred_step3,steps_to_flip\n"), "{traj}");
    assert_eq!(traj.lines().count(), 7);

    // Rerunning resumes: nothing left to do, same outputs.
    let out = rectify_ok(&[
        "attack",
        "--run",
        s(&run),
        "--steps",
        "3",
        "--step",
        "0.004",
        "--save-images",
        "--device",
        "cpu",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("(6 already stored)"));
    assert_eq!(std::fs::read_to_string(run.join("attack").join(name).join("trajectory.csv")).unwrap(), traj);
}

#[test]
fn targeted_and_l2_and_pgd() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "4");
    rectify_ok(&[
        "attack",
        "--run",
        s(&run),
        "--steps",
        "5",
        "--step",
        "0.01",
        "--target",
        "least-likely",
        "--device",
        "cpu",
    ]);
    let sum = summary_of(&run, "ifgsm-linf-0.01x5-least-likely");
    let success: Vec<f64> = sum["success_per_step"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(success[0], 0.0, "clean images are not their least likely class");
    assert!(success[5] > 0.0, "a targeted attack reaches some targets: {success:?}");

    rectify_ok(&["attack", "--run", s(&run), "--norm", "l2", "--steps", "2", "--step", "1.0", "--device", "cpu"]);
    let sum = summary_of(&run, "ifgsm-l2-1x2");
    assert!(sum["accuracy_per_step"][2].as_f64().unwrap() <= sum["accuracy_per_step"][0].as_f64().unwrap());

    let pgd_args = [
        "attack",
        "--run",
        s(&run),
        "--method",
        "pgd",
        "--eps",
        "0.01",
        "--steps",
        "2",
        "--step",
        "0.005",
        "--seed",
        "3",
        "--device",
        "cpu",
    ];
    rectify_ok(&pgd_args);
    let sum = summary_of(&run, "pgd-linf-0.005x2-eps0.01");
    assert_eq!(sum["provenance"]["seed"], 3);
    // The CLI's PGD starts at the same random point whatever the batch: batches of 1 and of 4
    // give the same trajectories (the start is drawn from the seed and the image id).
    let pgd = |name: &str, batch: &str| {
        let mut args = pgd_args.to_vec();
        args.extend(["--exact", "--batch-size", batch, "--name", name]);
        rectify_ok(&args);
        std::fs::read_to_string(run.join("attack").join(name).join("trajectory.csv")).unwrap()
    };
    assert_eq!(pgd("pgd-b1", "1"), pgd("pgd-b4", "4"));
}

#[test]
fn bad_flags_are_refused_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let res = rectify(&["attack", "--run", s(&run), "--device", "cpu"]);
    assert_eq!(res.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("rectify eval --out"),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    eval_sample(&run, "2");
    for (flags, want) in [
        (vec!["--method", "pgd"], "give --eps"),
        (vec!["--method", "fgsm", "--eps", "0.1"], "--eps is for ifgsm and pgd"),
        (vec!["--target", "1000"], "not a class"),
        (vec!["--target", "cat"], "least-likely"),
        (vec!["--step=-1"], "--step"),
    ] {
        let mut args = vec!["attack", "--run", s(&run), "--device", "cpu"];
        args.extend(flags.iter().copied());
        let res = rectify(&args);
        assert_ne!(res.status.code(), Some(0), "{flags:?} was accepted");
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(err.contains(want), "{flags:?}: {err}");
    }
}
