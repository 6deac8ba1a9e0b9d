//! Gradient attacks in pixel space: [`Fgsm`] (one step), [`IFgsm`] (holds an `Fgsm` and repeats
//! it, projecting after each step) and [`Pgd`] (holds an `IFgsm`, starts at a random point of the
//! ε-ball), under the L∞ or L2 norm, untargeted or targeted.
//!
//! Every attack works on the 224×224 crop in `[0, 1]` pixel space: the [`Classifier`] normalises
//! inside, so the gradient is taken w.r.t. pixels and clipping to `[0, 1]` keeps a valid image.
//! Every attack records a [`Trajectory`]: the prediction after every step, which is what model
//! criticism reads (how many steps it takes to flip an image).
//!
//! [`Classifier`]: rectify_model::Classifier

mod fgsm;
mod ifgsm;
mod norm;
mod pgd;
mod target;
mod trajectory;

pub use fgsm::{gradient, Fgsm};
pub use ifgsm::IFgsm;
pub use norm::{project, Norm};
pub use pgd::Pgd;
pub use target::{Goal, TargetChoice};
pub use trajectory::{StepRecord, Trajectory};

use rectify_model::Classifier;
use tch::Tensor;

/// A batch of clean images to attack.
#[derive(Debug)]
pub struct Batch {
    /// Pixels `[N, 3, H, W]` in `[0, 1]`, on the model's device.
    pub pixels: Tensor,
    /// True labels `[N]` (i64, same device).
    pub labels: Tensor,
    /// Stable ids of the images (seed per-image randomness, so results do not depend on batching).
    pub ids: Vec<i64>,
}

/// An attack on a batch.
pub trait Attack {
    /// Attacks `batch`; `goal` says whose loss to raise (untargeted) or lower (targeted).
    fn run(&self, model: &dyn Classifier, batch: &Batch, goal: &Goal) -> Outcome;
}

/// What an attack returns.
#[derive(Debug)]
pub struct Outcome {
    /// The final adversarial images, `[N, 3, H, W]` in `[0, 1]`.
    pub adversarial: Tensor,
    /// Predictions before the first step and after every step.
    pub trajectory: Trajectory,
}
