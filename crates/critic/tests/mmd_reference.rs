//! Issue #5: MMD-critic equals Kim et al.'s code on the MobileNetV2 features of val-1300.
//! `../shared/reference/mmd_critic_reference.json` was computed with the authors' `mmd.py`
//! (`greedy_select_protos`, `select_criticism_regularized(..., reg='logdet', is_K_sparse=False)`)
//! on `mobilenet_v2_features_val1300.npy`, γ = 1 / median squared distance of the case's rows.
//! Both the dense and the blocked kernel must give the same indices in the same order.

use rectify_critic::kernel::{features_tensor, median_gamma};
use rectify_critic::{Counts, Gamma, MmdCritic, Regularizer, Strategy};
use tch::Device;

struct Case {
    name: String,
    rows: Vec<usize>,
    gamma: f64,
    prototypes: Vec<usize>,
    criticisms: Vec<usize>,
}

/// Features (row-major), their dimension, the CSV labels and the reference cases.
type Loaded = (Vec<f32>, usize, Vec<i64>, Vec<Case>);

fn load() -> Option<Loaded> {
    let features = rectify_testkit::shared_file("reference/mobilenet_v2_features_val1300.npy")?;
    let npy = rectify_data::npy::read_f32(&features).expect("features");
    let d = npy.shape[1];
    let csv = std::fs::read_to_string(rectify_testkit::shared_file("data/imagenet-val-1300.csv")?).unwrap();
    let labels: Vec<i64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    let text = std::fs::read_to_string(rectify_testkit::shared_file("reference/mmd_critic_reference.json")?).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = |v: &serde_json::Value| -> Vec<usize> {
        v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
    };
    let cases = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            rows: list(&c["rows"]),
            gamma: c["gamma"].as_f64().unwrap(),
            prototypes: list(&c["prototypes"]),
            criticisms: list(&c["criticisms"]),
        })
        .collect();
    Some((npy.data, d, labels, cases))
}

fn subset(data: &[f32], d: usize, rows: &[usize]) -> Vec<f32> {
    rows.iter().flat_map(|&r| data[r * d..(r + 1) * d].iter().copied()).collect()
}

#[test]
fn both_reference_cases_exactly_dense_and_blocked() {
    let Some((data, d, labels, cases)) = load() else { return };
    assert_eq!(cases.len(), 2);
    for case in &cases {
        // The rows: everything, or the dogs (labels 151–268), recomputed from the labels.
        let rows: Vec<usize> = if case.name == "dogs-151-268" {
            (0..labels.len()).filter(|&i| (151..=268).contains(&labels[i])).collect()
        } else {
            (0..labels.len()).collect()
        };
        assert_eq!(rows, case.rows, "{}: rows", case.name);
        let x = subset(&data, d, &rows);
        let gamma = median_gamma(&features_tensor(&x, rows.len(), d, Device::Cpu).unwrap(), 4096, 0).unwrap();
        assert!((gamma - case.gamma).abs() <= 1e-12 * case.gamma, "{}: gamma {gamma} vs {}", case.name, case.gamma);
        let counts = Counts { prototypes: case.prototypes.len(), criticisms: case.criticisms.len() };
        for strategy in [Strategy::Dense, Strategy::Blocked { rows: 100 }] {
            let mmd = MmdCritic {
                gamma: Gamma::Median { exact_rows: 4096, seed: 0 },
                regularizer: Regularizer::Logdet,
                strategy,
                block_rows: 100,
                ..Default::default()
            };
            let sel = mmd.run(features_tensor(&x, rows.len(), d, Device::Cpu).unwrap(), None, counts).unwrap();
            let protos: Vec<usize> = sel.prototypes.iter().map(|p| rows[p.row]).collect();
            let crits: Vec<usize> = sel.criticisms.iter().map(|p| rows[p.row]).collect();
            println!("{} {strategy:?}: gamma {} prototypes {protos:?} criticisms {crits:?}", case.name, sel.gamma);
            assert_eq!(protos, case.prototypes, "{} {strategy:?}: prototypes", case.name);
            assert_eq!(crits, case.criticisms, "{} {strategy:?}: criticisms", case.name);
        }
    }
}

#[test]
fn without_the_regulariser_criticisms_follow_the_witness_alone() {
    let Some((data, d, _, cases)) = load() else { return };
    let case = &cases[1];
    let x = subset(&data, d, &case.rows);
    let mmd = MmdCritic { gamma: Gamma::Given(case.gamma), regularizer: Regularizer::None, ..Default::default() };
    let counts = Counts { prototypes: 8, criticisms: 4 };
    let sel = mmd.run(features_tensor(&x, case.rows.len(), d, Device::Cpu).unwrap(), None, counts).unwrap();
    // Same prototypes; criticisms in decreasing witness value, none of them a prototype.
    let protos: Vec<usize> = sel.prototypes.iter().map(|p| case.rows[p.row]).collect();
    assert_eq!(protos, case.prototypes);
    let scores: Vec<f64> = sel.criticisms.iter().map(|p| p.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "witness values must not increase: {scores:?}");
    assert!(sel.criticisms.iter().all(|c| !sel.prototypes.iter().any(|p| p.row == c.row)));
}

#[test]
fn scalable_path_equals_dense_on_2000_rows() {
    let Some((data, d, _, _)) = load() else { return };
    // 1300 real rows and 700 perturbed copies of them: n = 2000.
    let mut rng = rectify_data::rng::SplitMix64::new(5, 0);
    let mut x = data.clone();
    for _ in 0..700 {
        let r = rng.below(1300) as usize;
        let scale = 0.9 + 0.2 * rng.uniform();
        x.extend(
            data[r * d..(r + 1) * d].iter().map(|&v| (f64::from(v) * scale + 0.02 * rng.normal()).max(0.0) as f32),
        );
    }
    let n = x.len() / d;
    assert_eq!(n, 2000);
    let counts = Counts { prototypes: 20, criticisms: 10 };
    let mk = |strategy| MmdCritic { strategy, block_rows: 128, ..Default::default() };
    let dense = mk(Strategy::Dense).run(features_tensor(&x, n, d, Device::Cpu).unwrap(), None, counts).unwrap();
    let blocked =
        mk(Strategy::Blocked { rows: 128 }).run(features_tensor(&x, n, d, Device::Cpu).unwrap(), None, counts).unwrap();
    let rows = |p: &[rectify_critic::Pick]| p.iter().map(|p| p.row).collect::<Vec<_>>();
    println!("n = 2000: prototypes {:?}, criticisms {:?}", rows(&dense.prototypes), rows(&dense.criticisms));
    assert_eq!(rows(&dense.prototypes), rows(&blocked.prototypes));
    assert_eq!(rows(&dense.criticisms), rows(&blocked.criticisms));
    for (a, b) in
        dense.prototypes.iter().chain(&dense.criticisms).zip(blocked.prototypes.iter().chain(&blocked.criticisms))
    {
        assert!((a.score - b.score).abs() <= 1e-9 * a.score.abs().max(1.0), "scores {} vs {}", a.score, b.score);
    }
}
