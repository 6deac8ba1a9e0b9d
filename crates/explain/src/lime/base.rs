//! The surrogate model of LIME, knowing nothing of images (lime's `lime_base.LimeBase`).
//!
//! Given binary rows `z` (which interpretable features are present; row 0 = all present, the
//! instance itself), the model's output `f(z)` for the explained label and distances `d(z)` to
//! row 0, LIME weighs rows by the kernel `√exp(−d²/σ²)`, selects at most K features, and fits a
//! weighted linear model on them. Its coefficients are the explanation, its weighted R² says how
//! faithful the local fit is, and `local_pred` is its prediction at the instance.

use serde::{Deserialize, Serialize};

use super::gram::WeightedGram;
use super::lars::lasso_path;

/// How the K features are chosen (lime's `feature_selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FeatureSelection {
    /// All features (K ignored).
    None,
    /// Greedy forward selection by weighted R² of least-squares fits (costly for large K).
    Forward,
    /// The K largest |coefficients| of a ridge (α = 0.01) fit on all features.
    #[cfg_attr(feature = "clap", value(name = "highest"))]
    HighestWeights,
    /// The last point of the lasso path with at most K non-zero coefficients.
    #[cfg_attr(feature = "clap", value(name = "lasso"))]
    LassoPath,
    /// `Forward` when K ≤ 6, else `HighestWeights` (lime's default).
    #[default]
    Auto,
}

/// The final fit on the selected features.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regressor {
    /// Weighted ridge with penalty `alpha` (lime's default: `Ridge(alpha=1)`).
    Ridge {
        /// Penalty.
        alpha: f64,
    },
    /// Weighted least squares (the paper's setting).
    LeastSquares,
}

impl Default for Regressor {
    fn default() -> Self {
        Regressor::Ridge { alpha: 1.0 }
    }
}

impl Regressor {
    fn alpha(self) -> f64 {
        match self {
            Regressor::Ridge { alpha } => alpha,
            Regressor::LeastSquares => 0.0,
        }
    }
}

/// LIME's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LimeBase {
    /// Kernel width σ (lime_image's default 0.25).
    pub kernel_width: f64,
    /// Feature selection.
    pub selection: FeatureSelection,
    /// K, the most features in the explanation.
    pub num_features: usize,
    /// The final fit.
    pub regressor: Regressor,
}

impl Default for LimeBase {
    /// lime_image's defaults: σ 0.25, `auto` selection, ridge α 1 (K is lime's 100000, i.e. all).
    fn default() -> Self {
        Self {
            kernel_width: 0.25,
            selection: FeatureSelection::Auto,
            num_features: 100_000,
            regressor: Regressor::default(),
        }
    }
}

impl LimeBase {
    /// The paper's setting (Stock & Cisse 2018): σ 0.25, K features by the lasso path, then
    /// least squares on them.
    pub fn paper(num_features: usize) -> Self {
        Self {
            kernel_width: 0.25,
            selection: FeatureSelection::LassoPath,
            num_features,
            regressor: Regressor::LeastSquares,
        }
    }
}

/// Why an explanation could not be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectionError {
    /// Shapes disagree.
    #[error("LIME needs n × p data with n labels and n distances; got {data} values for p = {p}, {labels} labels, {distances} distances")]
    Shape {
        /// Length of the data.
        data: usize,
        /// Features per row.
        p: usize,
        /// Number of labels.
        labels: usize,
        /// Number of distances.
        distances: usize,
    },
    /// Every kernel weight is zero (or not finite).
    #[error("every sample has zero kernel weight; increase the kernel width")]
    ZeroWeights,
}

/// A fitted explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Intercept of the surrogate.
    pub intercept: f64,
    /// One weight per feature (0 for features not selected).
    pub weights: Vec<f64>,
    /// Selected features, ordered by decreasing |weight| (lime's `exp` order).
    pub ranked: Vec<usize>,
    /// Weighted R² of the surrogate on the samples.
    pub r2: f64,
    /// The surrogate's prediction at the instance (row 0).
    pub local_pred: f64,
}

/// sklearn's `pairwise_distances(data, data[0], metric="cosine")`: `1 − cos`, with zero rows
/// at distance 1 (`data`: `n × p` row-major).
pub fn cosine_distances_to_first(data: &[f64], p: usize) -> Vec<f64> {
    let first = &data[..p];
    let n0 = first.iter().map(|v| v * v).sum::<f64>().sqrt();
    data.chunks_exact(p)
        .map(|row| {
            let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            let sim = if n == 0.0 || n0 == 0.0 {
                0.0
            } else {
                row.iter().zip(first).map(|(a, b)| a * b).sum::<f64>() / (n * n0)
            };
            (1.0 - sim).clamp(0.0, 2.0)
        })
        .collect()
}

/// lime_image's kernel: `√exp(−d²/σ²)`.
pub fn kernel(d: f64, width: f64) -> f64 {
    (-(d * d) / (width * width)).exp().sqrt()
}

impl LimeBase {
    /// Explains `labels` (`n`, the model's output for one class) over `data` (`n × p` binary
    /// rows, row 0 the instance) at `distances` from row 0.
    pub fn explain(
        &self,
        data: &[f64],
        p: usize,
        labels: &[f64],
        distances: &[f64],
    ) -> Result<Explanation, SelectionError> {
        let n = labels.len();
        if p == 0 || data.len() != n * p || distances.len() != n || n == 0 {
            return Err(SelectionError::Shape { data: data.len(), p, labels: n, distances: distances.len() });
        }
        let weights: Vec<f64> = distances.iter().map(|&d| kernel(d, self.kernel_width)).collect();
        let total: f64 = weights.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return Err(SelectionError::ZeroWeights);
        }
        let gram = WeightedGram::new(data, p, labels, &weights);
        let used = self.select(data, p, labels, &weights, &gram);
        let fit = gram.fit(&used, self.regressor.alpha());
        let mut all = vec![0.0; p];
        for (&j, &c) in used.iter().zip(&fit.coef) {
            all[j] = c;
        }
        let mut ranked = used.clone();
        // Stable sort by decreasing |weight|, as Python's `sorted(..., reverse=True)`.
        ranked.sort_by(|&a, &b| all[b].abs().total_cmp(&all[a].abs()));
        let local_pred = fit.intercept + used.iter().zip(&fit.coef).map(|(&j, c)| c * data[j]).sum::<f64>();
        Ok(Explanation { intercept: fit.intercept, weights: all, ranked, r2: fit.r2, local_pred })
    }

    fn select(&self, data: &[f64], p: usize, labels: &[f64], w: &[f64], gram: &WeightedGram) -> Vec<usize> {
        let k = self.num_features.min(p);
        match self.selection {
            FeatureSelection::None => (0..p).collect(),
            FeatureSelection::Auto if self.num_features <= 6 => forward(gram, k),
            FeatureSelection::Forward => forward(gram, k),
            FeatureSelection::Auto | FeatureSelection::HighestWeights => {
                let fit = gram.fit(&(0..p).collect::<Vec<_>>(), 0.01);
                let mut order: Vec<usize> = (0..p).collect();
                // lime ranks coef · data[0]; row 0 is the instance.
                order.sort_by(|&a, &b| (fit.coef[b] * data[b]).abs().total_cmp(&(fit.coef[a] * data[a]).abs()));
                order.truncate(k);
                order
            }
            FeatureSelection::LassoPath => {
                let n = labels.len();
                let mut xw = vec![0.0; n * p];
                let mut yw = vec![0.0; n];
                for i in 0..n {
                    let s = w[i].sqrt();
                    for j in 0..p {
                        xw[i * p + j] = (data[i * p + j] - gram.x_mean[j]) * s;
                    }
                    yw[i] = (labels[i] - gram.y_mean) * s;
                }
                let path = lasso_path(&xw, p, &yw);
                // lime: from the end of the path backwards, the first point with ≤ K non-zeros
                // (never the all-zero start).
                let mut nonzero: Vec<usize> = (0..p).collect();
                for coefs in path.iter().skip(1).rev() {
                    nonzero = (0..p).filter(|&j| coefs[j] != 0.0).collect();
                    if nonzero.len() <= k {
                        break;
                    }
                }
                nonzero
            }
        }
    }
}

/// lime's forward selection: add, K times, the feature whose least-squares fit scores best.
fn forward(gram: &WeightedGram, k: usize) -> Vec<usize> {
    let mut used: Vec<usize> = Vec::with_capacity(k);
    for _ in 0..k {
        let mut best = (0, f64::NEG_INFINITY);
        for j in (0..gram.p).filter(|j| !used.contains(j)) {
            let mut cols = used.clone();
            cols.push(j);
            let r2 = gram.fit(&cols, 0.0).r2;
            if r2 > best.1 {
                best = (j, r2);
            }
        }
        used.push(best.0);
    }
    used
}
