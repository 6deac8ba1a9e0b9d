//! `rectify audit`, the main job (what `make demo` runs), on the bundled images and the bundled
//! ReaL raters' votes: every stage's outputs and the report, whose rectified errors are checked
//! against numpy's on the same votes (`scripts/fixtures/study.py`). The paper's settings throughout, except 100 LIME samples per image
//! instead of 1000 (`--samples`), so that the test takes a minute rather than several.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use rectify_testkit::report::{check_self_contained, check_values};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn files_with(dir: &Path, suffix: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.unwrap().file_name().into_string().unwrap().strip_suffix(suffix).map(str::to_string))
        .collect()
}

#[test]
fn audit_of_the_bundled_images_runs_every_stage_and_reports_them() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("demo");
    let (images, labels, real) =
        (assets().join("sample-images"), assets().join("sample-labels.csv"), assets().join("sample-real.json"));
    let votes = assets().join("sample-real-raters.npz");
    let args = [
        "audit",
        "--images",
        s(&images),
        "--labels",
        s(&labels),
        "--real-labels",
        s(&real),
        "--out",
        s(&run),
        "--device",
        "cpu",
        "--samples",
        "100",
        "--votes",
        s(&votes),
    ];
    let out = rectify_ok(&args);
    let log = String::from_utf8_lossy(&out.stderr);
    for n in 1..=7 {
        assert!(log.contains(&format!("stage {n}/7")), "stage {n} is announced:\n{log}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().last(), Some(s(&run.join("report/report.html"))), "the last line names the report");

    // 1. eval, with the features MMD-critic needs.
    let sum = summary(&run);
    assert_eq!((sum["n"].as_u64(), sum["failed"].as_u64()), (Some(50), Some(0)));
    assert_eq!(sum["real_n"], 48, "{sum}");
    let features = rectify_data::npy::read_f32(&run.join("features.npy")).unwrap();
    assert_eq!(features.shape, [50, 1280]);
    let rows = predictions(&run);
    let wrong: BTreeSet<String> =
        rows.iter().filter(|r| r[2].split(' ').next() != Some(r[1].as_str())).map(|r| r[0].clone()).collect();
    assert_eq!(wrong.len(), 9, "the bundled images hold 9 MobileNetV2 mistakes");

    // 2. IFGSM with the paper's step and steps, images saved, every step recorded.
    let attack = run.join("attack/ifgsm");
    let a = json(&attack.join("summary.json"));
    let acc: Vec<f64> = a["accuracy_per_step"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(acc.len(), 11);
    assert_eq!(acc[0], sum["top1"].as_f64().unwrap(), "step 0 is the clean accuracy");
    assert!(acc.windows(2).all(|w| w[1] <= w[0] + 1e-12) && acc[10] < acc[0], "{acc:?}");
    let params = &a["provenance"]["params"];
    assert_eq!((params["step"].as_f64(), params["steps"].as_u64()), (Some(0.001), Some(10)), "{params}");
    assert_eq!((params["method"].as_str(), params["norm"].as_str()), (Some("ifgsm"), Some("linf")), "{params}");
    let trajectory = std::fs::read_to_string(attack.join("trajectory.csv")).unwrap();
    assert!(trajectory.starts_with("file,label,pred_step0,"), "{trajectory}");
    assert!(trajectory.lines().next().unwrap().ends_with(",pred_step10,steps_to_flip"));
    assert_eq!(trajectory.lines().count(), 51);
    assert_eq!(files_with(&attack.join("images"), ".png").len(), 50);

    // 3, 4. LIME with the paper's preset: every misclassified image, and 8 adversarial ones.
    for (name, want) in [("misclassified", Some(&wrong)), ("adversarial", None)] {
        let dir = run.join("explain").join(name);
        let explained: BTreeSet<String> = files_with(&dir, ".json").into_iter().filter(|f| f != "summary").collect();
        match want {
            Some(w) => assert_eq!(&explained, w, "{name}"),
            None => assert_eq!(explained.len(), 8, "{name}: {explained:?}"),
        }
        for png in ["attention", "overlay", "heatmap"] {
            assert_eq!(files_with(&dir, &format!(".{png}.png")), explained, "{name}: {png} images");
        }
        let p = &json(&dir.join("summary.json"))["provenance"]["params"]["lime"];
        assert_eq!(p["samples"], 100, "{name}: --samples is kept by the preset: {p}");
        assert_eq!(
            (p["base"]["kernel_width"].as_f64(), p["base"]["selection"].as_str()),
            (Some(0.25), Some("lasso-path"))
        );
        assert_eq!(p["base"]["regressor"], "least-squares", "{p}");
    }

    // 5. Prototypes and criticisms by every selector (50 images of 45 classes: all together).
    for method in ["mmd", "adversarial", "probability", "random"] {
        let dir = run.join("criticize").join(format!("{method}-all"));
        let sel = json(&dir.join("selection.json"));
        let group = &sel["groups"][0];
        assert_eq!((group["group"].as_str(), group["size"].as_u64()), (Some("all"), Some(50)), "{method}");
        let picked = group["prototypes"].as_array().unwrap().len() + group["criticisms"].as_array().unwrap().len();
        assert!(picked > 0, "{method} picked nothing: {group}");
        assert_eq!(files_with(&dir.join("galleries"), ".png").len(), 1, "{method}: one gallery");
    }
    let mmd = json(&run.join("criticize/mmd-all/selection.json"));
    assert_eq!(mmd["groups"][0]["prototypes"].as_array().unwrap().len(), 6, "MMD-critic's 6 prototypes");

    // 6. The report: every stage shown, every number from report.json, nothing loaded from outside.
    let report = json(&run.join("report/report.json"));
    let html = std::fs::read_to_string(run.join("report/report.html")).unwrap();
    let t1 = &report["table1"][0];
    assert_eq!((t1["top1"].as_f64(), t1["evaluated"].as_u64()), (sum["top1"].as_f64(), Some(50)));
    assert_eq!(t1["real_top1"], sum["real_top1"]);
    assert_eq!(report["attacks"][0]["accuracy_per_step"], a["accuracy_per_step"]);
    let explained: BTreeSet<&str> =
        report["explanations"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(explained, ["adversarial", "misclassified"].into());
    let methods: BTreeSet<&str> =
        report["galleries"].as_array().unwrap().iter().map(|g| g["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["adversarial", "mmd", "probability", "random"].into());
    // Table 1's rectified errors and Fig. 2's histogram from the bundled ReaL votes, as numpy
    // computes them from the same votes and torchvision's predictions (ours equal those on these
    // images: eval_sample.rs).
    let fx = rectify_testkit::fixtures("study").expect("the study fixtures (scripts/fixtures.sh)");
    let want = json(&fx.join("real_sample.json"));
    assert_eq!(
        want["bundled_matches_original"], true,
        "assets/sample-real-raters.npz is ReaL's votes on the bundled images"
    );
    for (design, block) in [("relevance-top1", "top1"), ("relevance-top5", "top5")] {
        let row = report["rectified"].as_array().unwrap().iter().find(|r| r["design"] == design);
        let row = row.unwrap_or_else(|| panic!("Table 1 has a {design} row: {}", report["rectified"]));
        let w = &want[block];
        for (ours, theirs) in
            [("errors", "errors"), ("rectified", "rescued"), ("rated", "rated"), ("unrated", "unrated"), ("n", "n")]
        {
            assert_eq!(row[ours], w[theirs], "{design} {ours}: {row}");
        }
        for (ours, theirs) in [("error", "error"), ("rectified_error", "rectified_error")] {
            let (a, b) = (row[ours].as_f64().unwrap(), w[theirs].as_f64().unwrap());
            assert!((a - b).abs() < 1e-12, "{design} {ours}: {a} vs numpy {b}");
        }
        assert!((row["fleiss_kappa"].as_f64().unwrap() - w["fleiss_kappa"].as_f64().unwrap()).abs() < 1e-12);
        let hist = report["histograms"].as_array().unwrap().iter().find(|h| h["design"] == design).unwrap();
        assert_eq!(hist["counts"], w["histogram"], "{design}: Fig. 2");
    }
    let top1 = want["top1"]["rectified_error"].as_f64().unwrap();
    assert!(top1 < want["top1"]["error"].as_f64().unwrap(), "the raters rectify at least one mistake");
    assert!(html.contains(&format!("{:.2} %", 100.0 * top1)), "the page shows the rectified top-1 error");
    assert!(html.contains("ReaL raters (Beyer et al. 2020, imported)"), "the page says whose votes they are");
    assert_eq!(report["studies"][0]["votes"], want["exported_votes"], "every imported vote is on an asked question");
    let shown = check_values(&html, &report);
    println!("audit report: {shown} numbers, each equal to report.json");
    assert!(shown > 50, "{shown} numbers shown");
    check_self_contained(&html);

    // Rerunning resumes: every stage finds its work done.
    let again = rectify_ok(&args);
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(log.contains("50 already stored, 0 to evaluate"), "{log}");
    assert!(log.contains("(9 already explained)") && log.contains("(8 already explained)"), "{log}");
}
