//! `rectify audit`: the paper's whole audit on a folder of images, in one command (issue #7).
//!
//! Stages, each the command of the same name with the paper's settings, into one run directory:
//! 1. `eval` (top-1 / top-5 / ReaL, features kept for MMD-critic);
//! 2. `attack`: iterative FGSM, step 0.001, 10 steps, adversarial images saved;
//! 3. `explain` the misclassified images, LIME with the paper's preset (1000 samples, σ 0.25,
//!    K = 8 by the lasso path, least squares);
//! 4. `explain` a sample of the adversarial images the same way;
//! 5. `criticize` with every selector (MMD-critic, adversarial, probability, random);
//! 6. with `--votes FILE`: `study import` of those human votes (ReaL's raw rater votes by default)
//!    as relevance questions of the misclassified images, and `study results` with the paper's
//!    rule (4 yes of 5): the rectified error of Table 1 and the histogram of Fig. 2;
//! 7. `report`: `RUN_DIR/report/report.html` and `report.json`.
//!
//! Rerunning resumes: every stage skips what it has stored (re-imported votes are unchanged).
//! Without votes the report says how to run a rating study (`rectify study …`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use rectify_store::RunStore;

use crate::model_args::ModelArgs;

/// `rectify audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A folder of images (ImageNet validation images, or any classes the model knows).
    #[arg(long)]
    images: PathBuf,
    /// Labels: a CSV `file,label` or a text file `file label` (default: the folder's own labels
    /// when the images are ImageNet validation files and no labels are given, none otherwise).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// ReaL labels (`real.json`), for ReaL accuracy.
    #[arg(long)]
    real_labels: Option<PathBuf>,
    /// The run directory.
    #[arg(long)]
    out: PathBuf,
    /// The model.
    #[command(flatten)]
    model: ModelArgs,
    /// Adversarial images to explain.
    #[arg(long, default_value_t = 8)]
    adversarial_explanations: usize,
    /// Misclassified images to explain (at most).
    #[arg(long, default_value_t = 20)]
    misclassified_explanations: usize,
    /// LIME samples per image (the paper's 1000).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Human votes on "is class C in image I?" to rectify the errors with: ReaL's raw rater
    /// votes (`real_raters.npz`, the default format), cleanlab's MTurk study, or CSV / JSONL
    /// (see `rectify study import`). `make demo` passes the bundled ReaL votes.
    #[arg(long)]
    votes: Option<PathBuf>,
    /// The format of `--votes`.
    #[arg(long, default_value = "real-raters", value_parser = ["real-raters", "cleanlab-mturk", "csv", "jsonl"])]
    votes_format: String,
    /// Groups for prototypes and criticisms: `class`, `all`, a CSV `file,group`, or `auto`
    /// (per class when classes have at least 6 images on average, else all together).
    #[arg(long, default_value = "auto")]
    per: String,
}

fn stage(n: usize, name: &str, argv: Vec<String>) -> Result<()> {
    eprintln!("\nrectify audit: stage {n}/7: {name}\n  rectify {}", argv[1..].join(" "));
    let start = Instant::now();
    crate::run_argv(&argv).with_context(|| format!("stage {n} ({name})"))?;
    eprintln!("rectify audit: stage {n}/7 done in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn argv(items: &[&str]) -> Vec<String> {
    std::iter::once("rectify").chain(items.iter().copied()).map(str::to_string).collect()
}

/// Runs `rectify audit`.
pub fn run(args: AuditArgs) -> Result<()> {
    let start = Instant::now();
    let run = args.out.to_string_lossy().into_owned();
    let m = &args.model;
    let mut model_flags: Vec<String> = vec!["--device".into(), m.device.clone(), "--arch".into(), m.arch.clone()];
    if let Some(w) = &m.weights {
        model_flags.extend(["--weights".into(), w.to_string_lossy().into_owned()]);
    }
    if let Some(ts) = &m.torchscript {
        model_flags.extend(["--torchscript".into(), ts.to_string_lossy().into_owned()]);
    }
    if m.exact {
        model_flags.push("--exact".into());
    }
    let threads: Vec<String> = m.threads.map(|t| vec!["--threads".into(), t.to_string()]).unwrap_or_default();

    // 1. eval
    let mut eval = argv(&["eval", "--images", &args.images.to_string_lossy(), "--out", &run, "--save-features"]);
    if let Some(l) = &args.labels {
        eval.extend(["--labels".into(), l.to_string_lossy().into_owned()]);
    }
    if let Some(r) = &args.real_labels {
        eval.extend(["--real-labels".into(), r.to_string_lossy().into_owned()]);
    }
    eval.extend(model_flags.iter().cloned());
    eval.extend(threads.iter().cloned());
    stage(1, "eval", eval)?;

    let store = RunStore::open(&args.out)?;
    let (eval_run, _) = store.run("eval", None)?;
    let images = store.images()?;
    let labelled = images.iter().filter(|i| i.label.is_some()).count();
    let preds = store.predictions(eval_run, false)?;
    let wrong = preds
        .iter()
        .filter(|p| images.iter().find(|i| i.id == p.image_id).and_then(|i| i.label).is_some_and(|l| p.top5[0] != l))
        .count();
    drop(store);

    // 2. attack (needs labels)
    let device = ["--device".to_string(), m.device.clone()];
    let common: Vec<String> = device.iter().cloned().chain(threads.iter().cloned()).collect();
    if labelled > 0 {
        let mut a =
            argv(&["attack", "--run", &run, "--steps", "10", "--step", "0.001", "--save-images", "--name", "ifgsm"]);
        a.extend(common.iter().cloned());
        stage(2, "attack (IFGSM, 10 steps of 0.001)", a)?;
    } else {
        eprintln!("rectify audit: stage 2/7 skipped: no labelled image to attack (give --labels)");
    }

    // 3. explain the misclassified images
    let samples = args.samples.to_string();
    if wrong > 0 && args.misclassified_explanations > 0 {
        let n = args.misclassified_explanations.to_string();
        let mut e = argv(&["explain", "--run", &run, "--misclassified", "--limit", &n, "--preset", "paper"]);
        e.extend(["--samples".into(), samples.clone(), "--name".into(), "misclassified".into()]);
        e.extend(common.iter().cloned());
        stage(3, "explain the misclassified images (LIME, paper preset)", e)?;
    } else {
        eprintln!("rectify audit: stage 3/7 skipped: no misclassified labelled image");
    }

    // 4. explain adversarial images
    if labelled > 0 && args.adversarial_explanations > 0 {
        let n = args.adversarial_explanations.to_string();
        let mut e = argv(&["explain", "--run", &run, "--attack", "ifgsm", "--limit", &n, "--preset", "paper"]);
        e.extend(["--samples".into(), samples.clone(), "--name".into(), "adversarial".into()]);
        e.extend(common.iter().cloned());
        stage(4, "explain adversarial images (LIME, paper preset)", e)?;
    } else {
        eprintln!("rectify audit: stage 4/7 skipped");
    }

    // 5. criticize with every selector
    if labelled > 0 {
        let per = match args.per.as_str() {
            "auto" => {
                let classes: std::collections::HashSet<i64> = images.iter().filter_map(|i| i.label).collect();
                if labelled >= 6 * classes.len().max(1) {
                    "class".to_string()
                } else {
                    "all".to_string()
                }
            }
            p => p.to_string(),
        };
        for method in ["mmd", "adversarial", "probability", "random"] {
            let mut c = argv(&["criticize", "--run", &run, "--method", method, "--per", &per]);
            if method == "adversarial" {
                c.extend(["--attack".into(), "ifgsm".into()]);
            }
            c.extend(threads.iter().cloned());
            stage(5, &format!("criticize ({method}, per {per})"), c)?;
        }
    } else {
        eprintln!("rectify audit: stage 5/7 skipped: prototypes and criticisms need labels");
    }

    // 6. human votes: the rectified error
    match &args.votes {
        Some(votes) if labelled > 0 => {
            let file = votes.to_string_lossy().into_owned();
            stage(
                6,
                "import human votes",
                argv(&["study", "import", "--run", &run, "--format", &args.votes_format, &file]),
            )?;
            stage(
                6,
                "aggregate the votes (4 yes of 5: rectified error)",
                argv(&["study", "results", "--run", &run, "--rule", "k-of-n:4/5"]),
            )?;
        }
        Some(_) => eprintln!("rectify audit: stage 6/7 skipped: votes rectify errors, which need labels"),
        None => eprintln!(
            "rectify audit: stage 6/7 skipped: no human votes (give --votes FILE, or run a rating study: the report says how)"
        ),
    }

    // 7. report
    let report_dir = args.out.join("report");
    stage(7, "report", argv(&["report", "--run", &run, "--out", &report_dir.to_string_lossy()]))?;
    eprintln!(
        "\nrectify audit: done in {:.1} s -> {}",
        start.elapsed().as_secs_f64(),
        report_dir.join("report.html").display()
    );
    println!("{}", report_dir.join("report.html").display());
    Ok(())
}
