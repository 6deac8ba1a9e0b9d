//! `results.json`: per design, what the votes say about the model (issue #6).
//!
//! * `relevance-top1`: top-1 error and the *rectified* top-1 error — a misclassified image whose
//!   predicted class the rule calls relevant counts as correct (Stock & Cisse: ResNet-101
//!   22.69 % → 9.47 %) — with 95 % bootstrap intervals over images, rated / unrated counts (an
//!   image whose question has fewer answers than the rule needs stays an error and is reported
//!   as unrated, never silently counted), the histogram of yes answers (Fig. 2) and Fleiss' κ.
//! * `relevance-top5`: the same for the top-5 error (a top-5 miss is rectified when any of its
//!   five classes is called relevant), per variant.
//! * `adversarial`: per arm, the share of adversarial images whose adversarial class people
//!   call relevant (Table 2).
//! * `assignment`: per condition, success rate mean ± std over raters (Table 3).
//! * `attribute`: per attribute, the share of images showing it.
//!
//! Votes outside `[min_time, max_time]` seconds are dropped first (imported votes have no time
//! and are kept). `sources` counts the votes by where they came from (`server` for the study
//! server's raters, else the importer: `real-raters`, `cleanlab-mturk`, `csv`, …). Per-rater accuracy on gold items is reported when there are gold items.
//! Every relevance design and arm also carries `rater_agreement`: each rater's agreement with
//! the majority of the others, and Cohen's κ of every pair of raters sharing at least
//! [`MIN_PAIR_OVERLAP`] questions ([`rater_agreement`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::aggregate::{bootstrap_means, decide, kappa_of, rater_agreement, Decision, Rule};
use crate::designs::EvalImage;
use crate::model::{Answer, Design, Item, Question, Vote};

/// Settings of the aggregation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregation {
    /// The decision rule.
    pub rule: Rule,
    /// Drop votes faster than this (seconds).
    pub min_time: Option<f64>,
    /// Drop votes slower than this (seconds).
    pub max_time: Option<f64>,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Bootstrap seed.
    pub seed: u64,
}

impl Default for Aggregation {
    fn default() -> Self {
        Self { rule: Rule::default(), min_time: None, max_time: None, bootstrap: 2000, seed: 0 }
    }
}

/// Questions two raters must share before their Cohen's κ is reported.
pub const MIN_PAIR_OVERLAP: usize = 10;

type Answers = HashMap<(i64, i64), Vec<(String, Answer)>>;

/// (image, class) → answers, from relevance-like items of `design` (and `variant`).
fn judgments(items: &[&Item], votes: &HashMap<&str, Vec<&Vote>>) -> Answers {
    let mut out: Answers = HashMap::new();
    for item in items {
        let Some(image) = item.image_id else { continue };
        for v in votes.get(item.key.as_str()).into_iter().flatten() {
            match (&item.question, &v.answer) {
                (Question::Relevance { class, .. }, a) => {
                    out.entry((image, class.class)).or_default().push((v.rater.clone(), a.clone()));
                }
                (Question::MultiRelevance { classes, .. }, Answer::Classes(ticked)) => {
                    for c in classes {
                        let a = if ticked.contains(&c.class) { Answer::Yes } else { Answer::No };
                        out.entry((image, c.class)).or_default().push((v.rater.clone(), a));
                    }
                }
                _ => {}
            }
        }
        // Questions without votes still exist (unrated).
        match &item.question {
            Question::Relevance { class, .. } => {
                out.entry((image, class.class)).or_default();
            }
            Question::MultiRelevance { classes, .. } => {
                for c in classes {
                    out.entry((image, c.class)).or_default();
                }
            }
            _ => {}
        }
    }
    out
}

/// The questions of a shared study that concern the run of `images`: its relevance items,
/// each pointed at this run's image of the same file (see [`crate::designs::relevance_file`]),
/// kept when one of their (image, class) pairs is one the run asks about — its top-1 mistakes
/// with the predicted class (`relevance-top1`), or with its top 5 (`relevance-top5`). Gold items
/// are kept; items of the other designs are kept for the study's own run (`host`) only, as they
/// were made from its attack, explain and criticize runs.
pub fn for_run(images: &[EvalImage], items: &[Item], host: bool) -> Vec<Item> {
    let by_file: HashMap<&str, &EvalImage> = images.iter().map(|i| (i.file.as_str(), i)).collect();
    items
        .iter()
        .filter_map(|item| {
            if item.gold.is_some() {
                return Some(item.clone());
            }
            if !matches!(item.design, Design::RelevanceTop1 | Design::RelevanceTop5) {
                return host.then(|| item.clone());
            }
            let img = by_file.get(crate::designs::relevance_file(item)?)?;
            let classes: Vec<i64> = match &item.question {
                Question::Relevance { class, .. } => vec![class.class],
                Question::MultiRelevance { classes, .. } => classes.iter().map(|c| c.class).collect(),
                _ => return None,
            };
            let top5 = item.design == Design::RelevanceTop5;
            classes.iter().any(|&c| wanted(img, c, top5)).then(|| Item { image_id: Some(img.image_id), ..item.clone() })
        })
        .collect()
}

/// Whether the run asks about class `class` for `img`: a top-1 mistake and its predicted class
/// (or, `top5`, one of its top 5).
fn wanted(img: &EvalImage, class: i64, top5: bool) -> bool {
    img.top1_wrong() && if top5 { img.top5.contains(&class) } else { img.top5.first() == Some(&class) }
}

/// What sharing one `relevance-top1` study between the runs of several models saves: each run
/// alone would ask one question per top-1 mistake (image, predicted class); the shared study
/// asks each distinct (image file, class) once. `runs` are (name, evaluated images), the
/// study's own run first.
pub fn sharing(runs: &[(String, &[EvalImage])], answers_per_item: usize) -> Value {
    let mut distinct = std::collections::HashSet::new();
    let mut separate = 0usize;
    let mut per = Vec::new();
    for (name, images) in runs {
        let mine: Vec<(&str, i64)> =
            images.iter().filter(|i| i.top1_wrong()).map(|i| (i.file.as_str(), i.top5[0])).collect();
        separate += mine.len();
        per.push(json!({"run": name, "questions": mine.len()}));
        distinct.extend(mine);
    }
    let shared = distinct.len();
    json!({
        "design": "relevance-top1",
        "runs": per,
        "questions_shared": shared,
        "questions_separate": separate,
        "answers_saved": (separate - shared) * answers_per_item,
        "saving": if separate == 0 { 0.0 } else { 1.0 - shared as f64 / separate as f64 },
    })
}

fn histogram(decisions: &BTreeMap<(i64, i64), Decision>, n: usize) -> Vec<usize> {
    let mut h = vec![0; n + 1];
    for d in decisions.values() {
        h[d.yes_votes.min(n)] += 1;
    }
    h
}

fn rate(x: usize, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        x as f64 / n as f64
    }
}

/// Standard and rectified error over the labelled images; `wrong(img)` = standard error,
/// `classes(img)` = the classes whose relevance rectifies it.
fn rectified(
    images: &[EvalImage],
    decisions: &BTreeMap<(i64, i64), Decision>,
    answers: &Answers,
    agg: &Aggregation,
    top5: bool,
) -> Value {
    let labelled: Vec<&EvalImage> = images.iter().filter(|i| i.label.is_some()).collect();
    // In a study shared by several models, other runs' questions are not this run's histogram.
    let by_id: HashMap<i64, &EvalImage> = images.iter().map(|i| (i.image_id, i)).collect();
    let ours = |&(image, class): &(i64, i64)| by_id.get(&image).is_some_and(|i| wanted(i, class, top5));
    let decisions: BTreeMap<(i64, i64), Decision> =
        decisions.iter().filter(|(k, _)| ours(k)).map(|(k, d)| (*k, *d)).collect();
    let decisions = &decisions;
    let answers: Answers = answers.iter().filter(|(k, _)| ours(k)).map(|(k, a)| (*k, a.clone())).collect();
    let answers = &answers;
    let (mut rows, mut rated, mut unrated, mut rescued, mut asked) = (Vec::new(), 0, 0, 0, 0);
    for img in &labelled {
        let wrong = if top5 { img.top5_wrong() } else { img.top1_wrong() };
        let classes: &[i64] = if top5 { &img.top5 } else { &img.top5[..1] };
        let keys: Vec<(i64, i64)> = classes.iter().map(|&c| (img.image_id, c)).collect();
        let is_asked = wrong && keys.iter().any(|k| answers.contains_key(k));
        let relevant = keys.iter().any(|k| decisions.get(k).is_some_and(|d| d.yes));
        let all_decided = keys.iter().all(|k| decisions.contains_key(k));
        if wrong && is_asked {
            asked += 1;
            if relevant || all_decided {
                rated += 1;
            } else {
                unrated += 1;
            }
        }
        let fixed = wrong && relevant;
        rescued += usize::from(fixed);
        rows.push(vec![wrong, wrong && !fixed]);
    }
    let n = labelled.len();
    let errors = rows.iter().filter(|r| r[0]).count();
    let remaining = rows.iter().filter(|r| r[1]).count();
    let ci = bootstrap_means(&rows, agg.bootstrap, agg.seed);
    let (e, r) = if top5 { ("top5_error", "rectified_top5_error") } else { ("top1_error", "rectified_top1_error") };
    let mut v = json!({
        "n": n,
        e: rate(errors, n),
        r: rate(remaining, n),
        "ci": {e: ci[0], r: ci[1]},
        "errors": errors,
        "rectified": rescued,
        "asked": asked,
        "rated": rated,
        "unrated": unrated,
        "not_asked": errors - asked,
        "histogram": histogram(decisions, agg.rule.needs()),
        "fleiss_kappa": kappa_of(answers, agg.rule.needs()),
        "rater_agreement": rater_agreement(answers, MIN_PAIR_OVERLAP),
    });
    if !top5 {
        let with_real: Vec<&&EvalImage> =
            labelled.iter().filter(|i| i.real.as_ref().is_some_and(|r| !r.is_empty())).collect();
        let ok = with_real.iter().filter(|i| i.real.as_ref().is_some_and(|r| r.contains(&i.top5[0]))).count();
        v["real_top1_accuracy"] = json!(rate(ok, with_real.len()));
        v["real_n"] = json!(with_real.len());
    }
    v
}

fn keep(v: &Vote, agg: &Aggregation) -> bool {
    match v.seconds {
        Some(s) => agg.min_time.is_none_or(|m| s >= m) && agg.max_time.is_none_or(|m| s <= m),
        None => true,
    }
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Every design's results, keyed `design` (or `design/variant` when a design has several).
pub fn results(images: &[EvalImage], items: &[Item], votes: &[Vote], agg: &Aggregation) -> Value {
    let dropped = votes.iter().filter(|v| !keep(v, agg)).count();
    let mut by_item: HashMap<&str, Vec<&Vote>> = HashMap::new();
    for v in votes.iter().filter(|v| keep(v, agg)) {
        by_item.entry(v.item.as_str()).or_default().push(v);
    }
    let mut groups: BTreeMap<(Design, Option<String>), Vec<&Item>> = BTreeMap::new();
    // Gold items check raters (below); they are never data.
    for item in items.iter().filter(|i| i.gold.is_none()) {
        groups.entry((item.design, item.variant.clone())).or_default().push(item);
    }
    let variants_of = |d: Design| groups.keys().filter(|(g, _)| *g == d).count();
    let mut out = serde_json::Map::new();
    for ((design, variant), group) in &groups {
        let key = match variant {
            Some(v) if variants_of(*design) > 1 => format!("{}/{v}", design.name()),
            _ => design.name().to_string(),
        };
        let n_items = group.len();
        let complete =
            group.iter().filter(|i| by_item.get(i.key.as_str()).map_or(0, Vec::len) >= agg.rule.needs()).count();
        let mut v = match design {
            Design::RelevanceTop1 | Design::RelevanceTop5 => {
                let answers = judgments(group, &by_item);
                let decisions = decide(agg.rule, &answers);
                rectified(images, &decisions, &answers, agg, *design == Design::RelevanceTop5)
            }
            Design::Adversarial | Design::Attribute => {
                let mut arms: BTreeMap<String, Answers> = BTreeMap::new();
                for item in group {
                    let arm = match design {
                        Design::Adversarial => item.arm.clone().unwrap_or_else(|| "whole".into()),
                        _ => variant.clone().unwrap_or_default(),
                    };
                    let answers = arms.entry(arm).or_default();
                    let k = (item.image_id.unwrap_or(-1), 0);
                    let list = answers.entry(k).or_default();
                    for v in by_item.get(item.key.as_str()).into_iter().flatten() {
                        list.push((v.rater.clone(), v.answer.clone()));
                    }
                }
                let mut per = serde_json::Map::new();
                for (arm, answers) in &arms {
                    let decisions = decide(agg.rule, answers);
                    let rows: Vec<Vec<bool>> = decisions.values().map(|d| vec![d.yes]).collect();
                    let yes = rows.iter().filter(|r| r[0]).count();
                    per.insert(
                        arm.clone(),
                        json!({
                            "items": answers.len(),
                            "rated": decisions.len(),
                            "unrated": answers.len() - decisions.len(),
                            "yes_rate": rate(yes, rows.len()),
                            "ci": bootstrap_means(&rows, agg.bootstrap, agg.seed).first(),
                            "histogram": histogram(&decisions, agg.rule.needs()),
                            "fleiss_kappa": kappa_of(answers, agg.rule.needs()),
                            "rater_agreement": rater_agreement(answers, MIN_PAIR_OVERLAP),
                        }),
                    );
                }
                json!({ if *design == Design::Adversarial { "arms" } else { "attributes" }: per })
            }
            Design::Assignment => {
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
                json!({"success_mean": mean, "success_std": std, "raters": rates.len(), "answers": answers})
            }
        };
        v["items"] = json!(n_items);
        v["items_complete"] = json!(complete);
        v["items_incomplete"] = json!(n_items - complete);
        if let Some(var) = variant {
            v["variant"] = json!(var);
        }
        out.insert(key, v);
    }
    // Gold items: per-rater accuracy.
    let gold: HashMap<&str, &Answer> = items.iter().filter_map(|i| Some((i.key.as_str(), i.gold.as_ref()?))).collect();
    if !gold.is_empty() {
        let attention: std::collections::HashSet<&str> = items
            .iter()
            .filter(|i| i.gold.is_some() && i.variant.as_deref() == Some("attention"))
            .map(|i| i.key.as_str())
            .collect();
        // Per rater: (gold right, gold answers, attention checks passed, attention checks).
        let mut per: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
        for v in votes.iter().filter(|v| keep(v, agg)) {
            if let Some(g) = gold.get(v.item.as_str()) {
                let e = per.entry(v.rater.as_str()).or_default();
                let right = **g == v.answer;
                e.0 += usize::from(right);
                e.1 += 1;
                if attention.contains(v.item.as_str()) {
                    e.2 += usize::from(right);
                    e.3 += 1;
                }
            }
        }
        let raters: serde_json::Map<String, Value> = per
            .into_iter()
            .map(|(r, (ok, n, passed, checks))| {
                let mut v = json!({"gold_answers": n, "gold_accuracy": ok as f64 / n as f64});
                if checks > 0 {
                    v["attention_checks"] = json!(checks);
                    v["attention_passed"] = json!(passed);
                }
                (r.to_string(), v)
            })
            .collect();
        out.insert("gold".into(), json!({"items": gold.len(), "attention_checks": attention.len(), "raters": raters}));
    }
    // Where the votes come from (`server`, `real-raters`, `cleanlab-mturk`, `csv`, …), so that a
    // report can say whose judgement the rectified error rests on.
    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    for v in votes {
        *sources.entry(v.source.as_str()).or_default() += 1;
    }
    json!({
        "rule": agg.rule,
        "time_filter": {"min_seconds": agg.min_time, "max_seconds": agg.max_time, "votes_dropped": dropped},
        "votes": votes.len(),
        "sources": sources,
        "designs": out,
    })
}

/// Per rater: (gold answers right, gold answers).
pub fn gold_scores(items: &[Item], votes: &[Vote]) -> BTreeMap<String, (usize, usize)> {
    let gold: HashMap<&str, &Answer> = items.iter().filter_map(|i| Some((i.key.as_str(), i.gold.as_ref()?))).collect();
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for v in votes {
        if let Some(g) = gold.get(v.item.as_str()) {
            let e = out.entry(v.rater.clone()).or_default();
            e.0 += usize::from(**g == v.answer);
            e.1 += 1;
        }
    }
    out
}
