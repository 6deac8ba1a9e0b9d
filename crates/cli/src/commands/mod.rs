//! One module per subcommand: flags → settings → a call into `rectify_pipeline` → print
//! (as cargo's `src/bin/cargo/commands/*.rs` sit on `cargo::ops`). The flag groups several
//! commands share are defined once here or in the library and flattened (cargo's
//! `command_prelude.rs`).

pub mod attack;
pub mod audit;
pub mod criticize;
pub mod eval;
pub mod explain;
pub mod merge;
pub mod pairs;
pub mod report;
pub mod study;

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rectify_pipeline::model::{self, Placement};
use rectify_pipeline::BoxedModel;
use rectify_store::RunStore;

/// `--run RUN_DIR` and where its model computes: the flags of every stage on an eval run.
#[derive(Debug, Args)]
pub struct OnRun {
    /// The run directory of a `rectify eval`.
    #[arg(long)]
    pub run: PathBuf,
    /// Where the run's model computes.
    #[command(flatten)]
    pub placement: Placement,
}

impl OnRun {
    /// The run's store and its model.
    pub fn open(&self) -> Result<(RunStore, BoxedModel)> {
        let store = RunStore::open(&self.run)?;
        let model = model::of_run(&store, &self.placement)?;
        Ok((store, model))
    }
}
