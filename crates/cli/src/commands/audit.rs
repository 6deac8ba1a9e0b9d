//! `rectify audit`: flags → [`rectify_pipeline::audit::run`] → the report's path printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rectify_pipeline::audit::AuditSettings;
use rectify_pipeline::ModelSpec;

/// `rectify audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The run directory.
    #[arg(long)]
    out: PathBuf,
    /// The model.
    #[command(flatten)]
    model: ModelSpec,
    #[command(flatten)]
    settings: AuditSettings,
}

/// Runs `rectify audit`.
pub fn run(args: AuditArgs) -> Result<()> {
    let done = rectify_pipeline::audit::run(&args.out, &args.model, &args.settings, &mut *crate::progress())?;
    eprintln!("\nrectify audit: done in {:.1} s -> {}", done.seconds, done.html.display());
    println!("{}", done.html.display());
    Ok(())
}
