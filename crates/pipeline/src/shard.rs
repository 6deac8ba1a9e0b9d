//! `--shard I/N --out DIR` for `attack`, `explain` and `criticize` (issue #15 §5): one job of a
//! Slurm array or a Kubernetes indexed Job does its part of a stage on an existing run and writes
//! it into a directory of its own; `rectify merge --into RUN` brings the parts back.
//!
//! A shard reads the parent run (its eval run, and the attack runs `explain --attack` and the
//! adversarial selector read) and never writes to it, so N jobs can share it; each writes one
//! SQLite store of its own. Each shard does its part exactly as the unsharded stage would, so
//! the merged shards equal the unsharded run file for file:
//! - attack takes whole batches (batch k of the images the unsharded attack would take, in its
//!   order and `--batch-size`, when k ≡ I mod N): libtorch picks kernels by batch size, so an
//!   image attacked in another batch could round differently and, through the sign of the
//!   gradient, end as another adversarial image;
//! - explain takes the images whose position in the input listing is ≡ I (mod N), as
//!   `eval --shard` does (an explanation depends on its image alone);
//! - criticize takes whole groups (group k of the run's sorted groups when k ≡ I mod N), each
//!   selected among the whole run's rows.
//!
//! `--limit` applies before sharding: `--limit 1000 --shard 0/4` is a quarter of the first 1000.
//!
//! The shard directory is a run store holding the parent's image table, the stage runs it made,
//! their artifacts, and `shard.json` (which shard, of which parent, made with which model).
//! Rerunning a shard into its directory resumes it; several stages of the same shard may share a
//! directory.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rectify_store::{Provenance, RunStore};
use serde::{Deserialize, Serialize};

use crate::outputs::write_json;

/// The file that marks a directory as a stage shard.
pub const SHARD_FILE: &str = "shard.json";

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// I.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// Whether the image at position `id` of the input listing belongs to this shard.
    pub fn has_image(&self, id: i64) -> bool {
        id.rem_euclid(self.count as i64) as usize == self.index
    }

    /// Whether part `k` (criticize: of the run's sorted groups; attack: of its batches)
    /// belongs to this shard.
    pub fn has_part(&self, k: usize) -> bool {
        k % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        crate::eval::parse_shard(s).map(|(index, count)| Shard { index, count })
    }
}

/// Where one shard of a stage goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardOut {
    /// Which shard.
    pub shard: Shard,
    /// Its directory (created; an existing one of the same shard resumes).
    pub out: PathBuf,
}

/// `--shard I/N` and `--out DIR` of `attack` and `explain` (criticize has its own `--out`).
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ShardArgs {
    /// Do only shard I of N (0-based) of this stage, into --out; merge the shards with
    /// `rectify merge --into RUN`.
    #[cfg_attr(feature = "clap", arg(long, requires = "out"))]
    pub shard: Option<Shard>,
    /// With --shard: the shard's own directory (the run given by --run is only read).
    #[cfg_attr(feature = "clap", arg(long, requires = "shard"))]
    pub out: Option<PathBuf>,
}

impl ShardArgs {
    /// The shard and its directory, when sharded.
    pub fn target(&self) -> Result<Option<ShardOut>> {
        match (self.shard, &self.out) {
            (Some(shard), Some(out)) => Ok(Some(ShardOut { shard, out: out.clone() })),
            (None, None) => Ok(None),
            (Some(_), None) => bail!("--shard needs --out DIR: the directory this shard writes"),
            (None, Some(_)) => bail!("--out is the directory of a shard: give --shard I/N too"),
        }
    }
}

/// `DIR/shard.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// `I/N`.
    pub shard: String,
    /// The run the shard was made from.
    pub parent: PathBuf,
    /// That run's eval provenance: the model every stage of the shard used.
    pub eval: Provenance,
    /// rectify's version.
    pub version: String,
}

/// Reads `dir/shard.json` when `dir` is a stage shard.
pub fn read_shard_file(dir: &Path) -> Result<Option<ShardFile>> {
    let path = dir.join(SHARD_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = rectify_data::files::read_text(&path, 1 << 20, "a shard file")?;
    serde_json::from_str(&text).map(Some).with_context(|| format!("{}: not a shard file", path.display()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// Opens (or creates) the directory of shard `to.shard` of `parent`: checks that an existing
/// one is the same shard of a run made with the same model, and copies the parent's images.
pub fn open(parent: &RunStore, to: &ShardOut) -> Result<RunStore> {
    let out = &to.out;
    if same_dir(out, parent.dir()) {
        bail!("--out {} is the run itself; a shard writes a directory of its own", out.display());
    }
    let (_, eval) = parent.run("eval", None)?;
    let file = ShardFile {
        shard: to.shard.to_string(),
        parent: parent.dir().canonicalize().unwrap_or_else(|_| parent.dir().to_path_buf()),
        eval,
        version: env!("CARGO_PKG_VERSION").into(),
    };
    match read_shard_file(out)? {
        Some(old) => {
            if old.shard != file.shard {
                bail!(
                    "{} holds shard {} and this is shard {}: give each shard its own --out",
                    out.display(),
                    old.shard,
                    file.shard
                );
            }
            if let Some(what) = old.eval.incompatibility(&file.eval, crate::eval::VOLATILE) {
                bail!("{} is a shard of another run ({what}): give this shard its own --out", out.display());
            }
        }
        None if out.join(rectify_store::DB_FILE).exists() => {
            bail!("{} is a run directory, not a shard's: give the shard a new --out", out.display())
        }
        None => {}
    }
    let mut store = RunStore::create(out)?;
    store.put_images(&parent.images()?)?;
    if !out.join(SHARD_FILE).is_file() {
        write_json(&out.join(SHARD_FILE), &file)?;
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_groups_partition() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for id in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.has_image(id)).count(), 1);
            assert_eq!(shards.iter().filter(|s| s.has_part(id as usize)).count(), 1);
        }
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert!("3/3".parse::<Shard>().is_err());
        assert_eq!(Shard { index: 1, count: 4 }.to_string(), "1/4");
    }

    #[test]
    fn flags_come_in_pairs() {
        let shard = Some(Shard { index: 0, count: 2 });
        assert!(ShardArgs { shard, out: None }.target().is_err());
        assert!(ShardArgs { shard: None, out: Some("x".into()) }.target().is_err());
        assert_eq!(ShardArgs::default().target().unwrap(), None);
    }
}
