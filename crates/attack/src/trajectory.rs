//! What an attack did to the predictions, step by step.

use tch::{Kind, Tensor};

use crate::Goal;

/// The predictions on one batch at one step (step 0 = clean).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Top-1 class per image.
    pub top1: Vec<i64>,
    /// Its softmax probability.
    pub top1_prob: Vec<f32>,
    /// Softmax probability of the true label.
    pub true_prob: Vec<f32>,
    /// Softmax probability of the target, for targeted attacks.
    pub target_prob: Option<Vec<f32>>,
}

impl StepRecord {
    /// Reads the predictions out of `logits` `[N, C]`.
    pub fn from_logits(logits: &Tensor, labels: &Tensor, goal: &Goal) -> Self {
        let cpu = tch::Device::Cpu;
        let probs = logits.detach().to_kind(Kind::Float).softmax(-1, Kind::Float);
        let (p, i) = probs.max_dim(1, false);
        let pick = |classes: &Tensor| -> Vec<f32> {
            Vec::try_from(probs.gather(1, &classes.view([-1, 1]), false).view([-1]).to_device(cpu)).expect("floats")
        };
        StepRecord {
            top1: Vec::try_from(i.to_device(cpu)).expect("i64 classes"),
            top1_prob: Vec::try_from(p.to_device(cpu)).expect("floats"),
            true_prob: pick(labels),
            target_prob: goal.targets().map(pick),
        }
    }
}

/// Predictions before the first step and after each step: `steps[0]` is clean.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trajectory {
    /// One record per step, each over the whole batch.
    pub steps: Vec<StepRecord>,
}

impl Trajectory {
    /// Number of attack steps (records − 1).
    pub fn len(&self) -> usize {
        self.steps.len().saturating_sub(1)
    }

    /// Whether no step was taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Per image, the first step whose prediction differs from `labels` (untargeted) or equals
    /// `targets` (targeted); `Some(0)` when the clean image already does; `None` when never.
    pub fn steps_to_flip(&self, labels: &[i64], targets: Option<&[i64]>) -> Vec<Option<usize>> {
        (0..labels.len())
            .map(|i| {
                self.steps.iter().position(|s| match targets {
                    None => s.top1[i] != labels[i],
                    Some(t) => s.top1[i] == t[i],
                })
            })
            .collect()
    }

    /// Predictions of image `i` at every step.
    pub fn predictions_of(&self, i: usize) -> Vec<i64> {
        self.steps.iter().map(|s| s.top1[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(top1: &[i64]) -> StepRecord {
        StepRecord {
            top1: top1.to_vec(),
            top1_prob: vec![0.5; top1.len()],
            true_prob: vec![0.5; top1.len()],
            target_prob: None,
        }
    }

    #[test]
    fn steps_to_flip_by_hand() {
        // Image 0 flips at step 2, image 1 never, image 2 is wrong when clean.
        let t = Trajectory { steps: vec![rec(&[1, 2, 9]), rec(&[1, 2, 9]), rec(&[7, 2, 9])] };
        assert_eq!(t.len(), 2);
        assert_eq!(t.steps_to_flip(&[1, 2, 3], None), vec![Some(2), None, Some(0)]);
        assert_eq!(t.steps_to_flip(&[1, 2, 3], Some(&[7, 5, 9])), vec![Some(2), None, Some(0)]);
        assert_eq!(t.predictions_of(0), vec![1, 1, 7]);
    }
}
