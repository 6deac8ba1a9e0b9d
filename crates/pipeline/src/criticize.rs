//! The criticize stage (`rectify criticize`): prototypes and criticisms per group (issue #5), by MMD-critic on the
//! eval run's features, by the adversarial rule on an attack run's trajectories, by the
//! true-class probability, or at random; or MMD-critic on any feature matrix (`--features`).
//!
//! Run mode writes `RUN_DIR/criticize/<name>/selection.json`, one gallery PNG per group
//! (`galleries/<group>.png`: prototypes above, criticisms below) and rows in the store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rectify_critic::gallery::{gallery, Layout};
use rectify_critic::selection::TrajectoryStep;
use rectify_critic::{
    select, Adversarial, Counts, Gamma, Grouping, Item, MmdCritic, Population, Probability, Random, Regularizer,
    Selection, Selector, Strategy,
};
use rectify_data::imagenet;
use rectify_data::preprocess::Preprocess;
use rectify_store::artifacts::{layout, PickScores, SelectedGroup, SelectionFile};
use rectify_store::{CriticismRow, ImageRow, Provenance, RunStore};
use serde_json::json;

use crate::outputs::{peak_memory_mib, write_json};
use crate::progress::{counter, Progress};
use crate::shard::{Shard, ShardOut};

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum MethodArg {
    /// MMD-critic (Kim et al. 2016) on the penultimate features.
    Mmd,
    /// Prototypes resist M IFGSM steps, criticisms flip after one (needs --attack).
    Adversarial,
    /// True-class probability above / below thresholds.
    Probability,
    /// Seeded random picks (the control).
    Random,
}

/// `--kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum KernelArg {
    /// One RBF kernel over all rows of a group.
    Global,
    /// Block-diagonal by true class (Kim et al.'s "local" kernel).
    Block,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum StrategyArg {
    /// Dense up to 4096 rows, blocked above.
    Auto,
    /// Materialise the n×n kernel.
    Dense,
    /// Blocks of --block-rows rows; never n×n.
    Blocked,
}

/// `--gamma`: the RBF kernel's γ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GammaChoice {
    /// 1 / median squared distance, per group.
    Median,
    /// A positive number.
    Given(f64),
}

impl std::str::FromStr for GammaChoice {
    type Err = String;

    fn from_str(g: &str) -> Result<Self, String> {
        match g {
            "median" => Ok(GammaChoice::Median),
            g => match g.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(GammaChoice::Given(v)),
                _ => Err(format!("--gamma must be `median` or a positive number, got {g:?}")),
            },
        }
    }
}

/// `--per`: how images are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Per {
    /// By true class.
    Class,
    /// One group of every image.
    All,
    /// A CSV `file,group` (`row,group` for a feature matrix).
    File(PathBuf),
}

impl std::str::FromStr for Per {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "class" => Per::Class,
            "all" => Per::All,
            "" => return Err("--per: expected class, all or a CSV file".into()),
            f => Per::File(PathBuf::from(f)),
        })
    }
}

impl std::fmt::Display for Per {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Per::Class => f.write_str("class"),
            Per::All => f.write_str("all"),
            Per::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// How to pick prototypes and criticisms. The run's store is [`run`]'s other argument.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct CriticizeSettings {
    /// Selector.
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "mmd"))]
    pub method: MethodArg,
    /// The attack run whose trajectories the adversarial selector reads (default: the latest).
    #[cfg_attr(feature = "clap", arg(long))]
    pub attack: Option<String>,
    /// Groups: `class` (true class), `all`, or a CSV `file,group` (rows: `row,group` with --features).
    #[cfg_attr(feature = "clap", arg(long, default_value = "class"))]
    pub per: Per,
    /// Prototypes per group.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 6))]
    pub prototypes: usize,
    /// Criticisms per group.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 6))]
    pub criticisms: usize,
    /// RBF γ: `median` (1 / median squared distance, per group) or a positive number.
    #[cfg_attr(feature = "clap", arg(long, default_value = "median"))]
    pub gamma: GammaChoice,
    /// Criticism regulariser (mmd).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "logdet"))]
    pub regularizer: Regularizer,
    /// Kernel (mmd).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "global"))]
    pub kernel: KernelArg,
    /// Column sums of the kernel (mmd).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "auto"))]
    pub strategy: StrategyArg,
    /// Rows per kernel block with the blocked strategy.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 256))]
    pub block_rows: usize,
    /// Steps a prototype must resist (adversarial).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10))]
    pub resist_steps: usize,
    /// Step by which a criticism must have flipped (adversarial).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub flip_step: usize,
    /// Prototypes have a true-class probability above this (probability).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.9))]
    pub above: f64,
    /// Criticisms have a true-class probability below this (probability).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub below: f64,
    /// Seed (random selector; row sample of the median heuristic beyond 4096 rows).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Name of the criticize run (default: from the method and grouping).
    #[cfg_attr(feature = "clap", arg(long))]
    pub name: Option<String>,
    /// Skip the gallery PNGs.
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_galleries: bool,
}

impl CriticizeSettings {
    /// `method` with every default (6 prototypes and 6 criticisms per group, γ by the median
    /// heuristic, the log-determinant regulariser, …), grouped `per`.
    pub fn new(method: MethodArg, per: Per) -> Self {
        CriticizeSettings {
            method,
            attack: None,
            per,
            prototypes: 6,
            criticisms: 6,
            gamma: GammaChoice::Median,
            regularizer: Regularizer::Logdet,
            kernel: KernelArg::Global,
            strategy: StrategyArg::Auto,
            block_rows: 256,
            resist_steps: 10,
            flip_step: 1,
            above: 0.9,
            below: 0.1,
            seed: 0,
            name: None,
            no_galleries: false,
        }
    }
}

/// A bare feature matrix instead of a run (`rectify criticize --features`).
#[derive(Debug, Clone)]
pub struct FeatureInput {
    /// A float `.npy` matrix [n, d].
    pub features: PathBuf,
    /// Labels of the rows: an integer `.npy` or a CSV with a `label` column.
    pub labels: Option<PathBuf>,
    /// Keep only rows whose label is in these ranges, e.g. `151-268` or `1,5-9`.
    pub only_labels: Option<String>,
    /// The output JSON.
    pub out: PathBuf,
}

/// What [`run`] or [`run_features`] picked.
#[derive(Debug, Clone)]
pub struct CriticizeSummary {
    /// The selection, row indices into the population (image ids are in the JSON).
    pub selection: Selection,
    /// Rows the selector saw.
    pub rows: usize,
    /// Gallery PNGs written.
    pub galleries: usize,
    /// Feature dimensions (0 when the selector used none).
    pub dim: usize,
    /// Where it went: `RUN_DIR/criticize/<name>` (holding `selection.json`), or
    /// [`FeatureInput::out`].
    pub out: PathBuf,
    /// Seconds the selection took.
    pub seconds: f64,
}

impl CriticizeSettings {
    fn selector(&self) -> Result<Box<dyn Selector>> {
        let gamma = match self.gamma {
            GammaChoice::Median => Gamma::Median { exact_rows: 4096, seed: self.seed },
            GammaChoice::Given(v) => Gamma::Given(v),
        };
        Ok(match self.method {
            MethodArg::Mmd => Box::new(MmdCritic {
                gamma,
                regularizer: self.regularizer,
                block_kernel: self.kernel == KernelArg::Block,
                strategy: match self.strategy {
                    StrategyArg::Auto => Strategy::Auto,
                    StrategyArg::Dense => Strategy::Dense,
                    StrategyArg::Blocked => Strategy::Blocked { rows: self.block_rows.max(1) },
                },
                block_rows: self.block_rows.max(1),
                device: None,
            }),
            MethodArg::Adversarial => {
                if self.flip_step == 0 || self.flip_step > self.resist_steps {
                    bail!("--flip-step must be between 1 and --resist-steps");
                }
                Box::new(Adversarial { resist_steps: self.resist_steps, flip_step: self.flip_step })
            }
            MethodArg::Probability => {
                if !(0.0..=1.0).contains(&self.above) || !(0.0..=1.0).contains(&self.below) || self.below > self.above {
                    bail!("--above and --below must lie in [0, 1] with --below ≤ --above");
                }
                Box::new(Probability { prototype_above: self.above, criticism_below: self.below })
            }
            MethodArg::Random => Box::new(Random { seed: self.seed }),
        })
    }

    fn counts(&self) -> Counts {
        Counts { prototypes: self.prototypes, criticisms: self.criticisms }
    }
}

fn check(args: &CriticizeSettings) -> Result<Box<dyn Selector>> {
    if args.prototypes == 0 {
        bail!("--prototypes must be at least 1");
    }
    args.selector()
}

fn progress_select(
    selector: &dyn Selector,
    pop: &Population,
    grouping: &Grouping,
    counts: Counts,
    progress: &mut dyn Progress,
) -> Result<Selection> {
    progress.begin("criticize", grouping.groups.len() as u64);
    let sel = select(selector, pop, grouping, counts, counter(progress))?;
    progress.finish();
    Ok(sel)
}

/// `--features X.npy`: MMD-critic (or random) on a bare matrix.
pub fn run_features(
    args: &CriticizeSettings,
    input: &FeatureInput,
    progress: &mut dyn Progress,
) -> Result<CriticizeSummary> {
    let selector = &*check(args)?;
    let path = input.features.as_path();
    if matches!(args.method, MethodArg::Adversarial | MethodArg::Probability) {
        bail!("--features works with --method mmd or random; adversarial and probability need a run (--run)");
    }
    let npy = rectify_data::npy::read_f32(path).with_context(|| format!("reading {}", path.display()))?;
    let [n, d] = npy.shape[..] else { bail!("{}: expected a 2-D matrix, found shape {:?}", path.display(), npy.shape) };
    let labels = input.labels.as_deref().map(|l| read_labels(l, n)).transpose()?;
    let mut rows: Vec<usize> = (0..n).collect();
    if let Some(spec) = &input.only_labels {
        let ranges = parse_ranges(spec)?;
        let labels = labels.as_ref().context("--only-labels needs --labels")?;
        rows.retain(|&r| ranges.iter().any(|(a, b)| (*a..=*b).contains(&labels[r])));
        if rows.is_empty() {
            bail!("--only-labels {spec}: no row has such a label");
        }
    }
    let data = if rows.len() == n {
        npy.data // every row: no copy (50,000 × 1,280 is 256 MB)
    } else {
        rows.iter().flat_map(|&r| npy.data[r * d..(r + 1) * d].iter().copied()).collect()
    };
    let pop = Population {
        items: rows.iter().map(|&r| Item { label: labels.as_ref().map(|l| l[r]), ..Default::default() }).collect(),
        features: Some((data, d)),
    };
    let grouping = match &args.per {
        Per::All => Grouping::all(rows.len()),
        Per::Class if labels.is_none() => Grouping::all(rows.len()),
        Per::Class => Grouping::by_key(pop.items.iter().map(|i| i.label)),
        Per::File(file) => {
            let map = read_group_csv(file)?;
            Grouping::by_key(rows.iter().map(|r| map.get(&r.to_string()).cloned()))
        }
    };
    let start = Instant::now();
    let mut sel = progress_select(selector, &pop, &grouping, args.counts(), progress)?;
    // Back to the rows of the input matrix.
    for g in &mut sel.groups {
        g.prototypes.iter_mut().chain(g.criticisms.iter_mut()).for_each(|r| *r = rows[*r]);
    }
    let out = &input.out;
    let doc = json!({
        "method": sel.method,
        "params": sel.params,
        "groups": sel.groups,
        "input": {"features": path, "rows": n, "dim": d, "labels": input.labels, "only_labels": input.only_labels, "per": args.per.to_string()},
        "seconds": start.elapsed().as_secs_f64(),
        "peak_memory_mib": peak_memory_mib(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    write_json(out, &doc)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(CriticizeSummary { selection: sel, rows: rows.len(), dim: d, galleries: 0, out: out.clone(), seconds })
}

/// Picks prototypes and criticisms among the eval run's images in `store`, into the store and
/// `RUN_DIR/criticize/<name>/` (`selection.json`, one gallery PNG per group).
pub fn run(store: &mut RunStore, args: &CriticizeSettings, progress: &mut dyn Progress) -> Result<CriticizeSummary> {
    let selector = check(args)?;
    let plan = plan(store, args, None, progress)?;
    execute(store, plan, &*selector, args, progress)
}

/// Picks in the groups of shard `to.shard` (group k of the run's sorted groups when
/// k ≡ I mod N) exactly as [`run`] picks in them, reading the run in `parent` and writing into
/// the shard's own directory `to.out` (see [`crate::shard`]).
pub fn run_shard(
    parent: &RunStore,
    to: &ShardOut,
    args: &CriticizeSettings,
    progress: &mut dyn Progress,
) -> Result<CriticizeSummary> {
    let selector = check(args)?;
    let plan = plan(parent, args, Some(to.shard), progress)?;
    let mut sink = crate::shard::open(parent, to)?;
    execute(&mut sink, plan, &*selector, args, progress)
}

/// What criticize reads from the run: the population and its groups.
struct Plan {
    eval_prov: Provenance,
    /// Image ids of the population's rows.
    ids: Vec<i64>,
    /// Their files.
    files: Vec<String>,
    pop: Population,
    grouping: Grouping,
    dim: usize,
    attack_name: Option<serde_json::Value>,
}

fn plan(store: &RunStore, args: &CriticizeSettings, shard: Option<Shard>, progress: &mut dyn Progress) -> Result<Plan> {
    let (eval_run, eval_prov) = store.run("eval", None)?;
    let need_features = args.method == MethodArg::Mmd;
    let preds = store.predictions(eval_run, need_features)?;
    let images: HashMap<i64, ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    let mut attack_name = None;
    let trajectories: HashMap<i64, Vec<TrajectoryStep>> = if args.method == MethodArg::Adversarial {
        let (attack_run, attack_prov) = store.run("attack", args.attack.as_deref()).with_context(|| {
            "the adversarial selector reads an attack run: run `rectify attack --run RUN_DIR` first (a sharded \
             attack: `rectify merge --into RUN_DIR` its shards first)"
                .to_string()
        })?;
        attack_name = Some(attack_prov.params.get("name").cloned().unwrap_or(json!(args.attack)));
        store
            .attacks(attack_run)?
            .into_iter()
            .map(|a| {
                let steps = a
                    .steps
                    .iter()
                    .map(|s| TrajectoryStep { top1: s.top1, true_prob: f64::from(s.true_prob) })
                    .collect();
                (a.image_id, steps)
            })
            .collect()
    } else {
        HashMap::new()
    };
    if args.method == MethodArg::Adversarial && trajectories.is_empty() {
        bail!("the attack run has no trajectories yet");
    }
    let mut features = Vec::new();
    let mut dim = 0;
    if need_features {
        if let Some(p) = preds.iter().find(|p| p.features.is_none()) {
            bail!(
                "the eval run stored no features for {} (and maybe others): rerun the same `rectify eval` with \
                 --save-features; it resumes and adds them",
                images[&p.image_id].file
            );
        }
        dim = preds.first().and_then(|p| p.features.as_ref()).map_or(0, Vec::len);
        for p in &preds {
            features.extend_from_slice(p.features.as_deref().expect("checked"));
        }
    }
    let pop = Population {
        items: preds
            .iter()
            .map(|p| Item {
                label: images[&p.image_id].label,
                top1: p.top5.first().copied(),
                p_true: p.label_prob.map(f64::from),
                trajectory: trajectories.get(&p.image_id).cloned(),
            })
            .collect(),
        features: need_features.then_some((features, dim)),
    };
    let files: Vec<String> = preds.iter().map(|p| images[&p.image_id].file.clone()).collect();
    let mut grouping = match &args.per {
        Per::All => Grouping::all(preds.len()),
        Per::Class => {
            let mut g = Grouping::by_key(pop.items.iter().map(|i| i.label));
            for (name, _) in &mut g.groups {
                let class = name.parse::<usize>().ok().and_then(|c| imagenet::classes().get(c).map(|c| c.name.clone()));
                if let Some(class) = class {
                    *name = format!("{name} {class}");
                }
            }
            g
        }
        Per::File(file) => {
            let map = read_group_csv(file)?;
            let by_name =
                |f: &str| map.get(f).or_else(|| Path::new(f).file_name().and_then(|n| map.get(n.to_str()?))).cloned();
            Grouping::by_key(files.iter().map(|f| by_name(f)))
        }
    };
    if grouping.groups.is_empty() {
        bail!("--per {}: no image falls into any group (are the images labelled?)", args.per);
    }
    if let Some(shard) = shard {
        let all = grouping.groups.len();
        grouping.groups = std::mem::take(&mut grouping.groups)
            .into_iter()
            .enumerate()
            .filter_map(|(k, g)| shard.has_part(k).then_some(g))
            .collect();
        progress.message(&format!("rectify: shard {shard}: {} of {all} groups", grouping.groups.len()));
    }
    let ids = preds.iter().map(|p| p.image_id).collect();
    Ok(Plan { eval_prov, ids, files, pop, grouping, dim, attack_name })
}

fn execute(
    store: &mut RunStore,
    plan: Plan,
    selector: &dyn Selector,
    args: &CriticizeSettings,
    progress: &mut dyn Progress,
) -> Result<CriticizeSummary> {
    let Plan { eval_prov, ids, files, pop, grouping, dim, attack_name } = plan;
    let dir = store.dir().to_path_buf();

    let name = args.name.clone().unwrap_or_else(|| {
        let per = match &args.per {
            Per::Class | Per::All => args.per.to_string(),
            Per::File(f) => f.file_stem().map_or("groups".into(), |s| s.to_string_lossy().into_owned()),
        };
        format!("{}-{per}", selector.method())
    });
    let params = json!({
        "method": selector.method(),
        "selector": selector.params(),
        "counts": args.counts(),
        "per": args.per.to_string(),
        "attack": attack_name,
    });
    let prov =
        Provenance::new(eval_prov.model.clone(), eval_prov.preprocessing.clone(), params.clone()).seed(Some(args.seed));
    let run = store.begin_run("criticize", &name, &prov, &[])?;
    let start = Instant::now();
    let sel = progress_select(selector, &pop, &grouping, args.counts(), progress)?;

    let image_id = |row: usize| ids[row];
    let mut rows = Vec::new();
    let mut groups_json = Vec::new();
    for g in &sel.groups {
        for (prototype, picks, scores) in
            [(true, &g.prototypes, &g.scores.prototypes), (false, &g.criticisms, &g.scores.criticisms)]
        {
            for (rank, (&row, &score)) in picks.iter().zip(scores).enumerate() {
                rows.push(CriticismRow {
                    group: g.group.clone(),
                    prototype,
                    rank: rank as i64,
                    image_id: image_id(row),
                    score: Some(score),
                });
            }
        }
        groups_json.push(SelectedGroup {
            criticism_files: g.criticisms.iter().map(|&r| files[r].to_string()).collect(),
            criticisms: g.criticisms.iter().map(|&r| image_id(r)).collect(),
            group: g.group.clone(),
            note: g.note.clone(),
            prototype_files: g.prototypes.iter().map(|&r| files[r].to_string()).collect(),
            prototypes: g.prototypes.iter().map(|&r| image_id(r)).collect(),
            scores: PickScores { prototypes: g.scores.prototypes.clone(), criticisms: g.scores.criticisms.clone() },
            size: g.size,
        });
    }
    store.put_criticisms(run, &rows)?;
    let out = dir.join(layout::criticize_dir(&name));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let galleries = if args.no_galleries {
        0
    } else {
        let root =
            PathBuf::from(eval_prov.params["images"].as_str().context("the eval run recorded no images folder")?);
        let pre = crate::preprocess::of_run(&eval_prov)?;
        write_galleries(&out.join("galleries"), &root, &pre, &sel, &files, progress)?
    };
    let doc = SelectionFile {
        groups: groups_json,
        method: sel.method.clone(),
        note: "prototypes and criticisms are image ids of the run (see the files beside them)".into(),
        params,
        provenance: prov,
        seconds: start.elapsed().as_secs_f64(),
    };
    write_json(&out.join("selection.json"), &doc)?;
    store.finish_run(run)?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(CriticizeSummary { selection: sel, rows: ids.len(), dim, galleries, out, seconds })
}

/// One PNG per group with picks; returns how many.
fn write_galleries(
    dir: &Path,
    root: &Path,
    pre: &Preprocess,
    sel: &Selection,
    files: &[String],
    progress: &mut dyn Progress,
) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let side = pre.crop as usize;
    let groups: Vec<_> = sel.groups.iter().filter(|g| !g.prototypes.is_empty() || !g.criticisms.is_empty()).collect();
    progress.begin("galleries", groups.len() as u64);
    let blank = vec![255u8; side * side * 3];
    let load = |row: usize, progress: &mut dyn Progress| -> Vec<u8> {
        pre.load(&root.join(&files[row])).unwrap_or_else(|e| {
            progress.message(&format!("rectify: {}: {e:#} (blank tile in the gallery)", files[row]));
            blank.clone()
        })
    };
    let mut written = 0;
    for g in &groups {
        let protos: Vec<Vec<u8>> = g.prototypes.iter().map(|&r| load(r, progress)).collect();
        let crits: Vec<Vec<u8>> = g.criticisms.iter().map(|&r| load(r, progress)).collect();
        let p: Vec<&[u8]> = protos.iter().map(Vec::as_slice).collect();
        let c: Vec<&[u8]> = crits.iter().map(Vec::as_slice).collect();
        let sheet = gallery(&p, &c, side, Layout::default());
        let path = layout::gallery_png(dir.parent().expect("galleries/ inside a criticize folder"), &g.group);
        image::RgbImage::from_raw(sheet.width as u32, sheet.height as u32, sheet.rgb)
            .expect("sheet buffer")
            .save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        written += 1;
        progress.inc(1);
    }
    progress.finish();
    Ok(written)
}

/// `key,group` rows (a header line is skipped when its second field is `group`).
fn read_group_csv(path: &Path) -> Result<HashMap<String, String>> {
    let text = rectify_data::files::read_text(path, rectify_data::files::MAX_TABLE_FILE, "a group file")
        .with_context(|| format!("--per: reading {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut map = HashMap::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        if rec.len() < 2 {
            bail!("{}: line {}: expected `file,group`", path.display(), i + 1);
        }
        if i == 0 && rec[1].trim().eq_ignore_ascii_case("group") {
            continue;
        }
        map.insert(rec[0].trim().to_string(), rec[1].trim().to_string());
    }
    if map.is_empty() {
        bail!("{}: no `file,group` rows", path.display());
    }
    Ok(map)
}

/// Labels from an integer `.npy` or a CSV with a `label` column; `n` of them.
fn read_labels(path: &Path, n: usize) -> Result<Vec<i64>> {
    let labels = if path.extension().is_some_and(|e| e == "npy") {
        rectify_data::npy::read_i64(path).with_context(|| format!("reading {}", path.display()))?.data
    } else {
        let text = rectify_data::files::read_text(path, rectify_data::files::MAX_LABEL_FILE, "a label file")
            .with_context(|| format!("reading {}", path.display()))?;
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let col = reader
            .headers()?
            .iter()
            .position(|h| h == "label")
            .with_context(|| format!("{}: no `label` column", path.display()))?;
        let mut v = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec?;
            v.push(rec[col].trim().parse().with_context(|| format!("{}: row {}: bad label", path.display(), i + 1))?);
        }
        v
    };
    if labels.len() != n {
        bail!("{}: {} labels for {n} feature rows", path.display(), labels.len());
    }
    Ok(labels)
}

/// `151-268` or `1,5-9` → inclusive ranges.
fn parse_ranges(spec: &str) -> Result<Vec<(i64, i64)>> {
    spec.split(',')
        .map(|part| {
            let part = part.trim();
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) if a <= b => Ok((a, b)),
                _ => bail!("--only-labels: {part:?} is not a label or a range A-B"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject() {
        assert_eq!(parse_ranges("151-268").unwrap(), vec![(151, 268)]);
        assert_eq!(parse_ranges("1, 5-9").unwrap(), vec![(1, 1), (5, 9)]);
        assert!(parse_ranges("9-5").is_err());
        assert!(parse_ranges("dogs").is_err());
    }
}
