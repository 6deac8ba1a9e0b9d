//! `rectify criticize`: flags → [`rectify_pipeline::criticize::run`] (a run) or
//! [`run_features`](rectify_pipeline::criticize::run_features) (a feature matrix) → counts printed.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use rectify_pipeline::criticize::{CriticizeSettings, FeatureInput};
use rectify_pipeline::outputs::peak_memory_mib;
use rectify_pipeline::shard::{Shard, ShardOut};
use rectify_store::RunStore;

/// `rectify criticize`.
#[derive(Debug, Args)]
pub struct CriticizeArgs {
    /// The run directory of a `rectify eval` (mmd needs `eval --save-features`).
    #[arg(long, required_unless_present = "features", conflicts_with = "features")]
    run: Option<PathBuf>,
    /// Instead of a run: a float `.npy` matrix [n, d] of features (mmd only; writes --out).
    #[arg(long, requires = "out")]
    features: Option<PathBuf>,
    /// With --features: labels of the rows, an integer `.npy` or a CSV with a `label` column.
    #[arg(long, requires = "features")]
    labels: Option<PathBuf>,
    /// With --features: keep only rows whose label is in these ranges, e.g. `151-268` or `1,5-9`.
    #[arg(long, requires = "labels")]
    only_labels: Option<String>,
    /// With --features: the output JSON. With --run and --shard: the shard's own directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// With --run: pick in shard I of N (0-based) of the groups only, into --out; merge the
    /// shards with `rectify merge --into RUN`.
    #[arg(long, requires = "run", requires = "out")]
    shard: Option<Shard>,
    #[command(flatten)]
    settings: CriticizeSettings,
    /// libtorch threads.
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `rectify criticize`.
pub fn run(args: CriticizeArgs) -> Result<()> {
    if let Some(n) = args.threads {
        tch::set_num_threads(n as i32);
    }
    let mut sink = crate::progress();
    let progress = &mut *sink;
    match (args.features, args.run) {
        (Some(features), _) => {
            let out = args.out.expect("clap requires --out");
            let input = FeatureInput { features, labels: args.labels, only_labels: args.only_labels, out };
            let done = rectify_pipeline::criticize::run_features(&args.settings, &input, progress)?;
            println!(
                "{} groups, {} rows of {} features -> {} ({:.1} s, peak memory {} MiB)",
                done.selection.groups.len(),
                done.rows,
                done.dim,
                done.out.display(),
                done.seconds,
                peak_memory_mib().map_or("?".into(), |m| m.to_string())
            );
        }
        (None, Some(run)) => {
            let mut store = RunStore::open(&run)?;
            let done = match (args.shard, args.out) {
                (Some(shard), Some(out)) => {
                    let to = ShardOut { shard, out };
                    rectify_pipeline::criticize::run_shard(&store, &to, &args.settings, progress)?
                }
                (None, Some(out)) => {
                    bail!("--out {} with --run: give --shard I/N too (or --features for a matrix)", out.display())
                }
                _ => rectify_pipeline::criticize::run(&mut store, &args.settings, progress)?,
            };
            println!("{}", rectify_pipeline::describe::picks(&done));
        }
        (None, None) => unreachable!("clap requires --run or --features"),
    }
    Ok(())
}
