//! Reading one run directory: the files each stage leaves there, into the report's rows.
//!
//! | section | reads |
//! |---|---|
//! | provenance, Table 1 | `summary.json` (eval) |
//! | calibration | `predictions.csv` (eval) |
//! | per class, confusions | `predictions.csv`, `study/results.json`'s questions, `attack/<name>/trajectory.csv`, explanations ([`super::classes`]) |
//! | Table 1–3, histograms | `study/results.json` ([`super::study`]) |
//! | attacks | `attack/<name>/summary.json` |
//! | explanations | `explain/<name>/summary.json`, `<file>.json`, `<file>.attention.png`, `<file>.overlay.png` |
//! | galleries | `criticize/<name>/selection.json`, `galleries/<group>.png` |
//! | bias | `bias/*.json` ([`BiasFile`]) |
//!
//! A stage that has not run leaves its section "not run yet" ([`super::missing`]); a file that
//! exists but cannot be parsed is an error naming it.

use std::path::{Path, PathBuf};

use rectify_store::artifacts::{layout, AttackSummary, EvalSummary, ExplainSummary, Explanation, SelectionFile};
use rectify_store::Provenance;

use super::missing::missing;
use super::model::{
    AttackCurve, BiasTable, CalibrationRow, EvalProvenance, ExplainExample, ExplainSet, Gallery, GalleryGroup, Image,
    Report, RunInfo, Section, StageCommand, Table1Row,
};
use super::Options;
use crate::bias::BiasFile;
use crate::error::ReportError;
use crate::files::{files_ending, read_json, read_json_if, read_or_empty, subdirs};

/// Whether `dir` is a run directory.
pub fn is_run(dir: &Path) -> bool {
    dir.join("summary.json").is_file() || dir.join("rectify.db").is_file()
}

/// The run directories: each given directory that is a run, else its subdirectories that are.
pub fn discover(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, ReportError> {
    if dirs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let mut out = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            return Err(ReportError::NotARun(dir.clone()));
        }
        if is_run(dir) {
            out.push(dir.clone());
            continue;
        }
        let inner: Vec<PathBuf> = subdirs(dir)?.into_iter().filter(|d| is_run(d)).collect();
        if inner.is_empty() {
            return Err(ReportError::NotARun(dir.clone()));
        }
        out.extend(inner);
    }
    Ok(out)
}

fn name_of(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).display().to_string()
}

/// A PNG of the run for the page. A run directory is untrusted: a file that is a link out of the
/// run, or whose bytes are not a PNG, is left out (shown as missing), so the page can never embed
/// `/etc/shadow` behind `explain/x.attention.png`.
fn image(dir: &Path, path: PathBuf) -> Result<Image, ReportError> {
    let file = rel(dir, &path);
    let inside = path.canonicalize().ok().zip(dir.canonicalize().ok()).is_some_and(|(p, d)| p.starts_with(d));
    let png = if inside { read_or_empty(&path)? } else { Vec::new() };
    let png = if png.starts_with(b"\x89PNG\r\n\x1a\n") { png } else { Vec::new() };
    Ok(Image { file, png })
}

/// NaN (JSON's `null`) as `None`.
fn finite(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

fn stage(stage: &str, name: String, p: &Provenance) -> StageCommand {
    StageCommand { stage: stage.into(), name, command: p.command.clone(), version: p.version.clone() }
}

/// Reads run `run` (directory `dir`) into `report`.
pub fn read_run(run: usize, dir: &Path, opts: &Options, report: &mut Report) -> Result<(), ReportError> {
    let shown = dir.display().to_string();
    let mut info = RunInfo { name: name_of(dir), dir: shown.clone(), ..RunInfo::default() };

    let mut imagenet = true;
    let mut images = None;
    if let Some(s) = read_json_if::<EvalSummary>(&dir.join("summary.json"))? {
        let p = &s.provenance;
        imagenet = p.params["num_classes"].as_u64().is_none_or(|n| n == 1000);
        images = p.params["images"].as_str().map(PathBuf::from);
        info.provenance = Some(EvalProvenance {
            arch: p.model.arch.clone(),
            weights: p.model.weights.clone(),
            weights_sha256: p.model.weights_sha256.clone(),
            preprocessing: p.preprocessing.clone(),
            device: p.device.clone(),
            version: p.version.clone(),
            command: p.command.clone(),
        });
        info.stages.push(stage("eval", String::new(), p));
        report.table1.push(Table1Row {
            run,
            arch: p.model.arch.clone(),
            evaluated: s.evaluated as u64,
            labeled: s.labeled as u64,
            top1: s.top1,
            top5: s.top5,
            real_n: s.real_n.map(|n| n as u64),
            real_top1: s.real_top1,
            real_top5: s.real_top5,
        });
    } else {
        info.missing.push(missing(Section::Provenance, &shown));
    }

    if let Some(row) = calibration(run, &dir.join("predictions.csv"))? {
        report.calibration.push(row);
    }
    super::classes::read(run, dir, imagenet, images, opts.thumbnails, report)?;

    let attacks = subdirs(&dir.join("attack"))?;
    for a in &attacks {
        let Some(s) = read_json_if::<AttackSummary>(&a.join("summary.json"))? else { continue };
        info.stages.push(stage("attack", name_of(a), &s.provenance));
        report.attacks.push(AttackCurve {
            run,
            name: name_of(a),
            n: s.n as u64,
            flipped: Some(s.flipped as u64),
            quantized_accuracy: s.quantized_accuracy,
            accuracy_per_step: s.accuracy_per_step.into_iter().map(finite).collect(),
        });
    }
    if !report.attacks.iter().any(|a| a.run == run) {
        info.missing.push(missing(Section::Attacks, &shown));
    }

    for e in subdirs(&dir.join("explain"))? {
        if let Some(set) = read_explain(run, dir, &e, opts, &mut info)? {
            report.explanations.push(set);
        }
    }
    if !report.explanations.iter().any(|e| e.run == run) {
        info.missing.push(missing(Section::Explanations, &shown));
    }

    for c in subdirs(&dir.join("criticize"))? {
        let Some(sel) = read_json_if::<SelectionFile>(&c.join("selection.json"))? else { continue };
        info.stages.push(stage("criticize", name_of(&c), &sel.provenance));
        let total = sel.groups.len() as u64;
        let mut groups = Vec::new();
        for g in sel.groups.into_iter().filter(|g| !g.prototype_files.is_empty() || !g.criticism_files.is_empty()) {
            if groups.len() == opts.max_groups {
                break;
            }
            let png = layout::gallery_png(&c, &g.group);
            groups.push(GalleryGroup {
                group: g.group,
                size: g.size as u64,
                prototypes: g.prototype_files.len() as u64,
                criticisms: g.criticism_files.len() as u64,
                prototype_files: g.prototype_files,
                criticism_files: g.criticism_files,
                image: image(dir, png)?,
            });
        }
        let more = total - groups.len() as u64;
        report.galleries.push(Gallery {
            run,
            name: name_of(&c),
            method: sel.method,
            groups_total: total,
            groups,
            more,
        });
    }
    if !report.galleries.iter().any(|g| g.run == run) {
        info.missing.push(missing(Section::Galleries, &shown));
    }

    read_study(run, dir, report, &mut info)?;

    for f in files_ending(&dir.join("bias"), ".json")? {
        report.bias.push(BiasTable { run, file: rel(dir, &f), table: BiasFile::read(&f)? });
    }
    if !report.bias.iter().any(|b| b.run == run) {
        info.missing.push(missing(Section::Bias, &shown));
    }
    report.runs.push(info);
    Ok(())
}

fn read_explain(
    run: usize,
    dir: &Path,
    e: &Path,
    opts: &Options,
    info: &mut RunInfo,
) -> Result<Option<ExplainSet>, ReportError> {
    let files: Vec<PathBuf> = files_ending(e, ".json")?.into_iter().filter(|f| !f.ends_with("summary.json")).collect();
    let summary = read_json_if::<ExplainSummary>(&e.join("summary.json"))?;
    if summary.is_none() && files.is_empty() {
        return Ok(None);
    }
    if let Some(s) = &summary {
        info.stages.push(stage("explain", name_of(e), &s.provenance));
    }
    let mut explained = Vec::with_capacity(files.len());
    for f in &files {
        explained.push((f, read_json::<Explanation>(f)?));
    }
    let mut examples = Vec::new();
    for i in spread(&explained, opts.max_examples) {
        let (f, x) = (explained[i].0, &explained[i].1);
        examples.push(ExplainExample {
            attention: image(dir, layout::explanation_png(f, "attention"))?,
            overlay: image(dir, layout::explanation_png(f, "overlay"))?,
            file: x.file.clone(),
            label: x.label,
            true_label: x.true_label,
            label_name: x.label_name.clone(),
            probability: finite(x.probability),
            auc_path: finite(x.auc_path),
            auc_random: finite(x.auc_random),
            path: x.path.iter().copied().map(finite).collect(),
            random_path: x.random_path.iter().copied().map(finite).collect(),
        });
    }
    let n = summary.as_ref().map_or(files.len() as u64, |s| s.n as u64);
    Ok(Some(ExplainSet {
        run,
        name: name_of(e),
        n,
        path_beats_random: summary.as_ref().and_then(|s| finite(s.path_beats_random)),
        auc_path_mean: summary.as_ref().and_then(|s| finite(s.auc_path_mean)),
        auc_random_mean: summary.as_ref().and_then(|s| finite(s.auc_random_mean)),
        more: (files.len() - examples.len()) as u64,
        examples,
    }))
}

/// The indices of at most `max` explained images to show: all of them when they fit, else
/// `max` images spread evenly over their order by the gap between the explanation path's area
/// and the random path's, from the most faithful explanation to the least (ties by file).
fn spread(explained: &[(&PathBuf, Explanation)], max: usize) -> Vec<usize> {
    let gap = |x: &Explanation| match (finite(x.auc_path), finite(x.auc_random)) {
        (Some(p), Some(r)) => p - r,
        _ => f64::NEG_INFINITY,
    };
    let mut order: Vec<usize> = (0..explained.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&explained[a], &explained[b]);
        gap(&b.1).total_cmp(&gap(&a.1)).then_with(|| a.0.cmp(b.0))
    });
    let n = order.len();
    if n <= max || max <= 1 {
        order.truncate(max);
        return order;
    }
    // n > max ≥ 2: the steps (n − 1) / (max − 1) exceed 1, so the picks are distinct.
    (0..max).map(|i| order[(i * (n - 1) + (max - 1) / 2) / (max - 1)]).collect()
}

fn read_study(run: usize, dir: &Path, report: &mut Report, info: &mut RunInfo) -> Result<(), ReportError> {
    let shown = info.dir.clone();
    let path = dir.join("study").join("results.json");
    let Some(results) = read_json_if::<rectify_study::results::ResultsFile>(&path)? else {
        for s in [Section::Table1, Section::Histograms, Section::Table2, Section::Table3] {
            info.missing.push(missing(s, &shown));
        }
        return Ok(());
    };
    let rows = super::study::rows(run, &results);
    for (empty, s) in [
        (rows.rectified.is_empty(), Section::Table1),
        (rows.histograms.is_empty(), Section::Histograms),
        (rows.table2.is_empty(), Section::Table2),
        (rows.table3.is_empty(), Section::Table3),
    ] {
        if empty {
            info.missing.push(missing(s, &shown));
        }
    }
    report.studies.push(rows.info);
    report.rectified.extend(rows.rectified);
    report.histograms.extend(rows.histograms);
    report.table2.extend(rows.table2);
    report.table3.extend(rows.table3);
    Ok(())
}

/// Bins of the calibration section.
pub const CALIBRATION_BINS: usize = 15;

/// One labelled row of `predictions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// Image file.
    pub file: String,
    /// True label.
    pub label: i64,
    /// The top 5 classes, best first.
    pub top5: Vec<i64>,
    /// The top class's probability.
    pub prob: f64,
}

impl Labelled {
    /// Whether the top class is the label.
    pub fn top1(&self) -> bool {
        self.top5.first() == Some(&self.label)
    }
}

/// The labelled rows of `predictions.csv` (`file,label,top5,top5_probs`: the first class of
/// `top5` is the prediction, the first of `top5_probs` its probability); `None` without the file.
pub fn labelled_rows(path: &Path) -> Result<Option<Vec<Labelled>>, ReportError> {
    if !path.is_file() {
        return Ok(None);
    }
    let bad = |what: String| ReportError::Format { path: path.to_path_buf(), what };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            bad(format!("no column {name:?} (columns: {})", headers.iter().collect::<Vec<_>>().join(",")))
        })
    };
    let (file, label, top5, probs) = (column("file")?, column("label")?, column("top5")?, column("top5_probs")?);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let line = i + 2;
        let field = |k: usize| record.get(k).unwrap_or("").trim();
        if field(label).is_empty() {
            continue;
        }
        let first = |k: usize| field(k).split_whitespace().next().unwrap_or("");
        let l: i64 = field(label)
            .parse()
            .map_err(|_| bad(format!("line {line}: label {:?} is not a class index", field(label))))?;
        let classes: Vec<i64> = field(top5)
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad(format!("line {line}: top5 {:?} is not a list of class indices", field(top5))))?;
        if classes.is_empty() {
            return Err(bad(format!("line {line}: top5 is empty")));
        }
        let p: f64 = first(probs).parse().map_err(|_| {
            bad(format!("line {line}: top5_probs {:?} does not start with a probability", field(probs)))
        })?;
        if !(0.0..=1.0).contains(&p) {
            return Err(bad(format!("line {line}: probability {p} is outside [0, 1]")));
        }
        rows.push(Labelled { file: record.get(file).unwrap_or("").to_string(), label: l, top5: classes, prob: p });
    }
    Ok(Some(rows))
}

/// The calibration of the labelled rows of `predictions.csv`; `None` without the file.
fn calibration(run: usize, path: &Path) -> Result<Option<CalibrationRow>, ReportError> {
    let Some(rows) = labelled_rows(path)? else { return Ok(None) };
    let confidence: Vec<f64> = rows.iter().map(|r| r.prob).collect();
    let correct: Vec<bool> = rows.iter().map(Labelled::top1).collect();
    let c = crate::stats::calibration(&confidence, &correct, CALIBRATION_BINS);
    let n = confidence.len();
    let mean = |xs: &[f64]| (n > 0).then(|| xs.iter().sum::<f64>() / n as f64);
    let hits: Vec<f64> = correct.iter().map(|&b| f64::from(u8::from(b))).collect();
    Ok(Some(CalibrationRow {
        run,
        n: n as u64,
        bins: CALIBRATION_BINS as u64,
        ece: finite(c.ece),
        accuracy: mean(&hits),
        mean_confidence: mean(&confidence),
        bin_count: c.count,
        bin_accuracy: c.accuracy.into_iter().map(finite).collect(),
        bin_confidence: c.confidence.into_iter().map(finite).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(auc_path: Option<f64>, auc_random: f64) -> Explanation {
        Explanation {
            file: String::new(),
            true_label: None,
            label: 0,
            label_name: String::new(),
            probability: 1.0,
            segments: 0,
            weights: Vec::new(),
            ranked: Vec::new(),
            intercept: 0.0,
            r2: 0.0,
            local_pred: 0.0,
            path: Vec::new(),
            random_path: Vec::new(),
            auc_path: auc_path.unwrap_or(f64::NAN),
            auc_random,
            seed: 0,
            params: serde_json::Value::Null,
        }
    }

    /// Examples run from the largest gap between the areas to the smallest, evenly spread, with
    /// images lacking an area last and ties kept in file order.
    #[test]
    fn examples_are_spread_over_the_gap() {
        let names: Vec<PathBuf> = (0..7).map(|i| PathBuf::from(format!("{i}.json"))).collect();
        let gaps = [Some(0.5), Some(0.1), None, Some(0.9), Some(0.3), Some(0.3), Some(0.7)];
        let all: Vec<(&PathBuf, Explanation)> = names.iter().zip(gaps).map(|(f, g)| (f, explained(g, 0.0))).collect();
        // By gap: 3 (0.9), 6 (0.7), 0 (0.5), 4 (0.3), 5 (0.3), 1 (0.1), 2 (none).
        assert_eq!(spread(&all, 10), [3, 6, 0, 4, 5, 1, 2]);
        assert_eq!(spread(&all, 7), [3, 6, 0, 4, 5, 1, 2]);
        assert_eq!(spread(&all, 4), [3, 0, 5, 2]);
        assert_eq!(spread(&all, 3), [3, 4, 2]);
        assert_eq!(spread(&all, 2), [3, 2]);
        assert_eq!(spread(&all, 1), [3]);
        assert!(spread(&all, 0).is_empty());
        assert!(spread(&[], 4).is_empty());
    }
}
