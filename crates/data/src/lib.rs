//! Image datasets, label files and torchvision-exact preprocessing.
//!
//! Nothing here depends on a tensor backend: preprocessing yields `u8` crops (what Pillow's resize
//! yields before `ToTensor`), and the model wrapper scales and normalises them.

pub mod attributes;
pub mod dataset;
pub mod files;
pub mod imagenet;
pub mod npy;
pub mod preprocess;
pub mod real;
pub mod rng;
