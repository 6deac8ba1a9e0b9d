//! The run directory: one audit = one folder with an SQLite database and an `artifacts/` folder.
//!
//! ```text
//! RUN_DIR/
//!   rectify.db        SQLite (WAL): runs (provenance), images, predictions, errors
//!   artifacts/        large or binary results of later stages
//!   predictions.csv   summary.json   logits.npy   features.npy   (written by `rectify eval`)
//! ```
//! Every stored result belongs to a run, and every run records how it was made
//! ([`Provenance`]): model and weights sha256, preprocessing, parameters, seed, tool version.

pub mod artifacts;
mod attack;
mod criticize;
mod error;
mod explain;
pub mod paths;
mod provenance;
mod schema;
mod store;

pub use attack::{AttackRow, AttackStep};
pub use criticize::CriticismRow;
pub use error::StoreError;
pub use explain::ExplanationRow;
pub use provenance::{ModelRecord, Provenance};
pub use store::{read_images, ErrorRow, ImageRow, PredictionRow, RunId, RunStore, DB_FILE};
