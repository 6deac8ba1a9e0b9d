//! `RUN_DIR/attack/<name>/trajectory.csv` and `summary.json`, rebuilt from the store so that a
//! resumed attack reports every image it holds.

use std::collections::HashMap;

use anyhow::Result;
use rectify_store::artifacts::layout;
use rectify_store::{ImageRow, Provenance, RunId, RunStore};

use crate::outputs::{csv_field, throughput, write_atomically, write_json};

pub use rectify_store::artifacts::AttackSummary;

/// Writes both files for attack run `run` named `name`; `images` are the attacked images in
/// order; `work` = (images attacked by this invocation, seconds it took, seconds per batch).
pub fn write(
    store: &RunStore,
    run: RunId,
    prov: &Provenance,
    name: &str,
    images: &[ImageRow],
    work: (usize, f64, Vec<f64>),
) -> Result<AttackSummary> {
    let dir = store.dir().join(layout::attack_dir(name));
    let rows: HashMap<i64, rectify_store::AttackRow> =
        store.attacks(run)?.into_iter().map(|r| (r.image_id, r)).collect();
    let attacked: Vec<(&ImageRow, &rectify_store::AttackRow)> =
        images.iter().filter_map(|i| rows.get(&i.id).map(|r| (i, r))).collect();
    let steps = attacked.iter().map(|(_, r)| r.steps.len()).max().unwrap_or(0);
    let n = attacked.len();
    let frac = |hits: usize| if n == 0 { 0.0 } else { hits as f64 / n as f64 };

    write_atomically(&dir.join("trajectory.csv"), |w| {
        // One column per step; `file` quoted as predictions.csv quotes it (commas, quotes).
        let cols: String = (0..steps).map(|s| format!("pred_step{s},")).collect();
        writeln!(w, "file,label,{cols}steps_to_flip")?;
        for (img, r) in &attacked {
            let preds: String = r.steps.iter().map(|s| format!("{},", s.top1)).collect();
            let flip = r.steps_to_flip.map(|s| s.to_string()).unwrap_or_default();
            writeln!(w, "{},{},{preds}{flip}", csv_field(&img.file), img.label.unwrap_or(-1))?;
        }
        Ok(())
    })?;

    let accuracy_per_step =
        (0..steps).map(|s| frac(attacked.iter().filter(|(i, r)| Some(r.steps[s].top1) == i.label).count())).collect();
    let targeted = attacked.iter().any(|(_, r)| r.target.is_some());
    let success_per_step = targeted.then(|| {
        (0..steps).map(|s| frac(attacked.iter().filter(|(_, r)| Some(r.steps[s].top1) == r.target).count())).collect()
    });
    let mut histogram = vec![0; steps];
    for (_, r) in &attacked {
        if let Some(s) = r.steps_to_flip {
            histogram[s as usize] += 1;
        }
    }
    let saved: Vec<_> = attacked.iter().filter_map(|(i, r)| r.quantized_top1.map(|q| Some(q) == i.label)).collect();
    let summary = AttackSummary {
        name: name.to_string(),
        n,
        accuracy_per_step,
        success_per_step,
        flipped: histogram.iter().sum(),
        steps_to_flip_histogram: histogram,
        quantized_accuracy: (!saved.is_empty())
            .then(|| saved.iter().filter(|&&ok| ok).count() as f64 / saved.len() as f64),
        provenance: prov.clone(),
        throughput: (work.0 > 0).then(|| throughput(work.0, work.1, work.2)),
    };
    write_json(&dir.join("summary.json"), &summary)?;
    Ok(summary)
}
