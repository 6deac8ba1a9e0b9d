//! Weighted least squares through the weighted, centred Gram matrix, computed once per
//! explanation: every fit on a subset of features (forward selection fits hundreds) is a small
//! solve on a slice of it.
//!
//! The estimator is scikit-learn's `Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w)`:
//! centre `X` and `y` on their `w`-weighted means, solve `(Xcᵀ W Xc + αI) β = Xcᵀ W yc`, intercept
//! `ȳ − x̄·β`; and its `score`, the `w`-weighted R².

/// `Xcᵀ W Xc`, `Xcᵀ W yc`, `yc ᵀ W yc` and the weighted means, for `n` rows of `p` features.
#[derive(Debug, Clone)]
pub(crate) struct WeightedGram {
    pub p: usize,
    /// `p × p`, row-major.
    pub g: Vec<f64>,
    pub b: Vec<f64>,
    pub yy: f64,
    pub x_mean: Vec<f64>,
    pub y_mean: f64,
}

/// A fitted linear model on a subset of features.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fit {
    pub coef: Vec<f64>,
    pub intercept: f64,
    /// Weighted R² on the data it was fitted on.
    pub r2: f64,
}

impl WeightedGram {
    /// `x`: `n × p` row-major; `y`, `w`: `n`.
    pub fn new(x: &[f64], p: usize, y: &[f64], w: &[f64]) -> Self {
        let n = y.len();
        assert_eq!(x.len(), n * p, "x must be n × p");
        let sw: f64 = w.iter().sum();
        let mut x_mean = vec![0.0; p];
        for (row, wi) in x.chunks_exact(p).zip(w) {
            for (m, v) in x_mean.iter_mut().zip(row) {
                *m += wi * v;
            }
        }
        x_mean.iter_mut().for_each(|m| *m /= sw);
        let y_mean = y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / sw;
        let (mut g, mut b, mut yy) = (vec![0.0; p * p], vec![0.0; p], 0.0);
        let mut xc = vec![0.0; p];
        for ((row, &yi), &wi) in x.chunks_exact(p).zip(y).zip(w) {
            for j in 0..p {
                xc[j] = row[j] - x_mean[j];
            }
            let yc = yi - y_mean;
            yy += wi * yc * yc;
            for j in 0..p {
                let wx = wi * xc[j];
                b[j] += wx * yc;
                for (k, gk) in g[j * p..j * p + j + 1].iter_mut().enumerate() {
                    *gk += wx * xc[k];
                }
            }
        }
        for j in 0..p {
            for k in 0..j {
                g[k * p + j] = g[j * p + k];
            }
        }
        Self { p, g, b, yy, x_mean, y_mean }
    }

    /// Ridge with penalty `alpha` on the features `cols` (`alpha = 0`: least squares).
    pub fn fit(&self, cols: &[usize], alpha: f64) -> Fit {
        let k = cols.len();
        let mut a = vec![0.0; k * k];
        let mut rhs = vec![0.0; k];
        for (i, &ci) in cols.iter().enumerate() {
            rhs[i] = self.b[ci];
            for (j, &cj) in cols.iter().enumerate() {
                a[i * k + j] = self.g[ci * self.p + cj];
            }
            a[i * k + i] += alpha;
        }
        let coef = solve_spd(&a, &rhs, k);
        let intercept = self.y_mean - cols.iter().zip(&coef).map(|(&c, b)| self.x_mean[c] * b).sum::<f64>();
        // SSE = yᵀWy − 2 βᵀb + βᵀ G β (all centred and weighted).
        let gb: Vec<f64> =
            (0..k).map(|i| (0..k).map(|j| a[i * k + j] * coef[j]).sum::<f64>() - alpha * coef[i]).collect();
        let sse = self.yy - 2.0 * dot(&coef, &rhs) + dot(&coef, &gb);
        let r2 = if self.yy > 0.0 { 1.0 - sse / self.yy } else { 1.0 };
        Fit { coef, intercept, r2 }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `A x = b` for symmetric positive (semi)definite `A` (`k × k`) by Cholesky. A singular
/// `A` (a feature constant over the weighted samples) gets a tiny ridge, `1e-10 · max diag`,
/// which approaches scikit-learn's minimum-norm least-squares fallback.
pub(crate) fn solve_spd(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    if k == 0 {
        return Vec::new();
    }
    let max_diag = (0..k).map(|i| a[i * k + i]).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    for jitter in [0.0, 1e-10 * max_diag, 1e-6 * max_diag] {
        if let Some(l) = cholesky(a, k, jitter) {
            // L y = b, then Lᵀ x = y.
            let mut y = vec![0.0; k];
            for i in 0..k {
                y[i] = (b[i] - (0..i).map(|j| l[i * k + j] * y[j]).sum::<f64>()) / l[i * k + i];
            }
            let mut x = vec![0.0; k];
            for i in (0..k).rev() {
                x[i] = (y[i] - (i + 1..k).map(|j| l[j * k + i] * x[j]).sum::<f64>()) / l[i * k + i];
            }
            return x;
        }
    }
    vec![0.0; k]
}

fn cholesky(a: &[f64], k: usize, jitter: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s = a[i * k + j] + if i == j { jitter } else { 0.0 }
                - (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum::<f64>();
            if i == j {
                if s <= 1e-13 * a[i * k + i].abs().max(1.0) {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_weighted_linear_model() {
        // y = 2 + 3 x0 − x1, any weights: least squares recovers it with R² = 1.
        let x = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 1.0];
        let y: Vec<f64> = x.chunks(2).map(|r| 2.0 + 3.0 * r[0] - r[1]).collect();
        let w = [1.0, 0.5, 2.0, 1.0, 0.1];
        let fit = WeightedGram::new(&x, 2, &y, &w).fit(&[0, 1], 0.0);
        assert!((fit.coef[0] - 3.0).abs() < 1e-9 && (fit.coef[1] + 1.0).abs() < 1e-9, "{fit:?}");
        assert!((fit.intercept - 2.0).abs() < 1e-9);
        assert!((fit.r2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn singular_gram_does_not_blow_up() {
        // Two identical columns.
        let x = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0];
        let fit = WeightedGram::new(&x, 2, &[1.0, 0.0, 1.0], &[1.0; 3]).fit(&[0, 1], 0.0);
        assert!(fit.coef.iter().all(|c| c.is_finite()));
        assert!((fit.coef[0] + fit.coef[1] - 1.0).abs() < 1e-4, "{fit:?}");
    }
}
