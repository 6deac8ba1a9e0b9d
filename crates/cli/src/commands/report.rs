//! `rectify report` (the audit report: one self-contained HTML page and `report.json`) and
//! `rectify bias` (attribute prevalence in a group's prototypes vs criticisms), issue #7.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use rectify_pipeline::bias::BiasSettings;

/// `rectify report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories (one per model), or a folder of them; repeat for several.
    #[arg(long, required = true)]
    run: Vec<PathBuf>,
    /// Output folder for report.html and report.json (default: RUN_DIR/report).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Explained images shown per explain run.
    #[arg(long, default_value_t = 4)]
    examples: usize,
    /// Gallery groups shown per selector.
    #[arg(long, default_value_t = 12)]
    groups: usize,
    /// Thumbnails of mistakes embedded per run (about 3 kB each; 0: none). They are read from
    /// the images folder the eval run recorded.
    #[arg(long, default_value_t = 600)]
    thumbnails: usize,
    /// ImageNet-X's annotations (imagenet_x_val_multi_factor.jsonl.gz): error ratios per factor.
    #[arg(long, value_name = "FILE")]
    imagenet_x: Option<PathBuf>,
}

/// Runs `rectify report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let opts = rectify_report::report::Options {
        max_examples: args.examples,
        max_groups: args.groups,
        thumbnails: args.thumbnails,
        imagenet_x: args.imagenet_x,
    };
    let report = rectify_report::report::build_with(&args.run, &opts)?;
    let out = args.out.unwrap_or_else(|| args.run[0].join("report"));
    let (json, html) = rectify_report::report::write(&report, &out)?;
    println!("{}\n{}", html.display(), json.display());
    Ok(())
}

/// `rectify bias`.
#[derive(Debug, Args)]
pub struct BiasArgs {
    #[command(flatten)]
    settings: BiasSettings,
}

/// Runs `rectify bias`.
pub fn bias(args: BiasArgs) -> Result<()> {
    let done = rectify_pipeline::bias::run(&args.settings)?;
    println!("{}", rectify_pipeline::describe::bias(&done, &args.settings.attribute));
    Ok(())
}
