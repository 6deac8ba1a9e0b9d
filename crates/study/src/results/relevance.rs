//! `relevance-top1` and `relevance-top5`: the standard and the *rectified* error — a mistake
//! whose predicted class (any of its top 5) the rule calls relevant counts as correct — with
//! bootstrap intervals, rated / unrated counts, Fig. 2's histogram and Fleiss' κ.

use std::collections::{BTreeMap, HashMap};

use crate::aggregate::{bootstrap_means, decide, kappa_of, rater_agreement, Decision};
use crate::designs::EvalImage;
use crate::model::{Answer, Item, Question, Vote};

use super::schema::{
    DesignResults, ItemCounts, RatedMistake, RelevanceCounts, StoppingCounts, Top1Ci, Top1Result, Top5Ci, Top5Result,
};
use super::{Aggregation, MIN_PAIR_OVERLAP};

/// (image, class) → (rater, answer) of every question about it.
pub(crate) type Answers = HashMap<(i64, i64), Vec<(String, Answer)>>;

/// Under stopping: the questions drawn to get all N answers, which the histogram, κ and
/// agreement come from, and what the design's questions took.
pub(crate) struct FullSubset {
    pub decisions: BTreeMap<(i64, i64), Decision>,
    pub answers: Answers,
    /// Items drawn to get all N answers.
    pub items: usize,
    /// Answers counted on all the design's items.
    pub answers_counted: usize,
    /// The design's items.
    pub questions: usize,
}

/// The decisions on `answers`: the rule's on questions with the answers it needs, and under
/// stopping also those the answers so far already force (see [`crate::stopping`]).
pub(crate) fn decisions(agg: &Aggregation, answers: &Answers) -> BTreeMap<(i64, i64), Decision> {
    let mut out = decide(agg.rule, answers);
    if let Some(s) = agg.stopping {
        for (key, votes) in answers {
            if out.contains_key(key) {
                continue;
            }
            let given: Vec<Answer> = votes.iter().map(|(_, a)| a.clone()).collect();
            if let Some(yes) = s.decision_yes_no(&given) {
                let yes_votes = given.iter().filter(|a| **a == Answer::Yes).count();
                let votes = given.len().min(s.n);
                out.insert(*key, Decision { yes, yes_votes, votes, posterior: yes_votes as f64 / votes as f64 });
            }
        }
    }
    out
}

/// (image, class) → answers, from relevance-like items of `design` (and `variant`).
pub(crate) fn judgments(items: &[&Item], votes: &HashMap<&str, Vec<&Vote>>) -> Answers {
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

/// Whether the run asks about class `class` for `img`: a top-1 mistake and its predicted class
/// (or, `top5`, one of its top 5).
pub(crate) fn wanted(img: &EvalImage, class: i64, top5: bool) -> bool {
    img.top1_wrong() && if top5 { img.top5.contains(&class) } else { img.top5.first() == Some(&class) }
}

pub(crate) fn histogram(decisions: &BTreeMap<(i64, i64), Decision>, n: usize) -> Vec<usize> {
    let mut h = vec![0; n + 1];
    for d in decisions.values() {
        h[d.yes_votes.min(n)] += 1;
    }
    h
}

pub(crate) fn rate(x: usize, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        x as f64 / n as f64
    }
}

/// Standard and rectified error over the labelled images (top-1, or top-5 with `top5`), for a
/// design whose items `items` counts.
pub(crate) fn rectified(
    images: &[EvalImage],
    decisions: &BTreeMap<(i64, i64), Decision>,
    answers: &Answers,
    full: Option<FullSubset>,
    agg: &Aggregation,
    top5: bool,
    items: ItemCounts,
) -> DesignResults {
    let labelled: Vec<&EvalImage> = images.iter().filter(|i| i.label.is_some()).collect();
    // In a study shared by several models, other runs' questions are not this run's histogram.
    let by_id: HashMap<i64, &EvalImage> = images.iter().map(|i| (i.image_id, i)).collect();
    let ours = |&(image, class): &(i64, i64)| by_id.get(&image).is_some_and(|i| wanted(i, class, top5));
    let decisions: BTreeMap<(i64, i64), Decision> =
        decisions.iter().filter(|(k, _)| ours(k)).map(|(k, d)| (*k, *d)).collect();
    let decisions = &decisions;
    let answers: Answers = answers.iter().filter(|(k, _)| ours(k)).map(|(k, a)| (*k, a.clone())).collect();
    let answers = &answers;
    // The histogram, κ and agreement: every question, or under stopping the full subset's.
    let (figure_decisions, figure_answers) = match &full {
        Some(f) => (
            f.decisions.iter().filter(|(k, _)| ours(k)).map(|(k, d)| (*k, *d)).collect(),
            f.answers.iter().filter(|(k, _)| ours(k)).map(|(k, a)| (*k, a.clone())).collect(),
        ),
        None => (decisions.clone(), answers.clone()),
    };
    let (mut rows, mut rated, mut unrated, mut rescued, mut asked) = (Vec::new(), 0, 0, 0, 0);
    let mut questions = Vec::new();
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
        if wrong && !top5 {
            let decision = decisions.get(&keys[0]);
            let outcome = match (is_asked, decision) {
                (_, Some(d)) if d.yes => "rectified",
                (_, Some(_)) => "error",
                (true, None) => "unrated",
                (false, None) => "not-asked",
            };
            questions.push(RatedMistake {
                file: img.file.clone(),
                label: img.label.unwrap_or(-1),
                class: img.top5[0],
                yes: decision.map_or(0, |d| d.yes_votes),
                votes: decision.map_or(0, |d| d.votes),
                outcome: outcome.into(),
            });
        }
        rescued += usize::from(fixed);
        rows.push(vec![wrong, wrong && !fixed]);
    }
    let n = labelled.len();
    let errors = rows.iter().filter(|r| r[0]).count();
    let remaining = rows.iter().filter(|r| r[1]).count();
    // No labelled image: no row, hence no interval.
    let ci = bootstrap_means(&rows, agg.bootstrap, agg.seed);
    let ci = |c: usize| ci.get(c).copied().unwrap_or([f64::NAN; 2]);
    let counts = RelevanceCounts {
        n,
        errors,
        rectified: rescued,
        asked,
        rated,
        unrated,
        not_asked: errors - asked,
        histogram: histogram(&figure_decisions, agg.rule.needs()),
        fleiss_kappa: kappa_of(&figure_answers, agg.rule.needs()),
        rater_agreement: rater_agreement(&figure_answers, MIN_PAIR_OVERLAP),
        stopping: agg.stopping.zip(full.as_ref()).map(|(s, f)| StoppingCounts {
            k: s.k,
            n: s.n,
            full_fraction: s.full_fraction,
            full_items: f.items,
            decided_early: decisions.values().filter(|d| d.votes < s.n).count(),
            answers: f.answers_counted,
            answers_without_stopping: f.questions * s.n,
        }),
    };
    if top5 {
        let result = Top5Result {
            top5_error: rate(errors, n),
            rectified_top5_error: rate(remaining, n),
            ci: Top5Ci { top5_error: ci(0), rectified_top5_error: ci(1) },
            counts,
        };
        DesignResults::Top5 { result, items }
    } else {
        let with_real: Vec<&&EvalImage> =
            labelled.iter().filter(|i| i.real.as_ref().is_some_and(|r| !r.is_empty())).collect();
        let ok = with_real.iter().filter(|i| i.real.as_ref().is_some_and(|r| r.contains(&i.top5[0]))).count();
        // A sampled study: the mistakes outside the sample are estimated through the sample's
        // share of accepted ones, never counted as errors.
        let estimate = agg.sampling.and_then(|s| {
            let verdicts: Vec<bool> = questions
                .iter()
                .filter(|q| q.outcome == "rectified" || q.outcome == "error")
                .map(|q| q.outcome == "rectified")
                .collect();
            crate::sampling::estimate(n, errors, s.population, s.sample, &verdicts)
        });
        let (rectified_top1_error, rectified_ci) = match &estimate {
            Some(e) => (e.rectified_error, e.ci),
            None => (rate(remaining, n), ci(1)),
        };
        let result = Top1Result {
            top1_error: rate(errors, n),
            rectified_top1_error,
            ci: Top1Ci { top1_error: ci(0), rectified_top1_error: rectified_ci },
            real_top1_accuracy: rate(ok, with_real.len()),
            real_n: with_real.len(),
            counts,
            questions,
            estimate,
        };
        DesignResults::Top1 { result, items }
    }
}
