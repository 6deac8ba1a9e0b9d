//! The selectors of issue #5 on hand-made populations, and MMD-critic's pieces on data whose
//! answers are computable by hand.

use rectify_critic::kernel::{features_tensor, median_gamma};
use rectify_critic::selection::TrajectoryStep;
use rectify_critic::{
    select, Adversarial, Counts, Gamma, Grouping, Item, Kernel, MmdCritic, Population, Probability, Random, Selector,
    Strategy,
};
use rectify_data::rng::SplitMix64;
use tch::Device;

fn traj(label: i64, steps: &[(i64, f64)]) -> Item {
    Item {
        label: Some(label),
        top1: Some(steps[0].0),
        p_true: Some(steps[0].1),
        trajectory: Some(steps.iter().map(|&(top1, true_prob)| TrajectoryStep { top1, true_prob }).collect()),
    }
}

/// `k` steps that keep `label` with probability `p` falling by `drop` per step.
fn resists(label: i64, p: f64, drop: f64, k: usize) -> Item {
    let steps: Vec<(i64, f64)> = (0..=k).map(|s| (label, p - drop * s as f64)).collect();
    traj(label, &steps)
}

fn flips_at(label: i64, at: usize, p0: f64, p_at: f64, k: usize) -> Item {
    let steps: Vec<(i64, f64)> =
        (0..=k).map(|s| if s < at { (label, p0) } else { (label + 1, if s == at { p_at } else { 0.0 }) }).collect();
    traj(label, &steps)
}

#[test]
fn adversarial_prototypes_resist_and_criticisms_flip_at_once() {
    let items = vec![
        resists(3, 0.9, 0.01, 10),                                                   // 0: final 0.80
        flips_at(3, 1, 0.6, 0.1, 10),                                                // 1: flipped at step 1, fell 0.5
        resists(3, 0.99, 0.001, 10),                                                 // 2: final 0.98
        flips_at(3, 4, 0.7, 0.2, 10),                                                // 3: flipped at step 4: neither
        flips_at(3, 1, 0.9, 0.05, 10),                                               // 4: flipped at step 1, fell 0.85
        traj(3, &[(5, 0.1); 11]),                                                    // 5: wrong from the start: neither
        Item { label: Some(3), top1: Some(3), p_true: Some(0.9), trajectory: None }, // 6: not attacked
    ];
    let pop = Population { items, features: None };
    let picks = Adversarial::default().select_group(&pop, &[0, 1, 2, 3, 4, 5, 6], Counts::default()).unwrap();
    let rows = |p: &[rectify_critic::Pick]| p.iter().map(|p| p.row).collect::<Vec<_>>();
    assert_eq!(rows(&picks.prototypes), vec![2, 0], "ordered by final true-class probability");
    assert_eq!(rows(&picks.criticisms), vec![4, 1], "ordered by the fall in the first step");
    assert!((picks.criticisms[0].score - 0.85).abs() < 1e-12);
    assert!(picks.note.unwrap().contains("1 rows without"));
    // With M = 3, row 3 (flips at step 4) resists long enough to be a prototype.
    let m3 = Adversarial { resist_steps: 3, flip_step: 1 };
    let picks = m3.select_group(&pop, &[0, 1, 2, 3, 4, 5], Counts::default()).unwrap();
    assert_eq!(rows(&picks.prototypes), vec![2, 0, 3]);
    // Trajectories shorter than M are refused, not silently cut.
    let short = Population { items: vec![resists(1, 0.9, 0.0, 2)], features: None };
    assert!(Adversarial::default().select_group(&short, &[0], Counts::default()).is_err());
}

#[test]
fn probability_thresholds_and_order() {
    let ps = [0.95, 0.05, 0.5, 0.99, 0.0, 0.91, 0.09, 0.9, 0.1];
    let items = ps.iter().map(|&p| Item { label: Some(0), p_true: Some(p), ..Default::default() }).collect();
    let pop = Population { items, features: None };
    let all: Vec<usize> = (0..ps.len()).collect();
    let picks = Probability::default().select_group(&pop, &all, Counts { prototypes: 2, criticisms: 6 }).unwrap();
    assert_eq!(picks.prototypes.iter().map(|p| p.row).collect::<Vec<_>>(), vec![3, 0], "above 0.9, best first, 2 kept");
    assert_eq!(picks.criticisms.iter().map(|p| p.row).collect::<Vec<_>>(), vec![4, 1, 6], "below 0.1, lowest first");
    let bad = Probability { prototype_above: 0.2, criticism_below: 0.5 };
    assert!(bad.select_group(&pop, &all, Counts::default()).is_err());
}

#[test]
fn random_is_reproducible_by_seed_and_disjoint() {
    let pop = Population { items: vec![Item::default(); 40], features: None };
    let grouping = Grouping::by_key((0..40).map(|i| Some(i % 2)));
    let counts = Counts { prototypes: 6, criticisms: 6 };
    let run = |seed| select(&Random { seed }, &pop, &grouping, counts, |_| {}).unwrap();
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a, b, "same seed, same picks");
    assert_ne!(a.groups[0].prototypes, c.groups[0].prototypes, "another seed, other picks");
    for g in &a.groups {
        assert_eq!((g.prototypes.len(), g.criticisms.len()), (6, 6));
        let mut all: Vec<usize> = g.prototypes.iter().chain(&g.criticisms).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 12, "prototypes and criticisms are distinct rows");
        let parity = if g.group == "0" { 0 } else { 1 };
        assert!(all.iter().all(|r| r % 2 == parity), "rows stay in their group");
    }
    // A group smaller than the counts gives what it has.
    let small = Random { seed: 1 }.select_group(&pop, &[3, 5, 9], counts).unwrap();
    assert_eq!((small.prototypes.len(), small.criticisms.len()), (3, 0));
}

#[test]
fn median_heuristic_by_hand() {
    // Points 0, 1, 3, 4 on a line: squared distances 1, 9, 16, 4, 9, 1 → median (4 + 9) / 2.
    let x = features_tensor(&[0.0, 1.0, 3.0, 4.0], 4, 1, Device::Cpu).unwrap();
    assert_eq!(median_gamma(&x, 4096, 0).unwrap(), 1.0 / 6.5);
    // Points 0, 1, 3: 1, 9, 4 → median 4.
    let x = features_tensor(&[0.0, 1.0, 3.0], 3, 1, Device::Cpu).unwrap();
    assert_eq!(median_gamma(&x, 4096, 0).unwrap(), 0.25);
    let same = features_tensor(&[2.0, 2.0, 2.0], 3, 1, Device::Cpu).unwrap();
    assert!(median_gamma(&same, 4096, 0).is_err(), "identical rows have no scale");
    assert!(features_tensor(&[f32::NAN, 1.0], 2, 1, Device::Cpu).is_err(), "NaN features are refused");
}

#[test]
fn prototype_and_criticism_by_hand() {
    // A tight cluster of three near 0 and two stragglers far apart: the first prototype is the
    // cluster's centre (largest column sum); the first criticism maximises the witness.
    let x = [-0.1f32, 0.0, 0.1, 5.0, 9.0];
    let mmd = MmdCritic { gamma: Gamma::Given(1.0), ..Default::default() };
    let sel = mmd
        .run(features_tensor(&x, 5, 1, Device::Cpu).unwrap(), None, Counts { prototypes: 1, criticisms: 1 })
        .unwrap();
    assert_eq!(sel.prototypes[0].row, 1);
    // Gain of the first prototype: 2/n Σᵢ k(xᵢ, x₁) − k(x₁, x₁).
    let k = |a: f32, b: f32| (-(f64::from(a) - f64::from(b)).powi(2)).exp();
    let expected = 2.0 / 5.0 * x.iter().map(|&xi| k(xi, 0.0)).sum::<f64>() - 1.0;
    assert!((sel.prototypes[0].score - expected).abs() < 1e-12, "{} vs {expected}", sel.prototypes[0].score);
    // The first criticism maximises the witness |mean k(x, data) − k(x, prototype)| (the logdet
    // term is −log k(x, x) = 0 for the first one), computed here by hand.
    let w = |xj: f32| (x.iter().map(|&xi| k(xi, xj)).sum::<f64>() / 5.0 - k(0.0, xj)).abs();
    let crit = sel.criticisms[0].row;
    let best = [0usize, 2, 3, 4].into_iter().max_by(|&a, &b| w(x[a]).total_cmp(&w(x[b])).then(b.cmp(&a))).unwrap();
    assert_eq!(crit, best);
}

#[test]
fn dense_and_blocked_kernels_agree_also_block_diagonal() {
    let mut rng = SplitMix64::new(3, 0);
    let (n, d) = (500, 16);
    let data: Vec<f32> = (0..n * d).map(|i| (rng.normal() + 3.0 * ((i / d) % 3) as f64) as f32).collect();
    let blocks: Vec<u32> = (0..n as u32).map(|i| i % 4).collect();
    for b in [None, Some(blocks.clone())] {
        let x = features_tensor(&data, n, d, Device::Cpu).unwrap();
        let dense = Kernel::new(x.shallow_clone(), 0.05, b.clone(), Strategy::Dense).unwrap();
        let blocked = Kernel::new(x, 0.05, b.clone(), Strategy::Blocked { rows: 37 }).unwrap();
        let (cd, cb) = (dense.column_sums(37), blocked.column_sums(37));
        for j in 0..n {
            assert!((cd[j] - cb[j]).abs() <= 1e-9 * cd[j].abs().max(1.0), "column {j}: {} vs {}", cd[j], cb[j]);
        }
        let (rd, rb) = (dense.row(17), blocked.row(17));
        assert!(rd.iter().zip(&rb).all(|(a, b)| (a - b).abs() <= 1e-12), "kernel rows agree");
        if let Some(bl) = &b {
            let row = blocked.row(5);
            assert!(row.iter().enumerate().all(|(j, &v)| (bl[j] == bl[5]) || v == 0.0), "zero across blocks");
            assert_eq!(row[5], 1.0, "k(x, x) = 1");
        }
        let counts = Counts { prototypes: 10, criticisms: 5 };
        let mk = |strategy| MmdCritic {
            gamma: Gamma::Given(0.05),
            strategy,
            block_rows: 37,
            block_kernel: b.is_some(),
            ..Default::default()
        };
        let x = || features_tensor(&data, n, d, Device::Cpu).unwrap();
        let a = mk(Strategy::Dense).run(x(), b.clone(), counts).unwrap();
        let c = mk(Strategy::Blocked { rows: 37 }).run(x(), b.clone(), counts).unwrap();
        let rows = |p: &[rectify_critic::Pick]| p.iter().map(|p| p.row).collect::<Vec<_>>();
        assert_eq!(rows(&a.prototypes), rows(&c.prototypes));
        assert_eq!(rows(&a.criticisms), rows(&c.criticisms));
    }
}
