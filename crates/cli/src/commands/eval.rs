//! `rectify eval`: predictions of a classifier on a folder of images, stored in a run directory.
//!
//! Decoding and resizing run on a thread pool one batch ahead of the model, so the CPU cores
//! that libtorch does not keep busy prepare the next batch. Every batch is committed to the store
//! in one transaction: an interrupted run loses at most the batch in flight, and rerunning the
//! same command skips every image already stored.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use rectify_data::dataset::{Dataset, Sample};
use rectify_data::preprocess::Preprocess;
use rectify_data::real::RealLabels;
use rectify_model::classifier::pixels_from_u8;
use rectify_model::Classifier;
use rectify_store::{ImageRow, ModelRecord, PredictionRow, Provenance, RunId, RunStore};
use tch::{Kind, Tensor};

use crate::model_args::ModelArgs;
use crate::outputs::{write_eval_outputs, BatchClock, Throughput};
use crate::pipeline;
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

/// `rectify eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Folder of images (searched recursively), or an ImageFolder (`DIR/<wnid>/*.JPEG`).
    #[arg(long)]
    images: PathBuf,
    /// Labels: a CSV whose header has `file,label` (other columns ignored) or `file label` lines.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// ReaL labels (`real.json`, or a JSON object {file: [labels]}) for ReaL accuracy.
    #[arg(long)]
    real_labels: Option<PathBuf>,
    /// The run directory (created; rerunning resumes).
    #[arg(long)]
    out: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Also write logits.npy (float32 [n, classes]).
    #[arg(long)]
    save_logits: bool,
    /// Also write features.npy (float32 [n, d], the global-pooled penultimate features).
    #[arg(long)]
    save_features: bool,
    /// Evaluate only shard I of N (0-based): images whose index ≡ I mod N. Combine with `rectify merge`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Evaluate at most the first N images (after sharding).
    #[arg(long)]
    limit: Option<usize>,
    /// Threads decoding and resizing images (default: all cores).
    #[arg(long)]
    workers: Option<usize>,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) =
        (i.trim().parse().map_err(|_| "I must be a number")?, n.trim().parse().map_err(|_| "N must be a number")?);
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N (shards are 0-based)"));
    }
    Ok((i, n))
}

/// Runs `rectify eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    if args.save_features && args.model.torchscript.is_some() {
        bail!("--save-features needs a zoo architecture (--arch); a TorchScript model only exposes logits");
    }
    let images = canonical(&args.images, "--images")?;
    let labels = args.labels.as_deref().map(|p| canonical(p, "--labels")).transpose()?;
    let mut ds = Dataset::open(&images, labels.as_deref())?;
    let total = ds.samples.len();
    if let Some((i, n)) = args.shard {
        ds.shard(i, n);
    }
    if let Some(limit) = args.limit {
        ds.samples.truncate(limit);
    }
    let real = args.real_labels.as_deref().map(RealLabels::read).transpose()?;

    let model = args.model.load()?;
    let info = model.info().clone();
    if let Some(bad) = ds.samples.iter().find(|s| s.label.is_some_and(|l| l >= info.num_classes)) {
        bail!(
            "{}: label {} is out of range for a model with {} classes",
            bad.file,
            bad.label.unwrap_or(0),
            info.num_classes
        );
    }
    let pre = Preprocess::default();
    let prov = Provenance {
        model: ModelRecord {
            arch: info.arch.clone(),
            weights: info.weights.clone(),
            weights_sha256: info.weights_sha256.clone(),
        },
        preprocessing: pre.describe(),
        params: serde_json::json!({
            "images": images,
            "labels": labels,
            "real_labels": args.real_labels.as_deref().map(|p| canonical(p, "--real-labels")).transpose()?,
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
        }),
        seed: None,
        device: info.device.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };

    let mut store = RunStore::create(&args.out)?;
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
        eprintln!("rectify: warning: {}: skipped: {}", skipped.file, skipped.reason);
    }
    let unlabeled: Vec<&str> = ds.unlabeled().map(|s| s.file.as_str()).collect();
    if !unlabeled.is_empty() {
        let shown = unlabeled.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        eprintln!(
            "rectify: warning: {} images have no row in the label file ({shown}{}); they are evaluated but left out of top-1/top-5",
            unlabeled.len(),
            if unlabeled.len() > 5 { ", …" } else { "" }
        );
    }
    let done = store.done_ids(run, args.save_logits, args.save_features)?;
    let todo: Vec<Sample> = ds.samples.iter().filter(|s| !done.contains(&(s.index as i64))).cloned().collect();
    eprintln!(
        "rectify: {} images under {} ({} in this run, {} already stored, {} to evaluate) with {} on {}",
        total,
        images.display(),
        ds.samples.len(),
        ds.samples.len() - todo.len(),
        todo.len(),
        info.arch,
        info.device
    );

    let opts =
        BatchOptions { save_logits: args.save_logits, save_features: args.save_features, crop: pre.crop as usize };
    let mut progress = Progress::new("eval", todo.len() as u64);
    let mut clock = BatchClock::start();
    let mut evaluated = 0;
    pipeline::for_each_batch(
        &todo,
        &ds.root,
        |s: &Sample| s.file.as_str(),
        &pre,
        pipeline::workers(args.workers),
        args.batch_size,
        |chunk, decoded| {
            evaluated += evaluate_batch(&mut store, run, &*model, chunk, decoded, &opts, &mut progress)?;
            clock.lap();
            Ok(())
        },
    )?;
    progress.finish();
    let seconds = clock.seconds();
    store.finish_run(run)?;
    let throughput = (evaluated > 0).then(|| Throughput::new(evaluated, seconds, clock.batches));
    let summary = write_eval_outputs(&store, run, &prov, throughput)?;
    print_summary(&summary, &args.out);
    Ok(())
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
    decoded: pipeline::Decoded,
    args: &BatchOptions,
    progress: &mut Progress,
) -> Result<usize> {
    let mut ok: Vec<&Sample> = Vec::with_capacity(chunk.len());
    let mut buf = Vec::with_capacity(chunk.len() * 224 * 224 * 3);
    for (s, d) in chunk.iter().zip(decoded) {
        match d {
            Ok(pixels) => {
                buf.extend_from_slice(&pixels);
                ok.push(s);
            }
            Err(msg) => {
                progress.println(&format!("rectify: {}: {msg}", s.file));
                store.put_error(run, s.index as i64, "decode", &msg)?;
            }
        }
    }
    let mut rows = Vec::with_capacity(ok.len());
    if !ok.is_empty() {
        let pixels = pixels_from_u8(&buf, ok.len(), args.crop, args.crop, model.device());
        let out = tch::no_grad(|| {
            if args.save_features {
                model.forward(&pixels)
            } else {
                rectify_model::Output { logits: model.logits(&pixels), features: None }
            }
        });
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

fn print_summary(s: &crate::outputs::Summary, out: &Path) {
    let pct = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{:.2}%", 100.0 * v));
    println!("evaluated {} images ({} failed) -> {}", s.evaluated, s.failed, out.display());
    println!("top-1 {}  top-5 {}  (over {} labelled)", pct(s.top1), pct(s.top5), s.labeled);
    if let Some(n) = s.real_n {
        println!("ReaL top-1 {}  ReaL top-5 {}  (over {n} with ReaL labels)", pct(s.real_top1), pct(s.real_top5));
    }
    if let Some(t) = &s.throughput {
        println!("{:.1} images/s", t.images_per_s);
    }
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
