//! Small statistics: the calibration section's expected calibration error, the comparison of
//! runs (exact McNemar, paired bootstrap), and for the bias tables Wilson score intervals for a prevalence and
//! Fisher's exact test of a 2×2 table (two-sided, as `scipy.stats.fisher_exact` and R's
//! `fisher.test`: the sum of the probabilities of all tables with the same margins that are no
//! more likely than the observed one).

/// A proportion with its 95 % Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Proportion {
    /// Successes.
    pub k: u64,
    /// Trials.
    pub n: u64,
    /// k / n (`NaN` when n = 0; `null` in JSON).
    #[serde(deserialize_with = "nan_if_null")]
    pub p: f64,
    /// Lower end of the interval.
    #[serde(deserialize_with = "nan_if_null")]
    pub lo: f64,
    /// Upper end of the interval.
    #[serde(deserialize_with = "nan_if_null")]
    pub hi: f64,
}

/// serde_json writes `NaN` as `null`; read it back as `NaN`.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// k of n with the Wilson score interval at z = 1.959964 (95 %).
pub fn wilson(k: u64, n: u64) -> Proportion {
    if n == 0 {
        return Proportion { k, n, p: f64::NAN, lo: f64::NAN, hi: f64::NAN };
    }
    let z = 1.959_963_984_540_054_f64;
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let denom = 1.0 + z * z / nf;
    let centre = (p + z * z / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
    Proportion { k, n, p, lo: (centre - half).max(0.0), hi: (centre + half).min(1.0) }
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

fn ln_factorial(n: u64) -> f64 {
    (1..=n).map(|i| (i as f64).ln()).sum()
}

/// Two-sided p-value of Fisher's exact test for the table `[[a, b], [c, d]]`.
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let (r1, c1, n) = (a + b, a + c, a + b + c + d);
    if n == 0 {
        return 1.0;
    }
    let ln_p = |x: u64| ln_choose(r1, x) + ln_choose(n - r1, c1 - x) - ln_choose(n, c1);
    let lo = c1.saturating_sub(n - r1);
    let hi = r1.min(c1);
    let observed = ln_p(a);
    // Tables no more likely than the observed one, with scipy's relative tolerance.
    let total: f64 = (lo..=hi).map(ln_p).filter(|&l| l <= observed + 1e-7_f64.ln_1p()).map(f64::exp).sum();
    total.min(1.0)
}

/// How well confidences match accuracy: the expected calibration error over equal-width bins
/// and each bin's count, accuracy and mean confidence (Guo et al. 2017, "On Calibration of
/// Modern Neural Networks", and their code: bin m holds the confidences c with
/// `lo_m < c <= hi_m`, the edges being numpy's `linspace(0, 1, bins + 1)`; a confidence of 0 is
/// in no bin).
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Σ_m |B_m| / n · |accuracy(B_m) − confidence(B_m)|; `NaN` without confidences.
    pub ece: f64,
    /// Confidences per bin.
    pub count: Vec<u64>,
    /// Share correct per bin (`NaN` for an empty bin).
    pub accuracy: Vec<f64>,
    /// Mean confidence per bin (`NaN` for an empty bin).
    pub confidence: Vec<f64>,
}

/// [`Calibration`] of `confidence[i]` (the top class's probability) and `correct[i]` (whether
/// the top class is the label) in `bins` bins.
pub fn calibration(confidence: &[f64], correct: &[bool], bins: usize) -> Calibration {
    assert_eq!(confidence.len(), correct.len(), "one correctness per confidence");
    // numpy's linspace: start + i * step, the last edge exactly `stop`.
    let step = 1.0 / bins as f64;
    let edge = |i: usize| if i == bins { 1.0 } else { i as f64 * step };
    let mut count = vec![0_u64; bins];
    let mut hits = vec![0_u64; bins];
    let mut sum = vec![0.0_f64; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        if let Some(m) = (0..bins).find(|&m| c > edge(m) && c <= edge(m + 1)) {
            count[m] += 1;
            hits[m] += u64::from(ok);
            sum[m] += c;
        }
    }
    let n = confidence.len() as f64;
    let accuracy: Vec<f64> =
        count.iter().zip(&hits).map(|(&k, &h)| if k == 0 { f64::NAN } else { h as f64 / k as f64 }).collect();
    let mean: Vec<f64> = count.iter().zip(&sum).map(|(&k, &s)| if k == 0 { f64::NAN } else { s / k as f64 }).collect();
    let ece = if confidence.is_empty() {
        f64::NAN
    } else {
        (0..bins).filter(|&m| count[m] > 0).map(|m| (mean[m] - accuracy[m]).abs() * count[m] as f64 / n).sum()
    };
    Calibration { ece, count, accuracy, confidence: mean }
}

/// Two-sided exact McNemar test of paired binary outcomes: `b` pairs where only the first is
/// right, `c` where only the second is; the p-value of the binomial test of `b` successes in
/// `b + c` trials at 1/2 (statsmodels' `mcnemar(exact=True)`, scipy's
/// `binomtest(b, b + c).pvalue`). 1 when there is no discordant pair.
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let ln_fact: Vec<f64> = std::iter::once(0.0)
        .chain((1..=n).scan(0.0_f64, |acc, i| {
            *acc += (i as f64).ln();
            Some(*acc)
        }))
        .collect();
    let ln_pmf = |k: u64| {
        ln_fact[n as usize] - ln_fact[k as usize] - ln_fact[(n - k) as usize] - n as f64 * std::f64::consts::LN_2
    };
    // Symmetric at 1/2: twice the smaller tail, the middle counted once when b = c.
    let tail: Vec<f64> = (0..=b.min(c)).map(ln_pmf).collect();
    let top = tail.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum = top.exp() * tail.iter().map(|l| (l - top).exp()).sum::<f64>();
    (2.0 * sum).min(1.0)
}

/// A 95 % percentile bootstrap interval of `mean(second) − mean(first)` over paired 0/1
/// outcomes (pairs resampled together), `resamples` draws from `seed` (rectify's SplitMix64).
pub fn paired_bootstrap(first: &[bool], second: &[bool], resamples: usize, seed: u64) -> [f64; 2] {
    assert_eq!(first.len(), second.len(), "paired outcomes");
    let n = first.len();
    if n == 0 || resamples == 0 {
        return [f64::NAN, f64::NAN];
    }
    let diff: Vec<i64> = first.iter().zip(second).map(|(&a, &b)| i64::from(b) - i64::from(a)).collect();
    let mut rng = rectify_data::rng::SplitMix64::new(seed, 0);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diff[rng.below(n as u64) as usize]).sum::<i64>() as f64 / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    [at(0.025), at(0.975)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_matches_scipy() {
        // scipy.stats.fisher_exact([[8, 2], [1, 5]]) → p = 0.034965034965034975
        assert!((fisher_exact(8, 2, 1, 5) - 0.034_965_034_965_034_975).abs() < 1e-12);
        // The tea-tasting lady: fisher_exact([[3, 1], [1, 3]]) → p = 0.48571428571428565
        assert!((fisher_exact(3, 1, 1, 3) - 0.485_714_285_714_285_65).abs() < 1e-12);
        // fisher_exact([[0, 5], [5, 0]]) → p = 0.007936507936507936
        assert!((fisher_exact(0, 5, 5, 0) - 0.007_936_507_936_507_936).abs() < 1e-12);
        assert!((fisher_exact(2, 2, 2, 2) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mcnemar_by_hand() {
        // b = 1, c = 5: 2 · (1 + 6) / 64 (scipy.stats.binomtest(1, 6).pvalue = 0.21875).
        assert!((mcnemar_exact(1, 5) - 0.21875).abs() < 1e-15);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // binomtest(0, 10).pvalue = 2 / 1024.
        assert!((mcnemar_exact(10, 0) - 2.0 / 1024.0).abs() < 1e-15);
    }

    #[test]
    fn calibration_by_hand() {
        // Two bins: (0, 0.5] holds 0.25 (wrong) and 0.5 (right), (0.5, 1] holds 0.75 (right).
        let c = calibration(&[0.25, 0.5, 0.75, 0.0], &[false, true, true, true], 2);
        assert_eq!(c.count, vec![2, 1], "an edge belongs to the bin below it; 0 to none");
        assert_eq!((c.accuracy[0], c.confidence[0]), (0.5, 0.375));
        // |0.375 − 0.5| · 2/4 + |0.75 − 1| · 1/4
        assert!((c.ece - (0.125 * 0.5 + 0.25 * 0.25)).abs() < 1e-15, "{c:?}");
        assert!(calibration(&[], &[], 15).ece.is_nan());
    }

    #[test]
    fn wilson_by_hand() {
        // statsmodels' proportion_confint(7, 9, method="wilson") = (0.452589, 0.936775).
        let w = wilson(7, 9);
        assert!((w.lo - 0.452_589_0).abs() < 1e-6 && (w.hi - 0.936_774_9).abs() < 1e-6, "{w:?}");
        let z = wilson(0, 10);
        assert_eq!(z.lo, 0.0);
        assert!((z.hi - 0.277_532_2).abs() < 1e-6, "{z:?}");
        assert!(wilson(0, 0).p.is_nan());
    }

    #[test]
    fn an_empty_proportion_survives_json() {
        let json = serde_json::to_string(&wilson(0, 0)).unwrap();
        assert_eq!(json, r#"{"k":0,"n":0,"p":null,"lo":null,"hi":null}"#);
        let back: Proportion = serde_json::from_str(&json).unwrap();
        assert!(back.p.is_nan() && back.lo.is_nan() && back.hi.is_nan());
    }
}
