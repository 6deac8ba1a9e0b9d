//! The JSON files of a run directory, one serde type each, shared by the stage that writes
//! the file (`rectify-pipeline`) and the report that reads it (`rectify-report`), and where
//! they lie ([`layout`]). A field written as `f64` may hold NaN, which JSON writes as `null`;
//! it reads back as NaN.
//!
//! | file | type |
//! |---|---|
//! | `summary.json` | [`EvalSummary`] |
//! | `attack/<name>/summary.json` | [`AttackSummary`] |
//! | `explain/<name>/summary.json` | [`ExplainSummary`] |
//! | `explain/<name>/<file>.json` | [`Explanation`] |
//! | `criticize/<name>/selection.json` | [`SelectionFile`] |

use serde::{Deserialize, Serialize};

use crate::provenance::Provenance;

/// Readers for `#[serde(deserialize_with = ..)]` of floats that may be NaN, which serde_json writes
/// as `null`: they read `null` back as NaN (here and in the other crates' artifact types).
pub mod nan {
    use serde::{Deserialize, Deserializer};

    /// `f64`.
    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    /// `Vec<f64>`.
    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }

    /// `[f64; 2]` (an interval).
    pub fn pair<'de, D: Deserializer<'de>>(d: D) -> Result<[f64; 2], D::Error> {
        let [a, b] = <[Option<f64>; 2]>::deserialize(d)?;
        Ok([a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)])
    }

    /// `Option<[f64; 2]>`: `null` is `None`.
    pub fn option_pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
        Ok(Option::<[Option<f64>; 2]>::deserialize(d)?.map(|[a, b]| [a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)]))
    }
}

/// One failed image, as listed in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedImage {
    /// File relative to the images root.
    pub file: String,
    /// Stage that failed.
    pub stage: String,
    /// Why.
    pub message: String,
}

/// A folder that could not be listed or a symbolic-link loop, skipped while listing images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Path relative to the root, `/`-separated.
    pub file: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Timing of one invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Images evaluated by this invocation.
    pub images: usize,
    /// Wall-clock seconds of the evaluation loop.
    pub seconds: f64,
    /// images / seconds.
    pub images_per_s: f64,
    /// Wall-clock seconds of each batch, in order (benchmarks take their median).
    pub batch_seconds: Vec<f64>,
    /// The median of `batch_seconds`.
    pub seconds_per_batch_median: Option<f64>,
}

/// `summary.json` of an eval run (rebuilt from the store by every eval and merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Images attempted (evaluated + failed).
    pub n: usize,
    /// Images with a prediction.
    pub evaluated: usize,
    /// Images that could not be evaluated (unreadable files).
    pub failed: usize,
    /// Evaluated images with a true label (the denominator of top1/top5).
    pub labeled: usize,
    /// Evaluated images whose label was expected (a label file was given) but has no row there.
    pub unlabeled: usize,
    /// Those images' files.
    pub unlabeled_files: Vec<String>,
    /// Top-1 accuracy over labelled evaluated images.
    pub top1: Option<f64>,
    /// Top-5 accuracy over labelled evaluated images.
    pub top5: Option<f64>,
    /// Evaluated images with a non-empty ReaL label set (the denominator of real_top1/real_top5).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub real_n: Option<usize>,
    /// ReaL top-1: the top class is in the image's ReaL set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub real_top1: Option<f64>,
    /// ReaL top-5: any of the top 5 is in the image's ReaL set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub real_top5: Option<f64>,
    /// Every failed image and why.
    pub errors: Vec<FailedImage>,
    /// Files under the images folder skipped because their extension is not an image's.
    pub skipped_non_images: u64,
    /// Folders that could not be listed and symbolic-link loops, skipped, with the reason.
    pub skipped: Vec<Skipped>,
    /// How the predictions were made.
    pub provenance: Provenance,
    /// Throughput of the invocation that wrote this file, when it evaluated images.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throughput: Option<Throughput>,
}

/// `attack/<name>/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    /// The attack run's name (not in the file: its folder's name).
    #[serde(skip)]
    pub name: String,
    /// Images attacked.
    pub n: usize,
    /// Top-1 accuracy (prediction = true label) after each step; entry 0 is clean.
    #[serde(deserialize_with = "nan::vec")]
    pub accuracy_per_step: Vec<f64>,
    /// For targeted attacks: fraction predicted as the target after each step.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub success_per_step: Option<Vec<f64>>,
    /// Images whose prediction flipped at some step (for targeted attacks: reached the target).
    pub flipped: usize,
    /// Histogram of steps_to_flip: entry s counts images that flipped first at step s.
    pub steps_to_flip_histogram: Vec<usize>,
    /// Accuracy of the saved 8-bit PNGs re-evaluated (with --save-images).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quantized_accuracy: Option<f64>,
    /// The attack's parameters and the model's provenance.
    pub provenance: Provenance,
    /// Throughput of the invocation that wrote this file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throughput: Option<Throughput>,
}

/// Per-image timing of an explain invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainTiming {
    /// Images explained by the invocation.
    pub images: usize,
    /// Seconds each took, in order.
    pub seconds_per_image: Vec<f64>,
    /// Their median.
    pub seconds_per_image_median: Option<f64>,
}

/// `explain/<name>/summary.json` (fields in the file's order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainSummary {
    /// Mean area under the explanation paths.
    #[serde(deserialize_with = "nan::f64")]
    pub auc_path_mean: f64,
    /// Mean area under the random orders' paths.
    #[serde(deserialize_with = "nan::f64")]
    pub auc_random_mean: f64,
    /// Mean R² of the surrogates.
    #[serde(deserialize_with = "nan::f64")]
    pub mean_r2: f64,
    /// Mean superpixels per image.
    #[serde(deserialize_with = "nan::f64")]
    pub mean_segments: f64,
    /// Images explained (this and earlier invocations).
    pub n: usize,
    /// Fraction of them whose explanation path's area exceeds the random order's.
    #[serde(deserialize_with = "nan::f64")]
    pub path_beats_random: f64,
    /// The explanations' parameters and the model's provenance.
    pub provenance: Provenance,
    /// Wall-clock seconds of the invocation.
    pub seconds: f64,
    /// Its timing per image.
    pub throughput: ExplainTiming,
}

/// `explain/<name>/<file>.json`: one image's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// File relative to the images root.
    pub file: String,
    /// Its true label.
    pub true_label: Option<i64>,
    /// The class explained (the model's top class).
    pub label: i64,
    /// Its name.
    pub label_name: String,
    /// The model's probability of it.
    #[serde(deserialize_with = "nan::f64")]
    pub probability: f64,
    /// Superpixels.
    pub segments: usize,
    /// The surrogate's weight of every superpixel.
    #[serde(deserialize_with = "nan::vec")]
    pub weights: Vec<f64>,
    /// Superpixels by decreasing weight (the explanation).
    pub ranked: Vec<usize>,
    /// The surrogate's intercept.
    #[serde(deserialize_with = "nan::f64")]
    pub intercept: f64,
    /// Its weighted R².
    #[serde(deserialize_with = "nan::f64")]
    pub r2: f64,
    /// Its prediction on the whole image.
    #[serde(deserialize_with = "nan::f64")]
    pub local_pred: f64,
    /// The class probability as superpixels are shown in the explanation's order.
    #[serde(deserialize_with = "nan::vec")]
    pub path: Vec<f64>,
    /// The same in a random order.
    #[serde(deserialize_with = "nan::vec")]
    pub random_path: Vec<f64>,
    /// Area under `path`.
    #[serde(deserialize_with = "nan::f64")]
    pub auc_path: f64,
    /// Area under `random_path`.
    #[serde(deserialize_with = "nan::f64")]
    pub auc_random: f64,
    /// Seed of the masks and the random order.
    pub seed: u64,
    /// The explanation's parameters.
    pub params: serde_json::Value,
}

/// Scores in the order of the picks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PickScores {
    /// One per prototype.
    #[serde(deserialize_with = "nan::vec", default)]
    pub prototypes: Vec<f64>,
    /// One per criticism.
    #[serde(deserialize_with = "nan::vec", default)]
    pub criticisms: Vec<f64>,
}

/// One group of `selection.json` (fields in the file's order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedGroup {
    /// Criticisms' files, in order.
    pub criticism_files: Vec<String>,
    /// Criticisms' image ids, in order.
    pub criticisms: Vec<i64>,
    /// The group's name.
    pub group: String,
    /// Anything the reader should know about the group.
    pub note: Option<String>,
    /// Prototypes' files, in order.
    pub prototype_files: Vec<String>,
    /// Prototypes' image ids, in order.
    pub prototypes: Vec<i64>,
    /// The selector's scores of the picks.
    pub scores: PickScores,
    /// Images in the group.
    pub size: usize,
}

/// `criticize/<name>/selection.json` (fields in the file's order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionFile {
    /// One entry per group, in the grouping's order.
    pub groups: Vec<SelectedGroup>,
    /// `mmd`, `adversarial`, `probability` or `random`.
    pub method: String,
    /// What the ids are.
    pub note: String,
    /// The selector's settings, the counts and the grouping.
    pub params: serde_json::Value,
    /// The criticize run's provenance.
    pub provenance: Provenance,
    /// Seconds the selection took.
    pub seconds: f64,
}

/// Where a run directory's files lie.
pub mod layout {
    use std::path::{Path, PathBuf};

    /// A name as a file name: letters, digits, `-`, `_` and `.` kept, the rest `_` (gallery
    /// PNGs are named so after their group).
    pub fn file_safe(name: &str) -> String {
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
    }

    /// An image's file (relative to the images root) as one path component: `/` and `\` → `__`.
    pub fn image_stem(file: &str) -> String {
        file.replace(['/', '\\'], "__")
    }

    /// `attack/<name>`, relative to the run directory.
    pub fn attack_dir(name: &str) -> PathBuf {
        Path::new("attack").join(name)
    }

    /// `attack/<name>/images/<stem>.png`: an adversarial image, relative to the run directory
    /// (as the store records it).
    pub fn adversarial_png(name: &str, file: &str) -> String {
        format!("attack/{name}/images/{}.png", image_stem(file))
    }

    /// `explain/<name>`, relative to the run directory.
    pub fn explain_dir(name: &str) -> PathBuf {
        Path::new("explain").join(name)
    }

    /// `explain/<name>/<stem>.json`: an image's explanation, relative to the run directory (as
    /// the store records it); its pictures lie beside it ([`explanation_png`]).
    pub fn explanation_json(name: &str, file: &str) -> String {
        format!("explain/{name}/{}.json", image_stem(file))
    }

    /// The picture `kind` (`attention`, `overlay`, `heatmap`) beside an explanation's JSON.
    pub fn explanation_png(json: &Path, kind: &str) -> PathBuf {
        let stem = json.to_string_lossy();
        PathBuf::from(format!("{}.{kind}.png", stem.trim_end_matches(".json")))
    }

    /// `criticize/<name>`, relative to the run directory.
    pub fn criticize_dir(name: &str) -> PathBuf {
        Path::new("criticize").join(name)
    }

    /// A group's gallery PNG inside a criticize folder.
    pub fn gallery_png(criticize_dir: &Path, group: &str) -> PathBuf {
        criticize_dir.join("galleries").join(format!("{}.png", file_safe(group)))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_become_file_names() {
            assert_eq!(file_safe("151 Chihuahua"), "151_Chihuahua");
            assert_eq!(file_safe("a/b"), "a_b");
            assert_eq!(image_stem("n01/x.JPEG"), "n01__x.JPEG");
            assert_eq!(adversarial_png("ifgsm", "a/b.JPEG"), "attack/ifgsm/images/a__b.JPEG.png");
            let json = Path::new("run").join(explanation_json("m", "x.JPEG"));
            assert_eq!(explanation_png(&json, "overlay"), Path::new("run/explain/m/x.JPEG.overlay.png"));
        }
    }
}
