//! The typed content of `report.json`: one list per report section, each row naming the run it
//! comes from (`run`, an index into [`Report::runs`]). Every number the HTML page shows is a
//! value of this tree, addressed by a JSON pointer (`/table1/0/top1`).
//!
//! Values a stage could not compute (an empty denominator: `NaN` in the producing code, `null`
//! in its JSON) are `None` here and show as "—".

use serde::{Deserialize, Serialize};

use crate::bias::BiasFile;

/// The whole audit report (`report.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `rectify-report <version>`.
    pub generator: String,
    /// The runs (one per model), in the order given.
    pub runs: Vec<RunInfo>,
    /// Table 1 analog, part 1: accuracy of each run's predictions.
    pub table1: Vec<Table1Row>,
    /// Table 1 analog, part 2: standard vs rectified error per relevance design.
    pub rectified: Vec<RectifiedRow>,
    /// How each run's study aggregated its votes.
    pub studies: Vec<StudyInfo>,
    /// Positive answers per question, per relevance design (the paper's Fig. 2 and 4).
    pub histograms: Vec<Histogram>,
    /// Calibration of each run's top-1 probabilities: ECE and the reliability diagram.
    #[serde(default)]
    pub calibration: Vec<CalibrationRow>,
    /// Paired comparisons of the runs' top-1 correctness on the images they share (Table 1).
    #[serde(default)]
    pub comparisons: Vec<ComparisonRow>,
    /// Standard and rectified top-1 rankings of the runs, when several have rectified errors.
    #[serde(default)]
    pub ranking: Option<Ranking>,
    /// Per class of each run: errors, rectified error, attack and explanation figures.
    #[serde(default)]
    pub classes: Vec<ClassRow>,
    /// The most frequent (true → predicted) mistakes of each run, and what raters said of them.
    #[serde(default)]
    pub confusions: Vec<ConfusionRow>,
    /// Every top-1 mistake of each run with what raters said of it (the paper's Fig. 3).
    #[serde(default)]
    pub mistakes: Vec<MistakeSet>,
    /// Per-class differences of top-1 accuracy between compared runs (largest first).
    #[serde(default)]
    pub class_differences: Vec<ClassDifference>,
    /// Top-1 error per ImageNet-X factor against the overall error (error ratios).
    #[serde(default)]
    pub factors: Vec<FactorRow>,
    /// Thumbnails (JPEG) of the images the page shows, by run and file; not part of
    /// `report.json`.
    #[serde(skip)]
    pub thumbnails: std::collections::BTreeMap<(usize, String), Vec<u8>>,
    /// Accuracy after each attack step.
    pub attacks: Vec<AttackCurve>,
    /// Table 2 analog: adversarial classes called relevant, per arm.
    pub table2: Vec<Table2Row>,
    /// Explanation examples and their paths.
    pub explanations: Vec<ExplainSet>,
    /// Prototype / criticism galleries per selector.
    pub galleries: Vec<Gallery>,
    /// Table 3 analog: assignment success per condition.
    pub table3: Vec<Table3Row>,
    /// Bias tables (`RUN_DIR/bias/*.json`).
    pub bias: Vec<BiasTable>,
}

/// One run directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The directory's name.
    pub name: String,
    /// The directory as given.
    pub dir: String,
    /// The evaluation's provenance (from `summary.json`), when the run was evaluated.
    pub provenance: Option<EvalProvenance>,
    /// The command of every stage found in the directory.
    pub stages: Vec<StageCommand>,
    /// What this run lacks, per section, and how to make it.
    pub missing: Vec<Missing>,
}

/// The model and preprocessing behind a run's predictions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalProvenance {
    /// Architecture (`resnet101` …).
    pub arch: String,
    /// Where the weights came from.
    pub weights: String,
    /// SHA-256 of the weights file.
    pub weights_sha256: String,
    /// Preprocessing, in words.
    pub preprocessing: String,
    /// Device the predictions were computed on.
    pub device: String,
    /// rectify's version.
    pub version: String,
    /// The command line.
    pub command: String,
}

/// The command line that produced one stage's output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCommand {
    /// `eval`, `attack`, `explain`, `criticize`.
    pub stage: String,
    /// The output's name (`attack/<name>`), empty for eval.
    pub name: String,
    /// The command line.
    pub command: String,
    /// rectify's version.
    pub version: String,
}

/// A report section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// 1. Provenance.
    Provenance,
    /// 2. Table 1 analog.
    Table1,
    /// 3. Positive-answer histograms.
    Histograms,
    /// 4. Accuracy per attack step.
    Attacks,
    /// 5. Table 2 analog.
    Table2,
    /// 6. Explanations.
    Explanations,
    /// 7. Galleries.
    Galleries,
    /// 8. Table 3 analog.
    Table3,
    /// 9. Bias tables.
    Bias,
}

impl Section {
    /// Every section, in the report's order.
    pub const ALL: [Section; 9] = [
        Section::Provenance,
        Section::Table1,
        Section::Histograms,
        Section::Attacks,
        Section::Table2,
        Section::Explanations,
        Section::Galleries,
        Section::Table3,
        Section::Bias,
    ];
}

/// Data a section lacks for one run, and the command that makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    /// The section.
    pub section: Section,
    /// What is missing, in words.
    pub what: String,
    /// The command to run.
    pub command: String,
}

/// A closed interval; ends are `None` when the producer could not compute them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub lo: Option<f64>,
    /// Upper end.
    pub hi: Option<f64>,
}

/// Accuracy of one run (`summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table1Row {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// Architecture.
    pub arch: String,
    /// Images with a prediction.
    pub evaluated: u64,
    /// Labelled images (the denominator of top-1 / top-5).
    pub labeled: u64,
    /// Top-1 accuracy.
    pub top1: Option<f64>,
    /// Top-5 accuracy.
    pub top5: Option<f64>,
    /// Images with a non-empty ReaL set, when ReaL labels were given.
    pub real_n: Option<u64>,
    /// ReaL top-1 accuracy.
    pub real_top1: Option<f64>,
    /// ReaL top-5 accuracy.
    pub real_top5: Option<f64>,
}

/// Calibration of one run's predictions (`predictions.csv`: the top class's probability and
/// whether it is the label, over the labelled images), in equal-width bins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRow {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// Labelled images.
    pub n: u64,
    /// Bins (15, as is customary).
    pub bins: u64,
    /// Expected calibration error.
    pub ece: Option<f64>,
    /// Top-1 accuracy over the same images.
    pub accuracy: Option<f64>,
    /// Mean top-1 probability.
    pub mean_confidence: Option<f64>,
    /// Images per bin.
    pub bin_count: Vec<u64>,
    /// Accuracy per bin (`None` when empty).
    pub bin_accuracy: Vec<Option<f64>>,
    /// Mean confidence per bin (`None` when empty).
    pub bin_confidence: Vec<Option<f64>>,
}

/// Run `b` against run `a` (the first run given) on the labelled images both evaluated (matched
/// by file): top-1 accuracies, their paired difference with a 95 % paired-bootstrap interval
/// (2,000 resamples, seed 0), and the exact McNemar test of the discordant pairs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// The reference run (index into [`Report::runs`]).
    pub a: usize,
    /// The compared run.
    pub b: usize,
    /// Images labelled and evaluated by both.
    pub n: u64,
    /// Top-1 accuracy of `a` on them.
    pub top1_a: Option<f64>,
    /// Top-1 accuracy of `b` on them.
    pub top1_b: Option<f64>,
    /// `top1_b − top1_a`.
    pub difference: Option<f64>,
    /// Its 95 % paired-bootstrap interval.
    pub ci: Interval,
    /// Images only `a` gets right.
    pub only_a: u64,
    /// Images only `b` gets right.
    pub only_b: u64,
    /// Two-sided exact McNemar p-value.
    pub p_mcnemar: f64,
}

/// The runs ordered by top-1 error and by rectified top-1 error (best first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// Run names by standard top-1 error.
    pub standard: Vec<String>,
    /// Run names by rectified top-1 error.
    pub rectified: Vec<String>,
    /// Whether the two orders differ.
    pub differs: bool,
}

/// One class of one run (the labelled images whose label it is).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassRow {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The class index.
    pub class: i64,
    /// Its name (ImageNet's, for 1,000-class models; else the index).
    pub name: String,
    /// Labelled images of the class.
    pub images: u64,
    /// Top-1 error over them.
    pub top1_error: Option<f64>,
    /// Top-5 error.
    pub top5_error: Option<f64>,
    /// Rectified top-1 error (mistakes raters called relevant count as correct), with a study.
    pub rectified_error: Option<f64>,
    /// Median steps to flip of the class's attacked images that flipped (first attack run).
    pub steps_to_flip_median: Option<f64>,
    /// Mean area under the explanation path of the class's explained images.
    pub auc_path_mean: Option<f64>,
    /// Images of the class with ReaL labels (none is `None`: no ReaL labels given).
    #[serde(default)]
    pub real_n: Option<u64>,
    /// ReaL top-1 accuracy over them: the predicted class is one of the image's ReaL labels.
    #[serde(default)]
    pub real_top1: Option<f64>,
}

/// The top-1 mistakes of one run (the paper's Fig. 3: the image, the predicted class in red,
/// the label in black, and how many raters agreed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MistakeSet {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The rule: yes answers needed (`k` of `n`), when a relevance-top1 study was aggregated.
    pub k: Option<u64>,
    /// Answers the rule counts.
    pub n: Option<u64>,
    /// Top-1 mistakes on labelled images.
    pub count: u64,
    /// Mistakes decided relevant (rectified).
    pub rectified: u64,
    /// Mistakes decided not relevant (confirmed errors).
    pub confirmed: u64,
    /// Mistakes not decided (too few answers, or not asked).
    pub undecided: u64,
    /// Every mistake, by agreement (yes / answers, highest first; undecided last; ties by file).
    pub items: Vec<Mistake>,
    /// Thumbnails embedded in the page (of these mistakes and the run's confusions).
    pub thumbnails: u64,
    /// Images that could not be made into thumbnails.
    pub thumbnails_failed: u64,
    /// The first of those, and why.
    pub thumbnail_failure: Option<String>,
}

/// One top-1 mistake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mistake {
    /// The image file.
    pub file: String,
    /// The true label.
    pub label: i64,
    /// Its name.
    pub label_name: String,
    /// The predicted class.
    pub class: i64,
    /// Its name.
    pub class_name: String,
    /// Yes answers counted by the rule.
    pub yes: u64,
    /// Answers counted by the rule (0 when undecided).
    pub votes: u64,
    /// `rectified`, `error`, `unrated` (asked, too few answers), `not-asked`, or `no-study`.
    pub outcome: String,
}

/// The per-class difference of top-1 accuracy between two runs on the images both evaluated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassDifference {
    /// The run compared against (index into [`Report::runs`]).
    pub a: usize,
    /// The run compared.
    pub b: usize,
    /// The class.
    pub class: i64,
    /// Its name.
    pub name: String,
    /// Shared images of the class.
    pub n: u64,
    /// Top-1 accuracy of `a` on them.
    pub top1_a: f64,
    /// Top-1 accuracy of `b`.
    pub top1_b: f64,
    /// `top1_b - top1_a`.
    pub difference: f64,
}

/// Top-1 error of one run on the images with one ImageNet-X factor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FactorRow {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The factor (`pose`, `background` …).
    pub factor: String,
    /// Annotated images of the run with the factor.
    pub images: u64,
    /// Share of the run's annotated images that have it.
    pub share: Option<f64>,
    /// Top-1 error on them.
    pub error: Option<f64>,
    /// Its error ratio: `error` over the top-1 error on all annotated images (ImageNet-X's
    /// measure; above 1, the factor makes mistakes likelier).
    pub ratio: Option<f64>,
}

/// A (true → predicted) pair of top-1 mistakes of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfusionRow {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The true class.
    pub label: i64,
    /// Its name.
    pub label_name: String,
    /// The predicted class.
    pub class: i64,
    /// Its name.
    pub class_name: String,
    /// Mistakes of this pair.
    pub count: u64,
    /// Of them, decided by raters.
    pub rated: u64,
    /// Of those, predicted class called relevant.
    pub accepted: u64,
    /// accepted / rated.
    pub acceptance: Option<f64>,
    /// Up to three of the images.
    pub files: Vec<String>,
}

/// Standard and rectified error of one relevance design of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RectifiedRow {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The design's key in `results.json` (`relevance-top1`, `relevance-top5/<variant>`).
    pub design: String,
    /// `top-1` or `top-5`.
    pub metric: String,
    /// Labelled images.
    pub n: u64,
    /// Standard error rate.
    pub error: Option<f64>,
    /// Its 95 % bootstrap interval.
    pub error_ci: Interval,
    /// Rectified error rate.
    pub rectified_error: Option<f64>,
    /// Its 95 % bootstrap interval.
    pub rectified_ci: Interval,
    /// Misclassified images.
    pub errors: u64,
    /// Of those, rectified by the raters.
    pub rectified: u64,
    /// Misclassified images with enough answers.
    pub rated: u64,
    /// Misclassified images asked about but short of answers (kept as errors).
    pub unrated: u64,
    /// Fleiss' κ of the answers.
    pub fleiss_kappa: Option<f64>,
    /// Median over raters of their agreement with the other raters' majority.
    #[serde(default)]
    pub median_rater_agreement: Option<f64>,
    /// Median Cohen's κ over rater pairs sharing enough questions.
    #[serde(default)]
    pub median_pair_kappa: Option<f64>,
}

/// How a run's study turned votes into decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StudyInfo {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The rule, in words (`k-of-n 4/5`).
    pub rule: String,
    /// Votes in the store.
    pub votes: u64,
    /// Votes dropped by the time filter.
    pub votes_dropped: u64,
    /// Whose votes, in words, with counts: `ReaL raters (Beyer et al. 2020, imported): 85`.
    #[serde(default)]
    pub sources: String,
    /// Raters and votes left out by quality control, and why, in words (`none` when none).
    #[serde(default)]
    pub exclusions: String,
    /// When several models' runs share the study: which, and the questions sharing saved, in
    /// words (empty when the study is the run's alone).
    #[serde(default)]
    pub sharing: String,
    /// When the study stopped asking once the rule had decided (issue #30): per design, the
    /// answers asked against asking everyone, and which questions the histogram, Fleiss' κ and
    /// rater agreement come from, in words (empty, and left out, when every question was asked N
    /// times).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stopping: String,
    /// When the study rated a random sample of the mistakes: the estimate, in words ("estimated
    /// from a sample of m of M mistakes"; empty, and left out, otherwise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sampling: String,
}

/// Questions by number of positive answers (bin i = i yes answers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The design's key.
    pub design: String,
    /// Questions per bin.
    pub counts: Vec<u64>,
}

/// Accuracy after each step of one attack (`attack/<name>/summary.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackCurve {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The attack's directory name.
    pub name: String,
    /// Images attacked.
    pub n: u64,
    /// Images whose prediction flipped.
    pub flipped: Option<u64>,
    /// Accuracy after the image was saved as 8-bit PNG.
    pub quantized_accuracy: Option<f64>,
    /// Accuracy before the first step (index 0) and after each step.
    pub accuracy_per_step: Vec<Option<f64>>,
}

/// Share of adversarial images whose adversarial class people call relevant, per arm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table2Row {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// `whole` or `explanation`.
    pub arm: String,
    /// Items.
    pub items: u64,
    /// Items with enough answers.
    pub rated: u64,
    /// Items short of answers.
    pub unrated: u64,
    /// Share called relevant.
    pub yes_rate: Option<f64>,
    /// Its 95 % bootstrap interval.
    pub ci: Interval,
    /// Fleiss' κ.
    pub fleiss_kappa: Option<f64>,
}

/// A PNG beside a result, embedded in the page (its bytes are not part of `report.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Path relative to the run directory.
    pub file: String,
    /// The PNG bytes (empty when the file is missing).
    #[serde(skip)]
    pub png: Vec<u8>,
}

/// One explain run (`explain/<name>/`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExplainSet {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The directory name.
    pub name: String,
    /// Images explained.
    pub n: u64,
    /// Share of images whose explanation path beats the random path (higher AUC).
    pub path_beats_random: Option<f64>,
    /// Mean AUC of the explanation paths.
    pub auc_path_mean: Option<f64>,
    /// Mean AUC of the random paths.
    pub auc_random_mean: Option<f64>,
    /// The examples shown.
    pub examples: Vec<ExplainExample>,
    /// Explained images not shown.
    pub more: u64,
}

/// One explained image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExplainExample {
    /// The image file.
    pub file: String,
    /// The explained class.
    #[serde(default)]
    pub label: i64,
    /// The image's true label, when known.
    #[serde(default)]
    pub true_label: Option<i64>,
    /// The explained class's name.
    pub label_name: String,
    /// Its probability on the whole image.
    pub probability: Option<f64>,
    /// Area under the explanation path.
    pub auc_path: Option<f64>,
    /// Area under the random path.
    pub auc_random: Option<f64>,
    /// Probability of the class with the top-k segments shown, k = 0, 1, ….
    pub path: Vec<Option<f64>>,
    /// The same for segments in random order.
    pub random_path: Vec<Option<f64>>,
    /// The attention image.
    pub attention: Image,
    /// The overlay image.
    pub overlay: Image,
}

/// One selector's picks (`criticize/<name>/`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gallery {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The directory name.
    pub name: String,
    /// The selector (`mmd`, `adversarial` …).
    pub method: String,
    /// Groups in the selection.
    pub groups_total: u64,
    /// The groups shown.
    pub groups: Vec<GalleryGroup>,
    /// Groups not shown.
    pub more: u64,
}

/// One group's prototypes and criticisms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GalleryGroup {
    /// The group (class) name.
    pub group: String,
    /// Images in the group.
    pub size: u64,
    /// Prototypes picked.
    pub prototypes: u64,
    /// Criticisms picked.
    pub criticisms: u64,
    /// Prototype files.
    pub prototype_files: Vec<String>,
    /// Criticism files.
    pub criticism_files: Vec<String>,
    /// The gallery image (prototypes above, criticisms below).
    pub image: Image,
}

/// Assignment success of one condition (the paper's Table 3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table3Row {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The condition (`<criticize run>/6p`, `<criticize run>/3p3c` …).
    pub condition: String,
    /// Mean success rate over raters.
    pub success_mean: Option<f64>,
    /// Its standard deviation over raters.
    pub success_std: Option<f64>,
    /// Raters.
    pub raters: u64,
    /// Answers.
    pub answers: u64,
}

/// One bias file of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasTable {
    /// Index into [`Report::runs`].
    pub run: usize,
    /// The file, relative to the run directory.
    pub file: String,
    /// Its content.
    #[serde(flatten)]
    pub table: BiasFile,
}
