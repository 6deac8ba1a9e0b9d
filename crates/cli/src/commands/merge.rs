//! `rectify merge`: combine the run directories of `rectify eval --shard I/N` jobs.
//!
//! Each shard must have been made with the same model, weights and preprocessing; images keep
//! their positions in the full listing, so the merged `predictions.csv` is in input order.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use rectify_store::RunStore;

use rectify_pipeline::eval::VOLATILE;
use rectify_pipeline::outputs::write_eval_outputs;

/// `rectify merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged run directory (created).
    #[arg(long)]
    out: PathBuf,
    /// Shard run directories.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
}

/// Runs `rectify merge`.
pub fn run(args: MergeArgs) -> Result<()> {
    if args.runs.iter().any(|r| r.canonicalize().ok() == args.out.canonicalize().ok()) {
        bail!("--out {} is one of the inputs; merge into a new directory", args.out.display());
    }
    let mut merged = RunStore::create(&args.out)?;
    let mut run = None;
    for dir in &args.runs {
        let shard = RunStore::open(dir)?;
        let id =
            merged.absorb(&shard, "eval", "eval", VOLATILE).with_context(|| format!("merging {}", dir.display()))?;
        run = Some(id);
        eprintln!("rectify: merged {}", dir.display());
    }
    let run = run.expect("at least one input (clap requires it)");
    let (_, prov) = merged.run("eval", Some("eval"))?;
    merged.finish_run(run)?;
    let s = write_eval_outputs(&merged, run, &prov, None)?;
    println!(
        "merged {} runs: {} images evaluated, {} failed -> {}",
        args.runs.len(),
        s.evaluated,
        s.failed,
        args.out.display()
    );
    Ok(())
}
