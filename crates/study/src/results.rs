//! `results.json`: per design, what the votes say about the model (issue #6).
//!
//! * `relevance-top1`: top-1 error and the *rectified* top-1 error — a misclassified image whose
//!   predicted class the rule calls relevant counts as correct (Stock & Cisse: ResNet-101
//!   22.69 % → 9.47 %) — with 95 % bootstrap intervals over images, rated / unrated counts (an
//!   image whose question has fewer answers than the rule needs stays an error and is reported
//!   as unrated, never silently counted), the histogram of yes answers (Fig. 2) and Fleiss' κ.
//! * `relevance-top5`: the same for the top-5 error (a top-5 miss is rectified when any of its
//!   five classes is called relevant), per variant.
//! * `adversarial`: per arm, the share of adversarial images whose adversarial class people
//!   call relevant (Table 2).
//! * `assignment`: per condition, success rate mean ± std over raters (Table 3).
//! * `attribute`: per attribute, the share of images showing it.
//!
//! Votes outside `[min_time, max_time]` seconds are dropped first (imported votes have no time
//! and are kept). `sources` counts the votes by where they came from (`server` for the study
//! server's raters, else the importer: `real-raters`, `cleanlab-mturk`, `csv`, …). Per-rater accuracy on gold items is reported when there are gold items.
//! Every relevance design and arm also carries `rater_agreement`: each rater's agreement with
//! the majority of the others, and Cohen's κ of every pair of raters sharing at least
//! [`MIN_PAIR_OVERLAP`] questions ([`rater_agreement`]).

use std::collections::{BTreeMap, HashMap};

use rectify_store::artifacts::nan;
use serde::{Deserialize, Serialize};

use crate::aggregate::{bootstrap_means, decide, kappa_of, rater_agreement, Decision, RaterAgreement, Rule};
use crate::designs::EvalImage;
use crate::model::{Answer, Design, Item, Question, Vote};

/// Settings of the aggregation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregation {
    /// The decision rule.
    pub rule: Rule,
    /// Drop votes faster than this (seconds).
    pub min_time: Option<f64>,
    /// Drop votes slower than this (seconds).
    pub max_time: Option<f64>,
    /// Bootstrap resamples.
    pub bootstrap: usize,
    /// Bootstrap seed.
    pub seed: u64,
}

impl Default for Aggregation {
    fn default() -> Self {
        Self { rule: Rule::default(), min_time: None, max_time: None, bootstrap: 2000, seed: 0 }
    }
}

/// `results.json` (and `results-all.json`, every vote counted): what [`results`] computes, with
/// what the pipeline stamps on it (`study`, `study_run`, `version`, `sharing`, `exclusion`). One
/// type for the writer (`rectify study results`) and the readers (the report, `rectify study`'s
/// summary lines). Rates that no image backs are NaN, written `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// The decision rule.
    pub rule: Rule,
    /// Votes dropped for their time on task.
    pub time_filter: TimeFilter,
    /// Votes read (before the time filter).
    pub votes: usize,
    /// Votes per source (`server`, `real-raters`, `cleanlab-mturk`, `csv`, …).
    pub sources: BTreeMap<String, usize>,
    /// Per design (`design` or `design/variant`), and `gold` when the study has gold items.
    pub designs: BTreeMap<String, DesignResults>,
    /// The study's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<String>,
    /// The run that holds the study (it may be shared by several models' runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_run: Option<String>,
    /// rectify's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What sharing the study between models' runs saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
    /// Which raters quality control left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion: Option<Exclusion>,
}

/// `time_filter` of [`ResultsFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeFilter {
    /// Votes faster than this were dropped.
    pub min_seconds: Option<f64>,
    /// Votes slower than this were dropped.
    pub max_seconds: Option<f64>,
    /// How many.
    pub votes_dropped: usize,
}

/// One design's results (a value of `designs`). Told apart by their fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DesignResults {
    /// `relevance-top1`.
    Top1 {
        /// The errors.
        #[serde(flatten)]
        result: Top1Result,
        /// Items.
        #[serde(flatten)]
        items: ItemCounts,
    },
    /// `relevance-top5`.
    Top5 {
        /// The errors.
        #[serde(flatten)]
        result: Top5Result,
        /// Items.
        #[serde(flatten)]
        items: ItemCounts,
    },
    /// `adversarial`: per arm (`whole`, `explanation`).
    Adversarial {
        /// Per arm.
        arms: BTreeMap<String, ArmResult>,
        /// Items.
        #[serde(flatten)]
        items: ItemCounts,
    },
    /// `attribute`: per attribute.
    Attribute {
        /// Per attribute.
        attributes: BTreeMap<String, ArmResult>,
        /// Items.
        #[serde(flatten)]
        items: ItemCounts,
    },
    /// `assignment`.
    Assignment {
        /// Success rates.
        #[serde(flatten)]
        result: AssignmentResult,
        /// Items.
        #[serde(flatten)]
        items: ItemCounts,
    },
    /// `gold`: per rater, their accuracy on gold items.
    Gold(GoldResults),
}

impl DesignResults {
    /// The item counts (none for `gold`).
    pub fn items(&self) -> Option<&ItemCounts> {
        match self {
            DesignResults::Top1 { items, .. }
            | DesignResults::Top5 { items, .. }
            | DesignResults::Adversarial { items, .. }
            | DesignResults::Attribute { items, .. }
            | DesignResults::Assignment { items, .. } => Some(items),
            DesignResults::Gold(_) => None,
        }
    }
}

/// Items of one design, and how many have every answer the rule needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemCounts {
    /// Items (gold items aside).
    pub items: usize,
    /// With as many answers as the rule needs.
    pub items_complete: usize,
    /// With fewer.
    pub items_incomplete: usize,
    /// The design's variant, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// What a relevance design counts, top-1 or top-5 alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelevanceCounts {
    /// Labelled images.
    pub n: usize,
    /// Standard errors.
    pub errors: usize,
    /// Errors whose class people called relevant (rectified).
    pub rectified: usize,
    /// Errors asked about.
    pub asked: usize,
    /// Of them, decided.
    pub rated: usize,
    /// Of them, with fewer answers than the rule needs (still errors).
    pub unrated: usize,
    /// Errors not asked about (still errors).
    pub not_asked: usize,
    /// Questions by number of yes answers (Fig. 2).
    pub histogram: Vec<usize>,
    /// Fleiss' κ over the questions.
    pub fleiss_kappa: Option<f64>,
    /// Per rater and pair.
    pub rater_agreement: RaterAgreement,
}

/// `relevance-top1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Top1Result {
    /// Top-1 error.
    #[serde(deserialize_with = "nan::f64")]
    pub top1_error: f64,
    /// Rectified top-1 error.
    #[serde(deserialize_with = "nan::f64")]
    pub rectified_top1_error: f64,
    /// 95 % bootstrap intervals.
    pub ci: Top1Ci,
    /// ReaL top-1 accuracy over the images with ReaL labels.
    #[serde(deserialize_with = "nan::f64")]
    pub real_top1_accuracy: f64,
    /// Images with ReaL labels.
    pub real_n: usize,
    /// Counts.
    #[serde(flatten)]
    pub counts: RelevanceCounts,
    /// Every top-1 mistake and what the raters said of its predicted class (the paper's Fig. 3;
    /// the report's gallery, per-class table and confusions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<RatedMistake>,
}

/// One top-1 mistake of a `relevance-top1` design: its image, label and predicted class, and the
/// raters' answers on "is the predicted class relevant?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatedMistake {
    /// Image file, as in predictions.csv.
    pub file: String,
    /// True label.
    pub label: i64,
    /// The predicted class asked about.
    pub class: i64,
    /// Yes answers counted by the rule.
    pub yes: usize,
    /// Answers counted by the rule (0 when not decided: fewer than it needs, or not asked).
    pub votes: usize,
    /// `rectified` (decided relevant), `error` (decided not relevant), `unrated` (asked, too
    /// few answers) or `not-asked`.
    pub outcome: String,
}

/// `ci` of [`Top1Result`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Top1Ci {
    /// Of the top-1 error.
    #[serde(deserialize_with = "nan::pair")]
    pub top1_error: [f64; 2],
    /// Of the rectified top-1 error.
    #[serde(deserialize_with = "nan::pair")]
    pub rectified_top1_error: [f64; 2],
}

/// `relevance-top5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Top5Result {
    /// Top-5 error.
    #[serde(deserialize_with = "nan::f64")]
    pub top5_error: f64,
    /// Rectified top-5 error.
    #[serde(deserialize_with = "nan::f64")]
    pub rectified_top5_error: f64,
    /// 95 % bootstrap intervals.
    pub ci: Top5Ci,
    /// Counts.
    #[serde(flatten)]
    pub counts: RelevanceCounts,
}

/// `ci` of [`Top5Result`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Top5Ci {
    /// Of the top-5 error.
    #[serde(deserialize_with = "nan::pair")]
    pub top5_error: [f64; 2],
    /// Of the rectified top-5 error.
    #[serde(deserialize_with = "nan::pair")]
    pub rectified_top5_error: [f64; 2],
}

/// One arm of `adversarial` (Table 2) or one attribute of `attribute`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    /// Questions.
    pub items: usize,
    /// Decided.
    pub rated: usize,
    /// With fewer answers than the rule needs.
    pub unrated: usize,
    /// The share of decided questions answered yes.
    #[serde(deserialize_with = "nan::f64")]
    pub yes_rate: f64,
    /// Its 95 % bootstrap interval (`None` without a decided question).
    #[serde(deserialize_with = "nan::option_pair")]
    pub ci: Option<[f64; 2]>,
    /// Questions by number of yes answers.
    pub histogram: Vec<usize>,
    /// Fleiss' κ.
    pub fleiss_kappa: Option<f64>,
    /// Per rater and pair.
    pub rater_agreement: RaterAgreement,
}

/// `assignment` (Table 3): success rate over raters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentResult {
    /// Mean over raters.
    #[serde(deserialize_with = "nan::f64")]
    pub success_mean: f64,
    /// Standard deviation over raters.
    #[serde(deserialize_with = "nan::f64")]
    pub success_std: f64,
    /// Raters.
    pub raters: usize,
    /// Answers.
    pub answers: usize,
}

/// `gold`: gold items and each rater's score on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldResults {
    /// Gold items.
    pub items: usize,
    /// Of them, attention checks.
    pub attention_checks: usize,
    /// Per rater.
    pub raters: BTreeMap<String, GoldScore>,
}

/// One rater's gold score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldScore {
    /// Gold items answered.
    pub gold_answers: usize,
    /// The share right.
    pub gold_accuracy: f64,
    /// Attention checks answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_checks: Option<usize>,
    /// Of them, passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_passed: Option<usize>,
}

/// `sharing`: what one `relevance-top1` study shared by several models' runs saves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sharing {
    /// Always `relevance-top1`.
    pub design: String,
    /// Per run (the study's own first): its questions.
    pub runs: Vec<SharedRun>,
    /// Distinct (image file, class) questions asked.
    pub questions_shared: usize,
    /// Questions separate studies would ask.
    pub questions_separate: usize,
    /// Answers saved.
    pub answers_saved: usize,
    /// 1 − shared / separate.
    pub saving: f64,
}

/// One run of [`Sharing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedRun {
    /// The run directory.
    pub run: String,
    /// Its top-1 mistakes.
    pub questions: usize,
}

/// `exclusion`: raters quality control left out (their votes stay stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exclusion {
    /// Whether this file leaves them out (`results.json`) or counts every vote (`results-all.json`).
    pub applied: bool,
    /// When applied: the thresholds and who.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ExclusionDetails>,
}

/// [`Exclusion`] when applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExclusionDetails {
    /// `--min-gold-accuracy`.
    pub min_gold_accuracy: Option<f64>,
    /// `--min-gold-answers`.
    pub min_gold_answers: usize,
    /// Raters left out.
    pub raters_excluded: usize,
    /// Their votes.
    pub votes_excluded: usize,
    /// Per rater, why.
    pub reasons: BTreeMap<String, String>,
    /// The file that counts every vote.
    pub without_exclusion: String,
}

/// Questions two raters must share before their Cohen's κ is reported.
pub const MIN_PAIR_OVERLAP: usize = 10;

type Answers = HashMap<(i64, i64), Vec<(String, Answer)>>;

/// (image, class) → answers, from relevance-like items of `design` (and `variant`).
fn judgments(items: &[&Item], votes: &HashMap<&str, Vec<&Vote>>) -> Answers {
    let mut out: Answers = HashMap::new();
    for item in items {
        let Some(image) = item.image_id else { continue };
        for v in votes.get(item.key.as_str()).into_iter().flatten() {
            match (&item.question, &v.answer) {
                (Question::Relevance { class, .. }, a) => {
                    out.entry((image, class.class)).or_default().push((v.rater.clone(), a.clone()));
                }
                (Question::MultiRelevance { classes, .. }, Answer::Classes(ticked)) => {
                    for c in classes {
                        let a = if ticked.contains(&c.class) { Answer::Yes } else { Answer::No };
                        out.entry((image, c.class)).or_default().push((v.rater.clone(), a));
                    }
                }
                _ => {}
            }
        }
        // Questions without votes still exist (unrated).
        match &item.question {
            Question::Relevance { class, .. } => {
                out.entry((image, class.class)).or_default();
            }
            Question::MultiRelevance { classes, .. } => {
                for c in classes {
                    out.entry((image, c.class)).or_default();
                }
            }
            _ => {}
        }
    }
    out
}

/// The questions of a shared study that concern the run of `images`: its relevance items,
/// each pointed at this run's image of the same file (see [`crate::designs::relevance_file`]),
/// kept when one of their (image, class) pairs is one the run asks about — its top-1 mistakes
/// with the predicted class (`relevance-top1`), or with its top 5 (`relevance-top5`). Gold items
/// are kept; items of the other designs are kept for the study's own run (`host`) only, as they
/// were made from its attack, explain and criticize runs.
pub fn for_run(images: &[EvalImage], items: &[Item], host: bool) -> Vec<Item> {
    let by_file: HashMap<&str, &EvalImage> = images.iter().map(|i| (i.file.as_str(), i)).collect();
    items
        .iter()
        .filter_map(|item| {
            if item.gold.is_some() {
                return Some(item.clone());
            }
            if !matches!(item.design, Design::RelevanceTop1 | Design::RelevanceTop5) {
                return host.then(|| item.clone());
            }
            let img = by_file.get(crate::designs::relevance_file(item)?)?;
            let classes: Vec<i64> = match &item.question {
                Question::Relevance { class, .. } => vec![class.class],
                Question::MultiRelevance { classes, .. } => classes.iter().map(|c| c.class).collect(),
                _ => return None,
            };
            let top5 = item.design == Design::RelevanceTop5;
            classes.iter().any(|&c| wanted(img, c, top5)).then(|| Item { image_id: Some(img.image_id), ..item.clone() })
        })
        .collect()
}

/// Whether the run asks about class `class` for `img`: a top-1 mistake and its predicted class
/// (or, `top5`, one of its top 5).
fn wanted(img: &EvalImage, class: i64, top5: bool) -> bool {
    img.top1_wrong() && if top5 { img.top5.contains(&class) } else { img.top5.first() == Some(&class) }
}

/// What sharing one `relevance-top1` study between the runs of several models saves: each run
/// alone would ask one question per top-1 mistake (image, predicted class); the shared study
/// asks each distinct (image file, class) once. `runs` are (name, evaluated images), the
/// study's own run first.
pub fn sharing(runs: &[(String, &[EvalImage])], answers_per_item: usize) -> Sharing {
    let mut distinct = std::collections::HashSet::new();
    let mut separate = 0usize;
    let mut per = Vec::new();
    for (name, images) in runs {
        let mine: Vec<(&str, i64)> =
            images.iter().filter(|i| i.top1_wrong()).map(|i| (i.file.as_str(), i.top5[0])).collect();
        separate += mine.len();
        per.push(SharedRun { run: name.clone(), questions: mine.len() });
        distinct.extend(mine);
    }
    let shared = distinct.len();
    Sharing {
        design: "relevance-top1".into(),
        runs: per,
        questions_shared: shared,
        questions_separate: separate,
        answers_saved: (separate - shared) * answers_per_item,
        saving: if separate == 0 { 0.0 } else { 1.0 - shared as f64 / separate as f64 },
    }
}

fn histogram(decisions: &BTreeMap<(i64, i64), Decision>, n: usize) -> Vec<usize> {
    let mut h = vec![0; n + 1];
    for d in decisions.values() {
        h[d.yes_votes.min(n)] += 1;
    }
    h
}

fn rate(x: usize, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        x as f64 / n as f64
    }
}

/// Standard and rectified error over the labelled images (top-1, or top-5 with `top5`), for a
/// design whose items `items` counts.
fn rectified(
    images: &[EvalImage],
    decisions: &BTreeMap<(i64, i64), Decision>,
    answers: &Answers,
    agg: &Aggregation,
    top5: bool,
    items: ItemCounts,
) -> DesignResults {
    let labelled: Vec<&EvalImage> = images.iter().filter(|i| i.label.is_some()).collect();
    // In a study shared by several models, other runs' questions are not this run's histogram.
    let by_id: HashMap<i64, &EvalImage> = images.iter().map(|i| (i.image_id, i)).collect();
    let ours = |&(image, class): &(i64, i64)| by_id.get(&image).is_some_and(|i| wanted(i, class, top5));
    let decisions: BTreeMap<(i64, i64), Decision> =
        decisions.iter().filter(|(k, _)| ours(k)).map(|(k, d)| (*k, *d)).collect();
    let decisions = &decisions;
    let answers: Answers = answers.iter().filter(|(k, _)| ours(k)).map(|(k, a)| (*k, a.clone())).collect();
    let answers = &answers;
    let (mut rows, mut rated, mut unrated, mut rescued, mut asked) = (Vec::new(), 0, 0, 0, 0);
    let mut questions = Vec::new();
    for img in &labelled {
        let wrong = if top5 { img.top5_wrong() } else { img.top1_wrong() };
        let classes: &[i64] = if top5 { &img.top5 } else { &img.top5[..1] };
        let keys: Vec<(i64, i64)> = classes.iter().map(|&c| (img.image_id, c)).collect();
        let is_asked = wrong && keys.iter().any(|k| answers.contains_key(k));
        let relevant = keys.iter().any(|k| decisions.get(k).is_some_and(|d| d.yes));
        let all_decided = keys.iter().all(|k| decisions.contains_key(k));
        if wrong && is_asked {
            asked += 1;
            if relevant || all_decided {
                rated += 1;
            } else {
                unrated += 1;
            }
        }
        let fixed = wrong && relevant;
        if wrong && !top5 {
            let decision = decisions.get(&keys[0]);
            let outcome = match (is_asked, decision) {
                (_, Some(d)) if d.yes => "rectified",
                (_, Some(_)) => "error",
                (true, None) => "unrated",
                (false, None) => "not-asked",
            };
            questions.push(RatedMistake {
                file: img.file.clone(),
                label: img.label.unwrap_or(-1),
                class: img.top5[0],
                yes: decision.map_or(0, |d| d.yes_votes),
                votes: decision.map_or(0, |d| d.votes),
                outcome: outcome.into(),
            });
        }
        rescued += usize::from(fixed);
        rows.push(vec![wrong, wrong && !fixed]);
    }
    let n = labelled.len();
    let errors = rows.iter().filter(|r| r[0]).count();
    let remaining = rows.iter().filter(|r| r[1]).count();
    // No labelled image: no row, hence no interval.
    let ci = bootstrap_means(&rows, agg.bootstrap, agg.seed);
    let ci = |c: usize| ci.get(c).copied().unwrap_or([f64::NAN; 2]);
    let counts = RelevanceCounts {
        n,
        errors,
        rectified: rescued,
        asked,
        rated,
        unrated,
        not_asked: errors - asked,
        histogram: histogram(decisions, agg.rule.needs()),
        fleiss_kappa: kappa_of(answers, agg.rule.needs()),
        rater_agreement: rater_agreement(answers, MIN_PAIR_OVERLAP),
    };
    if top5 {
        let result = Top5Result {
            top5_error: rate(errors, n),
            rectified_top5_error: rate(remaining, n),
            ci: Top5Ci { top5_error: ci(0), rectified_top5_error: ci(1) },
            counts,
        };
        DesignResults::Top5 { result, items }
    } else {
        let with_real: Vec<&&EvalImage> =
            labelled.iter().filter(|i| i.real.as_ref().is_some_and(|r| !r.is_empty())).collect();
        let ok = with_real.iter().filter(|i| i.real.as_ref().is_some_and(|r| r.contains(&i.top5[0]))).count();
        let result = Top1Result {
            top1_error: rate(errors, n),
            rectified_top1_error: rate(remaining, n),
            ci: Top1Ci { top1_error: ci(0), rectified_top1_error: ci(1) },
            real_top1_accuracy: rate(ok, with_real.len()),
            real_n: with_real.len(),
            counts,
            questions,
        };
        DesignResults::Top1 { result, items }
    }
}

fn keep(v: &Vote, agg: &Aggregation) -> bool {
    match v.seconds {
        Some(s) => agg.min_time.is_none_or(|m| s >= m) && agg.max_time.is_none_or(|m| s <= m),
        None => true,
    }
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// Every design's results, keyed `design` (or `design/variant` when a design has several).
pub fn results(images: &[EvalImage], items: &[Item], votes: &[Vote], agg: &Aggregation) -> ResultsFile {
    let dropped = votes.iter().filter(|v| !keep(v, agg)).count();
    let mut by_item: HashMap<&str, Vec<&Vote>> = HashMap::new();
    for v in votes.iter().filter(|v| keep(v, agg)) {
        by_item.entry(v.item.as_str()).or_default().push(v);
    }
    let mut groups: BTreeMap<(Design, Option<String>), Vec<&Item>> = BTreeMap::new();
    // Gold items check raters (below); they are never data.
    for item in items.iter().filter(|i| i.gold.is_none()) {
        groups.entry((item.design, item.variant.clone())).or_default().push(item);
    }
    let variants_of = |d: Design| groups.keys().filter(|(g, _)| *g == d).count();
    let mut out = BTreeMap::new();
    for ((design, variant), group) in &groups {
        let key = match variant {
            Some(v) if variants_of(*design) > 1 => format!("{}/{v}", design.name()),
            _ => design.name().to_string(),
        };
        let complete =
            group.iter().filter(|i| by_item.get(i.key.as_str()).map_or(0, Vec::len) >= agg.rule.needs()).count();
        let items = ItemCounts {
            items: group.len(),
            items_complete: complete,
            items_incomplete: group.len() - complete,
            variant: variant.clone(),
        };
        let v = match design {
            Design::RelevanceTop1 | Design::RelevanceTop5 => {
                let answers = judgments(group, &by_item);
                let decisions = decide(agg.rule, &answers);
                rectified(images, &decisions, &answers, agg, *design == Design::RelevanceTop5, items)
            }
            Design::Adversarial | Design::Attribute => {
                let mut arms: BTreeMap<String, Answers> = BTreeMap::new();
                for item in group {
                    let arm = match design {
                        Design::Adversarial => item.arm.clone().unwrap_or_else(|| "whole".into()),
                        _ => variant.clone().unwrap_or_default(),
                    };
                    let answers = arms.entry(arm).or_default();
                    let k = (item.image_id.unwrap_or(-1), 0);
                    let list = answers.entry(k).or_default();
                    for v in by_item.get(item.key.as_str()).into_iter().flatten() {
                        list.push((v.rater.clone(), v.answer.clone()));
                    }
                }
                let mut per = BTreeMap::new();
                for (arm, answers) in &arms {
                    let decisions = decide(agg.rule, answers);
                    let rows: Vec<Vec<bool>> = decisions.values().map(|d| vec![d.yes]).collect();
                    let yes = rows.iter().filter(|r| r[0]).count();
                    per.insert(
                        arm.clone(),
                        ArmResult {
                            items: answers.len(),
                            rated: decisions.len(),
                            unrated: answers.len() - decisions.len(),
                            yes_rate: rate(yes, rows.len()),
                            ci: bootstrap_means(&rows, agg.bootstrap, agg.seed).first().copied(),
                            histogram: histogram(&decisions, agg.rule.needs()),
                            fleiss_kappa: kappa_of(answers, agg.rule.needs()),
                            rater_agreement: rater_agreement(answers, MIN_PAIR_OVERLAP),
                        },
                    );
                }
                if *design == Design::Adversarial {
                    DesignResults::Adversarial { arms: per, items }
                } else {
                    DesignResults::Attribute { attributes: per, items }
                }
            }
            Design::Assignment => {
                let mut per_rater: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
                for item in group {
                    for v in by_item.get(item.key.as_str()).into_iter().flatten() {
                        let e = per_rater.entry(v.rater.as_str()).or_default();
                        e.0 += usize::from(item.truth.as_ref() == Some(&v.answer));
                        e.1 += 1;
                    }
                }
                let rates: Vec<f64> = per_rater.values().map(|&(ok, n)| ok as f64 / n as f64).collect();
                let answers: usize = per_rater.values().map(|p| p.1).sum();
                let (mean, std) = if rates.is_empty() { (f64::NAN, f64::NAN) } else { mean_std(&rates) };
                let result = AssignmentResult { success_mean: mean, success_std: std, raters: rates.len(), answers };
                DesignResults::Assignment { result, items }
            }
        };
        out.insert(key, v);
    }
    // Gold items: per-rater accuracy.
    let gold: HashMap<&str, &Answer> = items.iter().filter_map(|i| Some((i.key.as_str(), i.gold.as_ref()?))).collect();
    if !gold.is_empty() {
        let attention: std::collections::HashSet<&str> = items
            .iter()
            .filter(|i| i.gold.is_some() && i.variant.as_deref() == Some("attention"))
            .map(|i| i.key.as_str())
            .collect();
        // Per rater: (gold right, gold answers, attention checks passed, attention checks).
        let mut per: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
        for v in votes.iter().filter(|v| keep(v, agg)) {
            if let Some(g) = gold.get(v.item.as_str()) {
                let e = per.entry(v.rater.as_str()).or_default();
                let right = **g == v.answer;
                e.0 += usize::from(right);
                e.1 += 1;
                if attention.contains(v.item.as_str()) {
                    e.2 += usize::from(right);
                    e.3 += 1;
                }
            }
        }
        let raters = per
            .into_iter()
            .map(|(r, (ok, n, passed, checks))| {
                let score = GoldScore {
                    gold_answers: n,
                    gold_accuracy: ok as f64 / n as f64,
                    attention_checks: (checks > 0).then_some(checks),
                    attention_passed: (checks > 0).then_some(passed),
                };
                (r.to_string(), score)
            })
            .collect();
        out.insert(
            "gold".into(),
            DesignResults::Gold(GoldResults { items: gold.len(), attention_checks: attention.len(), raters }),
        );
    }
    // Where the votes come from (`server`, `real-raters`, `cleanlab-mturk`, `csv`, …), so that a
    // report can say whose judgement the rectified error rests on.
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    for v in votes {
        *sources.entry(v.source.clone()).or_default() += 1;
    }
    ResultsFile {
        rule: agg.rule,
        time_filter: TimeFilter { min_seconds: agg.min_time, max_seconds: agg.max_time, votes_dropped: dropped },
        votes: votes.len(),
        sources,
        designs: out,
        study: None,
        study_run: None,
        version: None,
        sharing: None,
        exclusion: None,
    }
}

/// Per rater: (gold answers right, gold answers).
pub fn gold_scores(items: &[Item], votes: &[Vote]) -> BTreeMap<String, (usize, usize)> {
    let gold: HashMap<&str, &Answer> = items.iter().filter_map(|i| Some((i.key.as_str(), i.gold.as_ref()?))).collect();
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for v in votes {
        if let Some(g) = gold.get(v.item.as_str()) {
            let e = out.entry(v.rater.clone()).or_default();
            e.0 += usize::from(**g == v.answer);
            e.1 += 1;
        }
    }
    out
}
