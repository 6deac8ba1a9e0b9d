//! MMD-critic (Kim, Khanna & Koyejo, "Examples are not Enough, Learn to Criticize! Criticism
//! for Interpretability", NeurIPS 2016), step for step as the authors' `mmd.py`:
//!
//! * prototypes: greedy maximisation of J_b(S) (eq. 3): at each step the row j ∉ S maximising
//!   2/n Σᵢ k(xᵢ, xⱼ) − (2 Σ_{s∈S} k(xₛ, xⱼ) + k(xⱼ, xⱼ)) / (|S| + 1);
//! * criticisms: greedy maximisation of the witness function
//!   |1/n Σᵢ k(xᵢ, xⱼ) − 1/|S| Σ_{s∈S} k(xₛ, xⱼ)| over rows that are not prototypes, plus, with
//!   the `logdet` regulariser, log|k(xⱼ, xⱼ) − k_Cⱼᵀ K_CC⁻¹ k_Cⱼ| for the criticisms C so far
//!   (−log|k(xⱼ, xⱼ)| for the first), which keeps criticisms diverse.
//!
//! Ties go to the lowest row, as numpy's `argmax` over sorted candidates does. Only column sums
//! and the rows of selected points are needed, so with [`Strategy::Blocked`] the n×n kernel is
//! never held (see [`crate::kernel`]).

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::kernel::{median_gamma, Gamma, Kernel, Strategy};
use crate::selection::{Counts, GroupPicks, Pick, Population, Selector};
use crate::CriticError;

/// The criticism regulariser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Regularizer {
    /// log-determinant diversity term (Kim et al.'s default).
    #[default]
    Logdet,
    /// The witness function alone.
    None,
}

/// Settings of MMD-critic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct MmdCritic {
    /// γ of the RBF kernel.
    pub gamma: Gamma,
    /// Criticism regulariser.
    pub regularizer: Regularizer,
    /// Block-diagonal kernel over the rows' labels (Kim et al.'s "local" kernel) instead of a
    /// global one.
    pub block_kernel: bool,
    /// Dense or blocked column sums.
    pub strategy: Strategy,
    /// Rows per block when blocked.
    pub block_rows: usize,
    /// Device of the kernel arithmetic.
    #[serde(skip)]
    pub device: Option<Device>,
}

/// What MMD-critic selected, with γ.
#[derive(Debug, Clone, PartialEq)]
pub struct MmdSelection {
    /// γ used.
    pub gamma: f64,
    /// Prototypes in selection order; score = the objective's gain.
    pub prototypes: Vec<Pick>,
    /// Criticisms in selection order; score = the regularised witness value.
    pub criticisms: Vec<Pick>,
}

/// First index of the maximum (NaN counts as −∞), as numpy's `argmax`.
fn argmax(scores: impl Iterator<Item = (usize, f64)>) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, s) in scores {
        let s = if s.is_nan() { f64::NEG_INFINITY } else { s };
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best
}

/// Greedy prototypes: `m` rows (fewer when there are fewer rows).
pub fn prototypes(kernel: &Kernel, colsum: &[f64], m: usize) -> Vec<Pick> {
    let n = kernel.n();
    let diag = kernel.diagonal();
    let first: Vec<f64> = colsum.iter().map(|c| 2.0 * c / n as f64).collect();
    let mut acc = vec![0.0; n];
    let mut taken = vec![false; n];
    let mut picks = Vec::with_capacity(m.min(n));
    for _ in 0..m.min(n) {
        let s = picks.len();
        let scores = (0..n).filter(|&j| !taken[j]).map(|j| {
            let v =
                if s == 0 { first[j] - diag[j].abs() } else { first[j] - (acc[j] * 2.0 + diag[j]) / (s + 1) as f64 };
            (j, v)
        });
        let Some((j, score)) = argmax(scores) else { break };
        taken[j] = true;
        picks.push(Pick { row: j, score });
        for (a, k) in acc.iter_mut().zip(kernel.row(j)) {
            *a += k;
        }
    }
    picks
}

/// Greedy criticisms: `c` rows that are not `protos` (which must be non-empty).
pub fn criticisms(kernel: &Kernel, colsum: &[f64], protos: &[usize], c: usize, reg: Regularizer) -> Vec<Pick> {
    let n = kernel.n();
    if protos.is_empty() {
        return Vec::new();
    }
    let diag = kernel.diagonal();
    let mut proto_sum = vec![0.0; n];
    for &p in protos {
        for (a, k) in proto_sum.iter_mut().zip(kernel.row(p)) {
            *a += k;
        }
    }
    let witness: Vec<f64> = (0..n).map(|j| (colsum[j] / n as f64 - proto_sum[j] / protos.len() as f64).abs()).collect();
    let mut taken = vec![false; n];
    protos.iter().for_each(|&p| taken[p] = true);
    let mut rows: Vec<Vec<f64>> = Vec::new(); // kernel rows of the criticisms so far
    let mut picks: Vec<Pick> = Vec::new();
    let mut inverse: Option<Vec<f64>> = None;
    while picks.len() < c {
        let scores = (0..n).filter(|&j| !taken[j]).map(|j| {
            let penalty = match (reg, &inverse) {
                (Regularizer::None, _) => 0.0,
                (Regularizer::Logdet, None) => -diag[j].abs().ln(),
                (Regularizer::Logdet, Some(inv)) => {
                    let t: Vec<f64> = rows.iter().map(|r| r[j]).collect();
                    let q = quadratic_form(inv, &t);
                    (diag[j] - q).abs().ln()
                }
            };
            (j, witness[j] + penalty)
        });
        let Some((j, score)) = argmax(scores) else { break };
        taken[j] = true;
        picks.push(Pick { row: j, score });
        rows.push(kernel.row(j));
        if reg == Regularizer::Logdet {
            let idx: Vec<usize> = picks.iter().map(|p| p.row).collect();
            // K_CC: entry (a, b) = k(x_{C_a}, x_{C_b}) from the stored kernel rows.
            let kk: Vec<f64> = rows.iter().flat_map(|r| idx.iter().map(|&b| r[b])).collect();
            inverse = Some(invert(&kk, idx.len()));
        }
    }
    picks
}

/// Σ_r (A t)_r t_r for a row-major `k×k` matrix A.
fn quadratic_form(a: &[f64], t: &[f64]) -> f64 {
    let k = t.len();
    (0..k).map(|r| (0..k).map(|s| a[r * k + s] * t[s]).sum::<f64>() * t[r]).sum()
}

/// Inverse of a small row-major `k×k` matrix (LU with partial pivoting, LAPACK's `getri` via
/// libtorch, as numpy's `inv`).
fn invert(m: &[f64], k: usize) -> Vec<f64> {
    let t = Tensor::from_slice(m).view([k as i64, k as i64]);
    let inv = Tensor::linalg_inv(&t);
    Vec::<f64>::try_from(inv.to_device(Device::Cpu).contiguous().view([-1])).expect("float64")
}

impl MmdCritic {
    /// Runs MMD-critic on rows `x` (`[n, d]`; `blocks`: one label per row when `block_kernel`).
    pub fn run(&self, x: Tensor, blocks: Option<Vec<u32>>, counts: Counts) -> Result<MmdSelection, CriticError> {
        let x = x.to_kind(Kind::Double).to_device(self.device.unwrap_or(Device::Cpu));
        let gamma = match self.gamma {
            Gamma::Given(g) => g,
            Gamma::Median { exact_rows, seed } => median_gamma(&x, exact_rows, seed)?,
        };
        let blocks = if self.block_kernel { blocks } else { None };
        let kernel = Kernel::new(x, gamma, blocks, self.strategy)?;
        let colsum = kernel.column_sums(self.block_rows.max(1));
        let protos = prototypes(&kernel, &colsum, counts.prototypes);
        let rows: Vec<usize> = protos.iter().map(|p| p.row).collect();
        let crits = criticisms(&kernel, &colsum, &rows, counts.criticisms, self.regularizer);
        Ok(MmdSelection { gamma, prototypes: protos, criticisms: crits })
    }
}

impl Selector for MmdCritic {
    fn method(&self) -> &'static str {
        "mmd"
    }

    fn params(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain settings")
    }

    fn select_group(&self, pop: &Population, members: &[usize], counts: Counts) -> Result<GroupPicks, CriticError> {
        let (data, d) = pop.features.as_ref().ok_or_else(|| CriticError::Missing("features".into()))?;
        let device = self.device.unwrap_or(Device::Cpu);
        let whole = members.len() * d == data.len() && members.iter().enumerate().all(|(i, &m)| i == m);
        let x = if whole {
            crate::kernel::features_tensor(data, members.len(), *d, device)?
        } else {
            let rows: Vec<f32> = members.iter().flat_map(|&m| data[m * d..(m + 1) * d].iter().copied()).collect();
            crate::kernel::features_tensor(&rows, members.len(), *d, device)?
        };
        let blocks = members.iter().map(|&m| pop.items[m].label.map_or(u32::MAX, |l| l as u32)).collect();
        let sel = self.run(x, Some(blocks), counts)?;
        let back = |p: &Pick| Pick { row: members[p.row], score: p.score };
        Ok(GroupPicks {
            prototypes: sel.prototypes.iter().map(back).collect(),
            criticisms: sel.criticisms.iter().map(back).collect(),
            note: Some(format!("gamma {}", sel.gamma)),
        })
    }
}
