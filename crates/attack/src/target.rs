//! Whose loss an attack raises or lowers.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use rectify_data::rng::SplitMix64;

/// How targets are chosen (the CLI's `--target none|least-likely|random|CLASS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TargetChoice {
    /// Untargeted: raise the loss of the true label.
    #[default]
    None,
    /// The class the clean image's logits rank last.
    LeastLikely,
    /// A uniformly random class other than the true label, from `(seed, image id)`.
    Random {
        /// Seed.
        seed: u64,
    },
    /// The same class for every image.
    Class(i64),
}

/// The resolved goal of an attack on a batch.
#[derive(Debug)]
pub enum Goal {
    /// Maximise the cross-entropy of the true labels.
    Untargeted,
    /// Minimise the cross-entropy of these classes (`[N]`, i64, on the model's device).
    Targeted(Tensor),
}

impl TargetChoice {
    /// Resolves the choice for a batch: `clean_logits` `[N, C]`, `labels` `[N]`, `ids` per image.
    pub fn resolve(self, clean_logits: &Tensor, labels: &Tensor, ids: &[i64]) -> Goal {
        let device = labels.device();
        let classes = clean_logits.size()[1];
        match self {
            TargetChoice::None => Goal::Untargeted,
            TargetChoice::LeastLikely => Goal::Targeted(clean_logits.argmin(1, false).to_device(device)),
            TargetChoice::Class(c) => Goal::Targeted(Tensor::full([ids.len() as i64], c, (Kind::Int64, device))),
            TargetChoice::Random { seed } => {
                let labels: Vec<i64> = Vec::try_from(labels.to_device(tch::Device::Cpu)).expect("i64 labels");
                let targets: Vec<i64> = ids
                    .iter()
                    .zip(labels)
                    .map(|(&id, label)| {
                        // Uniform over the classes other than the label.
                        let t = SplitMix64::new(seed, id).below(classes as u64 - 1) as i64;
                        if t >= label {
                            t + 1
                        } else {
                            t
                        }
                    })
                    .collect();
                Goal::Targeted(Tensor::from_slice(&targets).to_device(device))
            }
        }
    }
}

impl Goal {
    /// The classes whose loss the gradient is taken of.
    pub(crate) fn classes<'a>(&'a self, labels: &'a Tensor) -> &'a Tensor {
        match self {
            Goal::Untargeted => labels,
            Goal::Targeted(t) => t,
        }
    }

    /// +1 to ascend the loss (untargeted), −1 to descend it (targeted).
    pub(crate) fn sign(&self) -> f64 {
        match self {
            Goal::Untargeted => 1.0,
            Goal::Targeted(_) => -1.0,
        }
    }

    /// The target classes, when targeted.
    pub fn targets(&self) -> Option<&Tensor> {
        match self {
            Goal::Untargeted => None,
            Goal::Targeted(t) => Some(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_targets_avoid_the_label_and_ignore_batching() {
        let logits = Tensor::zeros([3, 5], (Kind::Float, tch::Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 4, 2]);
        let all = TargetChoice::Random { seed: 9 }.resolve(&logits, &labels, &[10, 11, 12]);
        let all: Vec<i64> = Vec::try_from(all.targets().unwrap()).unwrap();
        assert!(all.iter().zip([0, 4, 2]).all(|(t, l)| *t != l && (0..5).contains(t)));
        let one = TargetChoice::Random { seed: 9 }.resolve(&logits.narrow(0, 1, 1), &labels.narrow(0, 1, 1), &[11]);
        assert_eq!(Vec::<i64>::try_from(one.targets().unwrap()).unwrap(), vec![all[1]]);
    }

    #[test]
    fn least_likely_is_the_argmin() {
        let logits = Tensor::from_slice(&[0.0f32, -3.0, 1.0, 2.0, 5.0, -1.0]).view([2, 3]);
        let g = TargetChoice::LeastLikely.resolve(&logits, &Tensor::from_slice(&[0i64, 0]), &[0, 1]);
        assert_eq!(Vec::<i64>::try_from(g.targets().unwrap()).unwrap(), vec![1, 2]);
    }
}
