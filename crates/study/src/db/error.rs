//! [`DbError`]: what can go wrong in the study database.

/// What can go wrong in the study database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database itself (connection, SQL, constraint).
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A stored or given JSON document that does not parse.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// No study of this name.
    #[error("no study {0:?}")]
    UnknownStudy(String),
    /// No item of this key (or id) in the study.
    #[error("no item {item:?} in study {study:?}")]
    UnknownItem {
        /// The study.
        study: String,
        /// The item key or id asked for.
        item: String,
    },
    /// The item is not leased to this rater.
    #[error("item {0:?} is not assigned to you")]
    NotLeased(String),
    /// The lease ran out and the item has since filled up.
    #[error("the lease on item {0:?} expired and the item has enough answers")]
    LeaseExpired(String),
    /// The rater already answered this item differently.
    #[error("item {0:?} was already answered with a different answer")]
    AlreadyAnswered(String),
    /// An answer of the wrong kind for the item's question.
    #[error("bad answer for item {item:?}: {message}")]
    BadAnswer {
        /// The item.
        item: String,
        /// What is wrong.
        message: String,
    },
    /// `put_votes`: the same rater already has a different answer for the item from another source.
    #[error("rater {rater:?} already has a different answer for item {item:?} (source {source_name:?})")]
    VoteConflict {
        /// The item.
        item: String,
        /// The rater.
        rater: String,
        /// The source of the stored vote.
        source_name: String,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
    /// Enrollment settings that make no sense.
    #[error("enrollment settings: {0}")]
    BadSettings(String),
    /// The database stayed busy (contention that retrying did not resolve).
    #[error("busy: {0}")]
    Busy(String),
    /// The rater did not come from a recruitment platform.
    #[error("rater {0:?} did not join through a recruitment platform")]
    NotParticipant(String),
    /// The participant must consent before getting items.
    #[error("please read the instructions and consent first")]
    ConsentFirst,
    /// The batch is not finished yet.
    #[error("{answered} of {of} items answered: finish the batch first")]
    BatchNotDone {
        /// Answered so far.
        answered: i64,
        /// Items they may answer.
        of: i64,
    },
    /// A batch without a single data answer: no completion code (return the task instead).
    #[error("no item was answered, so there is nothing to complete: please return the task on the platform")]
    NoAnswers,
    /// A migration that cannot be applied.
    #[error("migration {version}: {message}")]
    Migration {
        /// Its version.
        version: i64,
        /// What failed.
        message: String,
    },
}
