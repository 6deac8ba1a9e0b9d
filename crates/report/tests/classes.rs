//! Per class and confusions (issue #17) against pandas on a hand-made run
//! (`scripts/fixtures/classes.py`): every class's images, top-1 / top-5 / rectified error,
//! median steps to flip and mean explanation-path area, and the 20 most frequent (true →
//! predicted) mistakes with how often raters accepted the predicted class. Means within 1e-12
//! (other summation order); counts exactly.

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
