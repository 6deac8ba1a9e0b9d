//! Rating a sample of the mistakes (issue #30 §2): a rectified error with a ±0.5-point interval
//! does not need every mistake rated. `study design --sample N` (or `--precision P`) makes a
//! seeded simple random sample of the run's top-1 mistakes the study's items; `study results`
//! then estimates the rectified error from the m rated of the M mistakes, with a 95 % interval
//! corrected for the finite population (sampling without replacement): the share p̂ of sampled
//! mistakes people call relevant has standard error √(p̂(1 − p̂)/m · (M − m)/(M − 1)), and
//! the rectified error is (errors − M·p̂) / labelled images. Mistakes outside the sample are
//! estimated through p̂, never counted as errors silently.

use serde::{Deserialize, Serialize};

/// The paper's share of ResNet-101's mistakes that people called relevant: 1 − 9.47 / 22.69.
/// What plans and `--precision` assume when a study has no votes of its own yet.
pub const PAPER_ACCEPTANCE: f64 = 1.0 - 9.47 / 22.69;

/// 97.5 % quantile of the standard normal distribution (two-sided 95 %).
pub const Z95: f64 = 1.959_963_984_540_054;

/// How a study's items were sampled from the run's mistakes (stored with the study).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// M: the mistakes sampled from.
    pub population: usize,
    /// m: the mistakes drawn.
    pub sample: usize,
    /// The draw's seed.
    pub seed: u64,
}

/// The rectified error estimated from a sample (`estimate` of a relevance design's results).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// M: the mistakes sampled from.
    pub population: usize,
    /// m: the mistakes drawn into the sample.
    pub sample: usize,
    /// Of them, decided by the rule (the estimate's basis).
    pub rated: usize,
    /// p̂: the share of rated sampled mistakes people call relevant.
    pub accepted_share: f64,
    /// The rectified error estimated for all M: (errors − M·p̂) / labelled.
    pub rectified_error: f64,
    /// Its 95 % interval (finite-population corrected).
    pub ci: [f64; 2],
    /// Half the interval's width.
    pub half_width: f64,
}

/// The estimate from `verdicts` (rectified or not, one per rated sampled mistake) of `population`
/// mistakes among `labelled` images with `errors` mistakes; `None` without a rated mistake.
pub fn estimate(
    labelled: usize,
    errors: usize,
    population: usize,
    sample: usize,
    verdicts: &[bool],
) -> Option<Estimate> {
    let m = verdicts.len();
    if m == 0 || labelled == 0 || population == 0 {
        return None;
    }
    let p = verdicts.iter().filter(|&&v| v).count() as f64 / m as f64;
    let big_m = population as f64;
    let fpc = if population > 1 { ((big_m - m as f64) / (big_m - 1.0)).max(0.0) } else { 0.0 };
    let se = (p * (1.0 - p) / m as f64 * fpc).sqrt();
    let n = labelled as f64;
    let point = (errors as f64 - big_m * p) / n;
    let half = Z95 * se * big_m / n;
    Some(Estimate {
        population,
        sample,
        rated: m,
        accepted_share: p,
        rectified_error: point,
        ci: [point - half, point + half],
        half_width: half,
    })
}

/// The sample size whose 95 % interval on the rectified error is at most `points` percentage
/// points wide on each side, for `population` mistakes among `labelled` images, if a share
/// `accepted` of mistakes is called relevant (the finite-population formula, rounded up).
pub fn size_for_precision(labelled: usize, population: usize, points: f64, accepted: f64) -> usize {
    if population == 0 || labelled == 0 || points <= 0.0 {
        return population;
    }
    let half = points / 100.0;
    let scale = population as f64 / labelled as f64;
    let m0 = (Z95 * scale).powi(2) * accepted * (1.0 - accepted) / (half * half);
    let m = m0 / (1.0 + (m0 - 1.0) / population as f64);
    (m.ceil() as usize).clamp(1, population)
}

/// A seeded simple random sample of `m` of `0..population` (partial Fisher–Yates), in order.
pub fn draw(population: usize, m: usize, seed: u64) -> Vec<usize> {
    let m = m.min(population);
    let mut idx: Vec<usize> = (0..population).collect();
    let mut rng = rectify_data::rng::SplitMix64::new(seed, 0x5a_3b1e);
    for i in 0..m {
        let j = i + rng.below((population - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut out = idx[..m].to_vec();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_resnet_example() {
        // ResNet-101 on ImageNet-val: 11,345 mistakes of 50,000; ±0.5 points with the paper's
        // acceptance needs about 1,650 of them (the issue's figure).
        let m = size_for_precision(50_000, 11_345, 0.5, PAPER_ACCEPTANCE);
        assert!((1_600..1_700).contains(&m), "{m}");
        // Everything rated: no sampling error.
        let all: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let e = estimate(1000, 100, 100, 100, &all).unwrap();
        assert_eq!(e.half_width, 0.0);
        assert!((e.rectified_error - (100.0 - 34.0) / 1000.0).abs() < 1e-15);
    }

    #[test]
    fn draws_are_seeded_and_distinct() {
        let a = draw(1000, 100, 7);
        assert_eq!(a, draw(1000, 100, 7));
        assert_ne!(a, draw(1000, 100, 8));
        let mut b = a.clone();
        b.dedup();
        assert_eq!(b.len(), 100);
        assert!(a.iter().all(|&i| i < 1000));
    }
}
