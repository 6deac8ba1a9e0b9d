//! Across models (issue #17): each run against the first on the images both evaluated, checked
//! against scipy and numpy (`scripts/fixtures/compare.py`): the exact McNemar p-value equals
//! scipy's `binomtest` (within a relative 1e-10: our tail sums in log space), the counts and accuracies
//! exactly, and the paired-bootstrap interval numpy's 20,000-resample one within 0.01 (Monte
//! Carlo error of a 2,000-resample percentile: about 0.003 here). The rankings note says when
//! the rectified order differs.

use rectify_report::report::{build, render, ComparisonRow, RectifiedRow, Report};
use rectify_report::stats::mcnemar_exact;
use serde_json::Value;

#[test]
fn paired_difference_and_mcnemar_equal_scipy_and_numpy() {
    let Some(fx) = rectify_testkit::fixtures("compare") else { return };
    let want: Value = serde_json::from_str(&std::fs::read_to_string(fx.join("expected.json")).unwrap()).unwrap();
    for case in want["small"].as_array().unwrap() {
        let (b, c) = (case["b"].as_u64().unwrap(), case["c"].as_u64().unwrap());
        let p = case["p"].as_f64().unwrap();
        assert!((mcnemar_exact(b, c) / p - 1.0).abs() < 1e-10, "b={b} c={c}: ours {}, scipy {p}", mcnemar_exact(b, c));
    }
    let report = build(&[fx.join("a"), fx.join("b")]).unwrap();
    assert_eq!(report.comparisons.len(), 1);
    let ComparisonRow { a, b, n, top1_a, top1_b, difference, ci, only_a, only_b, p_mcnemar } =
        report.comparisons[0].clone();
    assert_eq!((a, b), (0, 1));
    assert_eq!(
        (n, only_a, only_b),
        (want["n"].as_u64().unwrap(), want["only_a"].as_u64().unwrap(), want["only_b"].as_u64().unwrap())
    );
    assert_eq!((top1_a, top1_b), (want["top1_a"].as_f64(), want["top1_b"].as_f64()));
    assert!((difference.unwrap() - (top1_b.unwrap() - top1_a.unwrap())).abs() < 1e-15);
    assert!(
        (p_mcnemar / want["p_mcnemar"].as_f64().unwrap() - 1.0).abs() < 1e-10,
        "{p_mcnemar} vs {}",
        want["p_mcnemar"]
    );
    let numpy = [want["ci_numpy"][0].as_f64().unwrap(), want["ci_numpy"][1].as_f64().unwrap()];
    let ours = [ci.lo.unwrap(), ci.hi.unwrap()];
    assert!((ours[0] - numpy[0]).abs() < 0.01 && (ours[1] - numpy[1]).abs() < 0.01, "ours {ours:?}, numpy {numpy:?}");
    assert!(ours[0] < difference.unwrap() && difference.unwrap() < ours[1]);
    let html = render(&report);
    assert!(html.contains(r#"data-ptr="/comparisons/0/p_mcnemar""#) && html.contains("Across models"));
}

fn rectified(run: usize, error: f64, rectified_error: f64) -> RectifiedRow {
    RectifiedRow {
        run,
        metric: "top-1".into(),
        error: Some(error),
        rectified_error: Some(rectified_error),
        ..RectifiedRow::default()
    }
}

#[test]
fn the_report_says_when_the_rectified_ranking_differs() {
    let Some(fx) = rectify_testkit::fixtures("compare") else { return };
    let mut report: Report = build(&[fx.join("a"), fx.join("b")]).unwrap();
    assert!(report.ranking.is_none(), "no rectified errors, no ranking");
    // a has the lower error, b the lower rectified error (as ResNet-101 against a model whose
    // mistakes people accept less often).
    report.rectified = vec![rectified(0, 0.20, 0.12), rectified(1, 0.22, 0.09)];
    let dirs = [fx.join("a"), fx.join("b")];
    report.comparisons.clear();
    rectify_report::report::compare_runs(&dirs, &mut report).unwrap();
    let r = report.ranking.clone().unwrap();
    assert_eq!(
        (r.standard.as_slice(), r.rectified.as_slice(), r.differs),
        (&["a".to_string(), "b".into()][..], &["b".to_string(), "a".into()][..], true)
    );
    assert!(render(&report).contains("The rectified ranking differs from the standard one"));
    report.rectified = vec![rectified(0, 0.20, 0.08), rectified(1, 0.22, 0.09)];
    rectify_report::report::compare_runs(&dirs, &mut report).unwrap();
    assert!(!report.ranking.unwrap().differs);
}
