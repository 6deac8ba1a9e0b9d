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
//! [`MIN_PAIR_OVERLAP`] questions ([`crate::aggregate::rater_agreement`]).

mod arms;
mod assignment;
pub mod gold;
mod relevance;
mod schema;
mod sharing;

use std::collections::{BTreeMap, HashMap};

use crate::aggregate::{decide, Rule};
use crate::designs::EvalImage;
use crate::model::{Answer, Design, Item, Vote};
use crate::sampling::Sampling;
use crate::stopping::Stopping;

pub use gold::gold_scores;
pub use schema::*;
pub use sharing::{for_run, sharing};

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
    /// The study stopped asking once the rule had decided: questions the answers so far decide
    /// are decided (not unrated), and the histogram, κ and agreement come from the questions drawn
    /// to get all N answers.
    pub stopping: Option<Stopping>,
    /// The study's relevance-top1 items are a random sample of the run's mistakes: the rectified
    /// top-1 error is estimated for all of them (see [`crate::sampling`]).
    pub sampling: Option<Sampling>,
}

impl Default for Aggregation {
    fn default() -> Self {
        Self {
            rule: Rule::default(),
            min_time: None,
            max_time: None,
            bootstrap: 2000,
            seed: 0,
            stopping: None,
            sampling: None,
        }
    }
}

/// Questions two raters must share before their Cohen's κ is reported.
pub const MIN_PAIR_OVERLAP: usize = 10;

fn keep(v: &Vote, agg: &Aggregation) -> bool {
    match v.seconds {
        Some(s) => agg.min_time.is_none_or(|m| s >= m) && agg.max_time.is_none_or(|m| s <= m),
        None => true,
    }
}

/// Every design's results, keyed `design` (or `design/variant` when a design has several).
pub fn results(images: &[EvalImage], items: &[Item], votes: &[Vote], agg: &Aggregation) -> ResultsFile {
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
    let mut out = BTreeMap::new();
    for ((design, variant), group) in &groups {
        let key = match variant {
            Some(v) if variants_of(*design) > 1 => format!("{}/{v}", design.name()),
            _ => design.name().to_string(),
        };
        let decided_early = |i: &Item| {
            agg.stopping.is_some_and(|s| {
                let answers: Vec<Answer> =
                    by_item.get(i.key.as_str()).into_iter().flatten().map(|v| v.answer.clone()).collect();
                Stopping::applies_to(i) && s.decision(&i.question, &answers).is_some()
            })
        };
        let complete = group
            .iter()
            .filter(|i| by_item.get(i.key.as_str()).map_or(0, Vec::len) >= agg.rule.needs() || decided_early(i))
            .count();
        let items = ItemCounts {
            items: group.len(),
            items_complete: complete,
            items_incomplete: group.len() - complete,
            variant: variant.clone(),
        };
        let v = match design {
            Design::RelevanceTop1 | Design::RelevanceTop5 => {
                let answers = relevance::judgments(group, &by_item);
                let decisions = relevance::decisions(agg, &answers);
                // Under stopping, the figures that need every answer come from the full subset.
                let full = agg.stopping.filter(|s| s.full_fraction < 1.0).map(|s| {
                    let full: Vec<&Item> = group.iter().copied().filter(|i| s.is_full(&i.key)).collect();
                    let answers = relevance::judgments(&full, &by_item);
                    let counted: usize = group.iter().map(|i| by_item.get(i.key.as_str()).map_or(0, Vec::len)).sum();
                    relevance::FullSubset {
                        decisions: decide(agg.rule, &answers),
                        answers,
                        items: full.len(),
                        answers_counted: counted,
                        questions: group.len(),
                    }
                });
                let top5 = *design == Design::RelevanceTop5;
                relevance::rectified(images, &decisions, &answers, full, agg, top5, items)
            }
            Design::Adversarial | Design::Attribute => arms::arms(*design, variant, group, &by_item, agg, items),
            Design::Assignment => assignment::assignment(group, &by_item, items),
        };
        out.insert(key, v);
    }
    if let Some(gold) = gold::results(items, votes.iter().filter(|v| keep(v, agg))) {
        out.insert("gold".into(), DesignResults::Gold(gold));
    }
    // Where the votes come from (`server`, `real-raters`, `cleanlab-mturk`, `csv`, …), so that a
    // report can say whose judgement the rectified error rests on.
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    for v in votes {
        *sources.entry(v.source.clone()).or_default() += 1;
    }
    ResultsFile {
        rule: agg.rule,
        time_filter: TimeFilter { min_seconds: agg.min_time, max_seconds: agg.max_time, votes_dropped: dropped },
        votes: votes.len(),
        sources,
        designs: out,
        study: None,
        study_run: None,
        version: None,
        sharing: None,
        exclusion: None,
    }
}
