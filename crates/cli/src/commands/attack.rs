//! `rectify attack`: flags → [`rectify_pipeline::attack::run`] → accuracy per step printed.

use anyhow::Result;
use clap::Args;
use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::Console;
use rectify_store::artifacts::layout;

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
    let acc: Vec<String> = summary.accuracy_per_step.iter().map(|a| format!("{a:.3}")).collect();
    let dir = args.on.run.join(layout::attack_dir(&summary.name));
    println!("attack {}: {} images -> {}", summary.name, summary.n, dir.display());
    println!("accuracy per step: {}", acc.join(" "));
    if let Some(q) = summary.quantized_accuracy {
        println!("accuracy of the saved 8-bit images: {q:.3}");
    }
    Ok(())
}
