//! What every selector shares: the population it picks from, groups, and one output type.
//!
//! A [`Population`] is one row per image (label, prediction, probability of the true class,
//! attack trajectory, features: whatever the run has). A [`Grouping`] splits it (per class, one
//! group for all, or a user's CSV such as superclasses: val-1300 has about 2 images per class).
//! Every [`Selector`] picks ordered prototypes and criticisms inside one group; [`select`] runs it
//! over all groups and returns a [`Selection`] that says how it was made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::CriticError;

/// One step of an attack trajectory (step 0 = the clean image).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryStep {
    /// Predicted class after the step.
    pub top1: i64,
    /// Probability of the true class after the step.
    pub true_prob: f64,
}

/// One image of the population.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Item {
    /// The true class, when known.
    pub label: Option<i64>,
    /// The model's top-1 on the clean image.
    pub top1: Option<i64>,
    /// The model's probability of the true class on the clean image.
    pub p_true: Option<f64>,
    /// Predictions after each attack step, step 0 first.
    pub trajectory: Option<Vec<TrajectoryStep>>,
}

/// The images to pick from, with their features (row-major `n × d`) when the method needs them.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// One item per row.
    pub items: Vec<Item>,
    /// Features `(data, d)`, row i at `data[i·d..(i+1)·d]`.
    pub features: Option<(Vec<f32>, usize)>,
}

/// How many of each to pick per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Prototypes per group.
    pub prototypes: usize,
    /// Criticisms per group.
    pub criticisms: usize,
}

impl Default for Counts {
    fn default() -> Self {
        Self { prototypes: 6, criticisms: 6 }
    }
}

/// A picked row and the score that ranked it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// Population row.
    pub row: usize,
    /// The selector's score (see each selector).
    pub score: f64,
}

/// A selector's picks in one group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupPicks {
    /// Ordered prototypes.
    pub prototypes: Vec<Pick>,
    /// Ordered criticisms.
    pub criticisms: Vec<Pick>,
    /// Anything the reader should know about this group (γ used, too few eligible rows …).
    pub note: Option<String>,
}

/// Scores in the order of the picks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Scores {
    /// One per prototype.
    pub prototypes: Vec<f64>,
    /// One per criticism.
    pub criticisms: Vec<f64>,
}

/// The output of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSelection {
    /// Group name.
    pub group: String,
    /// Rows in the group.
    pub size: usize,
    /// Prototype rows, in order.
    pub prototypes: Vec<usize>,
    /// Criticism rows, in order.
    pub criticisms: Vec<usize>,
    /// Their scores.
    pub scores: Scores,
    /// Remarks.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// The output of a selector over all groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// `mmd`, `adversarial`, `probability` or `random`.
    pub method: String,
    /// The selector's settings and the counts.
    pub params: serde_json::Value,
    /// One entry per group, in the grouping's order.
    pub groups: Vec<GroupSelection>,
}

/// Picks prototypes and criticisms inside one group.
pub trait Selector {
    /// The method's name.
    fn method(&self) -> &'static str;
    /// The settings, for provenance.
    fn params(&self) -> serde_json::Value;
    /// Picks within `members` (population rows of one group).
    fn select_group(&self, pop: &Population, members: &[usize], counts: Counts) -> Result<GroupPicks, CriticError>;
}

/// Named groups of population rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Grouping {
    /// `(name, rows)`, rows ascending.
    pub groups: Vec<(String, Vec<usize>)>,
}

impl Grouping {
    /// One group `all` with every row.
    pub fn all(n: usize) -> Self {
        Self { groups: vec![("all".into(), (0..n).collect())] }
    }

    /// Groups from one key per row (`None`: the row is left out), ordered by key.
    pub fn by_key<K: Ord + ToString>(keys: impl IntoIterator<Item = Option<K>>) -> Self {
        let mut map: BTreeMap<K, Vec<usize>> = BTreeMap::new();
        for (row, key) in keys.into_iter().enumerate() {
            if let Some(k) = key {
                map.entry(k).or_default().push(row);
            }
        }
        Self { groups: map.into_iter().map(|(k, rows)| (k.to_string(), rows)).collect() }
    }
}

/// Runs `selector` in every group.
pub fn select(
    selector: &dyn Selector,
    pop: &Population,
    grouping: &Grouping,
    counts: Counts,
    mut progress: impl FnMut(usize),
) -> Result<Selection, CriticError> {
    let mut groups = Vec::with_capacity(grouping.groups.len());
    for (i, (name, rows)) in grouping.groups.iter().enumerate() {
        if let Some(&bad) = rows.iter().find(|&&r| r >= pop.items.len()) {
            return Err(CriticError::Shape(format!("group {name} names row {bad} of {}", pop.items.len())));
        }
        let picks = selector.select_group(pop, rows, counts).map_err(|e| e.in_group(name))?;
        groups.push(GroupSelection {
            group: name.clone(),
            size: rows.len(),
            prototypes: picks.prototypes.iter().map(|p| p.row).collect(),
            criticisms: picks.criticisms.iter().map(|p| p.row).collect(),
            scores: Scores {
                prototypes: picks.prototypes.iter().map(|p| p.score).collect(),
                criticisms: picks.criticisms.iter().map(|p| p.score).collect(),
            },
            note: picks.note,
        });
        progress(i + 1);
    }
    let mut params = selector.params();
    if let Some(obj) = params.as_object_mut() {
        obj.insert("counts".into(), serde_json::to_value(counts).expect("counts"));
    }
    Ok(Selection { method: selector.method().into(), params, groups })
}

/// Sorts `(row, score)` by score (descending when `desc`), ties by row, and keeps `k`.
pub(crate) fn top_k(mut v: Vec<Pick>, k: usize, desc: bool) -> Vec<Pick> {
    v.sort_by(|a, b| {
        let o = a.score.total_cmp(&b.score);
        (if desc { o.reverse() } else { o }).then(a.row.cmp(&b.row))
    });
    v.truncate(k);
    v
}
