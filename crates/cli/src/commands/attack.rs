//! `rectify attack`: flags → [`rectify_pipeline::attack::run`] → accuracy per step printed.

use anyhow::Result;
use clap::Args;
use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::Console;

use super::OnRun;

/// `rectify attack`.
#[derive(Debug, Args)]
pub struct AttackArgs {
    #[command(flatten)]
    on: OnRun,
    #[command(flatten)]
    settings: AttackSettings,
}

/// Runs `rectify attack`.
pub fn run(args: AttackArgs) -> Result<()> {
    let (mut store, model) = args.on.open()?;
    let summary = rectify_pipeline::attack::run(&mut store, &*model, &args.settings, &mut Console::new())?;
    println!("{}", rectify_pipeline::describe::attack(&summary, &args.on.run));
    Ok(())
}
