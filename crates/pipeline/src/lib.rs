//! The audit's stages as functions (issue #14): each takes the run store (or the directory it
//! creates), a model where it runs one, typed settings and a [`Progress`] sink, and returns
//! its typed summary, the same one it writes into the run directory. The `rectify` binary is
//! flags → settings → call → print on top of this crate, as cargo's `bin/cargo/commands`
//! sit on `cargo::ops` (../shared/STYLE.md); the Python package and in-process tests call the
//! same functions.
//!
//! - [`eval`]: predictions of a classifier on a folder of images;
//! - [`attack`]: FGSM, iterative FGSM, PGD with every step's prediction;
//! - [`explain`]: LIME on superpixels, images with attention, explanation paths;
//! - [`criticize`]: prototypes and criticisms per group;
//! - [`preprocess`]: how images become pixels (timm / Hugging Face configs, flags), per run;
//! - [`shard`] and [`merge`]: a stage split across machines (`--shard I/N`), and back into one run;
//! - [`audit`]: all of them with the paper's settings, then the votes and the report.
//!
//! ```no_run
//! use rectify_pipeline::attack::AttackSettings;
//! use rectify_pipeline::eval::{EvalSettings, ImageInputs};
//! use rectify_pipeline::{ModelSpec, Silent};
//! # fn main() -> anyhow::Result<()> {
//! let model = ModelSpec::default().load()?; // the bundled MobileNetV2
//! let images = ImageInputs { labels: Some("labels.csv".into()), ..ImageInputs::new("images/") };
//! let settings = EvalSettings::new(images);
//! let summary = rectify_pipeline::eval::run("runs/x".as_ref(), &*model, &settings, &mut Silent)?;
//! println!("top-1 {:?}", summary.top1);
//! let mut store = rectify_store::RunStore::open("runs/x".as_ref())?;
//! let attack = rectify_pipeline::attack::run(&mut store, &*model, &AttackSettings::paper(), &mut Silent)?;
//! println!("accuracy per step {:?}", attack.accuracy_per_step);
//! # Ok(())
//! # }
//! ```
//!
//! With the `clap` feature the settings derive `clap::Args` and their choices
//! `clap::ValueEnum`, so the binary flattens them instead of copying them (as ruff's
//! `settings/types.rs` does).

pub mod attack;
pub mod attack_outputs;
pub mod audit;
pub mod bias;
pub mod criticize;
pub mod decode;
pub mod describe;
pub mod eval;
pub mod explain;
pub mod merge;
pub mod model;
pub mod outputs;
pub mod pairs;
pub mod plan;
pub mod preprocess;
pub mod progress;
pub mod recruit;
pub mod replay;
pub mod shard;
pub mod subset;
pub mod votes;

pub use model::{BoxedModel, ModelSpec};
pub use progress::{Console, Progress, Silent};
