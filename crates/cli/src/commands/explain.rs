//! `rectify explain`: flags → [`rectify_pipeline::explain::run`] (or `run_shard`) → what was
//! explained.

use anyhow::Result;
use clap::Args;
use rectify_pipeline::explain::ExplainSettings;
use rectify_pipeline::shard::ShardArgs;

use super::OnRun;

/// `rectify explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    on: OnRun,
    #[command(flatten)]
    shard: ShardArgs,
    #[command(flatten)]
    settings: ExplainSettings,
}

/// Runs `rectify explain`.
pub fn run(args: ExplainArgs) -> Result<()> {
    args.settings.check()?;
    let shard = args.shard.target()?;
    let (mut store, model) = args.on.open()?;
    let mut sink = crate::progress();
    let progress = &mut *sink;
    let done = match &shard {
        Some(to) => rectify_pipeline::explain::run_shard(&store, to, &*model, &args.settings, progress)?,
        None => rectify_pipeline::explain::run(&mut store, &*model, &args.settings, progress)?,
    };
    println!("{}", rectify_pipeline::describe::explain(&done));
    Ok(())
}
