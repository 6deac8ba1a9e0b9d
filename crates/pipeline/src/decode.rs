//! Decoding images on a thread pool one batch ahead of the model.
//!
//! The producer decodes and resizes batch k+1 (in parallel, on `workers` threads) while the
//! caller's `consume` runs the model on batch k: the cores libtorch leaves idle prepare the next
//! batch. A `consume` error stops the producer at its next batch.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use anyhow::Result;
use rayon::prelude::*;
use rectify_data::preprocess::Preprocess;

/// Per image: the 8-bit crop (`crop × crop × 3`, HWC) or why it could not be read.
pub type Decoded = Vec<Result<Vec<u8>, String>>;

/// Worker threads for decoding: the flag's value, or every core.
pub fn workers(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1)
}

/// Calls `consume(chunk, decoded)` for each chunk of `items` (in order), with every image of the
/// chunk decoded from `root.join(file_of(item))`.
pub fn for_each_batch<T: Sync>(
    items: &[T],
    root: &Path,
    file_of: impl Fn(&T) -> &str + Sync,
    pre: &Preprocess,
    workers: usize,
    batch_size: usize,
    mut consume: impl FnMut(&[T], Decoded) -> Result<()>,
) -> Result<()> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(workers).build()?;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<(&[T], Decoded)>(2);
        let (pool, file_of) = (&pool, &file_of);
        scope.spawn(move || {
            for chunk in items.chunks(batch_size.max(1)) {
                let decoded = pool.install(|| {
                    chunk
                        .par_iter()
                        .map(|it| {
                            let path: PathBuf = root.join(file_of(it));
                            pre.load(&path).map_err(|e| error_chain(&e))
                        })
                        .collect()
                });
                if tx.send((chunk, decoded)).is_err() {
                    break; // the consumer stopped on an error
                }
            }
        });
        for (chunk, decoded) in rx {
            consume(chunk, decoded)?;
        }
        Ok(())
    })
}

/// An error and its causes, `: `-separated (each cause once).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out = format!("{out}: {msg}");
        }
        source = s.source();
    }
    out
}
