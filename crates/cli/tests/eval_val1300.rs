//! Acceptance of issue #2 on val-1300: `rectify eval` (bundled MobileNetV2 by default)
//! against torchvision's outputs in ../shared/reference, at the strength the README states:
//! the same top-1 class on every image, top-1/top-5 and ReaL accuracy equal to what the reference
//! predictions give, the default (fast) numerics within a bound just above what they measure.
//!
//! `--exact` is bit-identical to PyTorch on the same machine (`scripts/fixtures/eval.py` runs
//! torchvision here): logits and features of all 1,300 images, max |diff| 0.0. The shared
//! reference files were computed by PyTorch on another CPU, and PyTorch's own kernels round
//! differently on other instruction sets: measured, PyTorch 2.11 on this AVX2 machine is 1.1e-5
//! (logits) and 3.8e-6 (features) from them, and so is `--exact`. The fixture records that
//! distance, and the test checks `--exact` is exactly as far from the shared files as PyTorch is.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use rectify_data::npy;

/// Default numerics: BatchNorm folded into the convolutions and NHWC, so the sums are rounded in
/// another order than PyTorch's. Measured on val-1300 against the shared reference: logits
/// (first 64) max |diff| 2.1e-5, features max |diff| 1.1e-5. The bounds sit just above.
const FAST_LOGITS_MAX: f64 = 1e-4;
const FAST_FEATURES_MAX: f64 = 1e-4;

/// torchvision's top-5 per file (`reference/mobilenet_v2_top5_val1300.csv`).
fn reference_top5(path: &Path) -> HashMap<String, (i64, Vec<i64>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), (f[1].parse().unwrap(), f[2].split(' ').map(|c| c.parse().unwrap()).collect()))
        })
        .collect()
}

/// ReaL top-1 and top-5 accuracy of the reference predictions, and the number of images with a
/// non-empty ReaL set: `real.json` is indexed by validation number − 1.
fn reference_real(reference: &HashMap<String, (i64, Vec<i64>)>, real_json: &Path) -> (f64, f64, usize) {
    let real: Vec<Vec<i64>> = serde_json::from_str(&std::fs::read_to_string(real_json).unwrap()).unwrap();
    let (mut n, mut top1, mut top5) = (0, 0, 0);
    for (file, (_, t5)) in reference {
        let number: usize = file.trim_start_matches("ILSVRC2012_val_").trim_end_matches(".JPEG").parse().unwrap();
        let set = &real[number - 1];
        if set.is_empty() {
            continue;
        }
        n += 1;
        top1 += usize::from(set.contains(&t5[0]));
        top5 += usize::from(t5.iter().any(|c| set.contains(c)));
    }
    (top1 as f64 / n as f64, top5 as f64 / n as f64, n)
}

fn max_abs(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max)
}

fn close(a: &serde_json::Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-12
}

#[test]
fn val1300_matches_torchvision() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("val1300");
    let real = shared.join("data/labels/real.json");
    eval_val1300(&shared, &run, &["--real-labels", s(&real), "--save-logits", "--save-features"]);
    let sum = summary(&run);
    let reference = reference_top5(&shared.join("reference/mobilenet_v2_top5_val1300.csv"));
    let rows = predictions(&run);
    assert_eq!(rows.len(), 1300);
    let agree = rows.iter().filter(|r| reference[&r[0]].1[0].to_string() == r[2].split(' ').next().unwrap()).count();
    let top5_agree = rows
        .iter()
        .filter(|r| reference[&r[0]].1.iter().map(i64::to_string).eq(r[2].split(' ').map(str::to_string)))
        .count();
    println!("top-1 agreement with torchvision {agree}/1300, same top-5 list {top5_agree}/1300; {sum}");
    assert_eq!(agree, 1300, "the top-1 class of every image is torchvision's");
    assert_eq!(top5_agree, 1300, "the top-5 classes of every image are torchvision's, in order");

    // Accuracies: exactly those of the reference predictions (README.json states them too).
    let readme: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("reference/README.json")).unwrap()).unwrap();
    let hits1 = reference.values().filter(|(l, t)| t[0] == *l).count();
    let hits5 = reference.values().filter(|(l, t)| t.contains(l)).count();
    assert!(close(&sum["top1"], hits1 as f64 / 1300.0), "top1 {} vs {hits1}/1300", sum["top1"]);
    assert!(close(&sum["top5"], hits5 as f64 / 1300.0), "top5 {} vs {hits5}/1300", sum["top5"]);
    assert!((sum["top1"].as_f64().unwrap() - readme["top1"].as_f64().unwrap()).abs() < 1e-7, "README.json top1");
    assert!((sum["top5"].as_f64().unwrap() - readme["top5"].as_f64().unwrap()).abs() < 1e-7, "README.json top5");
    let (real1, real5, real_n) = reference_real(&reference, &real);
    assert_eq!(sum["real_n"].as_u64().unwrap() as usize, real_n);
    assert!(close(&sum["real_top1"], real1) && close(&sum["real_top5"], real5), "ReaL {real1} / {real5}: {sum}");

    let logits = npy::read_f32(&run.join("logits.npy")).unwrap();
    let want = npy::read_f32(&shared.join("reference/mobilenet_v2_logits_first64.npy")).unwrap();
    let max = max_abs(&logits.data[..64 * 1000], &want.data);
    println!("default numerics: logits (first 64) max |diff| {max:.2e}");
    assert!(max <= FAST_LOGITS_MAX, "logits max |diff| {max} (bound {FAST_LOGITS_MAX})");

    let feats = npy::read_f32(&run.join("features.npy")).unwrap();
    let want = npy::read_f32(&shared.join("reference/mobilenet_v2_features_val1300.npy")).unwrap();
    assert_eq!(feats.shape, want.shape);
    let max = max_abs(&feats.data, &want.data);
    println!("default numerics: features (1300) max |diff| {max:.2e}");
    assert!(max <= FAST_FEATURES_MAX, "features max |diff| {max} (bound {FAST_FEATURES_MAX})");

    report_of_the_run(&shared, &run, &reference, &real);
    replay_of_the_run(&run);
}

/// Issue #30 §1 on this run with ReaL's rater votes imported: `study replay` of relevance-top1
/// over the mistakes with 5 votes, against plain Python playing all 120 orders of each item's
/// votes (`scripts/fixtures/replay.py`): every verdict unchanged, the expected answers per item
/// equal to 1e-9, item by item.
fn replay_of_the_run(run: &Path) {
    let fx = rectify_testkit::fixtures("replay").expect("the replay fixture (plain Python, from the raw votes)");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx.join("real_val1300_top1.json")).unwrap()).unwrap();
    let out = run.join("replay.json");
    let stdout = rectify_ok(&[
        "study",
        "replay",
        "--run",
        s(run),
        "--design",
        "relevance-top1",
        "--full-fraction",
        "0",
        "--json",
        s(&out),
    ]);
    println!("{}", String::from_utf8_lossy(&stdout.stdout));
    let got: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let items = want["items"].as_u64().unwrap();
    assert_eq!(got["items"].as_u64().unwrap(), items, "the mistakes with 5 votes");
    assert_eq!(got["answers_full"].as_u64().unwrap(), 5 * items);
    assert_eq!((got["same_verdicts"].as_u64().unwrap(), got["changed_verdicts"].as_u64().unwrap()), (items, 0));
    let (g, w) = (got["answers_sequential"].as_f64().unwrap(), want["answers_sequential"].as_f64().unwrap());
    assert!((g / items as f64 - w / items as f64).abs() < 1e-9, "answers per item {g} vs Python's {w} (/{items})");
    let per: HashMap<&str, f64> =
        want["per_item"].as_object().unwrap().iter().map(|(f, v)| (f.as_str(), v.as_f64().unwrap())).collect();
    for item in got["per_item"].as_array().unwrap() {
        let file = item["key"].as_str().unwrap().split('/').nth(1).unwrap();
        let expected = per[file];
        assert!((item["answers"].as_f64().unwrap() - expected).abs() < 1e-9, "{item} vs {expected}");
    }
    println!(
        "replay: {:.4} answers per item instead of 5 over {items} items (Python: {:.4})",
        g / items as f64,
        w / items as f64
    );
}

/// Issue #17 on this run with ReaL's rater votes imported and ImageNet-X's factors: the report
/// has the mistakes gallery (every top-1 mistake of torchvision's predictions, with thumbnails),
/// the per-class table with ReaL accuracy per class, confusions, calibration and the factors'
/// error ratios, computed here again from torchvision's predictions, ReaL's labels and
/// ImageNet-X's annotations; every value on the page equals report.json.
///
/// Independent sources (issue #28 §1): the rectified / confirmed / undecided counts come from the
/// numpy fixture `study/real_val1300.json` (`scripts/fixtures/study.py`: 4 of the first 5 votes,
/// from the raw npz), and the factors from the `imagenet_x_factors` column of
/// `imagenet-val-1300.csv` (ImageNet-X's factors per image, written by ../shared's authors; an
/// empty cell: the image is not in ImageNet-X), not from rectify's parser of the JSONL file.
fn report_of_the_run(shared: &Path, run: &Path, reference: &HashMap<String, (i64, Vec<i64>)>, real_json: &Path) {
    let votes = shared.join("data/labels/real_raters.npz");
    let factors = shared.join("data/labels/imagenet_x_val_multi_factor.jsonl.gz");
    rectify_ok(&["study", "import", "--run", s(run), "--format", "real-raters", s(&votes)]);
    rectify_ok(&["study", "results", "--run", s(run)]);
    rectify_ok(&["report", "--run", s(run), "--imagenet-x", s(&factors)]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report/report.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(run.join("report/report.html")).unwrap();
    rectify_testkit::report::check_self_contained(&html);
    let shown = rectify_testkit::report::check_values(&html, &json);
    let real: Vec<Vec<i64>> = serde_json::from_str(&std::fs::read_to_string(real_json).unwrap()).unwrap();
    let real_of = |file: &str| -> &Vec<i64> {
        let i: usize = file.trim_start_matches("ILSVRC2012_val_").trim_end_matches(".JPEG").parse().unwrap();
        &real[i - 1]
    };

    // The gallery: torchvision's top-1 mistakes, each with a thumbnail.
    let wrong: Vec<&String> = reference.iter().filter(|(_, (l, t))| t[0] != *l).map(|(f, _)| f).collect();
    let m = &json["mistakes"][0];
    assert_eq!(m["count"].as_u64().unwrap() as usize, wrong.len());
    assert_eq!((m["thumbnails"].as_u64().unwrap() as usize, m["thumbnails_failed"].as_u64()), (wrong.len(), Some(0)));
    let study = rectify_testkit::fixtures("study").expect("the study fixture (numpy, from the raw votes)");
    let numpy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(study.join("real_val1300.json")).unwrap()).unwrap();
    let top1 = &numpy["top1"];
    let count = |k: &str| top1[k].as_u64().unwrap_or_else(|| panic!("{k} in the numpy fixture"));
    let (errors, rectified, rated, unrated) = (count("errors"), count("rescued"), count("rated"), count("unrated"));
    assert_eq!(errors as usize, wrong.len(), "numpy's top-1 misses are torchvision's");
    assert_eq!(
        (m["rectified"].as_u64().unwrap(), m["confirmed"].as_u64().unwrap(), m["undecided"].as_u64().unwrap()),
        (rectified, rated - rectified, unrated),
        "rectified / confirmed / undecided by 4 of 5 (numpy: {errors} misses, {rated} rated)"
    );
    assert_eq!((rectified, rated - rectified, unrated), (36, 183, 45), "the README's figures");
    for item in m["items"].as_array().unwrap() {
        let (label, top) = &reference[item["file"].as_str().unwrap()];
        assert_eq!((item["label"].as_i64().unwrap(), item["class"].as_i64().unwrap()), (*label, top[0]));
    }

    // Per class: ReaL top-1 accuracy over the class's images with ReaL labels.
    let mut per_class: HashMap<i64, (u64, u64)> = HashMap::new();
    for (file, (label, top)) in reference {
        let r = real_of(file);
        if !r.is_empty() {
            let e = per_class.entry(*label).or_default();
            *e = (e.0 + 1, e.1 + u64::from(r.contains(&top[0])));
        }
    }
    let classes = json["classes"].as_array().unwrap();
    assert_eq!(classes.len(), reference.values().map(|(l, _)| *l).collect::<std::collections::HashSet<_>>().len());
    for c in classes {
        let (n, hits) = per_class.get(&c["class"].as_i64().unwrap()).copied().unwrap_or((0, 0));
        assert_eq!(c["real_n"].as_u64().unwrap(), n, "{c}");
        if n > 0 {
            assert!((c["real_top1"].as_f64().unwrap() - hits as f64 / n as f64).abs() < 1e-12, "{c}");
        } else {
            assert!(c["real_top1"].is_null(), "{c}");
        }
    }
    assert!(!json["confusions"].as_array().unwrap().is_empty());
    assert!(json["calibration"][0]["ece"].as_f64().unwrap() > 0.0);

    // ImageNet-X: error on the annotated images with each factor over the error on all of them,
    // the factors read from the CSV's column (not by rectify's parser of the JSONL).
    let mut factors_of: HashMap<String, Vec<String>> = HashMap::new();
    let csv_text = std::fs::read_to_string(shared.join("data/imagenet-val-1300.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let col = rdr.headers().unwrap().iter().position(|h| h == "imagenet_x_factors").unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let factors: Vec<String> = rec[col].split_whitespace().map(str::to_string).collect();
        if !factors.is_empty() {
            factors_of.insert(rec[0].to_string(), factors);
        }
    }
    assert_eq!(factors_of.len(), 1278, "the CSV marks 1,278 of the 1,300 images as in ImageNet-X");
    let annotated: Vec<(&String, bool)> = reference
        .iter()
        .filter(|(f, _)| factors_of.contains_key(f.as_str()))
        .map(|(f, (l, t))| (f, t[0] != *l))
        .collect();
    let overall = annotated.iter().filter(|(_, w)| *w).count() as f64 / annotated.len() as f64;
    let rows = json["factors"].as_array().unwrap();
    assert_eq!(rows.len(), 16, "ImageNet-X's 16 factors");
    for row in rows {
        let factor = row["factor"].as_str().unwrap();
        let with: Vec<bool> = annotated
            .iter()
            .filter(|(f, _)| factors_of[f.as_str()].iter().any(|x| x == factor))
            .map(|(_, w)| *w)
            .collect();
        assert_eq!(row["images"].as_u64().unwrap() as usize, with.len(), "{factor}");
        if !with.is_empty() {
            let ratio = with.iter().filter(|&&w| w).count() as f64 / with.len() as f64 / overall;
            assert!((row["ratio"].as_f64().unwrap() - ratio).abs() < 1e-12, "{factor}: {row} vs {ratio}");
        }
    }
    // Every value shown was checked; the count has a floor the page's structure implies (each of
    // the 725 classes' rows and the 264 mistakes' tiles show several), so zero cannot pass.
    let floor = 4 * classes.len() + 3 * wrong.len();
    assert!(shown >= floor, "{shown} values checked on the page, fewer than {floor}");
    println!(
        "report of val-1300: {} mistakes ({} rectified by ReaL's raters), {} classes, {} factors; {shown} values checked",
        m["count"],
        m["rectified"],
        classes.len(),
        rows.len()
    );
}

/// `--exact`: PyTorch's eval forward op for op, so logits and features (all 1,300) are
/// bit-identical to PyTorch's on this machine.
#[test]
fn exact_logits_and_features_are_bit_identical() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let Some(fx) = rectify_testkit::fixtures("eval") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("exact");
    eval_val1300(&shared, &run, &["--exact", "--save-logits", "--save-features"]);
    let read = |p: &Path| npy::read_f32(p).unwrap_or_else(|e| panic!("{e} (rerun scripts/fixtures.sh with ../shared)"));
    let (logits, feats) = (read(&run.join("logits.npy")), read(&run.join("features.npy")));
    let (want_logits, want_feats) = (read(&fx.join("logits_val1300.npy")), read(&fx.join("features_val1300.npy")));
    assert_eq!((logits.shape.as_slice(), feats.shape.as_slice()), (&[1300, 1000][..], &[1300, 1280][..]));
    assert_eq!(max_abs(&logits.data, &want_logits.data), 0.0, "--exact logits (all 1300) vs PyTorch here");
    assert_eq!(max_abs(&feats.data, &want_feats.data), 0.0, "--exact features (all 1300) vs PyTorch here");
    // As far from the shared reference (computed on another CPU) as PyTorch here is.
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fx.join("eval.json")).unwrap()).unwrap();
    let ref_logits = read(&shared.join("reference/mobilenet_v2_logits_first64.npy"));
    let ref_feats = read(&shared.join("reference/mobilenet_v2_features_val1300.npy"));
    let (dl, df) = (max_abs(&logits.data[..64 * 1000], &ref_logits.data), max_abs(&feats.data, &ref_feats.data));
    println!("--exact vs the shared reference: logits {dl:.3e}, features {df:.3e} (PyTorch here: {doc})");
    assert_eq!(dl, doc["logits_first64_vs_shared_max_abs"].as_f64().unwrap());
    assert_eq!(df, doc["features_vs_shared_max_abs"].as_f64().unwrap());
}

/// The original files through `--weights` (the `.pth` read directly, and the safetensors copy),
/// computed with `--exact`: logits bit-identical to PyTorch's on this machine.
#[test]
fn float32_pth_weights_match_torchvision_logits() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let Some(fx) = rectify_testkit::fixtures("eval") else { return };
    let want = npy::read_f32(&fx.join("logits_val1300.npy")).expect("eval fixture (made with ../shared)");
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
        assert_eq!(max_abs(&logits.data, &want.data[..64 * 1000]), 0.0, "{weights}: --exact logits (first 64)");
    }
}
