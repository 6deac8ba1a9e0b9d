//! Attacks on a toy linear classifier whose gradients are computable by hand (issue #3).

use rectify_attack::{gradient, Attack, Batch, Fgsm, Goal, IFgsm, Norm, Pgd, TargetChoice};
use rectify_model::{Classifier, ModelInfo, Normalization, Numerics};
use tch::{Device, Kind, Tensor};

const C: usize = 3; // classes
const H: usize = 2;
const W: usize = 2;
const D: usize = 3 * H * W;
const MEAN: [f32; 3] = [0.4, 0.5, 0.6];
const STD: [f32; 3] = [0.5, 0.25, 2.0];

/// logits = W · ((x − mean) / std) + b, normalising inside like every rectify model.
struct Linear {
    w: Vec<f32>, // [C, D]
    b: Vec<f32>,
    info: ModelInfo,
}

impl Linear {
    fn new() -> Self {
        let w = (0..C * D).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let info = ModelInfo {
            arch: "toy-linear".into(),
            weights: "test".into(),
            weights_sha256: String::new(),
            num_classes: C as i64,
            feature_dim: None,
            normalization: Normalization { mean: MEAN, std: STD },
            device: "cpu".into(),
            numerics: Numerics::Exact,
            features_method: None,
            class_subset: None,
            class_groups: None,
        };
        Self { w, b: vec![0.1, -0.2, 0.05], info }
    }

    /// Logits by hand, in f64.
    fn logits_by_hand(&self, x: &[f32]) -> Vec<f64> {
        let z: Vec<f64> = (0..D).map(|j| f64::from((x[j] - MEAN[j / (H * W)]) / STD[j / (H * W)])).collect();
        (0..C)
            .map(|c| (0..D).map(|j| f64::from(self.w[c * D + j]) * z[j]).sum::<f64>() + f64::from(self.b[c]))
            .collect()
    }

    /// ∂ CE(logits, y) / ∂x by hand: (softmax − onehot)ᵀ W, divided by the channel's std.
    fn grad_by_hand(&self, x: &[f32], y: usize) -> Vec<f64> {
        let l = self.logits_by_hand(x);
        let m = l.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = l.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let d: Vec<f64> = (0..C).map(|c| e[c] / s - f64::from(u8::from(c == y))).collect();
        (0..D)
            .map(|j| (0..C).map(|c| d[c] * f64::from(self.w[c * D + j])).sum::<f64>() / f64::from(STD[j / (H * W)]))
            .collect()
    }
}

impl Classifier for Linear {
    fn logits(&self, pixels: &Tensor) -> Tensor {
        let mean = Tensor::from_slice(&MEAN).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&STD).view([1, 3, 1, 1]);
        let z = ((pixels - mean) / std).flatten(1, -1);
        let w = Tensor::from_slice(&self.w).view([C as i64, D as i64]);
        z.matmul(&w.tr()) + Tensor::from_slice(&self.b)
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn info(&self) -> &ModelInfo {
        &self.info
    }
}

fn pixels(n: usize) -> (Vec<f32>, Tensor) {
    let v: Vec<f32> = (0..n * D).map(|i| ((i * 37 % 101) as f32) / 100.0).collect();
    let t = Tensor::from_slice(&v).view([n as i64, 3, H as i64, W as i64]);
    (v, t)
}

fn batch(n: usize, labels: &[i64]) -> (Vec<f32>, Batch) {
    let (v, t) = pixels(n);
    (v, Batch { pixels: t, labels: Tensor::from_slice(labels), ids: (0..n as i64).collect() })
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn gradient_is_taken_wrt_pixels_not_normalised_inputs() {
    let m = Linear::new();
    let (v, b) = batch(2, &[0, 2]);
    let (g, _) = gradient(&m, &b.pixels, &b.labels);
    let g = to_vec(&g);
    for i in 0..2 {
        let want = m.grad_by_hand(&v[i * D..(i + 1) * D], [0, 2][i]);
        for j in 0..D {
            // The 1/std factor (std 0.25 … 2) tells pixel-space from normalised-space gradients.
            assert!(
                (f64::from(g[i * D + j]) - want[j]).abs() < 1e-5,
                "image {i} pixel {j}: {} vs {}",
                g[i * D + j],
                want[j]
            );
        }
    }
}

#[test]
fn fgsm_step_equals_the_hand_computed_step() {
    let m = Linear::new();
    let (v, b) = batch(2, &[1, 0]);
    let step = 0.05;
    let out = Fgsm { step, norm: Norm::Linf }.run(&m, &b, &Goal::Untargeted);
    let got = to_vec(&out.adversarial);
    for i in 0..2 {
        let x = &v[i * D..(i + 1) * D];
        let g = m.grad_by_hand(x, [1, 0][i]);
        for j in 0..D {
            let want = (f64::from(x[j]) + step * g[j].signum()).clamp(0.0, 1.0);
            assert!((f64::from(got[i * D + j]) - want).abs() < 1e-6, "image {i} pixel {j}");
        }
    }
    assert_eq!(out.trajectory.steps.len(), 2, "clean + one step");
}

#[test]
fn zero_budget_changes_nothing() {
    let m = Linear::new();
    let (_, b) = batch(4, &[0, 1, 2, 0]);
    let attack = IFgsm { fgsm: Fgsm { step: 0.01, norm: Norm::Linf }, steps: 5, eps: Some(0.0) };
    let out = attack.run(&m, &b, &Goal::Untargeted);
    assert_eq!(to_vec(&out.adversarial), to_vec(&b.pixels));
    let clean = &out.trajectory.steps[0].top1;
    assert!(out.trajectory.steps.iter().all(|s| &s.top1 == clean), "accuracy must not move with eps = 0");
}

#[test]
fn projection_keeps_the_budget_and_the_pixel_range() {
    let m = Linear::new();
    let (_, b) = batch(4, &[0, 1, 2, 0]);
    for norm in [Norm::Linf, Norm::L2] {
        let eps = 0.03;
        let attack = IFgsm { fgsm: Fgsm { step: 0.02, norm }, steps: 10, eps: Some(eps) };
        let out = attack.run(&m, &b, &Goal::Untargeted);
        let delta = &out.adversarial - &b.pixels;
        let size = match norm {
            Norm::Linf => delta.abs().flatten(1, -1).amax([1], false),
            Norm::L2 => delta.flatten(1, -1).square().sum_dim_intlist(1, false, Kind::Float).sqrt(),
        };
        assert!(to_vec(&size).iter().all(|&s| s <= eps as f32 + 1e-6), "{norm:?}: {:?}", to_vec(&size));
        assert!(out.adversarial.min().double_value(&[]) >= 0.0 && out.adversarial.max().double_value(&[]) <= 1.0);
        assert_eq!(out.trajectory.steps.len(), 11);
    }
    // PGD too, from its random start.
    let pgd = Pgd::new(IFgsm { fgsm: Fgsm { step: 0.01, norm: Norm::Linf }, steps: 3, eps: Some(0.02) }, 1).unwrap();
    let out = pgd.run(&m, &b, &Goal::Untargeted);
    assert!((&out.adversarial - &b.pixels).abs().max().double_value(&[]) <= 0.02 + 1e-6);
    assert!(Pgd::new(IFgsm { fgsm: Fgsm { step: 0.01, norm: Norm::Linf }, steps: 3, eps: None }, 1).is_none());
}

#[test]
fn untargeted_attacks_lower_the_true_class_probability() {
    let m = Linear::new();
    let (_, b) = batch(4, &[0, 1, 2, 0]);
    let out = IFgsm { fgsm: Fgsm { step: 0.02, norm: Norm::Linf }, steps: 5, eps: None }.run(&m, &b, &Goal::Untargeted);
    let (first, last) = (&out.trajectory.steps[0], out.trajectory.steps.last().unwrap());
    assert!(first.true_prob.iter().zip(&last.true_prob).all(|(a, z)| z < a), "{first:?} → {last:?}");
}

#[test]
fn targeted_attacks_raise_the_target_probability() {
    let m = Linear::new();
    let (_, b) = batch(4, &[0, 1, 2, 0]);
    let clean = tch::no_grad(|| m.logits(&b.pixels));
    for choice in [TargetChoice::Class(1), TargetChoice::LeastLikely, TargetChoice::Random { seed: 3 }] {
        let goal = choice.resolve(&clean, &b.labels, &b.ids);
        for norm in [Norm::Linf, Norm::L2] {
            let out = IFgsm { fgsm: Fgsm { step: 0.02, norm }, steps: 5, eps: None }.run(&m, &b, &goal);
            let first = out.trajectory.steps[0].target_prob.as_ref().unwrap();
            let last = out.trajectory.steps.last().unwrap().target_prob.as_ref().unwrap();
            assert!(first.iter().zip(last).all(|(a, z)| z > a), "{choice:?} {norm:?}: {first:?} → {last:?}");
        }
    }
}

/// PGD's random start for an image depends on `(seed, image id)` only: the same start whether the
/// image is attacked alone, in a batch, or in a batch in another order; another seed or another
/// id gives another start; and the whole attack of an image does not depend on its batch.
#[test]
fn pgd_start_is_independent_of_batch_size_and_order() {
    let m = Linear::new();
    let (v, _) = pixels(4);
    let labels = [0i64, 1, 2, 0];
    let sub = |order: &[usize]| Batch {
        pixels: Tensor::from_slice(&order.iter().flat_map(|&i| v[i * D..(i + 1) * D].to_vec()).collect::<Vec<_>>())
            .view([order.len() as i64, 3, H as i64, W as i64]),
        labels: Tensor::from_slice(&order.iter().map(|&i| labels[i]).collect::<Vec<_>>()),
        ids: order.iter().map(|&i| 10 + i as i64).collect(),
    };
    for norm in [Norm::Linf, Norm::L2] {
        let pgd = Pgd::new(IFgsm { fgsm: Fgsm { step: 0.01, norm }, steps: 3, eps: Some(0.05) }, 7).unwrap();
        let all = sub(&[0, 1, 2, 3]);
        let start = to_vec(&pgd.random_start(&all));
        let adv = to_vec(&pgd.run(&m, &all, &Goal::Untargeted).adversarial);
        let image = |x: &[f32], k: usize| x[k * D..(k + 1) * D].to_vec();
        for order in [vec![3, 1, 0, 2], vec![2], vec![1, 3]] {
            let b = sub(&order);
            let (s, a) = (to_vec(&pgd.random_start(&b)), to_vec(&pgd.run(&m, &b, &Goal::Untargeted).adversarial));
            for (k, &i) in order.iter().enumerate() {
                assert_eq!(image(&s, k), image(&start, i), "{norm:?}: start of image {i} in batch {order:?}");
                // L∞ steps are exact per element; an L2 step divides by the image's gradient norm,
                // a vectorised sum whose grouping depends on the batch's layout (measured: 1 ulp).
                let (x, y) = (image(&a, k), image(&adv, i));
                let worst = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
                let bound = if norm == Norm::Linf { 0.0 } else { 1e-6 };
                assert!(worst <= bound, "{norm:?}: adversarial image {i} in batch {order:?}: {x:?} vs {y:?}");
            }
        }
        // The start really is random: per image, and per seed.
        assert_ne!(
            image(&start, 0).iter().zip(&v[..D]).map(|(s, x)| s - x).collect::<Vec<_>>(),
            image(&start, 1).iter().zip(&v[D..2 * D]).map(|(s, x)| s - x).collect::<Vec<_>>(),
            "{norm:?}: two images get the same offset"
        );
        let other = Pgd { seed: 8, ..pgd };
        assert_ne!(to_vec(&other.random_start(&all)), start, "{norm:?}: another seed, another start");
        assert_ne!(start, v, "{norm:?}: the start moved");
    }
}
