//! `rectify eval`: flags → [`rectify_pipeline::eval::run`] → the accuracy printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rectify_pipeline::eval::EvalSettings;
use rectify_pipeline::ModelSpec;

/// `rectify eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: ModelSpec,
    /// The run directory (created; rerunning resumes).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    settings: EvalSettings,
}

/// Runs `rectify eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    args.settings.check()?;
    let model = args.model.load_for(&args.settings.preprocess.resolve()?)?;
    let summary = rectify_pipeline::eval::run(&args.out, &*model, &args.settings, &mut *crate::progress())?;
    println!("{}", rectify_pipeline::describe::eval(&summary, &args.out));
    Ok(())
}
