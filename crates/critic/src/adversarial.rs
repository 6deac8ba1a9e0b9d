//! The adversarial selector of Stock & Cisse (ECCV 2018, §3.3): prototypes are the images that
//! are classified correctly and stay so for M = 10 steps of iterative FGSM, criticisms the ones
//! that a single step already flips. In the paper's study (Table 3) this selection told people
//! more about a class than MMD-critic's.
//!
//! Prototypes are ordered by the true class's probability after step M (most confident
//! first), criticisms by how far that probability fell in the first step (largest fall first).

use serde::{Deserialize, Serialize};

use crate::selection::{top_k, Counts, GroupPicks, Pick, Population, Selector};
use crate::CriticError;

/// Settings of the adversarial selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adversarial {
    /// Steps a prototype must resist (M, 10 in the paper).
    pub resist_steps: usize,
    /// Step by which a criticism must have flipped (1 in the paper).
    pub flip_step: usize,
}

impl Default for Adversarial {
    fn default() -> Self {
        Self { resist_steps: 10, flip_step: 1 }
    }
}

impl Selector for Adversarial {
    fn method(&self) -> &'static str {
        "adversarial"
    }

    fn params(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain settings")
    }

    fn select_group(&self, pop: &Population, members: &[usize], counts: Counts) -> Result<GroupPicks, CriticError> {
        let need = self.resist_steps.max(self.flip_step);
        let (mut protos, mut crits, mut unattacked) = (Vec::new(), Vec::new(), 0);
        for &row in members {
            let item = &pop.items[row];
            let (Some(label), Some(traj)) = (item.label, item.trajectory.as_ref()) else {
                unattacked += 1;
                continue;
            };
            if traj.len() <= need {
                return Err(CriticError::Shape(format!(
                    "row {row} has a trajectory of {} steps, the selector needs {need}",
                    traj.len().saturating_sub(1)
                )));
            }
            if traj[0].top1 != label {
                continue; // misclassified before any attack: neither
            }
            let first_flip = traj.iter().position(|s| s.top1 != label);
            match first_flip {
                None => protos.push(Pick { row, score: traj[self.resist_steps].true_prob }),
                Some(s) if s > self.resist_steps => protos.push(Pick { row, score: traj[self.resist_steps].true_prob }),
                Some(s) if s <= self.flip_step => {
                    crits.push(Pick { row, score: traj[0].true_prob - traj[self.flip_step].true_prob })
                }
                Some(_) => {}
            }
        }
        let note = (unattacked > 0).then(|| format!("{unattacked} rows without a label or an attack trajectory"));
        Ok(GroupPicks {
            prototypes: top_k(protos, counts.prototypes, true),
            criticisms: top_k(crits, counts.criticisms, true),
            note,
        })
    }
}
