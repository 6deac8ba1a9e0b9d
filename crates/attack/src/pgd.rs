//! Projected Gradient Descent: iterative FGSM from a random point of the ε-ball.
//!
//! Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards Deep Learning Models Resistant to
//! Adversarial Attacks", ICLR 2018 (<https://arxiv.org/abs/1706.06083>). The random start is
//! uniform in the L∞ ball, or for L2 a Gaussian direction scaled to a uniform radius (as
//! torchattacks' PGDL2), drawn per image from `(seed, image id)`.

use rectify_model::Classifier;
use tch::{Kind, Tensor};

use crate::{project, Attack, Batch, Goal, IFgsm, Norm, Outcome};
use rectify_data::rng::SplitMix64;

/// An [`IFgsm`] with a budget, started at a random point of its ε-ball.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pgd {
    /// The iterations; its `eps` is the budget (required).
    pub ifgsm: IFgsm,
    /// Seed of the random start.
    pub seed: u64,
}

impl Pgd {
    /// A PGD attack; `None` when `ifgsm` has no budget (PGD needs an ε-ball to start in).
    pub fn new(ifgsm: IFgsm, seed: u64) -> Option<Self> {
        ifgsm.eps.map(|_| Self { ifgsm, seed })
    }

    /// The random start: `x0 + δ`, projected and clipped.
    pub fn random_start(&self, batch: &Batch) -> Tensor {
        let eps = self.ifgsm.eps.expect("Pgd::new requires eps");
        let norm = self.ifgsm.fgsm.norm;
        let size = batch.pixels.size();
        let per_image: i64 = size[1..].iter().product();
        let mut delta = Vec::with_capacity(batch.ids.len() * per_image as usize);
        for &id in &batch.ids {
            let mut g = SplitMix64::new(self.seed, id);
            match norm {
                Norm::Linf => delta.extend((0..per_image).map(|_| ((2.0 * g.uniform() - 1.0) * eps) as f32)),
                Norm::L2 => {
                    let d: Vec<f64> = (0..per_image).map(|_| g.normal()).collect();
                    let n = d.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                    let r = g.uniform() * eps;
                    delta.extend(d.iter().map(|v| (v / n * r) as f32));
                }
            }
        }
        let delta = Tensor::from_slice(&delta).view(size.as_slice()).to_device(batch.pixels.device());
        project(&(&batch.pixels + delta.to_kind(Kind::Float)), &batch.pixels, Some(eps), norm)
    }
}

impl Attack for Pgd {
    fn run(&self, model: &dyn Classifier, batch: &Batch, goal: &Goal) -> Outcome {
        self.ifgsm.run_from(model, batch, goal, self.random_start(batch))
    }
}
