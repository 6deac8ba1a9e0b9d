//! `RUN_DIR/study/results.json` (written by `rectify study results`, see
//! `rectify_study::results`) → the rows of Table 1 (rectified errors), the positive-answer
//! histograms, Table 2 (adversarial arms) and Table 3 (assignment conditions).
//!
//! The file is keyed by design, `design` or `design/variant` when a design has several
//! variants; values the study could not compute are `null`.

use std::collections::BTreeMap;

use rectify_study::results::{DesignResults, Exclusion, ResultsFile, Sharing};
use rectify_study::Rule;

use super::model::{Histogram, Interval, RectifiedRow, StudyInfo, Table2Row, Table3Row};

/// What one run's study contributes to the report.
#[derive(Debug, Default)]
pub struct StudyRows {
    /// How votes were aggregated.
    pub info: StudyInfo,
    /// Table 1, rectified part.
    pub rectified: Vec<RectifiedRow>,
    /// Positive-answer histograms of the relevance designs.
    pub histograms: Vec<Histogram>,
    /// Table 2.
    pub table2: Vec<Table2Row>,
    /// Table 3.
    pub table3: Vec<Table3Row>,
}

/// NaN (nothing to count) → `None`.
fn f(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

fn interval([lo, hi]: [f64; 2]) -> Interval {
    Interval { lo: f(lo), hi: f(hi) }
}

fn counts(h: &[usize]) -> Vec<u64> {
    h.iter().map(|&c| c as u64).collect()
}

/// The rule in words: `k-of-n 4/5`, `majority of 5`, `dawid-skene over 5`.
fn rule_text(rule: &Rule) -> String {
    match *rule {
        Rule::KOfN { k, n } => format!("k-of-n {k}/{n}"),
        Rule::Majority { n } => format!("majority of {n}"),
        Rule::DawidSkene { n } => format!("dawid-skene over {n}"),
    }
}

/// Who gave the votes of source `source` (`results.json`'s `sources` keys), in words.
fn source_text(source: &str) -> String {
    match source {
        "server" => "raters of this study's server".into(),
        "real-raters" => "ReaL raters (Beyer et al. 2020, imported)".into(),
        "cleanlab-mturk" => "cleanlab's Mechanical Turk workers (Northcutt et al. 2021, imported)".into(),
        other => format!("imported ({other})"),
    }
}

/// `results.json`'s `sources` in words: `ReaL raters (…): 85; raters of this study's server: 10`.
fn sources_text(sources: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = sources.iter().map(|(k, n)| format!("{}: {n}", source_text(k))).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

/// `results.json`'s `exclusion` in words: how many raters and votes quality control left out,
/// and why (reasons grouped by their rule).
fn exclusions_text(e: Option<&Exclusion>) -> String {
    let Some(d) = e.filter(|e| e.applied).and_then(|e| e.details.as_ref()).filter(|d| d.raters_excluded > 0) else {
        return "none".into();
    };
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for reason in d.reasons.values() {
        let rule = reason.split([':', '<', '(']).next().unwrap_or(reason).trim();
        let rule = rule.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
        *why.entry(rule.to_string()).or_default() += 1;
    }
    let why: Vec<String> = why.into_iter().map(|(r, n)| format!("{r}: {n}")).collect();
    format!(
        "{} raters and {} votes excluded ({}); their votes are kept, and results with every vote are in study/{}",
        d.raters_excluded,
        d.votes_excluded,
        why.join("; "),
        d.without_exclusion
    )
}

/// `results.json`'s `sharing` in words: the study is shared by N models' runs and asks D
/// distinct questions instead of S (empty when there is no sharing).
fn sharing_text(s: Option<&Sharing>, study_run: Option<&str>) -> String {
    let Some(s) = s else { return String::new() };
    format!(
        "one study ({}) asks about the top-1 mistakes of {} models: {} distinct questions (image, predicted class) \
         instead of {} in separate studies, {:.1} % fewer ({} answers saved)",
        study_run.unwrap_or("?"),
        s.runs.len(),
        s.questions_shared,
        s.questions_separate,
        100.0 * s.saving,
        s.answers_saved
    )
}

/// Splits `design/variant` keys.
/// Per relevance design that stopped asking once decided: what it asked, and where the figures
/// that need every answer come from.
fn stopping_text(results: &ResultsFile) -> String {
    let mut parts = Vec::new();
    for (key, d) in &results.designs {
        let c = match d {
            DesignResults::Top1 { result, .. } => &result.counts,
            DesignResults::Top5 { result, .. } => &result.counts,
            _ => continue,
        };
        let Some(s) = &c.stopping else { continue };
        parts.push(format!(
            "{key} asked each question until the rule decided it ({} yes, or {} answers that are not yes, of {}): \
             {} answers instead of {}, {} questions decided with fewer than {}; the histogram, Fleiss' κ and \
             rater agreement come from the {} questions drawn to get all {} answers ({:.0} %)",
            s.k,
            s.n - s.k + 1,
            s.n,
            s.answers,
            s.answers_without_stopping,
            s.decided_early,
            s.n,
            s.full_items,
            s.n,
            s.full_fraction * 100.0
        ));
    }
    parts.join("; ")
}

/// The relevance-top1 estimate from a sample of the mistakes, in words.
fn sampling_text(results: &ResultsFile) -> String {
    results
        .designs
        .iter()
        .find_map(|(key, d)| match d {
            DesignResults::Top1 { result, .. } => result.estimate.as_ref().map(|e| {
                format!(
                    "{key}'s rectified error {:.2} % (95 % interval {:.2}–{:.2} %, corrected for the finite \
                     population) is estimated from a sample of {} of {} mistakes ({} of them decided), \
                     {:.1} % of them called relevant",
                    e.rectified_error * 100.0,
                    e.ci[0] * 100.0,
                    e.ci[1] * 100.0,
                    e.sample,
                    e.population,
                    e.rated,
                    e.accepted_share * 100.0
                )
            }),
            _ => None,
        })
        .unwrap_or_default()
}

fn design_of(key: &str) -> (&str, Option<&str>) {
    match key.split_once('/') {
        Some((d, v)) => (d, Some(v)),
        None => (key, None),
    }
}

/// Reads the rows of run `run` from a parsed `results.json`.
pub fn rows(run: usize, results: &ResultsFile) -> StudyRows {
    let mut out = StudyRows {
        info: StudyInfo {
            run,
            rule: rule_text(&results.rule),
            votes: results.votes as u64,
            votes_dropped: results.time_filter.votes_dropped as u64,
            sources: sources_text(&results.sources),
            exclusions: exclusions_text(results.exclusion.as_ref()),
            sharing: sharing_text(results.sharing.as_ref(), results.study_run.as_deref()),
            stopping: stopping_text(results),
            sampling: sampling_text(results),
        },
        ..StudyRows::default()
    };
    for (key, d) in &results.designs {
        let (_, variant) = design_of(key);
        // The variant names the attack or condition (`design/variant`, or a field when alone).
        let variant = variant.map(str::to_string).or_else(|| d.items().and_then(|i| i.variant.clone()));
        let (metric, n, error, error_ci, rectified_error, rectified_ci, c) = match d {
            DesignResults::Top1 { result: r, .. } => (
                "top-1",
                r.counts.n,
                r.top1_error,
                r.ci.top1_error,
                r.rectified_top1_error,
                r.ci.rectified_top1_error,
                &r.counts,
            ),
            DesignResults::Top5 { result: r, .. } => (
                "top-5",
                r.counts.n,
                r.top5_error,
                r.ci.top5_error,
                r.rectified_top5_error,
                r.ci.rectified_top5_error,
                &r.counts,
            ),
            DesignResults::Adversarial { arms, .. } => {
                for (arm, a) in arms {
                    out.table2.push(Table2Row {
                        run,
                        arm: variant.as_ref().map_or(arm.clone(), |v| format!("{v}/{arm}")),
                        items: a.items as u64,
                        rated: a.rated as u64,
                        unrated: a.unrated as u64,
                        yes_rate: f(a.yes_rate),
                        ci: a.ci.map(interval).unwrap_or_default(),
                        fleiss_kappa: a.fleiss_kappa,
                    });
                }
                continue;
            }
            DesignResults::Assignment { result: a, .. } => {
                out.table3.push(Table3Row {
                    run,
                    condition: variant.unwrap_or_else(|| "all".into()),
                    success_mean: f(a.success_mean),
                    success_std: f(a.success_std),
                    raters: a.raters as u64,
                    answers: a.answers as u64,
                });
                continue;
            }
            DesignResults::Attribute { .. } | DesignResults::Gold(_) => continue,
        };
        out.rectified.push(RectifiedRow {
            run,
            design: key.to_string(),
            metric: metric.into(),
            n: n as u64,
            error: f(error),
            error_ci: interval(error_ci),
            rectified_error: f(rectified_error),
            rectified_ci: interval(rectified_ci),
            errors: c.errors as u64,
            rectified: c.rectified as u64,
            rated: c.rated as u64,
            unrated: c.unrated as u64,
            fleiss_kappa: c.fleiss_kappa,
            median_rater_agreement: c.rater_agreement.median_agreement,
            median_pair_kappa: c.rater_agreement.median_pair_kappa,
        });
        out.histograms.push(Histogram { run, design: key.to_string(), counts: counts(&c.histogram) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Merges the objects `parts` into one.
    fn merged(parts: &[serde_json::Value]) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for p in parts {
            out.extend(p.as_object().unwrap().clone());
        }
        out.into()
    }

    /// Parsed as `results.json` is, with the fields each test leaves alone filled in.
    fn file(designs: serde_json::Value, extra: serde_json::Value) -> ResultsFile {
        let base = json!({
            "rule": {"rule": "k-of-n", "k": 4, "n": 5},
            "time_filter": {"min_seconds": null, "max_seconds": null, "votes_dropped": 3},
            "votes": 40,
            "sources": {"real-raters": 35, "server": 5},
            "designs": designs,
        });
        serde_json::from_value(merged(&[base, extra])).unwrap()
    }

    #[test]
    fn designs_and_variants_become_rows() {
        let agreement =
            json!({"raters": {}, "median_agreement": null, "min_overlap": 10, "pairs": [], "median_pair_kappa": null});
        let counts = |n: u64, errors: u64, rectified: u64, rated: u64, histogram: Vec<u64>| {
            json!({"n": n, "errors": errors, "rectified": rectified, "asked": rated, "rated": rated, "unrated": 0,
                "not_asked": errors - rated, "histogram": histogram, "fleiss_kappa": null, "rater_agreement": agreement})
        };
        let items = |n: u64| json!({"items": n, "items_complete": n, "items_incomplete": 0});
        let arm = |yes_rate: serde_json::Value, ci: serde_json::Value| {
            json!({"items": 4, "rated": 4, "unrated": 0, "yes_rate": yes_rate, "ci": ci, "histogram": [],
                "fleiss_kappa": null, "rater_agreement": agreement})
        };
        let results = file(
            json!({
                "relevance-top1": merged(&[
                    json!({"top1_error": 0.3, "rectified_top1_error": 0.1, "real_top1_accuracy": null, "real_n": 0,
                        "ci": {"top1_error": [0.1, 0.6], "rectified_top1_error": [0.0, null]}}),
                    counts(10, 3, 2, 3, vec![1, 0, 0, 0, 1, 1]),
                    items(3),
                ]),
                "relevance-top5/top5-misclassified": merged(&[
                    json!({"top5_error": 0.2, "rectified_top5_error": 0.1,
                        "ci": {"top5_error": [0.0, 0.4], "rectified_top5_error": [0.0, 0.3]}}),
                    counts(10, 2, 1, 2, vec![2]),
                    items(2),
                ]),
                "adversarial": merged(&[
                    json!({"arms": {"whole": arm(json!(0.25), json!([0.0, 0.75])), "explanation": arm(json!(null), json!(null))}}),
                    items(8),
                ]),
                "assignment/mmd-class/3p3c": merged(&[
                    json!({"success_mean": 0.5, "success_std": 0.1, "raters": 2, "answers": 12}),
                    items(6),
                ]),
                "assignment": merged(&[
                    json!({"success_mean": 0.7, "success_std": null, "raters": 1, "answers": 6, "variant": "random/6p"}),
                    items(6),
                ]),
                "attribute": merged(&[json!({"attributes": {}}), items(0)]),
                "gold": {"items": 2, "attention_checks": 0, "raters": {}}
            }),
            json!({}),
        );
        let r = rows(1, &results);
        assert_eq!((r.info.rule.as_str(), r.info.votes, r.info.votes_dropped), ("k-of-n 4/5", 40, 3));
        assert_eq!(r.info.sources, "ReaL raters (Beyer et al. 2020, imported): 35; raters of this study's server: 5");
        let empty = file(json!({}), json!({"sources": {}}));
        assert_eq!(rows(1, &empty).info.sources, "none");
        assert_eq!(rows(1, &empty).info.exclusions, "none");
        let e = file(
            json!({}),
            json!({"exclusion": {"applied": true, "min_gold_accuracy": 0.75, "min_gold_answers": 2,
                "raters_excluded": 2, "votes_excluded": 7, "without_exclusion": "results-all.json",
                "reasons": {"a": "gold accuracy 0.50 < 0.75 (1 of 2 right)", "b": "too fast: median 0.40 s per item < 1 s"}}}),
        );
        assert_eq!(
            rows(1, &e).info.exclusions,
            "2 raters and 7 votes excluded (gold accuracy: 1; too fast: 1); their votes are kept, and results \
             with every vote are in study/results-all.json"
        );
        assert_eq!(r.rectified.len(), 2);
        assert_eq!(r.rectified[0].rectified_ci, Interval { lo: Some(0.0), hi: None });
        assert_eq!((r.rectified[1].metric.as_str(), r.rectified[1].error), ("top-5", Some(0.2)));
        assert_eq!(r.histograms[0].counts, vec![1, 0, 0, 0, 1, 1]);
        let explanation = r.table2.iter().find(|t| t.arm == "explanation").unwrap();
        assert_eq!((explanation.ci, explanation.yes_rate), (Interval::default(), None));
        assert_eq!(r.table2.iter().find(|t| t.arm == "whole").unwrap().ci, Interval { lo: Some(0.0), hi: Some(0.75) });
        let mut conds: Vec<&str> = r.table3.iter().map(|t| t.condition.as_str()).collect();
        conds.sort();
        assert_eq!(conds, ["mmd-class/3p3c", "random/6p"]);
        assert_eq!(r.table3.iter().find(|t| t.raters == 1).unwrap().success_std, None);
    }
}
