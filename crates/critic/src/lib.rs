//! Prototypes and criticisms (Stock & Cisse, ECCV 2018, §3.3): what a model learned of a class,
//! and the examples it does not capture.
//!
//! * [`mmd_critic`]: MMD-critic (Kim et al., NeurIPS 2016), equal to the authors' code, over a
//!   dense or a blocked [`kernel`] that never holds n×n for large n;
//! * [`adversarial`]: prototypes resist M steps of iterative FGSM, criticisms flip after one;
//! * [`probability`]: true-class probability above / below thresholds;
//! * [`random`]: the seeded control;
//! * [`selection`]: the [`Selector`] trait they share, groups, and the output type;
//! * [`gallery`]: prototype / criticism sheets as in the paper's figures.

pub mod adversarial;
pub mod gallery;
pub mod kernel;
pub mod mmd_critic;
pub mod probability;
pub mod random;
pub mod selection;

pub use adversarial::Adversarial;
pub use kernel::{Gamma, Kernel, Strategy};
pub use mmd_critic::{MmdCritic, MmdSelection, Regularizer};
pub use probability::Probability;
pub use random::Random;
pub use selection::{select, Counts, GroupSelection, Grouping, Item, Pick, Population, Selection, Selector};

/// What can go wrong while selecting.
#[derive(Debug, thiserror::Error)]
pub enum CriticError {
    /// Inputs of the wrong shape or content.
    #[error("{0}")]
    Shape(String),
    /// A setting or an input that leaves nothing to compute (γ ≤ 0, identical rows …).
    #[error("{0}")]
    Degenerate(String),
    /// The method needs data the population lacks.
    #[error("the method needs {0}, which the population lacks")]
    Missing(String),
    /// An error inside one group.
    // Not `source`: the message already includes it, and a source would print it twice.
    #[error("group {group}: {error}")]
    Group {
        /// The group's name.
        group: String,
        /// What went wrong.
        error: Box<CriticError>,
    },
}

impl CriticError {
    /// Wraps the error with the group it happened in.
    pub fn in_group(self, group: &str) -> Self {
        CriticError::Group { group: group.to_string(), error: Box::new(self) }
    }
}
