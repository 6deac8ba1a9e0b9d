//! Counterfactual pairs (`rectify pairs`, issue #7; Stock & Cisse Fig. 8 and 10b). Each row of
//! the CSV names two images that differ mainly in one thing (skin colour, say); rectify shows
//! the model's prediction on both, the probability of the class of interest, and each image's
//! LIME explanation path, side by side.
//!
//! CSV: `image_a,image_b,differs[,class]` (paths relative to the CSV's folder; `class` = the class
//! of interest, default the top-1 class of image a). Writes `OUT/pairs.json` and, per pair,
//! `OUT/pair-<i>.png` (both attention images side by side).

use std::path::{Path, PathBuf};

use crate::preprocess::PreprocessArgs;
use anyhow::{bail, Context, Result};
use rectify_data::imagenet;
use rectify_explain::image::{Hide, ImageLime, Perturber};
use rectify_explain::lime::LimeBase;
use rectify_explain::{path, render};
use rectify_superpixels::{Image, Segmenter};
use serde::Serialize;

use rectify_model::Classifier;

use crate::outputs::write_json;
use crate::progress::Progress;

/// How to explain the pairs. The model, the CSV and the output folder are [`run`]'s other
/// arguments.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PairsSettings {
    /// LIME samples per image (the paper's 1000).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub samples: usize,
    /// Superpixels in the explanation (K).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 8))]
    pub features: usize,
    /// Seed of the masks.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Perturbed images per forward pass.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 64))]
    pub batch_size: usize,
    /// How the images become pixels (default: torchvision's ImageNet evaluation).
    #[cfg_attr(feature = "clap", command(flatten))]
    pub preprocess: PreprocessArgs,
}

impl Default for PairsSettings {
    /// The paper's: 1000 samples, K = 8.
    fn default() -> Self {
        PairsSettings { samples: 1000, features: 8, seed: 0, batch_size: 64, preprocess: PreprocessArgs::default() }
    }
}

/// One side of a pair (in `pairs.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The image's path.
    pub image: String,
    /// The model's top class.
    pub top1: i64,
    /// Its name.
    pub top1_name: String,
    /// Its probability.
    pub top1_probability: f64,
    /// Probability of the class of interest.
    pub probability: f64,
    /// Its probability when only the top-j superpixels (by LIME weight) are shown, j = 0 … all.
    pub path: Vec<f64>,
    /// Area under `path`.
    pub auc_path: f64,
    /// Superpixels.
    pub segments: usize,
    /// The attention image's file, in the output folder.
    pub attention_png: String,
}

/// One pair (in `pairs.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// What differs between the images.
    pub differs: String,
    /// The class of interest.
    pub class: i64,
    /// Its name.
    pub class_name: String,
    /// Image a.
    pub a: Side,
    /// Image b.
    pub b: Side,
    /// p(class | b) − p(class | a).
    pub probability_change: f64,
    /// Whether the top class differs.
    pub prediction_changed: bool,
}

struct Row {
    a: PathBuf,
    b: PathBuf,
    differs: String,
    class: Option<i64>,
}

fn read_pairs(path: &Path) -> Result<Vec<Row>> {
    let base = path.parent().unwrap_or(Path::new("."));
    let text = rectify_data::files::read_text(path, rectify_data::files::MAX_TABLE_FILE, "a pairs file")
        .with_context(|| format!("reading {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        if i == 0 && rec.get(0).is_some_and(|h| h.trim() == "image_a") {
            continue;
        }
        if rec.len() < 3 {
            bail!("{}: line {}: expected image_a,image_b,differs[,class]", path.display(), i + 1);
        }
        let class = match rec.get(3).map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(c.parse().ok().filter(|&c: &i64| (0..1000).contains(&c)).with_context(|| {
                format!("{}: line {}: class {c:?} is not a class index 0-999", path.display(), i + 1)
            })?),
            None => None,
        };
        rows.push(Row {
            a: base.join(rec[0].trim()),
            b: base.join(rec[1].trim()),
            differs: rec[2].trim().into(),
            class,
        });
    }
    if rows.is_empty() {
        bail!("{}: no pairs", path.display());
    }
    Ok(rows)
}

/// Explains both images of every pair of the CSV `pairs` with `model` into the folder `out`
/// (`pairs.json`, `pair-<i>.png`), and returns the pairs.
pub fn run(
    pairs_csv: &Path,
    out: &Path,
    model: &dyn Classifier,
    args: &PairsSettings,
    progress: &mut dyn Progress,
) -> Result<Vec<Pair>> {
    if args.samples < 2 || args.features == 0 || args.batch_size == 0 {
        bail!("--samples must be at least 2, --features and --batch-size at least 1");
    }
    let rows = read_pairs(pairs_csv)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let pre = args.preprocess.resolve()?;
    let side_px = pre.crop as usize;
    let lime = ImageLime {
        base: LimeBase::paper(args.features),
        samples: args.samples,
        batch_size: args.batch_size,
        hide: Hide::MeanColor,
        seed: args.seed,
    };
    let segmenter = Segmenter::lime_default();
    progress.begin("pairs", rows.len() as u64);
    let mut pairs = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let crop_a = pre.load(&row.a).with_context(|| format!("pair {}: {}", i + 1, row.a.display()))?;
        let crop_b = pre.load(&row.b).with_context(|| format!("pair {}: {}", i + 1, row.b.display()))?;
        let explain = |crop: &[u8], class: Option<i64>, tag: &str| -> Result<(Side, Vec<u8>, i64)> {
            let seg = segmenter.segment(&Image::new(side_px, side_px, crop)?)?;
            let perturber = Perturber::new(crop, side_px, side_px, &seg.labels, seg.count, lime.hide, model.device());
            let probs =
                perturber.probabilities(model, &tch::Tensor::ones([1, seg.count as i64], tch::kind::FLOAT_CPU), 1);
            let top1 = probs.get(0).argmax(0, false).int64_value(&[]);
            let class = class.unwrap_or(top1);
            let e = lime.explain(model, &perturber, Some(class))?;
            let order = path::order_by_weight(&e.explanation.weights);
            let p = path::path(model, &perturber, &order, class, args.batch_size);
            let top = render::top_positive(&e.explanation.weights, args.features);
            let attention = render::attention(crop, &seg.labels, &top);
            let png = format!("pair-{}-{tag}.attention.png", i + 1);
            Ok((
                Side {
                    image: if tag == "a" { row.a.display().to_string() } else { row.b.display().to_string() },
                    top1,
                    top1_name: class_name(top1),
                    top1_probability: probs.double_value(&[0, top1]),
                    probability: e.probability,
                    auc_path: path::area(&p),
                    path: p,
                    segments: seg.count,
                    attention_png: png,
                },
                attention,
                class,
            ))
        };
        let (a, att_a, class) = explain(&crop_a, row.class, "a")?;
        let (b, att_b, _) = explain(&crop_b, Some(class), "b")?;
        save_side_by_side(&out.join(format!("pair-{}.png", i + 1)), &att_a, &att_b, side_px)?;
        for (att, side) in [(&att_a, &a), (&att_b, &b)] {
            image::RgbImage::from_raw(side_px as u32, side_px as u32, att.clone())
                .expect("crop buffer")
                .save(out.join(&side.attention_png))
                .context("writing an attention image")?;
        }
        pairs.push(Pair {
            differs: row.differs.clone(),
            class,
            class_name: class_name(class),
            probability_change: b.probability - a.probability,
            prediction_changed: a.top1 != b.top1,
            a,
            b,
        });
        progress.inc(1);
    }
    progress.finish();
    let info = model.info();
    let doc = serde_json::json!({
        "pairs": pairs,
        "params": {"samples": args.samples, "features": args.features, "seed": args.seed, "segmenter": segmenter, "lime": lime},
        "model": {"arch": info.arch, "weights": info.weights, "weights_sha256": info.weights_sha256, "numerics": info.numerics},
        "version": env!("CARGO_PKG_VERSION"),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
    });
    write_json(&out.join("pairs.json"), &doc)?;
    Ok(pairs)
}

/// Each pair in a line.
pub fn describe(pairs: &[Pair]) -> String {
    let mut out = String::new();
    for (i, p) in pairs.iter().enumerate() {
        out += &format!(
            "pair {} ({}): p({}) {:.3} -> {:.3}{}\n",
            i + 1,
            p.differs,
            p.class_name,
            p.a.probability,
            p.b.probability,
            if p.prediction_changed {
                format!(", prediction {} -> {}", p.a.top1_name, p.b.top1_name)
            } else {
                String::new()
            }
        );
    }
    out
}

fn class_name(c: i64) -> String {
    imagenet::classes().get(c as usize).map(|c| c.name.clone()).unwrap_or_else(|| format!("class {c}"))
}

fn save_side_by_side(path: &Path, a: &[u8], b: &[u8], side: usize) -> Result<()> {
    let gap = 8;
    let width = 2 * side + gap;
    let mut img = vec![255u8; width * side * 3];
    for y in 0..side {
        img[y * width * 3..][..side * 3].copy_from_slice(&a[y * side * 3..][..side * 3]);
        img[(y * width + side + gap) * 3..][..side * 3].copy_from_slice(&b[y * side * 3..][..side * 3]);
    }
    image::RgbImage::from_raw(width as u32, side as u32, img)
        .expect("pair buffer")
        .save(path)
        .with_context(|| format!("writing {}", path.display()))
}
