//! Explanations of single predictions (issue #4).
//!
//! [`lime`] holds LIME's surrogate-model core (Ribeiro, Singh, Guestrin, "Why Should I Trust
//! You?", KDD 2016), which knows nothing of images: binary feature rows, their kernel weights and
//! the model's outputs in, a sparse weighted linear model out. [`image`] perturbs superpixels and
//! evaluates a classifier on the perturbed images; [`path`] computes explanation paths.

pub mod image;
pub mod lime;
pub mod path;
pub mod render;
