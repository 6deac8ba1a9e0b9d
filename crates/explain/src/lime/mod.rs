//! LIME's core: feature selection and a weighted linear surrogate, as `lime_base.LimeBase`.

mod base;
mod gram;
mod lars;

pub use base::{cosine_distances_to_first, kernel, Explanation, FeatureSelection, LimeBase, Regressor, SelectionError};
pub use lars::lasso_path;
