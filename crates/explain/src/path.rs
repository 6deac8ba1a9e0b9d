//! Explanation paths (Stock & Cisse 2018, Fig. 8 and 10b): the probability of the explained class
//! when only the top-j superpixels are shown, j = 0 … all, in the explanation's order and in a
//! seeded random order (the baseline that tells whether the order means anything).

use rectify_data::rng::SplitMix64;
use rectify_model::Classifier;
use tch::{Kind, Tensor};

use crate::image::Perturber;

/// Superpixels by decreasing weight (positive evidence first), ties by index.
pub fn order_by_weight(weights: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    order
}

/// A seeded random permutation of `0..count` (Fisher–Yates).
pub fn random_order(count: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed, 1);
    let mut order: Vec<usize> = (0..count).collect();
    for i in (1..count).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order
}

/// Probability of `label` with the first j superpixels of `order` shown, for j = 0 … count.
pub fn path(model: &dyn Classifier, perturber: &Perturber, order: &[usize], label: i64, batch_size: usize) -> Vec<f64> {
    let p = perturber.count();
    let mut masks = vec![0f32; (p + 1) * p];
    for j in 1..=p {
        let (prev, row) = masks.split_at_mut(j * p);
        row[..p].copy_from_slice(&prev[(j - 1) * p..]);
        row[order[j - 1]] = 1.0;
    }
    let masks = Tensor::from_slice(&masks).view([(p + 1) as i64, p as i64]);
    let probs = perturber.probabilities(model, &masks, batch_size).select(1, label).to_kind(Kind::Double);
    Vec::try_from(probs).expect("floats")
}

/// Area under a path, normalised to `[0, 1]` on the x axis (trapezoids).
pub fn area(path: &[f64]) -> f64 {
    if path.len() < 2 {
        return path.first().copied().unwrap_or(0.0);
    }
    let steps = (path.len() - 1) as f64;
    path.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>() / steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_areas() {
        assert_eq!(order_by_weight(&[0.1, -0.5, 0.7, 0.1]), vec![2, 0, 3, 1]);
        let r = random_order(10, 3);
        let mut s = r.clone();
        s.sort_unstable();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
        assert_eq!(r, random_order(10, 3));
        assert_ne!(r, random_order(10, 4));
        assert!((area(&[0.0, 1.0]) - 0.5).abs() < 1e-12);
        assert!((area(&[1.0, 1.0, 1.0]) - 1.0).abs() < 1e-12);
    }
}
