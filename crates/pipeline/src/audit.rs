//! The whole audit (`rectify audit`, issue #7): the paper's settings on a folder of images.
//!
//! Stages, each the function of the same name with the paper's settings, into one run directory:
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

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use rectify_store::RunStore;

use crate::attack::AttackSettings;
use crate::criticize::{CriticizeSettings, MethodArg, Per};
use crate::describe;
use crate::eval::{EvalSettings, ImageInputs};
use crate::explain::ExplainSettings;
use crate::model::ModelSpec;
use crate::preprocess::PreprocessArgs;
use crate::progress::Progress;
use crate::votes::{self, ResultsSettings, StudyTarget, VoteFormat};

/// `--per` of the audit: a grouping, or `auto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditPer {
    /// Per class when classes have at least 6 images on average, else all together.
    Auto,
    /// This grouping.
    Given(Per),
}

impl std::str::FromStr for AuditPer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            Ok(AuditPer::Auto)
        } else {
            s.parse().map(AuditPer::Given)
        }
    }
}

/// The audit's inputs and sizes. The model and the run directory are [`run`]'s other
/// arguments.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct AuditSettings {
    /// The images (ImageNet validation images, or any classes the model knows) and labels.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub inputs: ImageInputs,
    /// How the images become pixels (default: torchvision's ImageNet evaluation).
    #[cfg_attr(feature = "clap", command(flatten))]
    pub preprocess: PreprocessArgs,
    /// Adversarial images to explain.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 8))]
    pub adversarial_explanations: usize,
    /// Misclassified images to explain (at most).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 20))]
    pub misclassified_explanations: usize,
    /// LIME samples per image (the paper's 1000).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub samples: usize,
    /// Human votes on "is class C in image I?" to rectify the errors with: ReaL's raw rater
    /// votes (`real_raters.npz`, the default format), cleanlab's MTurk study, or CSV / JSONL
    /// (see `rectify study import`). `make demo` passes the bundled ReaL votes.
    #[cfg_attr(feature = "clap", arg(long))]
    pub votes: Option<PathBuf>,
    /// The format of `--votes`.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "real-raters"))]
    pub votes_format: VoteFormat,
    /// The study database for the votes, when not the run's own SQLite file.
    #[cfg_attr(feature = "clap", arg(long, env = "RECTIFY_DATABASE_URL"))]
    pub database_url: Option<String>,
    /// Groups for prototypes and criticisms: `class`, `all`, a CSV `file,group`, or `auto`
    /// (per class when classes have at least 6 images on average, else all together).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub per: AuditPer,
}

impl AuditSettings {
    /// The paper's audit of `inputs`: 20 misclassified and 8 adversarial images explained with
    /// 1000 LIME samples, no votes, grouping `auto`.
    pub fn paper(inputs: ImageInputs) -> Self {
        AuditSettings {
            inputs,
            preprocess: PreprocessArgs::default(),
            adversarial_explanations: 8,
            misclassified_explanations: 20,
            samples: 1000,
            votes: None,
            votes_format: VoteFormat::RealRaters,
            database_url: None,
            per: AuditPer::Auto,
        }
    }
}

/// Where the audit left its report.
#[derive(Debug, Clone)]
pub struct AuditSummary {
    /// `RUN_DIR/report/report.html`.
    pub html: PathBuf,
    /// `RUN_DIR/report/report.json`.
    pub json: PathBuf,
    /// Seconds the whole audit took.
    pub seconds: f64,
}

/// Runs one stage with its announcement and timing.
fn stage<T>(
    progress: &mut dyn Progress,
    n: usize,
    name: &str,
    body: impl FnOnce(&mut dyn Progress) -> Result<T>,
) -> Result<T> {
    progress.message(&format!("\nrectify audit: stage {n}/7: {name}"));
    let start = Instant::now();
    let out = body(progress).with_context(|| format!("stage {n} ({name})"))?;
    progress.message(&format!("rectify audit: stage {n}/7 done in {:.1} s", start.elapsed().as_secs_f64()));
    Ok(out)
}

/// Runs the whole audit of `settings.images` with the model `spec` into the run directory
/// `out`. Rerunning resumes: every stage skips what it has stored.
pub fn run(
    out: &Path,
    spec: &ModelSpec,
    settings: &AuditSettings,
    progress: &mut dyn Progress,
) -> Result<AuditSummary> {
    let start = Instant::now();
    let model = spec.load_for(&settings.preprocess.resolve()?)?;

    // 1. eval
    let eval = EvalSettings {
        save_features: true,
        preprocess: settings.preprocess.clone(),
        ..EvalSettings::new(settings.inputs.clone())
    };
    let evaluated = stage(progress, 1, "eval", |p| crate::eval::run(out, &*model, &eval, p))?;
    progress.message(&describe::eval(&evaluated, out));

    let mut store = RunStore::open(out)?;
    let (eval_run, _) = store.run("eval", None)?;
    let images = store.images()?;
    let labelled = images.iter().filter(|i| i.label.is_some()).count();
    let preds = store.predictions(eval_run, false)?;
    let wrong = preds
        .iter()
        .filter(|p| images.iter().find(|i| i.id == p.image_id).and_then(|i| i.label).is_some_and(|l| p.top5[0] != l))
        .count();

    // 2. attack (needs labels)
    if labelled > 0 {
        let attacked = stage(progress, 2, "attack (IFGSM, 10 steps of 0.001)", |p| {
            crate::attack::run(&mut store, &*model, &AttackSettings::paper(), p)
        })?;
        progress.message(&describe::attack(&attacked, out));
    } else {
        progress.message("rectify audit: stage 2/7 skipped: no labelled image to attack (give --labels)");
    }

    // 3. explain the misclassified images
    if wrong > 0 && settings.misclassified_explanations > 0 {
        let explain = ExplainSettings {
            misclassified: true,
            limit: Some(settings.misclassified_explanations),
            ..ExplainSettings::paper(settings.samples, "misclassified")
        };
        let explained = stage(progress, 3, "explain the misclassified images (LIME, paper preset)", |p| {
            crate::explain::run(&mut store, &*model, &explain, p)
        })?;
        progress.message(&describe::explain(&explained));
    } else {
        progress.message("rectify audit: stage 3/7 skipped: no misclassified labelled image");
    }

    // 4. explain adversarial images
    if labelled > 0 && settings.adversarial_explanations > 0 {
        let explain = ExplainSettings {
            attack: Some("ifgsm".into()),
            limit: Some(settings.adversarial_explanations),
            ..ExplainSettings::paper(settings.samples, "adversarial")
        };
        let explained = stage(progress, 4, "explain adversarial images (LIME, paper preset)", |p| {
            crate::explain::run(&mut store, &*model, &explain, p)
        })?;
        progress.message(&describe::explain(&explained));
    } else {
        progress.message("rectify audit: stage 4/7 skipped");
    }
    drop(model);

    // 5. criticize with every selector
    if labelled > 0 {
        let per = match &settings.per {
            AuditPer::Auto => {
                let classes: HashSet<i64> = images.iter().filter_map(|i| i.label).collect();
                if labelled >= 6 * classes.len().max(1) {
                    Per::Class
                } else {
                    Per::All
                }
            }
            AuditPer::Given(p) => p.clone(),
        };
        for method in [MethodArg::Mmd, MethodArg::Adversarial, MethodArg::Probability, MethodArg::Random] {
            let mut criticize = CriticizeSettings::new(method, per.clone());
            if method == MethodArg::Adversarial {
                criticize.attack = Some("ifgsm".into());
            }
            let name = format!("criticize ({}, per {per})", format!("{method:?}").to_lowercase());
            let picked = stage(progress, 5, &name, |p| crate::criticize::run(&mut store, &criticize, p))?;
            progress.message(&describe::picks(&picked));
        }
    } else {
        progress.message("rectify audit: stage 5/7 skipped: prototypes and criticisms need labels");
    }
    drop(store);

    // 6. human votes: the rectified error
    match &settings.votes {
        Some(file) if labelled > 0 => {
            let target = StudyTarget { database_url: settings.database_url.clone(), ..StudyTarget::of_run(out) };
            let rt = votes::runtime()?;
            let imported = stage(progress, 6, "import human votes", |_| {
                rt.block_on(votes::import(&target, settings.votes_format, file, 5, &[]))
            })?;
            progress.message(&describe::imported(&imported, file));
            let results = stage(progress, 6, "aggregate the votes (4 yes of 5: rectified error)", |_| {
                rt.block_on(votes::results(&target, &ResultsSettings::paper()))
            })?;
            progress.message(&describe::results(&results, out));
        }
        Some(_) => progress.message("rectify audit: stage 6/7 skipped: votes rectify errors, which need labels"),
        None => progress.message(
            "rectify audit: stage 6/7 skipped: no human votes (give --votes FILE, or run a rating study: the report says how)",
        ),
    }

    // 7. report
    let report_dir = out.join("report");
    let (json, html) = stage(progress, 7, "report", |_| {
        let runs = [out.to_path_buf()];
        let report = rectify_report::report::build_with(&runs, &rectify_report::report::Options::default())?;
        Ok(rectify_report::report::write(&report, &report_dir)?)
    })?;
    Ok(AuditSummary { html, json, seconds: start.elapsed().as_secs_f64() })
}
