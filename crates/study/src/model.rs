//! The data of a rating study, shared by the designs, the importers, the server and the
//! aggregation: items (what a rater is asked), answers, and votes (who answered what).
//!
//! An item's `key` is stable and human-readable (`relevance-top1/<file>/<class>`), so votes
//! imported from elsewhere and votes cast on the server land on the same item.

use serde::{Deserialize, Serialize};

/// The designs of Stock & Cisse's studies (issue #6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Design {
    /// A top-1-misclassified image with the predicted class: "Is class C relevant?" yes / no.
    RelevanceTop1,
    /// The image with the model's top-5 classes; the rater ticks every relevant one.
    RelevanceTop5,
    /// An adversarial image with its adversarial prediction; arm `whole` or `explanation`.
    Adversarial,
    /// 6 classes shown by 6 images each and a target image: which class is it?
    Assignment,
    /// "Does this image show A?" for bias analysis.
    Attribute,
}

impl Design {
    /// The name used in keys, URLs and results (`relevance-top1` …).
    pub fn name(self) -> &'static str {
        match self {
            Design::RelevanceTop1 => "relevance-top1",
            Design::RelevanceTop5 => "relevance-top5",
            Design::Adversarial => "adversarial",
            Design::Assignment => "assignment",
            Design::Attribute => "attribute",
        }
    }

    /// Every design.
    pub const ALL: [Design; 5] =
        [Design::RelevanceTop1, Design::RelevanceTop5, Design::Adversarial, Design::Assignment, Design::Attribute];

    /// The design with this name.
    pub fn parse(name: &str) -> Option<Design> {
        Design::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// An ImageNet class as a rater sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRef {
    /// Class index (0–999).
    pub class: i64,
    /// WordNet name(s), e.g. `tench, Tinca tinca`.
    pub name: String,
    /// WordNet gloss (definition), when known.
    pub gloss: String,
}

/// An image shown to raters: a path the server may read (relative to the run directory, or
/// absolute), never shown to raters themselves (they get `/api/image/...` URLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// File path.
    pub path: String,
}

/// One class offered in an assignment item, shown by example images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignOption {
    /// The class.
    pub class: ClassRef,
    /// Its example images (6 in the paper: 6 prototypes, or 3 prototypes + 3 criticisms).
    pub images: Vec<ImageRef>,
}

/// What a rater is asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Question {
    /// "Is class C relevant for this image?" — answered `yes` / `no` (imports may say `maybe`).
    Relevance {
        /// The image.
        image: ImageRef,
        /// The class asked about.
        class: ClassRef,
    },
    /// "Tick every class relevant for this image" — answered with `classes`.
    MultiRelevance {
        /// The image.
        image: ImageRef,
        /// The classes offered (the model's top 5).
        classes: Vec<ClassRef>,
    },
    /// "Which class does this image belong to?" — answered with `option` (0-based).
    Assignment {
        /// The image to assign.
        target: ImageRef,
        /// The classes, each with its example images.
        options: Vec<AssignOption>,
    },
    /// "Does this image show A?" — answered `yes` / `no`.
    Attribute {
        /// The image.
        image: ImageRef,
        /// The attribute.
        attribute: String,
    },
}

/// A rater's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Answer {
    /// Relevant / shows the attribute.
    Yes,
    /// Not relevant / does not show it.
    No,
    /// Unsure (ReaL's raters could say so).
    Maybe,
    /// The classes ticked (multi-relevance).
    Classes(Vec<i64>),
    /// The option picked (assignment), 0-based.
    Option(usize),
}

/// One question to rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Stable unique key, `<design>/<file>/<detail>`.
    pub key: String,
    /// Its design.
    pub design: Design,
    /// Sub-population or condition, e.g. `top1-misclassified`, `adversarial/6p`,
    /// `mmd/3p3c` (aggregation reports per variant).
    pub variant: Option<String>,
    /// The arm of a between-subjects design (`whole` / `explanation`): a rater who answered one
    /// arm of a design never gets the other.
    pub arm: Option<String>,
    /// The image's id in the run, when it comes from one.
    pub image_id: Option<i64>,
    /// The question.
    pub question: Question,
    /// The known answer of a gold item.
    pub gold: Option<Answer>,
    /// The correct answer for scoring, when defined (e.g. the target's true option in an
    /// assignment item) — unlike `gold`, not used to check raters.
    pub truth: Option<Answer>,
}

/// Who answered what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// The item's key.
    pub item: String,
    /// The rater (an opaque id: a server rater id or an importer's rater id).
    pub rater: String,
    /// The answer.
    pub answer: Answer,
    /// Time on task in seconds, as the server measured it (`None` for imported votes).
    pub seconds: Option<f64>,
    /// Where the vote comes from: `server`, `real-raters`, `cleanlab-mturk`, `csv`, `jsonl` ….
    pub source: String,
}
