//! rectify's LIME core against lime's own `LimeBase` (fixtures: `scripts/fixtures/limebase.py`):
//! every feature selection, with ridge (α = 1) and with least squares.

use rectify_explain::lime::{cosine_distances_to_first, FeatureSelection, LimeBase, Regressor};
use serde_json::Value;

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn matches_lime_limebase() {
    let Some(dir) = rectify_testkit::fixtures("limebase") else { return };
    let fx: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let width = fx["kernel_width"].as_f64().unwrap();
    let (mut compared, mut same_sets) = (0, 0);
    for case in fx["cases"].as_array().unwrap() {
        let p = case["p"].as_u64().unwrap() as usize;
        let data = f64s(&case["data"]);
        let labels = f64s(&case["labels"]);
        let distances = f64s(&case["distances"]);
        let ours_d = cosine_distances_to_first(&data, p);
        assert!(ours_d.iter().zip(&distances).all(|(a, b)| (a - b).abs() < 1e-12), "cosine distances differ");
        for r in case["results"].as_array().unwrap() {
            let selection = match r["selection"].as_str().unwrap() {
                "none" => FeatureSelection::None,
                "forward_selection" => FeatureSelection::Forward,
                "highest_weights" => FeatureSelection::HighestWeights,
                "lasso_path" => FeatureSelection::LassoPath,
                "auto" => FeatureSelection::Auto,
                other => panic!("unknown selection {other}"),
            };
            let regressor =
                if r["regressor"] == "ridge" { Regressor::Ridge { alpha: 1.0 } } else { Regressor::LeastSquares };
            let k = r["k"].as_u64().unwrap() as usize;
            let lime = LimeBase { kernel_width: width, selection, num_features: k, regressor };
            let e = lime.explain(&data, p, &labels, &distances).unwrap();
            let want_ranked: Vec<usize> =
                r["ranked"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            let what = format!("p={p} {selection:?} k={k} {regressor:?}");
            let mut a = e.ranked.clone();
            let mut b = want_ranked.clone();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{what}: selected features");
            same_sets += 1;
            for (f, w) in want_ranked.iter().zip(f64s(&r["weights"])) {
                assert!(
                    (e.weights[*f] - w).abs() <= 1e-6 * (1.0 + w.abs()),
                    "{what}: weight of {f}: {} vs {w}",
                    e.weights[*f]
                );
            }
            assert!((e.intercept - r["intercept"].as_f64().unwrap()).abs() < 1e-6, "{what}: intercept");
            assert!((e.r2 - r["r2"].as_f64().unwrap()).abs() < 1e-8, "{what}: R²");
            assert!((e.local_pred - r["local_pred"].as_f64().unwrap()).abs() < 1e-6, "{what}: local prediction");
            compared += 1;
        }
    }
    let total: usize = fx["cases"].as_array().unwrap().iter().map(|c| c["results"].as_array().unwrap().len()).sum();
    println!("{compared} explanations equal to lime's ({same_sets} feature sets identical)");
    assert_eq!(compared, total, "every case of the fixture compared");
}
