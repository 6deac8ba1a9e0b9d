//! Iterative FGSM (the Basic Iterative Method): repeat an [`Fgsm`] step, projecting onto the
//! ε-ball around the clean image (when a budget is set) and clipping to `[0, 1]` after each.
//!
//! Kurakin, Goodfellow, Bengio, "Adversarial Examples in the Physical World", ICLR 2017
//! workshop (<https://arxiv.org/abs/1607.02533>). The paper this toolkit implements uses step
//! 0.001, 10 steps, untargeted, L∞, no budget beyond the steps themselves.

use rectify_model::Classifier;
use tch::Tensor;

use crate::{project, Attack, Batch, Fgsm, Goal, Outcome, StepRecord, Trajectory};

/// `steps` FGSM steps with an optional budget `eps` (in the FGSM's norm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IFgsm {
    /// The step repeated.
    pub fgsm: Fgsm,
    /// Number of steps.
    pub steps: usize,
    /// ε-ball radius around the clean image; `None`: only clip to `[0, 1]`.
    pub eps: Option<f64>,
}

impl IFgsm {
    /// Runs from `start` (the clean images, or a random point near them for PGD), projecting
    /// around `batch.pixels`. Records the prediction at the start and after every step; the
    /// forward that gives a step's gradient also gives its record, so M steps cost M + 1
    /// forwards and M backwards.
    pub fn run_from(&self, model: &dyn Classifier, batch: &Batch, goal: &Goal, start: Tensor) -> Outcome {
        let x0 = &batch.pixels;
        let mut x = start;
        let mut steps = Vec::with_capacity(self.steps + 1);
        for s in 0..=self.steps {
            if s == self.steps {
                let logits = tch::no_grad(|| model.logits(&x));
                steps.push(StepRecord::from_logits(&logits, &batch.labels, goal));
                break;
            }
            let (next, logits) = self.fgsm.perturb(model, &x, &batch.labels, goal);
            steps.push(StepRecord::from_logits(&logits, &batch.labels, goal));
            x = match self.eps {
                Some(_) => project(&next, x0, self.eps, self.fgsm.norm),
                None => next,
            };
        }
        Outcome { adversarial: x, trajectory: Trajectory { steps } }
    }
}

impl Attack for IFgsm {
    fn run(&self, model: &dyn Classifier, batch: &Batch, goal: &Goal) -> Outcome {
        self.run_from(model, batch, goal, batch.pixels.shallow_clone())
    }
}
