//! `rectify eval`: flags → [`rectify_pipeline::eval::run`] → the accuracy printed.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use rectify_pipeline::eval::EvalSettings;
use rectify_pipeline::outputs::Summary;
use rectify_pipeline::{Console, ModelSpec};

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
    let model = args.model.load()?;
    let summary = rectify_pipeline::eval::run(&args.out, &*model, &args.settings, &mut Console::new())?;
    print_summary(&summary, &args.out);
    Ok(())
}

fn print_summary(s: &Summary, out: &Path) {
    let pct = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{:.2}%", 100.0 * v));
    println!("evaluated {} images ({} failed) -> {}", s.evaluated, s.failed, out.display());
    println!("top-1 {}  top-5 {}  (over {} labelled)", pct(s.top1), pct(s.top5), s.labeled);
    if let Some(n) = s.real_n {
        println!("ReaL top-1 {}  ReaL top-5 {}  (over {n} with ReaL labels)", pct(s.real_top1), pct(s.real_top5));
    }
    if let Some(t) = &s.throughput {
        println!("{:.1} images/s", t.images_per_s);
    }
}
