//! `rectify attack`: flags → [`rectify_pipeline::attack::run`] (or `run_shard`) → accuracy per
//! step printed.

use anyhow::Result;
use clap::Args;
use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::shard::ShardArgs;

use super::OnRun;

/// `rectify attack`.
#[derive(Debug, Args)]
pub struct AttackArgs {
    #[command(flatten)]
    on: OnRun,
    #[command(flatten)]
    shard: ShardArgs,
    #[command(flatten)]
    settings: AttackSettings,
}

/// Runs `rectify attack`.
pub fn run(args: AttackArgs) -> Result<()> {
    let shard = args.shard.target()?;
    let (mut store, model) = args.on.open()?;
    let mut sink = crate::progress();
    let progress = &mut *sink;
    let (summary, dir) = match &shard {
        Some(to) => (rectify_pipeline::attack::run_shard(&store, to, &*model, &args.settings, progress)?, &to.out),
        None => (rectify_pipeline::attack::run(&mut store, &*model, &args.settings, progress)?, &args.on.run),
    };
    println!("{}", rectify_pipeline::describe::attack(&summary, dir));
    Ok(())
}
