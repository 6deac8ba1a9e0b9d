//! `rectify merge`: flags → [`rectify_pipeline::merge::merge`] → what was merged.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rectify_pipeline::merge::{merge, Target};

/// `rectify merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// A new run directory, made from the run directories of `eval --shard I/N`.
    #[arg(long, required_unless_present = "into", conflicts_with = "into")]
    out: Option<PathBuf>,
    /// An existing run: the one `attack`, `explain` or `criticize --shard I/N --out DIR` read.
    #[arg(long)]
    into: Option<PathBuf>,
    /// Shard directories.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
}

/// Runs `rectify merge`.
pub fn run(args: MergeArgs) -> Result<()> {
    let (target, dir) = match (&args.out, &args.into) {
        (Some(out), _) => (Target::New(out), out),
        (None, Some(into)) => (Target::Existing(into), into),
        (None, None) => unreachable!("clap requires --out or --into"),
    };
    let merged = merge(target, &args.runs, &mut *crate::progress())?;
    if let Some(s) = &merged.eval {
        println!(
            "merged {} runs: {} images evaluated, {} failed -> {}",
            args.runs.len(),
            s.evaluated,
            s.failed,
            dir.display()
        );
    }
    for (kind, name, n) in &merged.stages {
        let what = if kind == "criticize" { "groups" } else { "images" };
        println!("merged {kind} {name}: {n} {what} -> {}", dir.display());
    }
    Ok(())
}
