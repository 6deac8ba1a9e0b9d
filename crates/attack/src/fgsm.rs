//! Fast Gradient Sign Method: one step along the gradient of the loss w.r.t. the pixels.
//!
//! Goodfellow, Shlens, Szegedy, "Explaining and Harnessing Adversarial Examples", ICLR 2015
//! (<https://arxiv.org/abs/1412.6572>). Untargeted: `x' = clip(x + step · sign(∇ₓ CE(f(x), y)))`;
//! targeted: `x' = clip(x − step · sign(∇ₓ CE(f(x), t)))`. Under L2 the sign becomes g/‖g‖₂.

use rectify_model::Classifier;
use tch::{Reduction, Tensor};

use crate::{project, Attack, Batch, Goal, Norm, Outcome, StepRecord, Trajectory};

/// The gradient of the summed cross-entropy of `classes` w.r.t. the pixels `x`, and the logits
/// of `x`. The model normalises inside, so this is the gradient in pixel space.
pub fn gradient(model: &dyn Classifier, x: &Tensor, classes: &Tensor) -> (Tensor, Tensor) {
    let x = x.detach().set_requires_grad(true);
    let logits = model.logits(&x);
    let loss = logits.cross_entropy_loss::<Tensor>(classes, None, Reduction::Sum, -100, 0.0);
    let grad = Tensor::run_backward(&[loss], &[&x], false, false).pop().expect("one input, one gradient");
    (grad, logits.detach())
}

/// One gradient step of size `step` under `norm`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fgsm {
    /// Step size in `[0, 1]` pixel units (the paper: 0.001).
    pub step: f64,
    /// Threat model.
    pub norm: Norm,
}

impl Fgsm {
    /// One step from `x`: the next images (clipped to `[0, 1]`) and the logits of `x`.
    pub fn perturb(&self, model: &dyn Classifier, x: &Tensor, labels: &Tensor, goal: &Goal) -> (Tensor, Tensor) {
        let (grad, logits) = gradient(model, x, goal.classes(labels));
        let next = x.detach() + self.norm.direction(&grad, self.step * goal.sign());
        (project(&next, x, None, self.norm), logits)
    }
}

impl Attack for Fgsm {
    fn run(&self, model: &dyn Classifier, batch: &Batch, goal: &Goal) -> Outcome {
        let (adversarial, clean_logits) = self.perturb(model, &batch.pixels, &batch.labels, goal);
        let after = tch::no_grad(|| model.logits(&adversarial));
        let steps = vec![
            StepRecord::from_logits(&clean_logits, &batch.labels, goal),
            StepRecord::from_logits(&after, &batch.labels, goal),
        ];
        Outcome { adversarial, trajectory: Trajectory { steps } }
    }
}
