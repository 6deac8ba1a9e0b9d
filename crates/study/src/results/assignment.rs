//! `assignment` (Table 3): per condition, success rate mean ± std over raters.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Item, Vote};

use super::schema::{AssignmentResult, DesignResults, ItemCounts};

/// The results of one assignment condition.
pub(crate) fn assignment(group: &[&Item], by_item: &HashMap<&str, Vec<&Vote>>, items: ItemCounts) -> DesignResults {
    let mut per_rater: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for item in group {
        for v in by_item.get(item.key.as_str()).into_iter().flatten() {
            let e = per_rater.entry(v.rater.as_str()).or_default();
            e.0 += usize::from(item.truth.as_ref() == Some(&v.answer));
            e.1 += 1;
        }
    }
    let rates: Vec<f64> = per_rater.values().map(|&(ok, n)| ok as f64 / n as f64).collect();
    let answers: usize = per_rater.values().map(|p| p.1).sum();
    let (mean, std) = if rates.is_empty() { (f64::NAN, f64::NAN) } else { mean_std(&rates) };
    let result = AssignmentResult { success_mean: mean, success_std: std, raters: rates.len(), answers };
    DesignResults::Assignment { result, items }
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}
