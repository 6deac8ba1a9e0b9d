//! The eval stage (`rectify eval`): predictions of a classifier on a folder of images, stored in a run directory.
//!
//! Decoding and resizing run on a thread pool one batch ahead of the model, so the CPU cores
//! that libtorch does not keep busy prepare the next batch. Every batch is committed to the store
//! in one transaction: an interrupted run loses at most the batch in flight, and rerunning the
//! same command skips every image already stored.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rectify_data::dataset::{Dataset, Sample};
use rectify_data::real::RealLabels;
use rectify_model::classifier::pixels_from_u8;
use rectify_model::Classifier;
use rectify_store::{ImageRow, ModelRecord, PredictionRow, Provenance, RunId, RunStore};
use tch::{Kind, Tensor};

use crate::decode;
use crate::outputs::{throughput, write_eval_outputs, BatchClock, Summary};
use crate::preprocess::PreprocessArgs;
use crate::progress::Progress;

/// Parameters that may change between a run and its resumption without changing any result.
pub const VOLATILE: &[&str] = &[
    "batch_size",
    "limit",
    "shard",
    "workers",
    "save_logits",
    "save_features",
    "real_labels",
    "skipped_non_images",
    "skipped",
];

/// How to evaluate: the images, their labels, what to keep. The model and the run directory
/// are [`run`]'s other arguments.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EvalSettings {
    /// The images and their labels.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub inputs: ImageInputs,
    /// How they become pixels (default: torchvision's ImageNet evaluation).
    #[cfg_attr(feature = "clap", command(flatten))]
    pub preprocess: PreprocessArgs,
    /// Images per forward pass.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 32))]
    pub batch_size: usize,
    /// Also write logits.npy (float32 [n, classes]).
    #[cfg_attr(feature = "clap", arg(long))]
    pub save_logits: bool,
    /// Also write features.npy (float32 [n, d], the global-pooled penultimate features).
    #[cfg_attr(feature = "clap", arg(long))]
    pub save_features: bool,
    /// Evaluate only shard I of N (0-based): images whose index ≡ I mod N. Combine with `rectify merge`.
    #[cfg_attr(feature = "clap", arg(long, value_parser = parse_shard))]
    pub shard: Option<(usize, usize)>,
    /// Evaluate at most the first N images (after sharding).
    #[cfg_attr(feature = "clap", arg(long))]
    pub limit: Option<usize>,
    /// Threads decoding and resizing images (default: all cores).
    #[cfg_attr(feature = "clap", arg(long))]
    pub workers: Option<usize>,
}

/// The images a stage runs on: `--images`, `--labels`, `--real-labels`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ImageInputs {
    /// Folder of images (searched recursively), or an ImageFolder (`DIR/<wnid>/*.JPEG`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub images: PathBuf,
    /// Labels: a CSV whose header has `file,label` (other columns ignored) or `file label`
    /// lines (default: the folder's own labels when the images are ImageNet validation files
    /// and no labels are given, none otherwise).
    #[cfg_attr(feature = "clap", arg(long))]
    pub labels: Option<PathBuf>,
    /// ReaL labels (`real.json`, or a JSON object {file: [labels]}) for ReaL accuracy.
    #[cfg_attr(feature = "clap", arg(long))]
    pub real_labels: Option<PathBuf>,
}

impl ImageInputs {
    /// The images of `images`, with the labels the folder implies.
    pub fn new(images: impl Into<PathBuf>) -> Self {
        ImageInputs { images: images.into(), labels: None, real_labels: None }
    }
}

impl EvalSettings {
    /// Every image of `inputs`, 32 a batch, nothing but predictions kept.
    pub fn new(inputs: ImageInputs) -> Self {
        EvalSettings {
            inputs,
            preprocess: PreprocessArgs::default(),
            batch_size: 32,
            save_logits: false,
            save_features: false,
            shard: None,
            limit: None,
            workers: None,
        }
    }

    /// The errors that need no model and no file: before loading either.
    pub fn check(&self) -> Result<()> {
        if self.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        Ok(())
    }
}

/// `I/N` → `(I, N)`, 0 ≤ I < N.
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) =
        (i.trim().parse().map_err(|_| "I must be a number")?, n.trim().parse().map_err(|_| "N must be a number")?);
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N (shards are 0-based)"));
    }
    Ok((i, n))
}

/// Labels `ds` by a many-to-one class map: an image's folder names its group, or its own label
/// (an ImageNet class) falls in one; the group's first class is its label. Images that fall in
/// no group are left out, as ObjectNet's evaluation leaves out its classes outside ImageNet.
/// Returns how many were left out.
fn label_by_groups(ds: &mut Dataset, groups: &[rectify_model::ClassGroup], progress: &mut dyn Progress) -> usize {
    let by = crate::subset::GroupLabels::new(groups);
    let before = ds.samples.len();
    let mut folders: Vec<String> = Vec::new();
    ds.samples.retain_mut(|s| match by.label(&s.file, s.label) {
        Some(l) => {
            s.label = Some(l);
            true
        }
        None => {
            let folder = s.file.split_once('/').map_or("", |(f, _)| f).to_string();
            if !folders.contains(&folder) {
                folders.push(folder);
            }
            false
        }
    });
    if ds.labels == rectify_data::dataset::LabelSource::None {
        ds.labels = rectify_data::dataset::LabelSource::ImageFolder;
    }
    let left = before - ds.samples.len();
    if left > 0 {
        let shown = folders.iter().take(5).map(|f| if f.is_empty() { "." } else { f }).collect::<Vec<_>>().join(", ");
        progress.message(&format!(
            "rectify: {left} images in {} folders ({shown}{}) fall in no group of the class map: left out",
            folders.len(),
            if folders.len() > 5 { ", …" } else { "" }
        ));
    }
    left
}

/// Evaluates `model` on the images `settings` name into the run directory `out` (created;
/// an existing one resumes: images already stored are skipped), and writes `predictions.csv`,
/// `summary.json` and the saved tensors.
pub fn run(
    out: &Path,
    model: &dyn Classifier,
    settings: &EvalSettings,
    progress: &mut dyn Progress,
) -> Result<Summary> {
    let args = settings;
    args.check()?;
    if args.save_features && model.info().feature_dim.is_none() {
        bail!(
            "--save-features needs a model with features: a zoo architecture (--arch), or a TorchScript \
             module with a `forward_features` method (or the one --features-method names)"
        );
    }
    let images = canonical(&args.inputs.images, "--images")?;
    let labels = args.inputs.labels.as_deref().map(|p| canonical(p, "--labels")).transpose()?;
    let mut ds = Dataset::open(&images, labels.as_deref())?;
    let total = ds.samples.len();
    let info = model.info().clone();
    let left_out = match &info.class_groups {
        Some(groups) => label_by_groups(&mut ds, groups, progress),
        None => 0,
    };
    if let Some((i, n)) = args.shard {
        ds.shard(i, n);
    }
    if let Some(limit) = args.limit {
        ds.samples.truncate(limit);
    }
    let real = args.inputs.real_labels.as_deref().map(RealLabels::read).transpose()?;

    if let Some(bad) = ds.samples.iter().find(|s| s.label.is_some_and(|l| l >= info.num_classes)) {
        bail!(
            "{}: label {} is out of range for a model with {} classes",
            bad.file,
            bad.label.unwrap_or(0),
            info.num_classes
        );
    }
    let pre = args.preprocess.resolve()?;
    let norm = &info.normalization;
    if (norm.mean, norm.std) != (pre.mean, pre.std) {
        bail!(
            "the model normalises with mean {:?} / std {:?} but the preprocessing asks for {:?} / {:?}: \
             load it with ModelSpec::load_for(&preprocessing)",
            norm.mean,
            norm.std,
            pre.mean,
            pre.std
        );
    }
    let record = ModelRecord {
        arch: info.arch.clone(),
        weights: info.weights.clone(),
        weights_sha256: info.weights_sha256.clone(),
    };
    let mut params = serde_json::json!({
            "images": images,
            "labels": labels,
            "real_labels": args.inputs.real_labels.as_deref().map(|p| canonical(p, "--real-labels")).transpose()?,
            "batch_size": args.batch_size,
            "shard": args.shard.map(|(i, n)| format!("{i}/{n}")),
            "limit": args.limit,
            "workers": args.workers,
            "save_logits": args.save_logits,
            "save_features": args.save_features,
            "num_classes": info.num_classes,
            "numerics": info.numerics,
            "skipped_non_images": ds.skipped_non_images,
            "skipped": ds.skipped,
    });
    if info.class_groups.is_some() {
        params["left_out_by_class_map"] = left_out.into();
    }
    crate::preprocess::record(&mut params, &pre)?;
    if let Some(method) = &info.features_method {
        params["features_method"] = method.as_str().into();
    }
    crate::subset::record(&mut params, &info)?;
    let prov = Provenance::new(record, pre.describe(), params).device(info.device.clone());

    let mut store = RunStore::create(out)?;
    let run = store.begin_run("eval", "eval", &prov, VOLATILE)?;
    let rows: Vec<ImageRow> = ds
        .samples
        .iter()
        .map(|s| ImageRow {
            id: s.index as i64,
            file: s.file.clone(),
            label: s.label,
            real_labels: real.as_ref().and_then(|r| r.get(&s.file)).map(<[i64]>::to_vec),
        })
        .collect();
    store.put_images(&rows)?;
    for skipped in &ds.skipped {
        progress.message(&format!("rectify: warning: {}: skipped: {}", skipped.file, skipped.reason));
    }
    let unlabeled: Vec<&str> = ds.unlabeled().map(|s| s.file.as_str()).collect();
    if !unlabeled.is_empty() {
        let shown = unlabeled.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        progress.message(&format!(
            "rectify: warning: {} images have no row in the label file ({shown}{}); they are evaluated but left out of top-1/top-5",
            unlabeled.len(),
            if unlabeled.len() > 5 { ", …" } else { "" }
        ));
    }
    let done = store.done_ids(run, args.save_logits, args.save_features)?;
    let todo: Vec<Sample> = ds.samples.iter().filter(|s| !done.contains(&(s.index as i64))).cloned().collect();
    progress.message(&format!(
        "rectify: {} images under {} ({} in this run, {} already stored, {} to evaluate) with {} on {}",
        total,
        images.display(),
        ds.samples.len(),
        ds.samples.len() - todo.len(),
        todo.len(),
        info.arch,
        info.device
    ));

    let opts =
        BatchOptions { save_logits: args.save_logits, save_features: args.save_features, crop: pre.crop as usize };
    progress.begin("eval", todo.len() as u64);
    let mut clock = BatchClock::start();
    let mut evaluated = 0;
    decode::for_each_batch(
        &todo,
        &ds.root,
        |s: &Sample| s.file.as_str(),
        &pre,
        decode::workers(args.workers),
        args.batch_size,
        |chunk, decoded| {
            evaluated += evaluate_batch(&mut store, run, model, chunk, decoded, &opts, progress)?;
            clock.lap();
            Ok(())
        },
    )?;
    progress.finish();
    let seconds = clock.seconds();
    store.finish_run(run)?;
    let throughput = (evaluated > 0).then(|| throughput(evaluated, seconds, clock.batches));
    write_eval_outputs(&store, run, &prov, throughput)
}

fn canonical(p: &Path, flag: &str) -> Result<PathBuf> {
    p.canonicalize().with_context(|| format!("{flag} {}", p.display()))
}

/// What each batch keeps besides predictions, and the crop size of its images.
struct BatchOptions {
    save_logits: bool,
    save_features: bool,
    crop: usize,
}

/// Runs the model on the decodable images of one batch and stores predictions and errors.
fn evaluate_batch(
    store: &mut RunStore,
    run: RunId,
    model: &dyn Classifier,
    chunk: &[Sample],
    decoded: decode::Decoded,
    args: &BatchOptions,
    progress: &mut dyn Progress,
) -> Result<usize> {
    let mut ok: Vec<&Sample> = Vec::with_capacity(chunk.len());
    let mut buf = Vec::new();
    let bytes = chunk.len() * args.crop * args.crop * 3;
    buf.try_reserve_exact(bytes).map_err(|_| anyhow::anyhow!("cannot allocate {bytes} bytes for a batch of crops"))?;
    for (s, d) in chunk.iter().zip(decoded) {
        match d {
            Ok(pixels) => {
                buf.extend_from_slice(&pixels);
                ok.push(s);
            }
            Err(msg) => {
                progress.message(&format!("rectify: {}: {msg}", s.file));
                store.put_error(run, s.index as i64, "decode", &msg)?;
            }
        }
    }
    let mut rows = Vec::with_capacity(ok.len());
    if !ok.is_empty() {
        let pixels = pixels_from_u8(&buf, ok.len(), args.crop, args.crop, model.device())?;
        let what = format!("the forward pass of a batch of {} images of {} px", ok.len(), args.crop);
        let out = rectify_model::guarded(&what, || {
            tch::no_grad(|| {
                if args.save_features {
                    model.forward(&pixels)
                } else {
                    rectify_model::Output { logits: model.logits(&pixels), features: None }
                }
            })
        })?;
        let logits = out.logits.to_device(tch::Device::Cpu).to_kind(Kind::Float);
        let probs = logits.softmax(-1, Kind::Float);
        let k = probs.size()[1].min(5);
        let (top_p, top_i) = probs.topk(k, -1, true, true);
        let top_p = to_rows::<f32>(&top_p);
        let top_i = to_rows::<i64>(&top_i);
        let probs_rows = to_rows::<f32>(&probs);
        let logit_rows = args.save_logits.then(|| to_rows::<f32>(&logits));
        let feat_rows = out.features.as_ref().map(|f| to_rows::<f32>(&f.to_device(tch::Device::Cpu)));
        for (j, s) in ok.iter().enumerate() {
            rows.push(PredictionRow {
                image_id: s.index as i64,
                top5: top_i[j].clone(),
                top5_probs: top_p[j].clone(),
                label_prob: s.label.map(|l| probs_rows[j][l as usize]),
                logits: logit_rows.as_ref().map(|r| r[j].clone()),
                features: feat_rows.as_ref().map(|r| r[j].clone()),
            });
        }
    }
    store.put_predictions(run, &rows)?;
    progress.inc(chunk.len() as u64);
    Ok(rows.len())
}

/// A 2-D CPU tensor as rows (f32 or i64, matching its kind).
fn to_rows<T: Clone>(t: &Tensor) -> Vec<Vec<T>>
where
    Vec<T>: TryFrom<Tensor, Error = tch::TchError>,
{
    let cols = t.size()[1] as usize;
    let flat: Vec<T> = Vec::try_from(t.contiguous().flatten(0, -1)).expect("tensor of the requested kind");
    flat.chunks(cols.max(1)).map(<[T]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("0/4"), Ok((0, 4)));
        assert_eq!(parse_shard("3/4"), Ok((3, 4)));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("1/0").is_err());
        assert!(parse_shard("x").is_err());
    }
}
