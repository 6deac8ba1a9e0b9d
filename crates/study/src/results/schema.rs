//! The types of `results.json`: one for the writer (`rectify study results`) and the readers
//! (the report, `rectify study`'s summary lines).

use std::collections::BTreeMap;

use rectify_store::artifacts::nan;
use serde::{Deserialize, Serialize};

use crate::aggregate::{RaterAgreement, Rule};

/// `results.json` (and `results-all.json`, every vote counted): what [`crate::results::results`] computes, with
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
    /// When the study stopped asking once the rule had decided: how, and which questions
    /// `histogram`, `fleiss_kappa` and `rater_agreement` come from (those asked all N times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping: Option<StoppingCounts>,
}

/// `stopping` of [`RelevanceCounts`]: a study that stopped asking once the rule had decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppingCounts {
    /// The yes answers that decide yes.
    pub k: usize,
    /// The answers an item gets at most.
    pub n: usize,
    /// The share of items drawn to get all N answers.
    pub full_fraction: f64,
    /// Items of the design drawn to get all N answers: the questions of `histogram`,
    /// `fleiss_kappa` and `rater_agreement`.
    pub full_items: usize,
    /// Questions decided with fewer than N answers.
    pub decided_early: usize,
    /// Answers counted on the design's questions.
    pub answers: usize,
    /// What asking every question N times would have taken.
    pub answers_without_stopping: usize,
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
    /// When the study rated a random sample of the mistakes: the estimate for all of them,
    /// which `rectified_top1_error` and its interval then are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::sampling::Estimate>,
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
