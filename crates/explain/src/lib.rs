//! Explanations of single predictions (issue #4).
//!
//! [`lime`] holds LIME's surrogate-model core (Ribeiro, Singh, Guestrin, "Why Should I Trust
//! You?", KDD 2016), which knows nothing of images: binary feature rows, their kernel weights and
//! the model's outputs in, a sparse weighted linear model out.

pub mod lime;
