//! `RUN_DIR/study/results.json` (written by `rectify study results`, see
//! `rectify_study::results`) → the rows of Table 1 (rectified errors), the positive-answer
//! histograms, Table 2 (adversarial arms) and Table 3 (assignment conditions).
//!
//! The file is keyed by design, `design` or `design/variant` when a design has several
//! variants; values the study could not compute are `null`.

use serde_json::Value;

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

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn interval(v: &Value) -> Interval {
    Interval { lo: f(&v[0]), hi: f(&v[1]) }
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array().map(|a| a.iter().map(u).collect()).unwrap_or_default()
}

/// The rule in words: `k-of-n 4/5`, `majority of 5`, `dawid-skene over 5`.
fn rule_text(rule: &Value) -> String {
    let n = u(&rule["n"]);
    match rule["rule"].as_str() {
        Some("k-of-n") => format!("k-of-n {}/{n}", u(&rule["k"])),
        Some("majority") => format!("majority of {n}"),
        Some(other) => format!("{other} over {n}"),
        None => rule.to_string(),
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
fn sources_text(sources: &Value) -> String {
    let parts: Vec<String> =
        sources.as_object().into_iter().flatten().map(|(k, n)| format!("{}: {}", source_text(k), u(n))).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

/// `results.json`'s `exclusion` in words: how many raters and votes quality control left out,
/// and why (reasons grouped by their rule).
fn exclusions_text(e: &Value) -> String {
    let raters = u(&e["raters_excluded"]);
    if e["applied"] != true || raters == 0 {
        return "none".into();
    }
    let mut why: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for reason in e["reasons"].as_object().into_iter().flatten().filter_map(|(_, r)| r.as_str()) {
        let rule = reason.split([':', '<', '(']).next().unwrap_or(reason).trim();
        let rule = rule.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
        *why.entry(rule.to_string()).or_default() += 1;
    }
    let why: Vec<String> = why.into_iter().map(|(r, n)| format!("{r}: {n}")).collect();
    format!(
        "{raters} raters and {} votes excluded ({}); their votes are kept, and results with every vote are in study/{}",
        u(&e["votes_excluded"]),
        why.join("; "),
        e["without_exclusion"].as_str().unwrap_or("results-all.json")
    )
}

/// `results.json`'s `sharing` in words: the study is shared by N models' runs and asks D
/// distinct questions instead of S (empty when there is no sharing).
fn sharing_text(s: &Value, study_run: &Value) -> String {
    let Some(runs) = s["runs"].as_array() else { return String::new() };
    format!(
        "one study ({}) asks about the top-1 mistakes of {} models: {} distinct questions (image, predicted class) \
         instead of {} in separate studies, {:.1} % fewer ({} answers saved)",
        study_run.as_str().unwrap_or("?"),
        runs.len(),
        u(&s["questions_shared"]),
        u(&s["questions_separate"]),
        100.0 * f(&s["saving"]).unwrap_or(0.0),
        u(&s["answers_saved"])
    )
}

/// Splits `design/variant` keys.
fn design_of(key: &str) -> (&str, Option<&str>) {
    match key.split_once('/') {
        Some((d, v)) => (d, Some(v)),
        None => (key, None),
    }
}

/// Reads the rows of run `run` from a parsed `results.json`.
pub fn rows(run: usize, results: &Value) -> StudyRows {
    let mut out = StudyRows {
        info: StudyInfo {
            run,
            rule: rule_text(&results["rule"]),
            votes: u(&results["votes"]),
            votes_dropped: u(&results["time_filter"]["votes_dropped"]),
            sources: sources_text(&results["sources"]),
            exclusions: exclusions_text(&results["exclusion"]),
            sharing: sharing_text(&results["sharing"], &results["study_run"]),
        },
        ..StudyRows::default()
    };
    let Some(designs) = results["designs"].as_object() else { return out };
    for (key, d) in designs {
        match design_of(key) {
            ("relevance-top1", _) | ("relevance-top5", _) => {
                let m = if key.starts_with("relevance-top1") { "top1" } else { "top5" };
                let (e, r) = (format!("{m}_error"), format!("rectified_{m}_error"));
                out.rectified.push(RectifiedRow {
                    run,
                    design: key.clone(),
                    metric: if m == "top1" { "top-1" } else { "top-5" }.into(),
                    n: u(&d["n"]),
                    error: f(&d[&e]),
                    error_ci: interval(&d["ci"][&e]),
                    rectified_error: f(&d[&r]),
                    rectified_ci: interval(&d["ci"][&r]),
                    errors: u(&d["errors"]),
                    rectified: u(&d["rectified"]),
                    rated: u(&d["rated"]),
                    unrated: u(&d["unrated"]),
                    fleiss_kappa: f(&d["fleiss_kappa"]),
                    median_rater_agreement: f(&d["rater_agreement"]["median_agreement"]),
                    median_pair_kappa: f(&d["rater_agreement"]["median_pair_kappa"]),
                });
                out.histograms.push(Histogram { run, design: key.clone(), counts: counts(&d["histogram"]) });
            }
            ("adversarial", variant) => {
                // The variant names the attack (`adversarial/<attack>`, or a field when alone).
                let attack = variant.or_else(|| d["variant"].as_str());
                for (arm, a) in d["arms"].as_object().into_iter().flatten() {
                    out.table2.push(Table2Row {
                        run,
                        arm: attack.map_or(arm.clone(), |v| format!("{v}/{arm}")),
                        items: u(&a["items"]),
                        rated: u(&a["rated"]),
                        unrated: u(&a["unrated"]),
                        yes_rate: f(&a["yes_rate"]),
                        ci: interval(&a["ci"]),
                        fleiss_kappa: f(&a["fleiss_kappa"]),
                    });
                }
            }
            ("assignment", variant) => out.table3.push(Table3Row {
                run,
                condition: variant
                    .map(str::to_string)
                    .or_else(|| d["variant"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "all".into()),
                success_mean: f(&d["success_mean"]),
                success_std: f(&d["success_std"]),
                raters: u(&d["raters"]),
                answers: u(&d["answers"]),
            }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn designs_and_variants_become_rows() {
        let results = json!({
            "rule": {"rule": "k-of-n", "k": 4, "n": 5},
            "time_filter": {"min_seconds": null, "max_seconds": null, "votes_dropped": 3},
            "votes": 40,
            "sources": {"real-raters": 35, "server": 5},
            "designs": {
                "relevance-top1": {"n": 10, "top1_error": 0.3, "rectified_top1_error": 0.1,
                    "ci": {"top1_error": [0.1, 0.6], "rectified_top1_error": [0.0, null]},
                    "errors": 3, "rectified": 2, "rated": 3, "unrated": 0, "histogram": [1, 0, 0, 0, 1, 1],
                    "fleiss_kappa": null},
                "relevance-top5/top5-misclassified": {"n": 10, "top5_error": 0.2, "rectified_top5_error": 0.1,
                    "ci": {"top5_error": [0.0, 0.4], "rectified_top5_error": [0.0, 0.3]}, "histogram": [2]},
                "adversarial": {"arms": {"whole": {"items": 4, "rated": 4, "unrated": 0, "yes_rate": 0.25,
                    "ci": [0.0, 0.75]}, "explanation": {"items": 4, "yes_rate": null, "ci": null}}},
                "assignment/mmd-class/3p3c": {"success_mean": 0.5, "success_std": 0.1, "raters": 2, "answers": 12},
                "assignment": {"success_mean": 0.7, "raters": 1, "variant": "random/6p"},
                "attribute": {"attributes": {}}
            }
        });
        let r = rows(1, &results);
        assert_eq!((r.info.rule.as_str(), r.info.votes, r.info.votes_dropped), ("k-of-n 4/5", 40, 3));
        assert_eq!(r.info.sources, "ReaL raters (Beyer et al. 2020, imported): 35; raters of this study's server: 5");
        assert_eq!(rows(1, &json!({})).info.sources, "none");
        assert_eq!(rows(1, &json!({})).info.exclusions, "none");
        let e = json!({"exclusion": {"applied": true, "raters_excluded": 2, "votes_excluded": 7,
            "reasons": {"a": "gold accuracy 0.50 < 0.75 (1 of 2 right)", "b": "too fast: median 0.40 s per item < 1 s"}}});
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
