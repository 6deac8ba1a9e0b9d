//! Across models: each run against the first on the labelled images both evaluated (paired
//! difference of top-1 accuracy with a paired-bootstrap interval, exact McNemar test), and the
//! standard against the rectified ranking when several runs have rectified errors.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::model::{ClassDifference, ComparisonRow, Interval, Ranking, Report};
use super::runs::labelled_rows;
use crate::error::ReportError;
use crate::stats::{mcnemar_exact, paired_bootstrap};

/// Resamples of the paired bootstrap, as for the rectified errors' intervals.
pub const RESAMPLES: usize = 2000;

/// Classes listed per comparison, by the size of their difference.
pub const CLASS_DIFFERENCES: usize = 10;

fn finite(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// Fills `report.comparisons` and `report.ranking` for the runs in `dirs` (in report order).
pub fn runs(dirs: &[PathBuf], report: &mut Report) -> Result<(), ReportError> {
    if dirs.len() >= 2 {
        let Some(first) = labelled_rows(&dirs[0].join("predictions.csv"))? else { return ranking(report) };
        let a: HashMap<&str, bool> = first.iter().map(|r| (r.file.as_str(), r.top1())).collect();
        let names: HashMap<i64, String> =
            report.classes.iter().filter(|c| c.run == 0).map(|c| (c.class, c.name.clone())).collect();
        for (j, dir) in dirs.iter().enumerate().skip(1) {
            let Some(other) = labelled_rows(&dir.join("predictions.csv"))? else { continue };
            let (mut xa, mut xb) = (Vec::new(), Vec::new());
            let mut per_class: BTreeMap<i64, (u64, u64, u64)> = BTreeMap::new();
            for row in &other {
                if let Some(&ra) = a.get(row.file.as_str()) {
                    xa.push(ra);
                    xb.push(row.top1());
                    let c = per_class.entry(row.label).or_default();
                    *c = (c.0 + 1, c.1 + u64::from(ra), c.2 + u64::from(row.top1()));
                }
            }
            let mut diffs: Vec<ClassDifference> = per_class
                .into_iter()
                .map(|(class, (n, ka, kb))| {
                    let (ta, tb) = (ka as f64 / n as f64, kb as f64 / n as f64);
                    ClassDifference {
                        a: 0,
                        b: j,
                        class,
                        name: names.get(&class).cloned().unwrap_or_else(|| class.to_string()),
                        n,
                        top1_a: ta,
                        top1_b: tb,
                        difference: tb - ta,
                    }
                })
                .filter(|d| d.difference != 0.0)
                .collect();
            diffs.sort_by(|x, y| y.difference.abs().total_cmp(&x.difference.abs()).then(x.class.cmp(&y.class)));
            report.class_differences.extend(diffs.into_iter().take(CLASS_DIFFERENCES));
            let n = xa.len();
            let mean = |x: &[bool]| (n > 0).then(|| x.iter().filter(|&&v| v).count() as f64 / n as f64);
            let only_a = xa.iter().zip(&xb).filter(|(&p, &q)| p && !q).count() as u64;
            let only_b = xa.iter().zip(&xb).filter(|(&p, &q)| !p && q).count() as u64;
            let [lo, hi] = paired_bootstrap(&xa, &xb, RESAMPLES, 0);
            let (ta, tb) = (mean(&xa), mean(&xb));
            report.comparisons.push(ComparisonRow {
                a: 0,
                b: j,
                n: n as u64,
                top1_a: ta,
                top1_b: tb,
                difference: ta.zip(tb).map(|(p, q)| q - p),
                ci: Interval { lo: finite(lo), hi: finite(hi) },
                only_a,
                only_b,
                p_mcnemar: mcnemar_exact(only_a, only_b),
            });
        }
    }
    ranking(report)
}

/// The standard and rectified top-1 orders of the runs that have both.
fn ranking(report: &mut Report) -> Result<(), ReportError> {
    let mut both: Vec<(String, f64, f64)> = Vec::new();
    for row in report.rectified.iter().filter(|r| r.metric == "top-1") {
        if let (Some(e), Some(r)) = (row.error, row.rectified_error) {
            if !both.iter().any(|(name, _, _)| name == &report.runs[row.run].name) {
                both.push((report.runs[row.run].name.clone(), e, r));
            }
        }
    }
    if both.len() >= 2 {
        let order = |key: fn(&(String, f64, f64)) -> f64| {
            let mut v = both.clone();
            v.sort_by(|x, y| key(x).total_cmp(&key(y)).then_with(|| x.0.cmp(&y.0)));
            v.into_iter().map(|x| x.0).collect::<Vec<_>>()
        };
        let (standard, rectified) = (order(|x| x.1), order(|x| x.2));
        let differs = standard != rectified;
        report.ranking = Some(Ranking { standard, rectified, differs });
    }
    Ok(())
}
