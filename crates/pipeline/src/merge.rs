//! `rectify merge`: combine shards into one run.
//!
//! Two kinds of input: the run directories of `rectify eval --shard I/N` (their eval runs are
//! merged; images keep their positions in the full listing, so `predictions.csv` is in input
//! order), and the directories of `attack`, `explain` or `criticize --shard I/N --out DIR`
//! (marked by `shard.json`, see [`crate::shard`]), whose stage runs are merged into the run
//! they were made from. Every shard must come from the same model, weights, preprocessing and
//! settings; the first difference found is reported and nothing of that shard is merged. The
//! stage files (`trajectory.csv`, `summary.json`, `selection.json`) are rebuilt from the merged
//! store, the per-image files copied, and timings summed over the shards.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rectify_store::artifacts::{layout, AttackSummary, ExplainSummary, SelectionFile};
use rectify_store::{Provenance, RunId, RunStore};

use crate::outputs::{write_eval_outputs, write_json, Summary};
use crate::progress::Progress;
use crate::shard::read_shard_file;
use rectify_report::files::read_json;

/// Where `merge` writes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A new run directory (`--out`), made from eval shards.
    New(&'a Path),
    /// An existing run (`--into`), typically the one stage shards were made from.
    Existing(&'a Path),
}

/// What [`merge`] merged.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The eval run's summary, when eval shards were merged.
    pub eval: Option<Summary>,
    /// Each stage run merged: kind, name, and how many images (attack, explain) or groups
    /// (criticize) it holds now.
    pub stages: Vec<(String, String, usize)>,
}

/// The stages a shard may hold, and the parameters that may differ between their shards.
const STAGES: [(&str, &[&str]); 3] =
    [("attack", crate::attack::VOLATILE), ("explain", crate::explain::VOLATILE), ("criticize", &[])];

/// Merges `inputs` into `into`.
pub fn merge(into: Target<'_>, inputs: &[PathBuf], progress: &mut dyn Progress) -> Result<Merged> {
    let target_dir = match into {
        Target::New(p) | Target::Existing(p) => p,
    };
    if inputs.is_empty() {
        bail!("nothing to merge: name the shard directories");
    }
    for input in inputs {
        if input.canonicalize().ok().is_some_and(|c| Some(c) == target_dir.canonicalize().ok()) {
            bail!("{} is both an input and the merged run", input.display());
        }
    }
    let mut stage_shards = Vec::new();
    let mut eval_shards = Vec::new();
    for input in inputs {
        match read_shard_file(input)? {
            Some(file) => stage_shards.push((input, file)),
            None => eval_shards.push(input),
        }
    }
    if let (Target::New(_), true, Some((dir, file))) = (into, eval_shards.is_empty(), stage_shards.first()) {
        bail!(
            "{} is a shard of {}: merge it --into that run (a new run needs eval shards)",
            dir.display(),
            file.parent.display()
        );
    }
    let mut target = match into {
        Target::New(p) => RunStore::create(p)?,
        Target::Existing(p) => RunStore::open(p)?,
    };

    let mut eval = None;
    if !eval_shards.is_empty() {
        let mut run = None;
        for dir in &eval_shards {
            let shard = RunStore::open(dir)?;
            let id = target
                .absorb(&shard, "eval", "eval", crate::eval::VOLATILE)
                .with_context(|| format!("merging {}", dir.display()))?;
            run = Some(id);
            progress.message(&format!("rectify: merged the eval run of {}", dir.display()));
        }
        let run = run.expect("at least one eval shard");
        // The merged run is the whole listing, as an unsharded eval records it: no shard.
        let (_, mut prov) = target.run("eval", Some("eval"))?;
        if prov.params.get("shard").is_some_and(|s| !s.is_null()) {
            prov.params["shard"] = serde_json::Value::Null;
            target.set_provenance(run, &prov)?;
        }
        target.finish_run(run)?;
        eval = Some(write_eval_outputs(&target, run, &prov, None)?);
    }

    // Every stage shard is checked before anything is written.
    let mut work = Vec::new();
    let mut first: HashMap<(&str, String), (Provenance, PathBuf)> = HashMap::new();
    for (dir, file) in &stage_shards {
        let Some((_, target_eval)) = target.find_run("eval", None)? else {
            bail!(
                "{} is a shard of {}: merge it --into that run (this one has no eval run)",
                dir.display(),
                file.parent.display()
            );
        };
        if let Some(what) = file.eval.incompatibility(&target_eval, crate::eval::VOLATILE) {
            bail!("{} was made from another run than {} ({what})", dir.display(), target_dir.display());
        }
        let shard = RunStore::open(dir)?;
        check_images(&shard, &target, dir)?;
        let mut runs = Vec::new();
        for (kind, volatile) in STAGES {
            for (their, name, finished) in shard.runs_of(kind)? {
                if !finished {
                    bail!(
                        "{}: its {kind} run {name} did not finish; rerun that shard (it resumes), then merge",
                        dir.display()
                    );
                }
                let (_, prov) = shard.run(kind, Some(&name))?;
                if let Some((_, old)) = target.find_run(kind, Some(&name))? {
                    if let Some(what) = old.incompatibility(&prov, volatile) {
                        bail!("{}: its {kind} run {name} differs from the run's ({what})", dir.display());
                    }
                }
                let (p, from) = first.entry((kind, name.clone())).or_insert((prov.clone(), dir.to_path_buf()));
                if kind == "attack" && p.params["batch_size"] != prov.params["batch_size"] {
                    bail!(
                        "the shards of attack {name} in {} and {} used --batch-size {} and {}: attack shards split \
                         the run by batches, so every shard needs the same --batch-size",
                        from.display(),
                        dir.display(),
                        p.params["batch_size"],
                        prov.params["batch_size"]
                    );
                }
                if let Some(what) = p.incompatibility(&prov, volatile) {
                    bail!("the shards of {kind} {name} in {} and {} differ ({what})", from.display(), dir.display());
                }
                // Every file to copy, each path checked on both sides, before anything is written.
                let copies = plan_copies(&shard, target_dir, kind, &name, their)
                    .with_context(|| format!("{}: refused, nothing of it merged", dir.display()))?;
                runs.push((kind, volatile, their, name, prov, copies));
            }
        }
        work.push((dir, file, shard, runs));
    }

    let mut touched: Vec<(&str, String)> = Vec::new();
    let mut timing: HashMap<(&str, String), Timing> = HashMap::new();
    for (dir, file, shard, runs) in work {
        for (kind, volatile, their, name, prov, copies) in runs {
            let existed = target.find_run(kind, Some(&name))?.is_some();
            let ours = target
                .begin_run(kind, &name, &prov, volatile)
                .with_context(|| format!("merging the {kind} run {name} of {}", dir.display()))?;
            let seen = touched.iter().any(|(k, n)| *k == kind && *n == name);
            let t = timing.entry((kind, name.clone())).or_default();
            if existed && !seen {
                // Timing of what the run already held, counted once.
                t.add_file(target.dir(), kind, &name)?;
            }
            t.add_file(shard.dir(), kind, &name)?;
            for (src, dst) in &copies {
                copy_file(src, dst)?;
            }
            absorb_stage(&mut target, &shard, kind, &name, their, ours)?;
            target.finish_run(ours)?;
            if !seen {
                touched.push((kind, name.clone()));
            }
        }
        progress.message(&format!("rectify: merged shard {} of {}", file.shard, dir.display()));
    }

    let mut stages = Vec::new();
    for (kind, name) in touched {
        let (run, prov) = target.run(kind, Some(&name))?;
        let t = timing.remove(&(kind, name.clone())).unwrap_or_default();
        let (n, expected) = rebuild(&target, kind, &name, run, &prov, t)?;
        if let Some(expected) = expected.filter(|&e| e > n) {
            progress.message(&format!(
                "rectify: warning: attack {name} holds {n} of the run's {expected} images: a shard is missing"
            ));
        }
        stages.push((kind.to_string(), name, n));
    }
    Ok(Merged { eval, stages })
}

/// Every image of the shard is the run's image of the same position.
fn check_images(shard: &RunStore, target: &RunStore, dir: &Path) -> Result<()> {
    let ours: HashMap<i64, String> = target.images()?.into_iter().map(|i| (i.id, i.file)).collect();
    for img in shard.images()? {
        if ours.get(&img.id) != Some(&img.file) {
            bail!("{}: image {} ({}) is not the run's image at that position", dir.display(), img.id, img.file);
        }
    }
    Ok(())
}

/// The per-image files of stage run `their` of `shard` to copy into the run at `target`: (source,
/// destination) pairs. Every path the shard's store records is relative and plain (the store's
/// readers refuse others), and here each must also stay inside its folder once links are resolved,
/// on both sides, and the source be a regular file: a shard can neither read nor write outside.
fn plan_copies(
    shard: &RunStore,
    target: &Path,
    kind: &str,
    name: &str,
    their: RunId,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut rels: Vec<(String, String)> = Vec::new(); // (path, which record names it)
    match kind {
        "attack" => {
            for r in shard.attacks(their)? {
                if let Some(png) = r.image {
                    rels.push((png, format!("attack_results.image of image {}", r.image_id)));
                }
            }
        }
        "explain" => {
            for r in shard.explanations(their)? {
                let what = format!("explanations.json of image {}", r.image_id);
                for picture in ["attention", "overlay", "heatmap"] {
                    let png = layout::explanation_png(Path::new(&r.json), picture);
                    rels.push((png.to_string_lossy().into_owned(), what.clone()));
                }
                rels.push((r.json, what));
            }
        }
        "criticize" => {
            let groups: HashSet<String> = shard.criticisms(their)?.into_iter().map(|r| r.group).collect();
            let dir = layout::criticize_dir(name);
            for g in groups {
                let png = layout::gallery_png(&dir, &g);
                if shard.dir().join(&png).is_file() {
                    rels.push((png.to_string_lossy().into_owned(), format!("the gallery of group {g}")));
                }
            }
            let selection = dir.join("selection.json");
            rectify_store::paths::inside(shard.dir(), &selection.to_string_lossy(), "selection.json")?;
        }
        _ => unreachable!("a stage of STAGES"),
    }
    let mut copies = Vec::with_capacity(rels.len());
    for (rel, what) in rels {
        let src = rectify_store::paths::inside(shard.dir(), &rel, &what)?;
        // rectify writes no links into a run: one in a shard is refused, even one that stays inside.
        for p in src.ancestors().take_while(|p| p.starts_with(shard.dir()) && *p != shard.dir()) {
            if p.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                bail!("{what}: {} is a symbolic link; a shard holds none", p.display());
            }
        }
        let meta = std::fs::metadata(&src).with_context(|| format!("{what}: {}", src.display()))?;
        if !meta.is_file() {
            bail!("{what}: {} is not a regular file", src.display());
        }
        let dst = rectify_store::paths::inside(target, &rel, &what)?;
        copies.push((src, dst));
    }
    Ok(copies)
}

/// Copies the rows of stage run `their` of `shard` into run `ours` (its files are copied by the
/// caller, from [`plan_copies`]).
fn absorb_stage(
    target: &mut RunStore,
    shard: &RunStore,
    kind: &str,
    name: &str,
    their: RunId,
    ours: RunId,
) -> Result<()> {
    match kind {
        "attack" => {
            let rows = shard.attacks(their)?;
            target.put_attacks(ours, &rows)?;
        }
        "explain" => {
            for row in shard.explanations(their)? {
                target.put_explanation(ours, &row)?;
            }
        }
        "criticize" => {
            let incoming = shard.criticisms(their)?;
            let groups: HashSet<&str> = incoming.iter().map(|r| r.group.as_str()).collect();
            let dir = layout::criticize_dir(name);
            let mut rows: Vec<_> =
                target.criticisms(ours)?.into_iter().filter(|r| !groups.contains(r.group.as_str())).collect();
            rows.extend(incoming.iter().cloned());
            target.put_criticisms(ours, &rows)?;
            // selection.json: the run's groups so far, those of this shard replaced.
            let path = dir.join("selection.json");
            let theirs: SelectionFile = read_json(&shard.dir().join(&path))?;
            let mut doc = match read_json::<SelectionFile>(&target.dir().join(&path)) {
                Ok(mut doc) => {
                    doc.groups.retain(|g| !theirs.groups.iter().any(|t| t.group == g.group));
                    doc.groups.extend(theirs.groups.iter().cloned());
                    doc.seconds += theirs.seconds;
                    doc
                }
                Err(_) => theirs,
            };
            let by_class = doc.params.get("per").and_then(|p| p.as_str()) == Some("class");
            doc.groups.sort_by_key(|g| group_order(&g.group, by_class));
            std::fs::create_dir_all(target.dir().join(&dir))?;
            write_json(&target.dir().join(&path), &doc)?;
        }
        _ => unreachable!("a stage of STAGES"),
    }
    Ok(())
}

/// The order `Grouping::by_key` gives groups: by class index with `--per class` (named
/// `"<index> <class name>"`), by name otherwise.
fn group_order(group: &str, by_class: bool) -> (i64, String) {
    let class = by_class.then(|| group.split(' ').next().and_then(|c| c.parse().ok())).flatten();
    (class.unwrap_or(i64::MAX), group.to_string())
}

/// Copies `src` to `dst` as checked by [`plan_copies`], and again as it opens them: neither end
/// may have become a link (`O_NOFOLLOW`) or a pipe since, the source must be a regular file, and
/// the two must not be the same file (which truncating the destination would empty).
fn copy_file(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let what = || format!("copying {} to {}", src.display(), dst.display());
    let mut from = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(src)
        .with_context(what)?;
    let meta = from.metadata().with_context(what)?;
    if !meta.is_file() {
        bail!("{}: not a regular file", src.display());
    }
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(dst)
        .with_context(what)?;
    let target = to.metadata().with_context(what)?;
    if !target.is_file() || (target.dev(), target.ino()) == (meta.dev(), meta.ino()) {
        bail!("{}: refused, it is the source itself or not a regular file", dst.display());
    }
    to.set_len(0).with_context(what)?;
    std::io::copy(&mut from, &mut to).with_context(what)?;
    Ok(())
}

/// Timings of the invocations behind a merged stage run, summed.
#[derive(Debug, Default)]
struct Timing {
    images: usize,
    seconds: f64,
    /// Seconds per batch (attack) or per image (explain), shard after shard.
    laps: Vec<f64>,
}

impl Timing {
    /// Adds the timing recorded in `dir`'s summary of stage run `kind`/`name`, when there is one.
    fn add_file(&mut self, dir: &Path, kind: &str, name: &str) -> Result<()> {
        match kind {
            "attack" => {
                let path = dir.join(layout::attack_dir(name)).join("summary.json");
                if let Ok(Some(t)) = read_json::<AttackSummary>(&path).map(|s| s.throughput) {
                    self.images += t.images;
                    self.seconds += t.seconds;
                    self.laps.extend(t.batch_seconds);
                }
            }
            "explain" => {
                let path = dir.join(layout::explain_dir(name)).join("summary.json");
                if let Ok(s) = read_json::<ExplainSummary>(&path) {
                    self.images += s.throughput.images;
                    self.seconds += s.seconds;
                    self.laps.extend(s.throughput.seconds_per_image);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Rebuilds the files of a merged stage run from the store; returns its images or groups, and
/// for an attack how many images the unsharded attack would hold.
fn rebuild(
    store: &RunStore,
    kind: &str,
    name: &str,
    run: RunId,
    prov: &Provenance,
    t: Timing,
) -> Result<(usize, Option<usize>)> {
    match kind {
        "attack" => {
            let (eval_run, _) = store.run("eval", None)?;
            let images: HashMap<i64, rectify_store::ImageRow> =
                store.images()?.into_iter().map(|i| (i.id, i)).collect();
            let order: Vec<_> = store
                .predictions(eval_run, false)?
                .iter()
                .map(|p| images[&p.image_id].clone())
                .filter(|i| i.label.is_some())
                .collect();
            let expected = prov.params["limit"].as_u64().map_or(order.len(), |l| order.len().min(l as usize));
            let s = crate::attack_outputs::write(store, run, prov, name, &order, (t.images, t.seconds, t.laps))?;
            Ok((s.n, Some(expected)))
        }
        "explain" => {
            let out = store.dir().join(layout::explain_dir(name));
            Ok((crate::explain::write_summary(store, run, prov, &out, t.seconds, t.laps)?.n, None))
        }
        _ => {
            let rows = store.criticisms(run)?;
            Ok((rows.iter().map(|r| r.group.as_str()).collect::<HashSet<_>>().len(), None))
        }
    }
}
