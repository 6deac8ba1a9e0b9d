//! The explain stage (`rectify explain`): LIME on superpixels for images of an eval run (or the adversarial images of
//! an attack run), with images with attention and explanation paths (issue #4).
//!
//! Per image, `RUN_DIR/explain/<name>/<file>.json` (the explanation, its parameters and seed,
//! both paths) and three PNGs (`.attention.png`: only the top-k positive superpixels shown;
//! `.overlay.png`: boundaries and top superpixels tinted; `.heatmap.png`: weights), plus a row in
//! the store; `summary.json` over all of them. Rerunning skips images already explained.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rectify_data::imagenet;
use rectify_data::preprocess::decode;
use rectify_explain::image::{Hide, ImageLime, Perturber};
use rectify_explain::lime::{FeatureSelection, LimeBase, Regressor};
use rectify_explain::{path, render};
use rectify_store::artifacts::{layout, ExplainSummary, ExplainTiming, Explanation};
use rectify_store::{ExplanationRow, ImageRow, Provenance, RunStore};
use rectify_superpixels::{Image, Segmenter};

use crate::outputs::write_json;
use crate::progress::Progress;
use crate::shard::{Shard, ShardOut};

/// Most bytes of an adversarial PNG read back (a 1024-px crop is at most 3 MiB uncompressed).
const MAX_PNG_BYTES: u64 = 64 << 20;

/// Parameters that may change when resuming.
pub const VOLATILE: &[&str] = &["batch_size", "limit", "files", "misclassified"];

/// `--segmenter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum SegmenterArg {
    /// lime's default: quickshift, kernel 4, max_dist 200, ratio 0.2.
    Quickshift,
    /// SLIC, 100 segments, compactness 10.
    Slic,
}

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Preset {
    /// The paper's: σ 0.25, K by the lasso path, then least squares (with the default 1000
    /// samples, the paper's; an explicit `--samples` is kept).
    Paper,
}

/// How to explain, and which images. The eval run's store and model are [`run`]'s other
/// arguments.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ExplainSettings {
    /// Explain these files (comma-separated, as in predictions.csv, or file names).
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "misclassified"))]
    pub files: Option<String>,
    /// Explain the top-1-misclassified images.
    #[cfg_attr(feature = "clap", arg(long))]
    pub misclassified: bool,
    /// At most N images (before sharding).
    #[cfg_attr(feature = "clap", arg(long))]
    pub limit: Option<usize>,
    /// Explain the adversarial images of this attack run (made with --save-images).
    #[cfg_attr(feature = "clap", arg(long))]
    pub attack: Option<String>,
    /// Perturbed samples per image.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub samples: usize,
    /// LIME's kernel width σ.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.25))]
    pub kernel_width: f64,
    /// Superpixel algorithm.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "quickshift"))]
    pub segmenter: SegmenterArg,
    /// K: superpixels in the explanation (and shown in the attention image).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 8))]
    pub features: usize,
    /// Feature selection.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "auto"))]
    pub selection: FeatureSelection,
    /// A preset that sets kernel width, selection and regressor together.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub preset: Option<Preset>,
    /// Seed of the masks and the random path.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Perturbed images per forward pass.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 100))]
    pub batch_size: usize,
    /// Name of the explain run (default: from the parameters).
    #[cfg_attr(feature = "clap", arg(long))]
    pub name: Option<String>,
}

impl Default for ExplainSettings {
    /// lime's defaults: every image, 1000 samples, σ 0.25, quickshift, K = 8, `auto` selection.
    fn default() -> Self {
        ExplainSettings {
            files: None,
            misclassified: false,
            limit: None,
            attack: None,
            samples: 1000,
            kernel_width: 0.25,
            segmenter: SegmenterArg::Quickshift,
            features: 8,
            selection: FeatureSelection::Auto,
            preset: None,
            seed: 0,
            batch_size: 100,
            name: None,
        }
    }
}

impl ExplainSettings {
    /// The paper's explanations (1000 samples, σ 0.25, K = 8 by the lasso path, then least
    /// squares) with `samples` samples, named `name`.
    pub fn paper(samples: usize, name: &str) -> Self {
        ExplainSettings { preset: Some(Preset::Paper), samples, name: Some(name.into()), ..Self::default() }
    }

    /// The errors that need no run and no model.
    pub fn check(&self) -> Result<()> {
        if self.samples < 2 || self.batch_size == 0 || self.features == 0 {
            bail!("--samples must be at least 2, --batch-size and --features at least 1");
        }
        if !(self.kernel_width.is_finite() && self.kernel_width > 0.0) {
            bail!("--kernel-width must be a positive number");
        }
        Ok(())
    }
}

impl ExplainSettings {
    fn lime(&self) -> ImageLime {
        let base = match self.preset {
            Some(Preset::Paper) => LimeBase::paper(self.features),
            None => LimeBase {
                kernel_width: self.kernel_width,
                selection: self.selection,
                num_features: self.features,
                regressor: Regressor::default(),
            },
        };
        // `--samples` defaults to the paper's 1000; a value given explicitly wins over the preset
        // (`rectify audit --samples N` relies on it).
        ImageLime { base, samples: self.samples, batch_size: self.batch_size, hide: Hide::MeanColor, seed: self.seed }
    }

    fn segmenter(&self) -> Segmenter {
        match self.segmenter {
            SegmenterArg::Quickshift => Segmenter::lime_default(),
            SegmenterArg::Slic => Segmenter::slic_default(),
        }
    }

    fn default_name(&self) -> String {
        let preset = if self.preset.is_some() { "paper" } else { "lime" };
        let seg = format!("{:?}", self.segmenter).to_lowercase();
        let base = format!("{preset}-{seg}-k{}-seed{}", self.features, self.seed);
        match &self.attack {
            Some(a) => format!("{a}-{base}"),
            None => base,
        }
    }
}

/// One image to explain: its row and where its pixels come from.
struct Item {
    image: ImageRow,
    /// An adversarial PNG (already a crop), or `None` for the original file.
    png: Option<PathBuf>,
}

/// Explains the images `args` picks from the eval run in `store` (or from an attack run's
/// adversarial images) with `model` (the run's own: see [`crate::model::of_run`]), into
/// `RUN_DIR/explain/<name>/`. Rerunning resumes: images already explained are skipped.
pub fn run(
    store: &mut RunStore,
    model: &dyn rectify_model::Classifier,
    args: &ExplainSettings,
    progress: &mut dyn Progress,
) -> Result<Explained> {
    args.check()?;
    let plan = plan(store, args, None)?;
    execute(store, plan, model, args, progress)
}

/// Explains shard `to.shard` of the images [`run`] would explain, reading the run in `parent`
/// and writing into the shard's own directory `to.out` (see [`crate::shard`]).
pub fn run_shard(
    parent: &RunStore,
    to: &ShardOut,
    model: &dyn rectify_model::Classifier,
    args: &ExplainSettings,
    progress: &mut dyn Progress,
) -> Result<Explained> {
    args.check()?;
    let plan = plan(parent, args, Some(to.shard))?;
    let mut sink = crate::shard::open(parent, to)?;
    execute(&mut sink, plan, model, args, progress)
}

/// What explain reads from the run.
struct Plan {
    eval_prov: Provenance,
    root: PathBuf,
    items: Vec<Item>,
}

fn plan(store: &RunStore, args: &ExplainSettings, shard: Option<Shard>) -> Result<Plan> {
    let (eval_run, eval_prov) = store.run("eval", None)?;
    let root = PathBuf::from(eval_prov.params["images"].as_str().context("the eval run recorded no images folder")?);
    let mut items = select(store, eval_run, args)?;
    if items.is_empty() {
        bail!("no image to explain (check --files / --misclassified / --attack)");
    }
    if let Some(limit) = args.limit {
        items.truncate(limit);
    }
    if let Some(shard) = shard {
        items.retain(|i| shard.has_image(i.image.id));
    }
    if items.is_empty() && shard.is_none() {
        bail!("no image to explain (--limit 0)");
    }
    Ok(Plan { eval_prov, root, items })
}

fn execute(
    store: &mut RunStore,
    plan: Plan,
    model: &dyn rectify_model::Classifier,
    args: &ExplainSettings,
    progress: &mut dyn Progress,
) -> Result<Explained> {
    let Plan { eval_prov, root, items } = plan;
    let run_dir = store.dir().to_path_buf();
    let lime = args.lime();
    let segmenter = args.segmenter();
    let name = args.name.clone().unwrap_or_else(|| args.default_name());
    let params = serde_json::json!({
        "lime": lime,
        "segmenter": segmenter,
        "hide": "segment mean colour",
        "random_path_seed": args.seed,
        "attack": args.attack,
        "numerics": model.info().numerics,
        "batch_size": args.batch_size,
        "limit": args.limit,
        "files": args.files,
        "misclassified": args.misclassified,
    });
    let prov = Provenance::new(eval_prov.model.clone(), eval_prov.preprocessing.clone(), params.clone())
        .seed(Some(args.seed))
        .device(model.info().device.clone());
    let run = store.begin_run("explain", &name, &prov, VOLATILE)?;
    let out = run_dir.join(layout::explain_dir(&name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let done: HashSet<i64> = store.explanations(run)?.iter().map(|r| r.image_id).collect();
    let todo: Vec<&Item> = items.iter().filter(|i| !done.contains(&i.image.id)).collect();
    progress.message(&format!(
        "rectify: explain {name}: {} images ({} already explained)",
        items.len(),
        items.len() - todo.len()
    ));

    let pre = crate::preprocess::of_run(&eval_prov)?;
    progress.begin("explain", todo.len() as u64);
    let mut clock = crate::outputs::BatchClock::start();
    for item in todo {
        let crop = match &item.png {
            Some(png) => rectify_data::files::read_bounded(png, MAX_PNG_BYTES, "an adversarial image")
                .map_err(anyhow::Error::from)
                .and_then(|b| Ok(decode(&b)?.into_raw())),
            None => pre.load(&root.join(&item.image.file)).map_err(anyhow::Error::from),
        };
        let crop = match crop {
            Ok(c) => c,
            Err(e) => {
                progress.message(&format!("rectify: {}: {e:#} (not explained)", item.image.file));
                progress.inc(1);
                continue;
            }
        };
        let side = pre.crop as usize;
        let seg = segmenter.segment(&Image::new(side, side, &crop)?)?;
        let perturber = Perturber::new(&crop, side, side, &seg.labels, seg.count, lime.hide, model.device());
        let what = format!("the explanation of {}", item.image.file);
        let (e, ours, random) = rectify_model::guarded(&what, || -> Result<_> {
            let e = lime.explain(model, &perturber, None)?;
            let w = &e.explanation.weights;
            let ours = path::path(model, &perturber, &path::order_by_weight(w), e.label, args.batch_size);
            let random =
                path::path(model, &perturber, &path::random_order(seg.count, args.seed), e.label, args.batch_size);
            Ok((e, ours, random))
        })??;
        let w = &e.explanation.weights;
        let json_rel = layout::explanation_json(&name, &item.image.file);
        let json_path = run_dir.join(&json_rel);
        let file = Explanation {
            file: item.image.file.clone(),
            true_label: item.image.label,
            label: e.label,
            label_name: imagenet::classes().get(e.label as usize).map(|c| c.name.clone()).unwrap_or_default(),
            probability: e.probability,
            segments: seg.count,
            weights: w.clone(),
            ranked: e.explanation.ranked.clone(),
            intercept: e.explanation.intercept,
            r2: e.explanation.r2,
            local_pred: e.explanation.local_pred,
            auc_path: path::area(&ours),
            auc_random: path::area(&random),
            path: ours,
            random_path: random,
            seed: args.seed,
            params: params.clone(),
        };
        write_json(&json_path, &file)?;
        let top = render::top_positive(w, lime.base.num_features);
        save_png(
            &layout::explanation_png(&json_path, "attention"),
            &render::attention(&crop, &seg.labels, &top),
            side,
        )?;
        save_png(
            &layout::explanation_png(&json_path, "overlay"),
            &render::overlay(&crop, &seg.labels, side, side, w, lime.base.num_features),
            side,
        )?;
        save_png(&layout::explanation_png(&json_path, "heatmap"), &render::heat_map(&seg.labels, w), side)?;
        store.put_explanation(
            run,
            &ExplanationRow {
                image_id: item.image.id,
                label: e.label,
                segments: seg.count as i64,
                r2: e.explanation.r2,
                auc_path: file.auc_path,
                auc_random: file.auc_random,
                json: json_rel,
            },
        )?;
        progress.inc(1);
        clock.lap();
    }
    progress.finish();
    store.finish_run(run)?;
    let summary = write_summary(store, run, &prov, &out, clock.seconds(), clock.batches)?;
    let better = store.explanations(run)?.iter().filter(|r| r.auc_path > r.auc_random).count();
    Ok(Explained { name, dir: out, path_beats_random: better, summary })
}

/// Writes `summary.json` of explain run `run` into `out` from every explanation the store holds;
/// `seconds` and `per_image` time the invocation(s) that made them.
pub fn write_summary(
    store: &RunStore,
    run: rectify_store::RunId,
    prov: &Provenance,
    out: &Path,
    seconds: f64,
    per_image: Vec<f64>,
) -> Result<ExplainSummary> {
    let rows = store.explanations(run)?;
    let n = rows.len();
    let better = rows.iter().filter(|r| r.auc_path > r.auc_random).count();
    let mean = |x: f64| x / n.max(1) as f64;
    let summary = ExplainSummary {
        auc_path_mean: mean(rows.iter().map(|r| r.auc_path).sum()),
        auc_random_mean: mean(rows.iter().map(|r| r.auc_random).sum()),
        mean_r2: mean(rows.iter().map(|r| r.r2).sum()),
        mean_segments: mean(rows.iter().map(|r| r.segments as f64).sum()),
        n,
        path_beats_random: if n > 0 { better as f64 / n as f64 } else { 0.0 },
        provenance: prov.clone(),
        seconds,
        throughput: ExplainTiming {
            images: per_image.len(),
            seconds_per_image_median: crate::outputs::median(&per_image),
            seconds_per_image: per_image,
        },
    };
    write_json(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// What [`run`] did: the explain run's name and folder, and its `summary.json`.
#[derive(Debug, Clone)]
pub struct Explained {
    /// The explain run's name.
    pub name: String,
    /// `RUN_DIR/explain/<name>`.
    pub dir: PathBuf,
    /// Images whose explanation path rises above the random order's.
    pub path_beats_random: usize,
    /// `summary.json` as written.
    pub summary: ExplainSummary,
}

/// The images to explain, in predictions.csv order.
fn select(store: &RunStore, eval_run: rectify_store::RunId, args: &ExplainSettings) -> Result<Vec<Item>> {
    let images: HashMap<i64, ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    let preds = store.predictions(eval_run, false)?;
    let mut items: Vec<Item> = match &args.attack {
        None => preds.iter().map(|p| Item { image: images[&p.image_id].clone(), png: None }).collect(),
        Some(name) => {
            let (attack_run, _) = store.run("attack", Some(name)).with_context(|| {
                format!("--attack {name}: a sharded attack is read after `rectify merge --into RUN_DIR` of its shards")
            })?;
            let rows = store.attacks(attack_run)?;
            if rows.iter().all(|r| r.image.is_none()) {
                bail!("attack run {name:?} saved no images; rerun it with --save-images");
            }
            let mut items = Vec::new();
            for r in rows {
                let (Some(png), Some(image)) = (r.image, images.get(&r.image_id)) else { continue };
                // Inside the run once links are resolved (the store already refused `..` and roots).
                let what = format!("attack_results.image of image {}", r.image_id);
                let png = rectify_store::paths::inside(store.dir(), &png, &what)?;
                items.push(Item { image: image.clone(), png: Some(png) });
            }
            items
        }
    };
    if args.misclassified {
        let wrong: HashSet<i64> = preds
            .iter()
            .filter(|p| images[&p.image_id].label.is_some_and(|l| p.top5.first() != Some(&l)))
            .map(|p| p.image_id)
            .collect();
        items.retain(|i| wrong.contains(&i.image.id));
    }
    if let Some(files) = &args.files {
        let wanted: Vec<&str> = files.split(',').map(str::trim).filter(|f| !f.is_empty()).collect();
        let matches = |f: &str, w: &str| f == w || Path::new(f).file_name().is_some_and(|n| n == w);
        for w in &wanted {
            if !items.iter().any(|i| matches(&i.image.file, w)) {
                bail!("--files: {w} is not among the run's evaluated images");
            }
        }
        items.retain(|i| wanted.iter().any(|w| matches(&i.image.file, w)));
    }
    Ok(items)
}

fn save_png(path: &Path, rgb: &[u8], side: usize) -> Result<()> {
    image::RgbImage::from_raw(side as u32, side as u32, rgb.to_vec())
        .expect("side × side × 3 buffer")
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}
