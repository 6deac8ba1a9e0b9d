//! The files `rectify eval` and `rectify merge` leave in a run directory, all rebuilt from the
//! store so that a resumed or merged run reports every image it holds:
//! `predictions.csv`, `summary.json`, and with saved tensors `logits.npy` / `features.npy`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use rectify_store::{ImageRow, PredictionRow, Provenance, RunId, RunStore};
use serde::Serialize;

pub use rectify_store::artifacts::{EvalSummary as Summary, FailedImage, Throughput};

/// The throughput of `images` images in `batch_seconds.len()` batches.
pub fn throughput(images: usize, seconds: f64, batch_seconds: Vec<f64>) -> Throughput {
    let seconds_per_batch_median = median(&batch_seconds);
    Throughput { images, seconds, images_per_s: images as f64 / seconds, batch_seconds, seconds_per_batch_median }
}

/// The median of `xs` (the upper one of an even count), `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Times a stage's batches: each batch's wall-clock time since the previous one ended.
#[derive(Debug)]
pub struct BatchClock {
    start: std::time::Instant,
    last: std::time::Instant,
    /// Seconds per batch so far.
    pub batches: Vec<f64>,
}

impl BatchClock {
    /// Starts the clock.
    pub fn start() -> Self {
        let now = std::time::Instant::now();
        BatchClock { start: now, last: now, batches: Vec::new() }
    }

    /// Marks the end of a batch.
    pub fn lap(&mut self) {
        let now = std::time::Instant::now();
        self.batches.push((now - self.last).as_secs_f64());
        self.last = now;
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

fn ratio(hits: usize, n: usize) -> Option<f64> {
    (n > 0).then(|| hits as f64 / n as f64)
}

/// Accuracy over predictions joined with their images.
#[derive(Debug, Default, PartialEq)]
pub struct Accuracy {
    /// Predictions whose image has a label.
    pub labeled: usize,
    /// Top-1 over those.
    pub top1: Option<f64>,
    /// Top-5 over those.
    pub top5: Option<f64>,
    /// ReaL numbers, when any image carries ReaL labels.
    pub real: Option<RealAccuracy>,
}

/// Accuracy under ReaL labels (images with an empty ReaL set left out).
#[derive(Debug, Default, PartialEq)]
pub struct RealAccuracy {
    /// Images with a non-empty ReaL set.
    pub n: usize,
    /// The top class is in the set.
    pub top1: Option<f64>,
    /// Any of the top 5 is in the set.
    pub top5: Option<f64>,
}

/// Computes [`Accuracy`] of `preds` against the labels of `images`.
pub fn accuracy(images: &[ImageRow], preds: &[PredictionRow]) -> Accuracy {
    let by_id: HashMap<i64, &ImageRow> = images.iter().map(|i| (i.id, i)).collect();
    let (mut labeled, mut t1, mut t5) = (0, 0, 0);
    let (mut real_n, mut r1, mut r5) = (0, 0, 0);
    let mut any_real = false;
    for p in preds {
        let img = by_id[&p.image_id];
        if let Some(l) = img.label {
            labeled += 1;
            t1 += usize::from(p.top5.first() == Some(&l));
            t5 += usize::from(p.top5.contains(&l));
        }
        if let Some(real) = &img.real_labels {
            any_real = true;
            if !real.is_empty() {
                real_n += 1;
                r1 += usize::from(p.top5.first().is_some_and(|c| real.contains(c)));
                r5 += usize::from(p.top5.iter().any(|c| real.contains(c)));
            }
        }
    }
    Accuracy {
        labeled,
        top1: ratio(t1, labeled),
        top5: ratio(t5, labeled),
        real: any_real.then(|| RealAccuracy { n: real_n, top1: ratio(r1, real_n), top5: ratio(r5, real_n) }),
    }
}

/// Rewrites `predictions.csv`, `summary.json` and the requested `.npy` files of `run` in `dir`.
pub fn write_eval_outputs(
    store: &RunStore,
    run: RunId,
    prov: &Provenance,
    throughput: Option<Throughput>,
) -> Result<Summary> {
    let dir = store.dir();
    let images = store.images()?;
    let with_blobs = prov.params["save_logits"].as_bool().unwrap_or(false)
        || prov.params["save_features"].as_bool().unwrap_or(false);
    let preds = store.predictions(run, with_blobs)?;
    let errors = store.errors(run)?;
    let by_id: HashMap<i64, &ImageRow> = images.iter().map(|i| (i.id, i)).collect();

    write_atomically(&dir.join("predictions.csv"), |w| {
        writeln!(w, "file,label,top5,top5_probs")?;
        for p in &preds {
            let img = by_id[&p.image_id];
            let label = img.label.map(|l| l.to_string()).unwrap_or_default();
            let top5: Vec<String> = p.top5.iter().map(|c| c.to_string()).collect();
            let probs: Vec<String> = p.top5_probs.iter().map(|x| format!("{x:.6}")).collect();
            writeln!(w, "{},{},{},{}", csv_field(&img.file), label, top5.join(" "), probs.join(" "))?;
        }
        Ok(())
    })?;

    for (name, pick) in [
        ("logits", (|p: &PredictionRow| p.logits.as_deref()) as fn(&PredictionRow) -> Option<&[f32]>),
        ("features", |p: &PredictionRow| p.features.as_deref()),
    ] {
        if !prov.params[format!("save_{name}")].as_bool().unwrap_or(false) || preds.is_empty() {
            continue;
        }
        let rows: Vec<&[f32]> = preds.iter().filter_map(pick).collect();
        if rows.len() != preds.len() {
            bail!(
                "{} of {} predictions lack stored {name}; rerun with --save-{name} to fill them",
                preds.len() - rows.len(),
                preds.len()
            );
        }
        let d = rows[0].len();
        let flat: Vec<f32> = rows.concat();
        let path = dir.join(format!("{name}.npy"));
        rectify_data::npy::write_f32(&path, &[rows.len(), d], &flat)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    let acc = accuracy(&images, &preds);
    let failed: Vec<FailedImage> = errors
        .iter()
        .map(|e| FailedImage { file: e.file.clone(), stage: e.stage.clone(), message: e.message.clone() })
        .collect();
    let labels_expected = !prov.params["labels"].is_null();
    let unlabeled_files: Vec<String> = if labels_expected {
        preds.iter().map(|p| by_id[&p.image_id]).filter(|i| i.label.is_none()).map(|i| i.file.clone()).collect()
    } else {
        Vec::new()
    };
    let summary = Summary {
        n: preds.len() + failed.len(),
        evaluated: preds.len(),
        failed: failed.len(),
        labeled: acc.labeled,
        unlabeled: unlabeled_files.len(),
        unlabeled_files,
        top1: acc.top1,
        top5: acc.top5,
        real_n: acc.real.as_ref().map(|r| r.n),
        real_top1: acc.real.as_ref().and_then(|r| r.top1),
        real_top5: acc.real.as_ref().and_then(|r| r.top5),
        errors: failed,
        skipped_non_images: prov.params["skipped_non_images"].as_u64().unwrap_or(0),
        skipped: serde_json::from_value(prov.params["skipped"].clone()).unwrap_or_default(),
        provenance: prov.clone(),
        throughput,
    };
    write_json(&dir.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Quotes a CSV field when it needs it.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `value` as pretty JSON (with a final newline) through [`write_atomically`].
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        writeln!(w)?;
        Ok(())
    })
}

/// Writes through a temporary file and renames, so a crash never leaves half a file.
pub fn write_atomically(path: &Path, body: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let tmp = path.with_extension("tmp");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    body(&mut w)?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The process's peak resident memory in MiB (`VmHWM`), where the system tells it.
pub fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: i64, label: Option<i64>, real: Option<Vec<i64>>) -> ImageRow {
        ImageRow { id, file: format!("{id}.jpg"), label, real_labels: real }
    }

    fn pred(id: i64, top5: [i64; 5]) -> PredictionRow {
        PredictionRow {
            image_id: id,
            top5: top5.to_vec(),
            top5_probs: vec![0.2; 5],
            label_prob: None,
            logits: None,
            features: None,
        }
    }

    #[test]
    fn accuracy_by_hand() {
        let images = vec![
            img(0, Some(1), Some(vec![1])),    // top-1 hit, ReaL hit
            img(1, Some(2), Some(vec![9, 3])), // top-5 hit only; ReaL top-1 hit through 9
            img(2, Some(7), Some(vec![])),     // miss; no fitting ReaL label: left out of ReaL
            img(3, None, Some(vec![4])),       // unlabelled; ReaL top-5 hit only
        ];
        let preds = vec![pred(0, [1, 0, 0, 0, 0]), pred(1, [9, 2, 0, 0, 0]), pred(2, [0; 5]), pred(3, [5, 4, 0, 0, 0])];
        let a = accuracy(&images, &preds);
        assert_eq!(a.labeled, 3);
        assert_eq!(a.top1, Some(1.0 / 3.0));
        assert_eq!(a.top5, Some(2.0 / 3.0));
        let r = a.real.unwrap();
        assert_eq!((r.n, r.top1, r.top5), (3, Some(2.0 / 3.0), Some(1.0)));
    }

    #[test]
    fn no_real_labels_no_real_numbers() {
        let a = accuracy(&[img(0, Some(1), None)], &[pred(0, [1, 0, 0, 0, 0])]);
        assert_eq!(a.real, None);
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a.jpg"), "a.jpg");
        assert_eq!(csv_field("a,b \"c\".jpg"), "\"a,b \"\"c\"\".jpg\"");
    }
}
