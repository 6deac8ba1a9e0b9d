//! `rectify explain`: flags → [`rectify_pipeline::explain::run`] → what was explained.

use anyhow::Result;
use clap::Args;
use rectify_pipeline::explain::ExplainSettings;
use rectify_pipeline::Console;

use super::OnRun;

/// `rectify explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    on: OnRun,
    #[command(flatten)]
    settings: ExplainSettings,
}

/// Runs `rectify explain`.
pub fn run(args: ExplainArgs) -> Result<()> {
    args.settings.check()?;
    let (mut store, model) = args.on.open()?;
    let done = rectify_pipeline::explain::run(&mut store, &*model, &args.settings, &mut Console::new())?;
    println!("{}", rectify_pipeline::describe::explain(&done));
    Ok(())
}
