//! ImageNet-X error ratios (Idrissi et al. 2023): for each factor (pose, background, color …),
//! the top-1 error on the annotated images with that factor over the top-1 error on all
//! annotated images. Above 1, images with the factor are mistaken more often than the average.

use std::collections::BTreeSet;
use std::path::Path;

use rectify_data::attributes::{imagenet_x, Attributes};

use super::model::{FactorRow, Report};
use super::runs::labelled_rows;
use crate::error::ReportError;

/// Reads ImageNet-X's annotations.
pub fn read(path: &Path) -> Result<Attributes, ReportError> {
    imagenet_x(path).map_err(|e| ReportError::Format { path: path.to_path_buf(), what: e.to_string() })
}

/// Adds run `run`'s error ratios to `report` (nothing without labelled predictions or without
/// annotated images among them).
pub fn add(run: usize, dir: &Path, attrs: &Attributes, report: &mut Report) -> Result<(), ReportError> {
    let Some(rows) = labelled_rows(&dir.join("predictions.csv"))? else { return Ok(()) };
    let base = |f: &str| Path::new(f).file_name().and_then(|n| n.to_str()).unwrap_or(f).to_string();
    let annotated: Vec<(bool, &BTreeSet<String>)> = rows
        .iter()
        .filter_map(|r| {
            let b = base(&r.file);
            attrs.annotated.contains_key(&b).then(|| (!r.top1(), attrs.has.get(&b).unwrap_or(&EMPTY)))
        })
        .collect();
    if annotated.is_empty() {
        return Ok(());
    }
    let n = annotated.len() as f64;
    let overall = annotated.iter().filter(|(wrong, _)| *wrong).count() as f64 / n;
    // Every factor the run's images were annotated for (those they have are among them).
    let all: BTreeSet<&String> =
        rows.iter().filter_map(|r| attrs.annotated.get(&base(&r.file))).flat_map(|s| s.iter()).collect();
    for factor in all {
        let with: Vec<bool> = annotated.iter().filter(|(_, has)| has.contains(factor)).map(|(w, _)| *w).collect();
        let k = with.len();
        let error = (k > 0).then(|| with.iter().filter(|&&w| w).count() as f64 / k as f64);
        report.factors.push(FactorRow {
            run,
            factor: factor.clone(),
            images: k as u64,
            share: Some(k as f64 / n),
            error,
            ratio: error.filter(|_| overall > 0.0).map(|e| e / overall),
        });
    }
    Ok(())
}

static EMPTY: BTreeSet<String> = BTreeSet::new();
