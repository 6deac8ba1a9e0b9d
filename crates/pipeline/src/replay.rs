//! `rectify study replay`: what stopping once the rule has decided would have used on the votes
//! a study already holds (imported or collected), exactly (issue #30).
//!
//! For every data item of the design with at least N counted votes (its first N, as the rule
//! reads them), [`rectify_study::stopping::replay`] gives the expected number of answers asked
//! over all the orders in which those N could have arrived, and whether the verdict could have
//! changed (it cannot, under k-of-n: the check is there to show it). Items drawn to get all N
//! answers (`--full-fraction`, by the same draw as `study design`) count N.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rectify_study::aggregate::RuleSpec;
use rectify_study::stopping::{replay as replay_item, Stopping};
use rectify_study::{Answer, Design};
use serde::Serialize;

use crate::votes::StudyTarget;

/// How to replay (`rectify study replay`).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ReplaySettings {
    /// The design whose items to replay (relevance-top1 or relevance-top5).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "relevance-top1"))]
    pub design: Design,
    /// The rule that decides: `k-of-n:K/N` or `majority[:N]` (N: the study's answers per item).
    #[cfg_attr(feature = "clap", arg(long, default_value = "k-of-n:4/5"))]
    pub rule: RuleSpec,
    /// The share of items that would still get all N answers (drawn with --seed, as
    /// `study design --full-fraction` draws them).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub full_fraction: f64,
    /// Draws the items that get all N answers.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Writes the replay here (totals and every item) as JSON.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: Option<PathBuf>,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        ReplaySettings {
            design: Design::RelevanceTop1,
            rule: RuleSpec::KOfN { k: 4, n: 5 },
            full_fraction: 0.1,
            seed: 0,
            json: None,
        }
    }
}

/// One item replayed.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayedItem {
    /// The item's key.
    pub key: String,
    /// Drawn to get all N answers.
    pub full: bool,
    /// Answers asked: N for a full item, else the exact expectation over all orders.
    pub answers: f64,
    /// The verdict on its N answers.
    pub verdict: bool,
    /// Whether stopping gives that verdict in every order.
    pub same_verdict: bool,
}

/// What [`replay`] found (the JSON file of `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    /// The study.
    pub study: String,
    /// The design replayed.
    pub design: String,
    /// Yes answers that decide yes.
    pub k: usize,
    /// Answers an item gets at most.
    pub n: usize,
    /// The share of items drawn to get all N.
    pub full_fraction: f64,
    /// The draw's seed.
    pub seed: u64,
    /// Items replayed: data items of the design with at least N counted votes.
    pub items: usize,
    /// Items of the design left out for having fewer than N counted votes.
    pub items_with_fewer_votes: usize,
    /// Of the items, drawn to get all N answers.
    pub full_items: usize,
    /// items × N: what asking everyone about every item takes.
    pub answers_full: usize,
    /// The expected answers with stopping (exact: over all orders of each item's votes).
    pub answers_sequential: f64,
    /// answers_sequential / items.
    pub answers_per_item: f64,
    /// answers_sequential / answers_full.
    pub share_of_full: f64,
    /// Items whose verdict is the same in every order.
    pub same_verdicts: usize,
    /// Items whose verdict some order changes.
    pub changed_verdicts: usize,
    /// Every item, by key.
    pub per_item: Vec<ReplayedItem>,
}

/// Replays the study's counted votes on `settings.design` under stopping (see the module docs),
/// and writes `settings.json` when set.
pub async fn replay(target: &StudyTarget, settings: &ReplaySettings) -> Result<Replay> {
    if !matches!(settings.design, Design::RelevanceTop1 | Design::RelevanceTop5) {
        bail!("--design {}: stopping applies to relevance-top1 and relevance-top5", settings.design.name());
    }
    if !(0.0..=1.0).contains(&settings.full_fraction) {
        bail!("--full-fraction {} lies in [0, 1]", settings.full_fraction);
    }
    let db = target.open().await?;
    let info = db.study(&target.study).await?.with_context(|| format!("no study {:?} in this run", target.study))?;
    let rule = settings.rule.resolve(info.answers_per_item);
    let stopping = Stopping::for_rule(rule, settings.full_fraction, settings.seed)
        .with_context(|| format!("--rule {}: stopping needs k-of-n or majority", settings.rule))?;
    stopping.check().map_err(anyhow::Error::msg)?;
    let items: Vec<_> = db
        .items(&target.study)
        .await?
        .into_iter()
        .filter(|i| i.design == settings.design && Stopping::applies_to(i))
        .collect();
    if items.is_empty() {
        bail!("the study has no {} item: design or import it first", settings.design.name());
    }
    let mut by_item: std::collections::HashMap<String, Vec<Answer>> = std::collections::HashMap::new();
    for v in db.counted_votes(&target.study).await? {
        by_item.entry(v.item).or_default().push(v.answer);
    }
    let n = stopping.n;
    if n > 20 {
        bail!("replay enumerates the subsets of an item's N answers: N = {n} is more than 20");
    }
    let mut per_item = Vec::new();
    let mut fewer = 0;
    for item in &items {
        let votes = by_item.get(&item.key).map(Vec::as_slice).unwrap_or(&[]);
        let Some(r) = replay_item(&stopping, &item.question, votes) else {
            fewer += 1;
            continue;
        };
        let full = stopping.is_full(&item.key);
        per_item.push(ReplayedItem {
            key: item.key.clone(),
            full,
            answers: if full { n as f64 } else { r.expected_answers },
            verdict: r.verdict,
            same_verdict: full || r.same_verdict,
        });
    }
    let m = per_item.len();
    let sequential: f64 = per_item.iter().map(|i| i.answers).sum();
    let same = per_item.iter().filter(|i| i.same_verdict).count();
    let out = Replay {
        study: target.study.clone(),
        design: settings.design.name().into(),
        k: stopping.k,
        n,
        full_fraction: stopping.full_fraction,
        seed: stopping.seed,
        items: m,
        items_with_fewer_votes: fewer,
        full_items: per_item.iter().filter(|i| i.full).count(),
        answers_full: m * n,
        answers_sequential: sequential,
        answers_per_item: if m == 0 { f64::NAN } else { sequential / m as f64 },
        share_of_full: if m == 0 { f64::NAN } else { sequential / (m * n) as f64 },
        same_verdicts: same,
        changed_verdicts: m - same,
        per_item,
    };
    if let Some(path) = &settings.json {
        crate::outputs::write_json(path, &out)?;
    }
    Ok(out)
}
