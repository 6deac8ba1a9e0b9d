//! Gold items: per rater, how many gold answers were right, and attention checks passed.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::model::{Answer, Item, Vote};

use super::schema::{GoldResults, GoldScore};

/// One rater's gold answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Gold answers right.
    pub right: usize,
    /// Gold answers.
    pub answers: usize,
    /// Attention checks (gold items of variant `attention`) passed.
    pub attention_passed: usize,
    /// Attention checks answered.
    pub attention_checks: usize,
}

/// Per rater, their gold answers among `votes`; `None` when `items` has no gold item. The one
/// place gold answers are counted (results, exclusion).
pub fn tally<'v>(
    items: &[Item],
    votes: impl IntoIterator<Item = &'v Vote>,
) -> Option<(BTreeMap<String, Tally>, usize, usize)> {
    let gold: HashMap<&str, &Answer> = items.iter().filter_map(|i| Some((i.key.as_str(), i.gold.as_ref()?))).collect();
    if gold.is_empty() {
        return None;
    }
    let attention: HashSet<&str> = items
        .iter()
        .filter(|i| i.gold.is_some() && i.variant.as_deref() == Some("attention"))
        .map(|i| i.key.as_str())
        .collect();
    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    for v in votes {
        if let Some(g) = gold.get(v.item.as_str()) {
            let e = per.entry(v.rater.clone()).or_default();
            let right = **g == v.answer;
            e.right += usize::from(right);
            e.answers += 1;
            if attention.contains(v.item.as_str()) {
                e.attention_passed += usize::from(right);
                e.attention_checks += 1;
            }
        }
    }
    Some((per, gold.len(), attention.len()))
}

/// `designs.gold` of `results.json`, or `None` without gold items.
pub(crate) fn results<'v>(items: &[Item], votes: impl IntoIterator<Item = &'v Vote>) -> Option<GoldResults> {
    let (per, gold, attention) = tally(items, votes)?;
    let raters = per
        .into_iter()
        .map(|(r, t)| {
            let checks = t.attention_checks;
            let score = GoldScore {
                gold_answers: t.answers,
                gold_accuracy: t.right as f64 / t.answers as f64,
                attention_checks: (checks > 0).then_some(checks),
                attention_passed: (checks > 0).then_some(t.attention_passed),
            };
            (r, score)
        })
        .collect();
    Some(GoldResults { items: gold, attention_checks: attention, raters })
}

/// Per rater: (gold answers right, gold answers).
pub fn gold_scores(items: &[Item], votes: &[Vote]) -> BTreeMap<String, (usize, usize)> {
    tally(items, votes)
        .map(|(per, _, _)| per.into_iter().map(|(r, t)| (r, (t.right, t.answers))).collect())
        .unwrap_or_default()
}
