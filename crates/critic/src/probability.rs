//! The probability selector (Stock & Cisse, ECCV 2018, §3.3): prototypes are the images whose
//! true class the model gives a probability above 0.9, criticisms those below 0.1.
//! Prototypes are ordered most confident first, criticisms least confident first.

use serde::{Deserialize, Serialize};

use crate::selection::{top_k, Counts, GroupPicks, Pick, Population, Selector};
use crate::CriticError;

/// Settings of the probability selector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Probability {
    /// A prototype's true-class probability is above this.
    pub prototype_above: f64,
    /// A criticism's true-class probability is below this.
    pub criticism_below: f64,
}

impl Default for Probability {
    fn default() -> Self {
        Self { prototype_above: 0.9, criticism_below: 0.1 }
    }
}

impl Selector for Probability {
    fn method(&self) -> &'static str {
        "probability"
    }

    fn params(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain settings")
    }

    fn select_group(&self, pop: &Population, members: &[usize], counts: Counts) -> Result<GroupPicks, CriticError> {
        if self.criticism_below > self.prototype_above {
            return Err(CriticError::Degenerate(format!(
                "the criticism threshold {} is above the prototype threshold {}",
                self.criticism_below, self.prototype_above
            )));
        }
        let (mut protos, mut crits, mut unknown) = (Vec::new(), Vec::new(), 0);
        for &row in members {
            match pop.items[row].p_true {
                Some(p) if p > self.prototype_above => protos.push(Pick { row, score: p }),
                Some(p) if p < self.criticism_below => crits.push(Pick { row, score: p }),
                Some(_) => {}
                None => unknown += 1,
            }
        }
        let note = (unknown > 0).then(|| format!("{unknown} rows without a true-class probability"));
        Ok(GroupPicks {
            prototypes: top_k(protos, counts.prototypes, true),
            criticisms: top_k(crits, counts.criticisms, false),
            note,
        })
    }
}
