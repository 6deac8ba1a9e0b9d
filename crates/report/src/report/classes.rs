//! Per class, confusions and the mistakes gallery (issue #17): from `predictions.csv`, the
//! `relevance-top1` questions of `study/results.json`, the first attack run's `trajectory.csv`
//! (`ifgsm` when there is one), the explanations' JSON files, the ReaL labels in the run's store,
//! and thumbnails of the images (`super::thumbs`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rectify_store::artifacts::Explanation;
use rectify_study::aggregate::Rule;
use rectify_study::results::{DesignResults, RatedMistake, ResultsFile};

use super::model::{ClassRow, ConfusionRow, Mistake, MistakeSet, Report};
use super::runs::{labelled_rows, Labelled};
use super::thumbs::Thumbnailer;
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

/// Each top-1 mistake asked about, by file, and the rule that decided them.
struct Outcomes {
    rule: Rule,
    questions: HashMap<String, RatedMistake>,
}

impl Outcomes {
    /// `(decided, relevant)` of `file`'s question about `class`, `None` when not asked.
    fn get(&self, file: &str, class: i64) -> Option<(bool, bool)> {
        let q = self.questions.get(file).filter(|q| q.class == class)?;
        Some((matches!(q.outcome.as_str(), "rectified" | "error"), q.outcome == "rectified"))
    }
}

/// The [`Outcomes`] of the run's `relevance-top1` design, `None` without one.
fn outcomes(dir: &Path) -> Result<Option<Outcomes>, ReportError> {
    let Some(results) = read_json_if::<ResultsFile>(&dir.join("study/results.json"))? else { return Ok(None) };
    let Some(questions) = results.designs.iter().find_map(|(key, d)| match d {
        DesignResults::Top1 { result, .. } if key.starts_with("relevance-top1") => Some(&result.questions),
        _ => None,
    }) else {
        return Ok(None);
    };
    Ok(Some(Outcomes {
        rule: results.rule,
        questions: questions.iter().map(|q| (q.file.clone(), q.clone())).collect(),
    }))
}

/// The ReaL labels of the run's images (file → labels), from its store; `None` when the store
/// holds none.
fn real_labels(dir: &Path) -> Result<Option<HashMap<String, Vec<i64>>>, ReportError> {
    let path = dir.join(rectify_store::DB_FILE);
    let bad = |what: String| ReportError::Format { path: path.clone(), what };
    let Some(images) = rectify_store::read_images(dir).map_err(|e| bad(e.to_string()))? else { return Ok(None) };
    let real: HashMap<String, Vec<i64>> = images.into_iter().filter_map(|i| Some((i.file, i.real_labels?))).collect();
    Ok((!real.is_empty()).then_some(real))
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    (n > 0).then(|| if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}

/// Adds run `run`'s per-class rows, confusions and mistakes to `report`, with up to
/// `thumbnails` thumbnails of its mistakes (and those of its confusions) from `images`.
pub fn read(
    run: usize,
    dir: &Path,
    imagenet: bool,
    images: Option<std::path::PathBuf>,
    thumbnails: usize,
    report: &mut Report,
) -> Result<(), ReportError> {
    let Some(rows) = labelled_rows(&dir.join("predictions.csv"))? else { return Ok(()) };
    let flips = steps_to_flip(dir)?;
    let aucs = auc_by_label(dir)?;
    let rated = outcomes(dir)?;
    let real = real_labels(dir)?;
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
            let rescued =
                imgs.iter().filter(|r| !r.top1() && o.get(&r.file, r.top5[0]).is_some_and(|(_, yes)| yes)).count();
            (wrong - rescued) as f64 / n as f64
        });
        let real_sets: Vec<(&Vec<i64>, i64)> = real
            .as_ref()
            .map(|m| {
                imgs.iter().filter_map(|r| m.get(&r.file).filter(|l| !l.is_empty()).map(|l| (l, r.top5[0]))).collect()
            })
            .unwrap_or_default();
        let real_hits = real_sets.iter().filter(|(l, p)| l.contains(p)).count();
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
            real_n: real.as_ref().map(|_| real_sets.len() as u64),
            real_top1: (!real_sets.is_empty()).then(|| real_hits as f64 / real_sets.len() as f64),
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
            .filter_map(|r| rated.as_ref()?.get(&r.file, class).filter(|&(decided, _)| decided).map(|(_, yes)| yes))
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
    mistakes(run, &rows, rated.as_ref(), imagenet, report);
    let mut thumbs = Thumbnailer::new(images);
    let wanted = thumbnail_order(report.mistakes.last().map_or(&[][..], |m| &m.items), thumbnails);
    let confused: Vec<String> =
        report.confusions.iter().filter(|c| c.run == run).flat_map(|c| c.files.iter().cloned()).collect();
    // Within the budget, the confusions' images first; each file tried once.
    let mut tried = std::collections::HashSet::new();
    for file in confused.into_iter().chain(wanted) {
        if tried.len() == thumbnails {
            break;
        }
        if tried.insert(file.clone()) {
            if let Some(jpeg) = thumbs.make(&file) {
                report.thumbnails.insert((run, file), jpeg);
            }
        }
    }
    if let Some(set) = report.mistakes.last_mut() {
        set.thumbnails = report.thumbnails.keys().filter(|(r, _)| *r == run).count() as u64;
        set.thumbnails_failed = thumbs.failed;
        set.thumbnail_failure = thumbs.first_failure;
    }
    Ok(())
}

/// The run's top-1 mistakes with what raters said of them, sorted by agreement.
fn mistakes(run: usize, rows: &[Labelled], rated: Option<&Outcomes>, imagenet: bool, report: &mut Report) {
    let mut items: Vec<Mistake> = rows
        .iter()
        .filter(|r| !r.top1())
        .map(|r| {
            let q = rated.and_then(|o| o.questions.get(&r.file).filter(|q| q.class == r.top5[0]));
            Mistake {
                file: r.file.clone(),
                label: r.label,
                label_name: name(r.label, imagenet),
                class: r.top5[0],
                class_name: name(r.top5[0], imagenet),
                yes: q.map_or(0, |q| q.yes as u64),
                votes: q.map_or(0, |q| q.votes as u64),
                outcome: match (rated, q) {
                    (None, _) => "no-study".into(),
                    (Some(_), None) => "not-asked".into(),
                    (Some(_), Some(q)) => q.outcome.clone(),
                },
            }
        })
        .collect();
    let decided = |m: &Mistake| matches!(m.outcome.as_str(), "rectified" | "error");
    // Decided first, by the share of yes answers (compared exactly: a·d against c·b), then file.
    items.sort_by(|x, y| {
        decided(y)
            .cmp(&decided(x))
            .then_with(|| {
                (u128::from(y.yes) * u128::from(x.votes.max(1))).cmp(&(u128::from(x.yes) * u128::from(y.votes.max(1))))
            })
            .then_with(|| x.file.cmp(&y.file))
    });
    let count = |o: &str| items.iter().filter(|m| m.outcome == o).count() as u64;
    let (k, n) = match rated.map(|o| o.rule) {
        Some(Rule::KOfN { k, n }) => (Some(k as u64), Some(n as u64)),
        Some(rule) => (None, Some(rule.needs() as u64)),
        None => (None, None),
    };
    report.mistakes.push(MistakeSet {
        run,
        k,
        n,
        count: items.len() as u64,
        rectified: count("rectified"),
        confirmed: count("error"),
        undecided: items.len() as u64 - count("rectified") - count("error"),
        items,
        ..MistakeSet::default()
    });
}

/// The files of `items` to make thumbnails of, at most `budget`: in turn from the top of each
/// filter the gallery offers (rectified, confirmed errors, undecided), so each starts with
/// pictures.
fn thumbnail_order(items: &[Mistake], budget: usize) -> Vec<String> {
    let group = |keep: fn(&str) -> bool| items.iter().filter(move |m| keep(&m.outcome)).map(|m| m.file.clone());
    let mut lists = [
        group(|o| o == "rectified").collect::<Vec<_>>().into_iter(),
        group(|o| o == "error").collect::<Vec<_>>().into_iter(),
        group(|o| o != "rectified" && o != "error").collect::<Vec<_>>().into_iter(),
    ];
    let mut out = Vec::new();
    while out.len() < budget {
        let before = out.len();
        for l in &mut lists {
            if out.len() < budget {
                out.extend(l.next());
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}
