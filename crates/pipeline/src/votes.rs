//! Human votes on a run: importing real raters' votes (`rectify study import`) and aggregating
//! every vote of a study into rectified errors (`rectify study results`). The study lives in
//! the run's database (`RUN_DIR/rectify.db`, SQLite in WAL mode) or in PostgreSQL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rectify_store::RunStore;
use rectify_study::designs::{self, EvalImage, Top5Variant};
use rectify_study::import;
use rectify_study::results::{
    gold_scores, results as aggregate, Aggregation, Exclusion, ExclusionDetails, ResultsFile, Sharing,
};
use rectify_study::sampling::{self, Sampling};
use rectify_study::stopping::Stopping;
use rectify_study::{Design, Item, Question, RuleSpec, Vote};
use rectify_web::StudyDb;

use crate::outputs::write_json;

/// Where a study lives: `--run`, `--study`, `--database-url`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StudyTarget {
    /// The run directory.
    #[cfg_attr(feature = "clap", arg(long))]
    pub run: PathBuf,
    /// The study's name (several studies can share a run).
    #[cfg_attr(feature = "clap", arg(long, default_value = "main"))]
    pub study: String,
    /// A database other than the run's own SQLite file, e.g. `postgres://user@host/db`.
    #[cfg_attr(feature = "clap", arg(long, env = "RECTIFY_DATABASE_URL"))]
    pub database_url: Option<String>,
}

impl StudyTarget {
    /// The study `main` of `run`, in the run's own database.
    pub fn of_run(run: impl Into<PathBuf>) -> Self {
        StudyTarget { run: run.into(), study: "main".into(), database_url: None }
    }

    /// The database URL: `--database-url`, or the run's SQLite file.
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.run.join("rectify.db").display()))
    }

    /// Opens the study database (the run must exist).
    pub async fn open(&self) -> Result<StudyDb> {
        if !self.run.join("rectify.db").exists() {
            bail!("{}: no rectify.db here; run `rectify eval --out {}` first", self.run.display(), self.run.display());
        }
        StudyDb::connect(&self.url()).await.with_context(|| format!("opening the study database {}", self.url()))
    }
}

/// The format of a vote file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum VoteFormat {
    /// ReaL's raw rater votes (`real_raters.npz`).
    RealRaters,
    /// cleanlab's MTurk votes (`cleanlab_imagenet_mturk.json`).
    CleanlabMturk,
    /// `file,label,rater,answer[,seconds]` rows (relevance of a class for an image).
    Csv,
    /// One vote per line: `{"item", "rater", "answer", "seconds", "source"}`.
    Jsonl,
    /// A Label Studio JSON export: tasks with several annotators' choices (tasks rectify
    /// exported name their item; a lab's own tasks give `data.image` and `data.class`).
    LabelStudio,
}

/// A multi-threaded runtime for the study database, for callers outside one.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// The evaluated images of a run.
pub fn eval_images(run: &Path) -> Result<Vec<EvalImage>> {
    let store = RunStore::open(run)?;
    Ok(designs::eval_images(&store)?)
}

/// The folders a study server of `run` serves images from, beside the run directory: the images
/// folder its eval recorded (where its questions' images lie), when it has an eval run.
pub fn image_roots(run: &Path) -> Result<Vec<PathBuf>> {
    if !run.join(rectify_store::DB_FILE).is_file() {
        return Ok(Vec::new());
    }
    let store = RunStore::open(run)?;
    Ok(store
        .find_run("eval", None)?
        .and_then(|(_, prov)| prov.params.get("images").and_then(|v| v.as_str()).map(PathBuf::from))
        .into_iter()
        .collect())
}

/// The evaluated images of the other models' runs of a shared study, each checked to be a
/// run with an eval and not the study's own run.
pub fn model_runs(host: &Path, runs: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<EvalImage>)>> {
    let mut out: Vec<(PathBuf, Vec<EvalImage>)> = Vec::new();
    for run in runs {
        if !run.join("rectify.db").exists() {
            bail!(
                "--model-run {}: no rectify.db here; evaluate that model with `rectify eval --out {}` first",
                run.display(),
                run.display()
            );
        }
        let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
        if same(run, host) || out.iter().any(|(r, _)| same(r, run)) {
            bail!("--model-run {}: given twice (the study's own run is --run)", run.display());
        }
        let images = eval_images(run).with_context(|| format!("--model-run {}", run.display()))?;
        out.push((run.clone(), images));
    }
    Ok(out)
}

/// `sharing` of results.json for the study's run and its model runs.
pub fn sharing(host: &Path, images: &[EvalImage], others: &[(PathBuf, Vec<EvalImage>)], answers: usize) -> Sharing {
    let mut runs: Vec<(String, &[EvalImage])> = vec![(host.display().to_string(), images)];
    runs.extend(others.iter().map(|(r, i)| (r.display().to_string(), i.as_slice())));
    rectify_study::results::sharing(&runs, answers)
}

/// What [`import`] stored.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// Votes read from the file.
    pub read: usize,
    /// relevance-top1 items (None for JSONL, whose items exist already).
    pub top1_items: Option<usize>,
    /// Of them, items with votes.
    pub top1_voted: usize,
    /// relevance-top5 items.
    pub top5_items: usize,
    /// Votes stored.
    pub votes: usize,
    /// New, replaced, unchanged.
    pub put: rectify_web::PutVotes,
    /// With model runs: what sharing the questions saved.
    pub sharing: Option<Sharing>,
}

/// Imports the votes of `file` (in `format`) as relevance questions of the run's images
/// (`answers` per item), and of the images of `model_runs` into the same study.
pub async fn import(
    target: &StudyTarget,
    format: VoteFormat,
    file: &Path,
    answers: usize,
    model_runs: &[PathBuf],
) -> Result<ImportSummary> {
    let images = eval_images(&target.run)?;
    let others = self::model_runs(&target.run, model_runs)?;
    let (source, pair_votes) = match format {
        VoteFormat::RealRaters => ("real-raters", import::real_raters(file)?),
        VoteFormat::CleanlabMturk => ("cleanlab-mturk", import::cleanlab_mturk(file)?),
        VoteFormat::Csv => ("csv", import::pair_csv(file)?),
        VoteFormat::Jsonl => return item_votes(target, import::votes_jsonl(file)?, file, "JSONL votes", &others).await,
        VoteFormat::LabelStudio => match rectify_study::labelstudio::read_export(file)? {
            rectify_study::labelstudio::Imported::Items(votes) => {
                return item_votes(target, votes, file, "Label Studio tasks exported by rectify", &others).await;
            }
            rectify_study::labelstudio::Imported::Pairs(votes) => ("label-studio", votes),
        },
    };
    let (mut items, mut votes) = (Vec::new(), Vec::new());
    for run_images in std::iter::once(&images).chain(others.iter().map(|(_, i)| i)) {
        let (i, v) = designs::import_relevance(run_images, &pair_votes, source);
        items.push(i);
        votes.extend(v);
    }
    let items = designs::shared_items(&images, items);
    let mut seen = HashSet::new();
    votes.retain(|v| seen.insert((v.item.clone(), v.rater.clone())));
    let db = target.open().await?;
    db.put_study(&target.study, answers, &items).await?;
    let put = db.put_votes(&target.study, &votes).await?;
    let top1 = items.iter().filter(|i| i.design == Design::RelevanceTop1).count();
    let voted: HashSet<&str> = votes.iter().map(|v| v.item.as_str()).collect();
    let top1_voted =
        items.iter().filter(|i| i.design == Design::RelevanceTop1 && voted.contains(i.key.as_str())).count();
    Ok(ImportSummary {
        read: pair_votes.len(),
        top1_items: Some(top1),
        top1_voted,
        top5_items: items.len() - top1,
        votes: votes.len(),
        put,
        sharing: (!others.is_empty()).then(|| sharing(&target.run, &images, &others, answers)),
    })
}

/// Stores votes that name their items (JSONL, Label Studio tasks rectify exported): every item
/// must exist already.
async fn item_votes(
    target: &StudyTarget,
    votes: Vec<Vote>,
    file: &Path,
    what: &str,
    others: &[(PathBuf, Vec<EvalImage>)],
) -> Result<ImportSummary> {
    if !others.is_empty() {
        bail!("--model-run: {what} name their items already; import them without it");
    }
    let db = target.open().await?;
    let known: HashSet<String> = db.items(&target.study).await?.into_iter().map(|i| i.key).collect();
    if let Some(v) = votes.iter().find(|v| !known.contains(&v.item)) {
        bail!("{}: vote for unknown item {:?}; add the design first", file.display(), v.item);
    }
    let put = db.put_votes(&target.study, &votes).await?;
    let n = votes.len();
    Ok(ImportSummary { read: n, top1_items: None, top1_voted: 0, top5_items: 0, votes: n, put, sharing: None })
}

/// How [`results`] aggregates.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ResultsSettings {
    /// `k-of-n:K/N`, `majority` or `dawid-skene`.
    #[cfg_attr(feature = "clap", arg(long, default_value = "k-of-n:4/5"))]
    pub rule: RuleSpec,
    /// Drop server votes faster than this many seconds.
    #[cfg_attr(feature = "clap", arg(long))]
    pub min_time: Option<f64>,
    /// Drop server votes slower than this many seconds.
    #[cfg_attr(feature = "clap", arg(long))]
    pub max_time: Option<f64>,
    /// Exclude raters whose accuracy on gold items is below this (after
    /// --min-gold-answers of them); participants the server excluded are always excluded.
    /// `results-all.json` keeps the results with every vote.
    #[cfg_attr(feature = "clap", arg(long))]
    pub min_gold_accuracy: Option<f64>,
    /// Gold answers a rater needs before --min-gold-accuracy judges them.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2))]
    pub min_gold_answers: usize,
    /// Also the results of another model's run whose mistakes this study asks about
    /// (repeatable; see `study design --model-run`): written to that run's
    /// `study/results.json`, from the shared votes, with what sharing saved.
    #[cfg_attr(feature = "clap", arg(long = "model-run", value_name = "RUN_DIR"))]
    pub model_runs: Vec<PathBuf>,
}

impl ResultsSettings {
    /// The paper's rule: at least 4 yes of 5 answers.
    pub fn paper() -> Self {
        ResultsSettings {
            rule: RuleSpec::KOfN { k: 4, n: 5 },
            min_time: None,
            max_time: None,
            min_gold_accuracy: None,
            min_gold_answers: 2,
            model_runs: Vec::new(),
        }
    }
}

/// What [`results`] wrote.
#[derive(Debug, Clone)]
pub struct ResultsSummary {
    /// Per run (the study's own first): the run and its `results.json`, as written.
    pub runs: Vec<(PathBuf, ResultsFile)>,
    /// Excluded raters and why.
    pub excluded: BTreeMap<String, String>,
    /// Votes not counted.
    pub votes_excluded: usize,
    /// With model runs: what sharing the questions saved.
    pub sharing: Option<Sharing>,
}

/// Aggregates the study's votes into `RUN_DIR/study/results.json` (with `settings`'
/// exclusions) and `results-all.json` (every vote), for the run and each model run.
pub async fn results(target: &StudyTarget, settings: &ResultsSettings) -> Result<ResultsSummary> {
    let db = target.open().await?;
    let info = db.study(&target.study).await?.with_context(|| format!("no study {:?} in this run", target.study))?;
    let rule = settings.rule.resolve(info.answers_per_item);
    let items = db.items(&target.study).await?;
    let all: Vec<Vote> = db.votes(&target.study).await?;
    let images = eval_images(&target.run)?;
    // A study that stopped asking once decided: decisions the answers so far force count.
    let stopping = db.stopping(&target.study).await?;
    // A study of a sample of the mistakes: the rectified error is estimated for all of them.
    let sampling = db.sampling(&target.study).await?;
    let agg = Aggregation {
        rule,
        min_time: settings.min_time,
        max_time: settings.max_time,
        stopping,
        sampling,
        ..Default::default()
    };
    // Exclusions: participants the server excluded (gold, time on task), and raters below
    // --min-gold-accuracy here; their votes stay stored and are reported without.
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    for p in db.participants(&target.study).await? {
        if let Some(r) = p.excluded_reason {
            reasons.insert(p.rater, r);
        }
    }
    if let Some(min) = settings.min_gold_accuracy {
        for (rater, (right, n)) in gold_scores(&items, &all) {
            let accuracy = right as f64 / n as f64;
            if n >= settings.min_gold_answers && accuracy < min {
                reasons.entry(rater).or_insert(format!("gold accuracy {accuracy:.2} < {min} ({right} of {n} right)"));
            }
        }
    }
    let counted: Vec<Vote> = all.iter().filter(|v| !reasons.contains_key(&v.rater)).cloned().collect();
    let others = model_runs(&target.run, &settings.model_runs)?;
    let shared = (!others.is_empty()).then(|| sharing(&target.run, &images, &others, info.answers_per_item));
    let host_name = target.run.display().to_string();
    let runs = std::iter::once((target.run.as_path(), images.as_slice(), true))
        .chain(others.iter().map(|(r, i)| (r.as_path(), i.as_slice(), false)));
    let mut written = Vec::new();
    for (run, images, host) in runs {
        let items = rectify_study::results::for_run(images, &items, host);
        let dir = run.join("study");
        let mut everyone = aggregate(images, &items, &all, &agg);
        let mut res = aggregate(images, &items, &counted, &agg);
        for r in [&mut everyone, &mut res] {
            r.study = Some(target.study.clone());
            r.study_run = Some(host_name.clone());
            r.version = Some(env!("CARGO_PKG_VERSION").into());
            r.sharing = shared.clone();
        }
        everyone.exclusion = Some(Exclusion { applied: false, details: None });
        res.exclusion = Some(Exclusion {
            applied: true,
            details: Some(ExclusionDetails {
                min_gold_accuracy: settings.min_gold_accuracy,
                min_gold_answers: settings.min_gold_answers,
                raters_excluded: reasons.len(),
                votes_excluded: all.len() - counted.len(),
                reasons: reasons.clone(),
                without_exclusion: "results-all.json".into(),
            }),
        });
        write_json(&dir.join("results-all.json"), &everyone)?;
        write_json(&dir.join("results.json"), &res)?;
        written.push((run.to_path_buf(), res));
    }
    Ok(ResultsSummary { runs: written, excluded: reasons, votes_excluded: all.len() - counted.len(), sharing: shared })
}

/// What to ask (`rectify study design`).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DesignSettings {
    /// The design.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub design: Design,
    /// relevance-top5: which images (`top1-misclassified` or `top5-misclassified`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "top1-misclassified"))]
    pub variant: String,
    /// adversarial: the attack run (made with --save-images).
    #[cfg_attr(feature = "clap", arg(long))]
    pub attack: Option<String>,
    /// adversarial: an explain run of that attack's images (`explain --attack`), for the
    /// explanation arm.
    #[cfg_attr(feature = "clap", arg(long))]
    pub explain: Option<String>,
    /// assignment: criticize runs, comma-separated (one condition each × 6p / 3p3c).
    #[cfg_attr(feature = "clap", arg(long))]
    pub criticize: Option<String>,
    /// assignment: items per condition.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 20))]
    pub items: usize,
    /// attribute: the attribute asked about.
    #[cfg_attr(feature = "clap", arg(long))]
    pub attribute: Option<String>,
    /// attribute: only images of this class index.
    #[cfg_attr(feature = "clap", arg(long))]
    pub class: Option<i64>,
    /// Answers per item (N): the most an item gets.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub answers: usize,
    /// Relevance designs: the rule the server stops asking by once it has decided
    /// (`k-of-n:K/N` or `majority`, N = --answers): under 4 of 5, an item is decided after 4 yes
    /// or 2 answers that are not yes. `dawid-skene` asks every item N times. Default: the paper's
    /// k-of-n:4/5 with 5 answers; with another --answers, every item N times unless a rule is given.
    #[cfg_attr(feature = "clap", arg(long))]
    pub rule: Option<RuleSpec>,
    /// Relevance designs: the share of items (drawn with --seed) that still get all N answers,
    /// so that Fig. 2's histogram, Fleiss' κ and rater agreement stay estimable from them;
    /// 1 asks every item N times (the paper's protocol).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub full_fraction: f64,
    /// relevance-top1: rate a seeded random sample of this many mistakes instead of all of them;
    /// `study results` then estimates the rectified error for all, with a 95 % interval
    /// corrected for the finite population.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "precision"))]
    pub sample: Option<usize>,
    /// relevance-top1: rate the smallest random sample whose 95 % interval on the rectified error
    /// is at most this many percentage points on each side (assuming the paper's share of
    /// accepted mistakes, 58 %).
    #[cfg_attr(feature = "clap", arg(long))]
    pub precision: Option<f64>,
    /// Seed (assignment items; the items drawn by --full-fraction and --sample).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Also add this many gold items (relevance designs): questions with a known answer,
    /// mixed into participants' batches at `serve --gold-rate` and never counted as data.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub gold: usize,
    /// relevance-top1: also ask about the mistakes of another model's run (repeatable), in
    /// this one study: each (image, class) is asked once whichever models predicted it, and
    /// `study results --model-run` gives every model its rectified error from the shared
    /// votes (the paper's Table 1 has four models).
    #[cfg_attr(feature = "clap", arg(long = "model-run", value_name = "RUN_DIR"))]
    pub model_runs: Vec<PathBuf>,
    /// Also add this many attention checks (yes / no designs): a correctly classified
    /// image with its true class and the instruction to answer No; checked like gold items.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub attention: usize,
}

impl DesignSettings {
    /// `design` with every default: 5 answers an item, no gold item, no attention check.
    pub fn new(design: Design) -> Self {
        DesignSettings {
            design,
            variant: "top1-misclassified".into(),
            attack: None,
            explain: None,
            criticize: None,
            items: 20,
            attribute: None,
            class: None,
            answers: 5,
            rule: None,
            full_fraction: 0.1,
            sample: None,
            precision: None,
            seed: 0,
            gold: 0,
            model_runs: Vec::new(),
            attention: 0,
        }
    }
}

/// What [`design`] added.
#[derive(Debug, Clone)]
pub struct Designed {
    /// The items added (data, gold and attention items).
    pub items: Vec<Item>,
    /// With model runs: what sharing the questions saved.
    pub sharing: Option<Sharing>,
    /// Relevance designs: how the study stops asking once decided (`None`: every item N times).
    pub stopping: Option<Stopping>,
    /// With --sample or --precision: the sample of the mistakes.
    pub sampling: Option<Sampling>,
}

/// Adds the items of a design to the study (with its gold items and attention checks).
pub async fn design(target: &StudyTarget, s: &DesignSettings) -> Result<Designed> {
    let design = s.design;
    let images = eval_images(&target.run)?;
    if !s.model_runs.is_empty() && design != Design::RelevanceTop1 {
        bail!("--model-run: one study for several models is made for relevance-top1 (the paper's Table 1); import votes for the others with `study import --model-run`");
    }
    let others = model_runs(&target.run, &s.model_runs)?;
    let store = RunStore::open(&target.run)?;
    let gold_items = match (s.gold, design) {
        (0, _) => Vec::new(),
        (n, Design::RelevanceTop1 | Design::RelevanceTop5) => designs::gold_relevance(&images, design, n),
        (_, Design::Assignment) => Vec::new(), // made from the design's items below
        _ => bail!("--gold: gold items are made for the relevance and assignment designs"),
    };
    let attention_items = match (s.attention, design) {
        (0, _) => Vec::new(),
        (n, Design::RelevanceTop1 | Design::RelevanceTop5 | Design::Adversarial) => {
            designs::attention_checks(&images, design, n)
        }
        _ => bail!("--attention: attention checks are made for the yes / no designs (relevance, adversarial)"),
    };
    if attention_items.len() < s.attention {
        bail!(
            "--attention {}: the run has only {} correctly classified images to make them from",
            s.attention,
            attention_items.len()
        );
    }
    let new: Vec<Item> = match design {
        Design::RelevanceTop1 => {
            let mut per_run = vec![designs::relevance_top1(&images)];
            per_run.extend(others.iter().map(|(_, i)| designs::relevance_top1(i)));
            designs::shared_items(&images, per_run)
        }
        Design::RelevanceTop5 => {
            let v = match s.variant.as_str() {
                "top1-misclassified" => Top5Variant::Top1Misclassified,
                "top5-misclassified" => Top5Variant::Top5Misclassified,
                v => bail!("--variant {v:?}: top1-misclassified or top5-misclassified"),
            };
            designs::relevance_top5(&images, v)
        }
        Design::Adversarial => designs::adversarial(&store, &images, s.attack.as_deref(), s.explain.as_deref())?,
        Design::Assignment => {
            let runs =
                s.criticize.as_deref().context("--criticize NAME[,NAME…] names the criticize runs to compare")?;
            let mut all = Vec::new();
            for name in runs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                all.extend(designs::assignment(&store, &images, name, s.items, s.seed)?);
            }
            all
        }
        Design::Attribute => {
            let a = s.attribute.as_deref().context("--attribute names what to ask about")?;
            let chosen: Vec<EvalImage> =
                images.iter().filter(|i| s.class.is_none_or(|c| i.label == Some(c))).cloned().collect();
            designs::attribute(&chosen, a)
        }
    };
    if new.is_empty() {
        bail!("the design has no item in this run (no misclassified image, no saved adversarial image, or too few groups)");
    }
    let gold_items =
        if design == Design::Assignment && s.gold > 0 { designs::gold_assignment(&new, s.gold) } else { gold_items };
    if gold_items.len() < s.gold {
        bail!("--gold {}: the run has only {} correctly classified images to make them from", s.gold, gold_items.len());
    }
    let mut new = new;
    let sampling = match (s.sample, s.precision) {
        (None, None) => None,
        _ if design != Design::RelevanceTop1 || !others.is_empty() => {
            bail!("--sample / --precision: a sample of the mistakes is drawn for relevance-top1 of one run")
        }
        (Some(0), _) => bail!("--sample 0: draw at least one mistake"),
        (_, Some(p)) if !(p > 0.0 && p.is_finite()) => bail!("--precision {p}: a positive number of points"),
        (m, p) => {
            let population = new.len();
            let labelled = images.iter().filter(|i| i.label.is_some()).count();
            let m = m.unwrap_or_else(|| {
                sampling::size_for_precision(labelled, population, p.unwrap_or(1.0), sampling::PAPER_ACCEPTANCE)
            });
            let keep: HashSet<usize> = sampling::draw(population, m, s.seed).into_iter().collect();
            new = new.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, item)| item).collect();
            Some(Sampling { population, sample: new.len(), seed: s.seed })
        }
    };
    new.extend(gold_items);
    new.extend(attention_items);
    let relevance = matches!(design, Design::RelevanceTop1 | Design::RelevanceTop5);
    // The paper's 4 of 5 when the study asks 5; another N needs its rule said.
    let spec = s.rule.or((s.answers == 5).then_some(RuleSpec::KOfN { k: 4, n: 5 }));
    let rule = spec.map(|r| r.resolve(s.answers));
    if let (true, Some(spec), Some(rule)) = (relevance, spec, rule) {
        if rule.needs() != s.answers {
            bail!(
                "--rule {spec} decides on {} answers but --answers is {}: give the rule the study's N (e.g. k-of-n:K/{})",
                rule.needs(),
                s.answers,
                s.answers
            );
        }
    }
    if !(0.0..=1.0).contains(&s.full_fraction) {
        bail!("--full-fraction {} lies in [0, 1]", s.full_fraction);
    }
    let stopping = match rule {
        Some(rule) if relevance && s.full_fraction < 1.0 => Stopping::for_rule(rule, s.full_fraction, s.seed),
        _ => None,
    };
    let db = target.open().await?;
    db.put_study(&target.study, s.answers, &new).await?;
    if relevance {
        db.put_stopping(&target.study, stopping.as_ref()).await?;
    }
    if design == Design::RelevanceTop1 {
        db.put_sampling(&target.study, sampling.as_ref()).await?;
    }
    let sharing = (!others.is_empty()).then(|| sharing(&target.run, &images, &others, s.answers));
    Ok(Designed { items: new, sharing, stopping, sampling })
}

/// The simulated raters' answer to every attribute question of `items`: `(image, attribute)` →
/// whether the image has it, from `--attributes` or `--imagenet-x`. An error names the questions
/// that neither annotates, or asks for a source when the study asks attribute questions.
pub fn attribute_oracle(
    items: &[Item],
    files: &HashMap<i64, String>,
    csv: Option<&Path>,
    imagenet_x: Option<&Path>,
) -> Result<HashMap<(i64, String), bool>> {
    let asked: Vec<(i64, &str)> = items
        .iter()
        .filter_map(|item| match &item.question {
            Question::Attribute { attribute, .. } => Some((item.image_id.unwrap_or(-1), attribute.as_str())),
            _ => None,
        })
        .collect();
    if asked.is_empty() {
        return Ok(HashMap::new());
    }
    let known = match (csv, imagenet_x) {
        (Some(csv), _) => rectify_data::attributes::Attributes::from_csv(csv),
        (None, Some(x)) => rectify_data::attributes::imagenet_x(x),
        (None, None) => bail!(
            "the study asks {} attribute questions: give their answers with --attributes FILE.csv \
             (file,attribute,value) or --imagenet-x FILE",
            asked.len()
        ),
    }?;
    let mut answers = HashMap::new();
    let mut missing = Vec::new();
    for (id, attribute) in asked {
        let file = files.get(&id).map_or("?", String::as_str);
        match known.get(file, attribute) {
            Some(has) => {
                answers.insert((id, attribute.to_string()), has);
            }
            None => missing.push(format!("{file} / {attribute}")),
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} attribute questions have no answer in the attributes given, e.g. {}",
            missing.len(),
            missing[..missing.len().min(5)].join(", ")
        );
    }
    Ok(answers)
}
