//! Per class and confusions (issue #17) against pandas on a hand-made run
//! (`scripts/fixtures/classes.py`): every class's images, top-1 / top-5 / rectified error,
//! median steps to flip and mean explanation-path area, and the 20 most frequent (true →
//! predicted) mistakes with how often raters accepted the predicted class. Means within 1e-12
//! (other summation order); counts exactly.

mod common;

use std::collections::HashMap;

use common::synthetic_run;
use rectify_report::report::{build, render};
use serde_json::Value;

fn close(ours: Option<f64>, theirs: &Value, what: &str) {
    match (ours, theirs.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{what}: ours {a}, pandas {b}"),
        (a, b) => panic!("{what}: ours {a:?}, pandas {b:?}"),
    }
}

#[test]
fn per_class_rows_and_confusions_equal_pandas() {
    let Some(fx) = rectify_testkit::fixtures("classes") else { return };
    let want: Value = serde_json::from_str(&std::fs::read_to_string(fx.join("expected.json")).unwrap()).unwrap();
    let report = build(&[fx.join("run")]).unwrap();
    let classes = want["classes"].as_array().unwrap();
    assert_eq!(report.classes.len(), classes.len());
    for (row, w) in report.classes.iter().zip(classes) {
        let what = format!("class {}", row.class);
        assert_eq!((row.class, row.images), (w["class"].as_i64().unwrap(), w["images"].as_u64().unwrap()), "{what}");
        assert_eq!(row.name, rectify_data::imagenet::classes()[row.class as usize].name, "{what}");
        close(row.top1_error, &w["top1_error"], &format!("{what} top-1"));
        close(row.top5_error, &w["top5_error"], &format!("{what} top-5"));
        close(row.rectified_error, &w["rectified_error"], &format!("{what} rectified"));
        close(row.steps_to_flip_median, &w["steps_to_flip_median"], &format!("{what} steps to flip"));
        close(row.auc_path_mean, &w["auc_path_mean"], &format!("{what} path area"));
    }
    let confusions = want["confusions"].as_array().unwrap();
    assert_eq!(report.confusions.len(), confusions.len());
    for (row, w) in report.confusions.iter().zip(confusions) {
        let key = (row.label, row.class, row.count, row.rated, row.accepted);
        let theirs = (
            w["label"].as_i64().unwrap(),
            w["class"].as_i64().unwrap(),
            w["count"].as_u64().unwrap(),
            w["rated"].as_u64().unwrap(),
            w["accepted"].as_u64().unwrap(),
        );
        assert_eq!(key, theirs);
        close(row.acceptance, &w["acceptance"], "acceptance");
        assert!(!row.files.is_empty() && row.files.len() <= 3);
    }
    assert!(report.confusions[0].count > report.confusions[19].count, "most frequent first");
    let html = render(&report);
    for ptr in ["/classes/0/rectified_error", "/confusions/0/acceptance", "/confusions/0/files/0"] {
        assert!(html.contains(&format!(r#"data-ptr="{ptr}""#)), "{ptr}");
    }
}

/// Per-class differences between two runs (issue #17, across models): recomputed here from the
/// two predictions.csv files: the classes whose top-1 accuracy differs most, largest first.
#[test]
fn per_class_differences_between_runs_are_the_largest_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    synthetic_run(&a, &images, 500, 25, 1);
    synthetic_run(&b, &images, 500, 25, 2);
    let report = build(&[a.clone(), b.clone()]).unwrap();
    let right = |dir: &std::path::Path| -> HashMap<String, (i64, bool)> {
        let text = std::fs::read_to_string(dir.join("predictions.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let label: i64 = f[1].parse().unwrap();
                (f[0].to_string(), (label, f[2].split(' ').next().unwrap().parse::<i64>().unwrap() == label))
            })
            .collect()
    };
    let (ra, rb) = (right(&a), right(&b));
    let mut per: HashMap<i64, (f64, f64, f64)> = HashMap::new();
    for (file, (label, ok_b)) in &rb {
        let e = per.entry(*label).or_default();
        *e = (e.0 + 1.0, e.1 + f64::from(u8::from(ra[file].1)), e.2 + f64::from(u8::from(*ok_b)));
    }
    let mut want: Vec<(i64, f64)> =
        per.iter().map(|(c, (n, ka, kb))| (*c, kb / n - ka / n)).filter(|(_, d)| *d != 0.0).collect();
    want.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()).then(x.0.cmp(&y.0)));
    want.truncate(10);
    let ours: Vec<(i64, f64)> = report.class_differences.iter().map(|d| (d.class, d.difference)).collect();
    assert_eq!(ours.len(), want.len());
    for ((c, d), (wc, wd)) in ours.iter().zip(&want) {
        assert_eq!(c, wc);
        assert!((d - wd).abs() < 1e-12, "class {c}: {d} vs {wd}");
    }
    assert!(report.class_differences.iter().all(|d| (d.a, d.b) == (0, 1) && d.n == per[&d.class].0 as u64));
}
