//! Rating studies (Stock & Cisse, ECCV 2018, §3.1–3.3): the questions people answer about a
//! model's mistakes, real human votes imported from ReaL and cleanlab, and the aggregation that
//! turns votes into rectified errors.
//!
//! * [`model`]: items, questions, answers, votes — shared with the server (`rectify-web`);
//! * [`designs`]: items generated from a run (relevance, adversarial, assignment, attribute);
//! * [`import`]: ReaL's raw rater votes, cleanlab's MTurk votes, CSV and JSONL;
//! * [`aggregate`]: k-of-n, majority and Dawid–Skene decisions, Fleiss' κ, Cohen's κ, bootstrap;
//! * [`export`]: the votes as CSV or JSONL (CLI and dashboard);
//! * [`labelstudio`]: items as Label Studio tasks, and Label Studio exports as votes;
//! * [`results`]: `results.json`, per design;
//! * [`stopping`]: stopping once the rule has decided, and replaying votes under it;
//! * [`sampling`]: rating a random sample of the mistakes, and the estimate with its interval;
//! * [`db`]: the study database ([`db::StudyDb`], SQLite or PostgreSQL, its migrations):
//!   items, raters, leases, votes, enrollment from recruitment platforms, the dashboard's
//!   progress. `rectify-web` serves it over HTTP.

pub mod aggregate;
#[cfg(feature = "db")]
pub mod db;
pub mod designs;
pub mod export;
pub mod import;
pub mod labelstudio;
pub mod model;
pub mod results;
pub mod sampling;
pub mod stopping;

pub use aggregate::{Rule, RuleSpec};
pub use model::{Answer, AssignOption, ClassRef, Design, ImageRef, Item, Question, Vote};

/// What can go wrong in a study.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A file that cannot be imported.
    #[error("{path}: {message}")]
    Import {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A decision rule that does not parse.
    #[error("--rule {rule:?}: {why}")]
    Rule {
        /// As written.
        rule: String,
        /// What is wrong with it.
        why: String,
    },
    /// The run store.
    #[error(transparent)]
    Store(#[from] rectify_store::StoreError),
}
