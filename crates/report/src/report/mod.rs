//! The audit report (issue #7): [`build`] reads run directories (one per model) into a
//! [`Report`] (`report.json`), [`render`] turns it into one self-contained HTML page, and
//! [`write()`] stores both.
//!
//! Sections: provenance; Table 1 analog (top-1 / top-5 / ReaL / rectified errors with
//! intervals, and each run against the first: [`compare_runs`]); calibration; per class and
//! confusions (`classes.rs`); positive-answer histograms; accuracy per attack step; Table 2 analog;
//! explanations and explanation paths; prototype / criticism galleries; Table 3 analog; bias
//! tables. A section without data says "not run yet" and gives the command that makes it.
//! The report reads the files the stages leave in a run directory and never needs a model.

mod base64;
mod classes;
mod compare;
mod factors;
mod figures;
mod gallery;
pub mod html;
pub mod missing;
pub mod model;
mod render;
mod runs;
mod study;
mod svg;
mod thumbs;

use std::path::{Path, PathBuf};

pub use crate::error::ReportError;
pub use compare::runs as compare_runs;
pub use model::*;
pub use render::render;

/// How much of each run the report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Explained images shown per explain run (default 4).
    pub max_examples: usize,
    /// Groups shown per selector (default 12).
    pub max_groups: usize,
    /// Thumbnails of mistakes embedded per run (default 600, about 3 kB each).
    pub thumbnails: usize,
    /// ImageNet-X's factor annotations (`imagenet_x_val_multi_factor.jsonl.gz`): error ratios
    /// per factor.
    pub imagenet_x: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_examples: 4, max_groups: 12, thumbnails: 600, imagenet_x: None }
    }
}

/// The report of `run_dirs` with default [`Options`]. A directory that is not a run but holds
/// runs one level below stands for those runs.
pub fn build(run_dirs: &[PathBuf]) -> Result<Report, ReportError> {
    build_with(run_dirs, &Options::default())
}

/// The report of `run_dirs`.
pub fn build_with(run_dirs: &[PathBuf], opts: &Options) -> Result<Report, ReportError> {
    let dirs = runs::discover(run_dirs)?;
    let mut report = Report { generator: format!("rectify-report {}", env!("CARGO_PKG_VERSION")), ..Report::default() };
    let factors = opts.imagenet_x.as_deref().map(factors::read).transpose()?;
    for (i, dir) in dirs.iter().enumerate() {
        runs::read_run(i, dir, opts, &mut report)?;
        if let Some(f) = &factors {
            factors::add(i, dir, f, &mut report)?;
        }
    }
    compare::runs(&dirs, &mut report)?;
    Ok(report)
}

/// Writes `out_dir/report.json` and `out_dir/report.html` (each atomically) and returns their
/// paths.
pub fn write(report: &Report, out_dir: &Path) -> Result<(PathBuf, PathBuf), ReportError> {
    let json_path = out_dir.join("report.json");
    let json =
        serde_json::to_vec_pretty(report).map_err(|source| ReportError::Json { path: json_path.clone(), source })?;
    crate::files::write_atomic(&json_path, &json)?;
    let html_path = out_dir.join("report.html");
    crate::files::write_atomic(&html_path, render(report).as_bytes())?;
    Ok((json_path, html_path))
}
