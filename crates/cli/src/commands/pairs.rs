//! `rectify pairs`: flags → [`rectify_pipeline::pairs::run`] → one line per pair.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rectify_pipeline::pairs::PairsSettings;
use rectify_pipeline::ModelSpec;

/// `rectify pairs`.
#[derive(Debug, Args)]
pub struct PairsArgs {
    /// CSV of pairs: `image_a,image_b,differs[,class]`.
    #[arg(long)]
    pairs: PathBuf,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// The model.
    #[command(flatten)]
    model: ModelSpec,
    #[command(flatten)]
    settings: PairsSettings,
}

/// Runs `rectify pairs`.
pub fn run(args: PairsArgs) -> Result<()> {
    let model = args.model.load_for(&args.settings.preprocess.resolve()?)?;
    let pairs = rectify_pipeline::pairs::run(&args.pairs, &args.out, &*model, &args.settings, &mut *crate::progress())?;
    print!("{}", rectify_pipeline::pairs::describe(&pairs));
    Ok(())
}
