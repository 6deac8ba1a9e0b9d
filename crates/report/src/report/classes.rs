//! Per class and confusions (issue #17): from `predictions.csv`, the `relevance-top1` questions of
//! `study/results.json`, the first attack run's `trajectory.csv` (`ifgsm` when there is one) and
//! the explanations' JSON files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rectify_store::artifacts::Explanation;
use rectify_study::results::{DesignResults, ResultsFile};

use super::model::{ClassRow, ConfusionRow, Report};
use super::runs::{labelled_rows, Labelled};
use crate::error::ReportError;
use crate::files::{files_ending, read_json, read_json_if, subdirs};

/// Confusion pairs listed per run.
pub const CONFUSIONS: usize = 20;

fn name(class: i64, imagenet: bool) -> String {
    let classes = rectify_data::imagenet::classes();
    match usize::try_from(class).ok().filter(|_| imagenet).and_then(|c| classes.get(c)) {
        Some(c) => c.name.to_string(),
        None => class.to_string(),
    }
}

/// Steps to flip per file of the first attack run (`ifgsm` first), `None` for never.
fn steps_to_flip(dir: &Path) -> Result<HashMap<String, Option<u64>>, ReportError> {
    let mut attacks = subdirs(&dir.join("attack"))?;
    attacks.sort_by_key(|a| (a.file_name().is_none_or(|n| n != "ifgsm"), a.clone()));
    let Some(path) = attacks.iter().map(|a| a.join("trajectory.csv")).find(|p| p.is_file()) else {
        return Ok(HashMap::new());
    };
    let bad = |what: String| ReportError::Format { path: path.clone(), what };
    let mut reader = csv::Reader::from_path(&path).map_err(|e| bad(e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |n: &str| headers.iter().position(|h| h == n).ok_or_else(|| bad(format!("no column {n:?}")));
    let (file, flip) = (col("file")?, col("steps_to_flip")?);
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let s = record.get(flip).unwrap_or("").trim();
        let steps = if s.is_empty() { None } else { Some(s.parse().map_err(|_| bad(format!("steps_to_flip {s:?}")))?) };
        out.insert(record.get(file).unwrap_or("").to_string(), steps);
    }
    Ok(out)
}

/// Areas under the explanation paths per true label, over every explain run.
fn auc_by_label(dir: &Path) -> Result<HashMap<i64, Vec<f64>>, ReportError> {
    let mut out: HashMap<i64, Vec<f64>> = HashMap::new();
    for e in subdirs(&dir.join("explain"))? {
        for f in files_ending(&e, ".json")? {
            if f.file_name().is_some_and(|n| n == "summary.json") {
                continue;
            }
            let x: Explanation = read_json(&f)?;
            if let (Some(l), false) = (x.true_label, x.auc_path.is_nan()) {
                out.entry(l).or_default().push(x.auc_path);
            }
        }
    }
    Ok(out)
}

/// Outcome of each top-1 mistake asked about: file → (predicted class, decided, relevant).
type Outcomes = HashMap<String, (i64, bool, bool)>;

/// The [`Outcomes`] of the run's `relevance-top1` design, `None` without one.
fn outcomes(dir: &Path) -> Result<Option<Outcomes>, ReportError> {
    let Some(results) = read_json_if::<ResultsFile>(&dir.join("study/results.json"))? else { return Ok(None) };
    let Some(questions) = results.designs.iter().find_map(|(key, d)| match d {
        DesignResults::Top1 { result, .. } if key.starts_with("relevance-top1") => Some(&result.questions),
        _ => None,
    }) else {
        return Ok(None);
    };
    Ok(Some(
        questions
            .iter()
            .map(|q| {
                (
                    q.file.clone(),
                    (q.class, matches!(q.outcome.as_str(), "rectified" | "error"), q.outcome == "rectified"),
                )
            })
            .collect(),
    ))
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    (n > 0).then(|| if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}

/// Adds run `run`'s per-class rows and confusions to `report`.
pub fn read(run: usize, dir: &Path, imagenet: bool, report: &mut Report) -> Result<(), ReportError> {
    let Some(rows) = labelled_rows(&dir.join("predictions.csv"))? else { return Ok(()) };
    let flips = steps_to_flip(dir)?;
    let aucs = auc_by_label(dir)?;
    let rated = outcomes(dir)?;
    let mut by_class: BTreeMap<i64, Vec<&Labelled>> = BTreeMap::new();
    for r in &rows {
        by_class.entry(r.label).or_default().push(r);
    }
    for (&class, imgs) in &by_class {
        let n = imgs.len();
        let rate = |k: usize| Some(k as f64 / n as f64);
        let wrong = imgs.iter().filter(|r| !r.top1()).count();
        let wrong5 = imgs.iter().filter(|r| !r.top5.contains(&r.label)).count();
        let rectified_error = rated.as_ref().map(|o| {
            let rescued = imgs
                .iter()
                .filter(|r| !r.top1() && o.get(&r.file).is_some_and(|&(c, _, yes)| yes && Some(&c) == r.top5.first()))
                .count();
            (wrong - rescued) as f64 / n as f64
        });
        let flipped: Vec<f64> =
            imgs.iter().filter_map(|r| flips.get(&r.file).copied().flatten()).map(|s| s as f64).collect();
        let auc = aucs.get(&class).filter(|v| !v.is_empty()).map(|v| v.iter().sum::<f64>() / v.len() as f64);
        report.classes.push(ClassRow {
            run,
            class,
            name: name(class, imagenet),
            images: n as u64,
            top1_error: rate(wrong),
            top5_error: rate(wrong5),
            rectified_error,
            steps_to_flip_median: median(flipped),
            auc_path_mean: auc,
        });
    }
    let mut pairs: BTreeMap<(i64, i64), Vec<&Labelled>> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.top1()) {
        pairs.entry((r.label, r.top5[0])).or_default().push(r);
    }
    let mut pairs: Vec<((i64, i64), Vec<&Labelled>)> = pairs.into_iter().collect();
    pairs.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    for ((label, class), imgs) in pairs.into_iter().take(CONFUSIONS) {
        let decided: Vec<bool> = imgs
            .iter()
            .filter_map(|r| {
                rated.as_ref()?.get(&r.file).filter(|&&(c, decided, _)| decided && c == class).map(|&(_, _, yes)| yes)
            })
            .collect();
        let accepted = decided.iter().filter(|&&y| y).count();
        report.confusions.push(ConfusionRow {
            run,
            label,
            label_name: name(label, imagenet),
            class,
            class_name: name(class, imagenet),
            count: imgs.len() as u64,
            rated: decided.len() as u64,
            accepted: accepted as u64,
            acceptance: (!decided.is_empty()).then(|| accepted as f64 / decided.len() as f64),
            files: imgs.iter().take(3).map(|r| r.file.clone()).collect(),
        });
    }
    Ok(())
}
