//! `adversarial` (per arm: Table 2) and `attribute` (per attribute): the share of items the rule
//! calls yes, with its interval, histogram and agreement.

use std::collections::{BTreeMap, HashMap};

use crate::aggregate::{bootstrap_means, decide, kappa_of, rater_agreement};
use crate::model::{Design, Item, Vote};

use super::relevance::{histogram, rate, Answers};
use super::schema::{ArmResult, DesignResults, ItemCounts};
use super::{Aggregation, MIN_PAIR_OVERLAP};

/// The results of one adversarial or attribute group (`variant` names an attribute).
pub(crate) fn arms(
    design: Design,
    variant: &Option<String>,
    group: &[&Item],
    by_item: &HashMap<&str, Vec<&Vote>>,
    agg: &Aggregation,
    items: ItemCounts,
) -> DesignResults {
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
    let mut per = BTreeMap::new();
    for (arm, answers) in &arms {
        let decisions = decide(agg.rule, answers);
        let rows: Vec<Vec<bool>> = decisions.values().map(|d| vec![d.yes]).collect();
        let yes = rows.iter().filter(|r| r[0]).count();
        per.insert(
            arm.clone(),
            ArmResult {
                items: answers.len(),
                rated: decisions.len(),
                unrated: answers.len() - decisions.len(),
                yes_rate: rate(yes, rows.len()),
                ci: bootstrap_means(&rows, agg.bootstrap, agg.seed).first().copied(),
                histogram: histogram(&decisions, agg.rule.needs()),
                fleiss_kappa: kappa_of(answers, agg.rule.needs()),
                rater_agreement: rater_agreement(answers, MIN_PAIR_OVERLAP),
            },
        );
    }
    if design == Design::Adversarial {
        DesignResults::Adversarial { arms: per, items }
    } else {
        DesignResults::Attribute { attributes: per, items }
    }
}
