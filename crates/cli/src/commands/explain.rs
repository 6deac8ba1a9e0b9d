//! `rectify explain`: LIME on superpixels for images of an eval run (or the adversarial images of
//! an attack run), with images with attention and explanation paths (issue #4).
//!
//! Per image, `RUN_DIR/explain/<name>/<file>.json` (the explanation, its parameters and seed,
//! both paths) and three PNGs (`.attention.png`: only the top-k positive superpixels shown;
//! `.overlay.png`: boundaries and top superpixels tinted; `.heatmap.png`: weights), plus a row in
//! the store; `summary.json` over all of them. Rerunning skips images already explained.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use rectify_data::imagenet;
use rectify_data::preprocess::{decode, Preprocess};
use rectify_explain::image::{Hide, ImageLime, Perturber};
use rectify_explain::lime::{FeatureSelection, LimeBase, Regressor};
use rectify_explain::{path, render};
use rectify_store::{ExplanationRow, ImageRow, Provenance, RunStore};
use rectify_superpixels::{Image, Segmenter};
use serde::Serialize;

use crate::model_args::ModelArgs;
use crate::outputs::write_json;
use crate::progress::Progress;

/// Parameters that may change when resuming.
const VOLATILE: &[&str] = &["batch_size", "limit", "files", "misclassified"];

/// `--segmenter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SegmenterArg {
    /// lime's default: quickshift, kernel 4, max_dist 200, ratio 0.2.
    Quickshift,
    /// SLIC, 100 segments, compactness 10.
    Slic,
}

/// `--selection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SelectionArg {
    /// forward if K ≤ 6, else highest (lime's default).
    Auto,
    /// Greedy forward selection.
    Forward,
    /// Largest ridge coefficients.
    Highest,
    /// The lasso path.
    Lasso,
    /// Every superpixel.
    None,
}

/// `--preset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The paper's: σ 0.25, K by the lasso path, then least squares (with the default 1000
    /// samples, the paper's; an explicit `--samples` is kept).
    Paper,
}

/// `rectify explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The run directory of a `rectify eval`.
    #[arg(long)]
    run: PathBuf,
    /// Explain these files (comma-separated, as in predictions.csv, or file names).
    #[arg(long, conflicts_with = "misclassified")]
    files: Option<String>,
    /// Explain the top-1-misclassified images.
    #[arg(long)]
    misclassified: bool,
    /// At most N images.
    #[arg(long)]
    limit: Option<usize>,
    /// Explain the adversarial images of this attack run (made with --save-images).
    #[arg(long)]
    attack: Option<String>,
    /// Perturbed samples per image.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// LIME's kernel width σ.
    #[arg(long, default_value_t = 0.25)]
    kernel_width: f64,
    /// Superpixel algorithm.
    #[arg(long, value_enum, default_value = "quickshift")]
    segmenter: SegmenterArg,
    /// K: superpixels in the explanation (and shown in the attention image).
    #[arg(long, default_value_t = 8)]
    features: usize,
    /// Feature selection.
    #[arg(long, value_enum, default_value = "auto")]
    selection: SelectionArg,
    /// A preset that sets kernel width, selection and regressor together.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Seed of the masks and the random path.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Perturbed images per forward pass.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Name of the explain run (default: from the parameters).
    #[arg(long)]
    name: Option<String>,
    /// Exact numerics (PyTorch's forward op for op).
    #[arg(long)]
    exact: bool,
    /// libtorch threads.
    #[arg(long)]
    threads: Option<usize>,
}

impl ExplainArgs {
    fn lime(&self) -> ImageLime {
        let base = match self.preset {
            Some(Preset::Paper) => LimeBase::paper(self.features),
            None => LimeBase {
                kernel_width: self.kernel_width,
                selection: match self.selection {
                    SelectionArg::Auto => FeatureSelection::Auto,
                    SelectionArg::Forward => FeatureSelection::Forward,
                    SelectionArg::Highest => FeatureSelection::HighestWeights,
                    SelectionArg::Lasso => FeatureSelection::LassoPath,
                    SelectionArg::None => FeatureSelection::None,
                },
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

/// The JSON file per image.
#[derive(Debug, Serialize)]
struct ExplanationFile<'a> {
    file: &'a str,
    true_label: Option<i64>,
    label: i64,
    label_name: String,
    probability: f64,
    segments: usize,
    weights: &'a [f64],
    ranked: &'a [usize],
    intercept: f64,
    r2: f64,
    local_pred: f64,
    path: &'a [f64],
    random_path: &'a [f64],
    auc_path: f64,
    auc_random: f64,
    seed: u64,
    params: &'a serde_json::Value,
}

/// Runs `rectify explain`.
pub fn run(args: ExplainArgs) -> Result<()> {
    if args.samples < 2 || args.batch_size == 0 || args.features == 0 {
        bail!("--samples must be at least 2, --batch-size and --features at least 1");
    }
    if !(args.kernel_width.is_finite() && args.kernel_width > 0.0) {
        bail!("--kernel-width must be a positive number");
    }
    let store = RunStore::open(&args.run)?;
    let (eval_run, eval_prov) = store.run("eval", None)?;
    let model = ModelArgs::recorded(&eval_prov, &args.device, args.threads, args.exact).load_recorded(&eval_prov)?;
    let root = PathBuf::from(eval_prov.params["images"].as_str().context("the eval run recorded no images folder")?);
    let items = select(&store, eval_run, &args)?;
    if items.is_empty() {
        bail!("no image to explain (check --files / --misclassified / --attack)");
    }
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
    let prov = Provenance {
        model: eval_prov.model.clone(),
        preprocessing: eval_prov.preprocessing.clone(),
        params: params.clone(),
        seed: Some(args.seed),
        device: model.info().device.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let run = store.begin_run("explain", &name, &prov, VOLATILE)?;
    let out = args.run.join("explain").join(&name);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let done: HashSet<i64> = store.explanations(run)?.iter().map(|r| r.image_id).collect();
    let todo: Vec<&Item> = items.iter().filter(|i| !done.contains(&i.image.id)).collect();
    eprintln!("rectify: explain {name}: {} images ({} already explained)", items.len(), items.len() - todo.len());

    let pre = Preprocess::default();
    let mut progress = Progress::new("explain", todo.len() as u64);
    let mut clock = crate::outputs::BatchClock::start();
    for item in todo {
        let crop = match &item.png {
            Some(png) => std::fs::read(png)
                .with_context(|| format!("reading {}", png.display()))
                .and_then(|b| Ok(decode(&b)?.into_raw())),
            None => pre.load(&root.join(&item.image.file)).map_err(anyhow::Error::from),
        };
        let crop = match crop {
            Ok(c) => c,
            Err(e) => {
                progress.println(&format!("rectify: {}: {e:#} (not explained)", item.image.file));
                progress.inc(1);
                continue;
            }
        };
        let side = pre.crop as usize;
        let seg = segmenter.segment(&Image::new(side, side, &crop)?)?;
        let perturber = Perturber::new(&crop, side, side, &seg.labels, seg.count, lime.hide, model.device());
        let e = lime.explain(&*model, &perturber, None)?;
        let w = &e.explanation.weights;
        let ours = path::path(&*model, &perturber, &path::order_by_weight(w), e.label, args.batch_size);
        let random =
            path::path(&*model, &perturber, &path::random_order(seg.count, args.seed), e.label, args.batch_size);
        let stem = item.image.file.replace(['/', '\\'], "__");
        let json_rel = format!("explain/{name}/{stem}.json");
        let file = ExplanationFile {
            file: &item.image.file,
            true_label: item.image.label,
            label: e.label,
            label_name: imagenet::classes().get(e.label as usize).map(|c| c.name.clone()).unwrap_or_default(),
            probability: e.probability,
            segments: seg.count,
            weights: w,
            ranked: &e.explanation.ranked,
            intercept: e.explanation.intercept,
            r2: e.explanation.r2,
            local_pred: e.explanation.local_pred,
            path: &ours,
            random_path: &random,
            auc_path: path::area(&ours),
            auc_random: path::area(&random),
            seed: args.seed,
            params: &params,
        };
        write_json(&args.run.join(&json_rel), &file)?;
        let top = render::top_positive(w, lime.base.num_features);
        save_png(&out.join(format!("{stem}.attention.png")), &render::attention(&crop, &seg.labels, &top), side)?;
        save_png(
            &out.join(format!("{stem}.overlay.png")),
            &render::overlay(&crop, &seg.labels, side, side, w, lime.base.num_features),
            side,
        )?;
        save_png(&out.join(format!("{stem}.heatmap.png")), &render::heat_map(&seg.labels, w), side)?;
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
    let rows = store.explanations(run)?;
    let n = rows.len();
    let better = rows.iter().filter(|r| r.auc_path > r.auc_random).count();
    let summary = serde_json::json!({
        "n": n,
        "mean_r2": rows.iter().map(|r| r.r2).sum::<f64>() / n.max(1) as f64,
        "mean_segments": rows.iter().map(|r| r.segments as f64).sum::<f64>() / n.max(1) as f64,
        "auc_path_mean": rows.iter().map(|r| r.auc_path).sum::<f64>() / n.max(1) as f64,
        "auc_random_mean": rows.iter().map(|r| r.auc_random).sum::<f64>() / n.max(1) as f64,
        "path_beats_random": if n > 0 { better as f64 / n as f64 } else { 0.0 },
        "seconds": clock.seconds(),
        "throughput": {
            "images": clock.batches.len(),
            "seconds_per_image": &clock.batches,
            "seconds_per_image_median": crate::outputs::median(&clock.batches),
        },
        "provenance": prov,
    });
    write_json(&out.join("summary.json"), &summary)?;
    println!("explained {n} images -> {}", out.display());
    println!("explanation path above the random order's on {better}/{n} images");
    Ok(())
}

/// The images to explain, in predictions.csv order.
fn select(store: &RunStore, eval_run: rectify_store::RunId, args: &ExplainArgs) -> Result<Vec<Item>> {
    let images: HashMap<i64, ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    let preds = store.predictions(eval_run, false)?;
    let mut items: Vec<Item> = match &args.attack {
        None => preds.iter().map(|p| Item { image: images[&p.image_id].clone(), png: None }).collect(),
        Some(name) => {
            let (attack_run, _) = store.run("attack", Some(name))?;
            let rows = store.attacks(attack_run)?;
            if rows.iter().all(|r| r.image.is_none()) {
                bail!("attack run {name:?} saved no images; rerun it with --save-images");
            }
            rows.into_iter()
                .filter_map(|r| {
                    r.image.map(|png| Item { image: images[&r.image_id].clone(), png: Some(args.run.join(png)) })
                })
                .collect()
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
    if let Some(limit) = args.limit {
        items.truncate(limit);
    }
    Ok(items)
}

fn save_png(path: &Path, rgb: &[u8], side: usize) -> Result<()> {
    image::RgbImage::from_raw(side as u32, side as u32, rgb.to_vec())
        .expect("side × side × 3 buffer")
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}
