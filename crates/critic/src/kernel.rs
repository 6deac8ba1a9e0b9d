//! The RBF kernel k(x, y) = exp(−γ‖x − y‖²) of MMD-critic (Kim, Khanna & Koyejo, "Examples are
//! not Enough, Learn to Criticize!", NeurIPS 2016), over feature rows, optionally block-diagonal
//! (Kim et al.'s "local" kernel: k = 0 between rows of different groups).
//!
//! Greedy selection only needs the kernel's column sums, its diagonal and the rows of the points
//! already selected, so [`Kernel`] offers exactly those. The column sums come either from the
//! materialised n×n matrix ([`Strategy::Dense`]) or from blocks of rows, never holding more than
//! `block × n` entries ([`Strategy::Blocked`]); both use the same distance formula
//! ‖x‖² + ‖y‖² − 2x·y in float64, as Kim et al.'s code does through scikit-learn.

use rectify_data::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::CriticError;

/// How γ is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gamma {
    /// A given γ > 0.
    Given(f64),
    /// 1 / the median squared distance between distinct rows (the median heuristic), exact up to
    /// `exact_rows` rows; above that, over the pairs of `exact_rows` rows drawn with the seed.
    Median {
        /// Rows up to which every pair counts.
        exact_rows: usize,
        /// Seed of the row sample beyond `exact_rows`.
        seed: u64,
    },
}

impl Default for Gamma {
    fn default() -> Self {
        Gamma::Median { exact_rows: 4096, seed: 0 }
    }
}

/// How column sums are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Materialise the n×n matrix (Kim et al.'s code); memory 8·n² bytes.
    Dense,
    /// Blocks of `rows` rows against all n: memory 8·rows·n bytes, twice less arithmetic by symmetry.
    Blocked {
        /// Rows per block.
        rows: usize,
    },
    /// Dense up to 4096 rows, blocked of 256 rows above.
    #[default]
    Auto,
}

/// Feature rows on a device, with their squared norms and γ.
pub struct Kernel {
    x: Tensor,
    sq: Tensor,
    gamma: f64,
    /// Block labels (one per row) for the block-diagonal kernel.
    blocks: Option<Vec<u32>>,
    dense: Option<Tensor>,
}

/// Rows `[n, d]` as float64 on `device`.
pub fn features_tensor(data: &[f32], n: usize, d: usize, device: Device) -> Result<Tensor, CriticError> {
    if n == 0 || d == 0 || data.len() != n * d {
        return Err(CriticError::Shape(format!("{} values for {n} rows of {d} features", data.len())));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(CriticError::Shape(format!("feature {} of row {} is not finite", i % d, i / d)));
    }
    // Filled in chunks of rows, so no float32 copy of the whole matrix is ever held beside it.
    let x = Tensor::zeros([n as i64, d as i64], (Kind::Double, device));
    let chunk = (CHUNK_VALUES / d).max(1);
    for start in (0..n).step_by(chunk) {
        let len = chunk.min(n - start);
        let part = Tensor::from_slice(&data[start * d..(start + len) * d]).view([len as i64, d as i64]);
        x.narrow(0, start as i64, len as i64).copy_(&part.to_kind(Kind::Double).to_device(device));
    }
    Ok(x)
}

/// Values per chunk when a whole-matrix operation would need a temporary of the matrix's size.
const CHUNK_VALUES: usize = 1 << 22;

/// ‖xᵢ‖² per row, `[n]`, computed in chunks of rows (each row's sum is the same either way).
fn squared_norms(x: &Tensor) -> Tensor {
    let (n, d) = (x.size()[0], x.size()[1].max(1));
    let chunk = (CHUNK_VALUES as i64 / d).max(1);
    let parts: Vec<Tensor> = (0..n)
        .step_by(chunk as usize)
        .map(|start| {
            let rows = x.narrow(0, start, chunk.min(n - start));
            (&rows * &rows).sum_dim_intlist(1, false, Kind::Double)
        })
        .collect();
    Tensor::cat(&parts, 0)
}

/// Squared distances `[a, b]` between rows of `x` (`[a, d]`, norms `sq_x`) and `y`, clamped at 0.
fn squared_distances(x: &Tensor, sq_x: &Tensor, y: &Tensor, sq_y: &Tensor) -> Tensor {
    let mut g = x.matmul(&y.tr());
    let _ = g.g_mul_scalar_(-2.0);
    let _ = g.g_add_(&sq_x.unsqueeze(1));
    let _ = g.g_add_(&sq_y.unsqueeze(0));
    let _ = g.clamp_min_(0.0);
    g
}

/// The median heuristic γ = 1 / median of ‖xᵢ − xⱼ‖² over i < j (numpy's median: the mean of the
/// two middle values when their count is even).
pub fn median_gamma(x: &Tensor, exact_rows: usize, seed: u64) -> Result<f64, CriticError> {
    let n = x.size()[0] as usize;
    if n < 2 {
        return Err(CriticError::Shape(format!("the median heuristic needs at least 2 rows, got {n}")));
    }
    let x = if n > exact_rows.max(2) {
        let mut rng = SplitMix64::new(seed, 7);
        let mut idx: Vec<i64> = (0..n as i64).collect();
        for i in 0..exact_rows {
            let j = i + rng.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(exact_rows);
        idx.sort_unstable();
        x.index_select(0, &Tensor::from_slice(&idx).to_device(x.device()))
    } else {
        x.shallow_clone()
    };
    let m = x.size()[0];
    let sq = squared_norms(&x);
    let d = squared_distances(&x, &sq, &x, &sq);
    let upper = d.masked_select(&Tensor::ones([m, m], (Kind::Bool, x.device())).triu(1));
    let mut v = Vec::<f64>::try_from(upper.to_device(Device::Cpu)).expect("float64 distances");
    let k = v.len();
    let (_, &mut hi, _) = v.select_nth_unstable_by(k / 2, f64::total_cmp);
    let median = if k % 2 == 1 {
        hi
    } else {
        let lo = v[..k / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    };
    if median <= 0.0 {
        return Err(CriticError::Degenerate("the median squared distance is 0 (most rows are identical)".into()));
    }
    Ok(1.0 / median)
}

impl Kernel {
    /// The kernel over rows `x` (`[n, d]`, float64); `blocks` makes it block-diagonal.
    pub fn new(x: Tensor, gamma: f64, blocks: Option<Vec<u32>>, strategy: Strategy) -> Result<Self, CriticError> {
        let n = x.size()[0] as usize;
        if !(gamma.is_finite() && gamma > 0.0) {
            return Err(CriticError::Degenerate(format!("gamma must be positive and finite, got {gamma}")));
        }
        if let Some(b) = &blocks {
            if b.len() != n {
                return Err(CriticError::Shape(format!("{} block labels for {n} rows", b.len())));
            }
        }
        let x = x.to_kind(Kind::Double);
        let sq = squared_norms(&x);
        let mut k = Self { x, sq, gamma, blocks, dense: None };
        let dense = match strategy {
            Strategy::Dense => true,
            Strategy::Blocked { .. } => false,
            Strategy::Auto => n <= 4096,
        };
        if dense {
            k.dense = Some(k.block(0, n));
        }
        Ok(k)
    }

    /// Rows.
    pub fn n(&self) -> usize {
        self.x.size()[0] as usize
    }

    /// γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// Kernel rows `start..start+len` against every row: `[len, n]`.
    fn block(&self, start: usize, len: usize) -> Tensor {
        let xs = self.x.narrow(0, start as i64, len as i64);
        let sqs = self.sq.narrow(0, start as i64, len as i64);
        let mut k = squared_distances(&xs, &sqs, &self.x, &self.sq);
        // A row's distance to itself is 0 exactly (scikit-learn sets it so, too).
        let _ = k.narrow(1, start as i64, len as i64).diagonal(0, 0, 1).fill_(0.0);
        let _ = k.g_mul_scalar_(-self.gamma);
        let _ = k.exp_();
        self.mask(k, &(start..start + len).collect::<Vec<_>>())
    }

    /// Zeroes the entries of `rows × all` whose blocks differ.
    fn mask(&self, k: Tensor, rows: &[usize]) -> Tensor {
        let Some(b) = &self.blocks else { return k };
        let all = Tensor::from_slice(&b.iter().map(|&v| i64::from(v)).collect::<Vec<_>>()).to_device(k.device());
        let mine = Tensor::from_slice(&rows.iter().map(|&r| i64::from(b[r])).collect::<Vec<_>>()).to_device(k.device());
        k * mine.unsqueeze(1).eq_tensor(&all.unsqueeze(0)).to_kind(Kind::Double)
    }

    /// Σᵢ k(xᵢ, xⱼ) for every j, `block_rows` rows at a time when not dense.
    pub fn column_sums(&self, block_rows: usize) -> Vec<f64> {
        if let Some(k) = &self.dense {
            return to_vec(&k.sum_dim_intlist(0, false, Kind::Double));
        }
        let n = self.n();
        let b = block_rows.max(1);
        let sums = Tensor::zeros([n as i64], (Kind::Double, self.x.device()));
        let mut start = 0;
        while start < n {
            let len = b.min(n - start);
            // Rows start..start+len against columns start..n; by symmetry, the part right of the
            // diagonal block also gives the column sums of the later rows.
            let xs = self.x.narrow(0, start as i64, len as i64);
            let sqs = self.sq.narrow(0, start as i64, len as i64);
            let rest = (n - start) as i64;
            let mut k = squared_distances(
                &xs,
                &sqs,
                &self.x.narrow(0, start as i64, rest),
                &self.sq.narrow(0, start as i64, rest),
            );
            let _ = k.narrow(1, 0, len as i64).diagonal(0, 0, 1).fill_(0.0);
            let _ = k.g_mul_scalar_(-self.gamma);
            let _ = k.exp_();
            if let Some(bl) = &self.blocks {
                let cols: Vec<i64> = bl[start..].iter().map(|&v| i64::from(v)).collect();
                let rows: Vec<i64> = bl[start..start + len].iter().map(|&v| i64::from(v)).collect();
                let same = Tensor::from_slice(&rows)
                    .to_device(k.device())
                    .unsqueeze(1)
                    .eq_tensor(&Tensor::from_slice(&cols).to_device(k.device()).unsqueeze(0));
                k *= same.to_kind(Kind::Double);
            }
            let mut own = sums.narrow(0, start as i64, len as i64);
            let _ = own.g_add_(&k.sum_dim_intlist(1, false, Kind::Double));
            if (len as i64) < rest {
                let mut later = sums.narrow(0, (start + len) as i64, rest - len as i64);
                let right = k.narrow(1, len as i64, rest - len as i64);
                let _ = later.g_add_(&right.sum_dim_intlist(0, false, Kind::Double));
            }
            start += len;
        }
        to_vec(&sums)
    }

    /// k(xᵢ, xᵢ) = 1 for every i (kept explicit, as in Kim et al.'s formulas).
    pub fn diagonal(&self) -> Vec<f64> {
        vec![1.0; self.n()]
    }

    /// The kernel row of row `i`: k(xᵢ, xⱼ) for every j.
    pub fn row(&self, i: usize) -> Vec<f64> {
        match &self.dense {
            Some(k) => to_vec(&k.get(i as i64)),
            None => to_vec(&self.block(i, 1).squeeze_dim(0)),
        }
    }

    /// The materialised matrix, when dense.
    pub fn dense(&self) -> Option<&Tensor> {
        self.dense.as_ref()
    }
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_device(Device::Cpu).contiguous()).expect("float64 tensor")
}
