//! Store errors.

use std::path::PathBuf;

/// What can go wrong with a run directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The run directory or a file in it could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database {path}: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A command that reads a run found no run directory there.
    #[error("{0} is not a rectify run directory (no rectify.db); run `rectify eval --out {0}` first")]
    NotARun(PathBuf),
    /// The database was written by a newer rectify.
    #[error("{path} has schema version {found}, this rectify understands up to {supported}; upgrade rectify")]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Version found.
        found: i64,
        /// Newest version known here.
        supported: i64,
    },
    /// Resuming a run with different settings would mix incompatible results.
    #[error("{dir} already holds a {kind} run {name:?} made differently ({what}); use another --out, or the same settings to resume")]
    ProvenanceMismatch {
        /// The run directory.
        dir: PathBuf,
        /// Kind of run.
        kind: String,
        /// Its name.
        name: String,
        /// Which field differs, with both values.
        what: String,
    },
    /// A run that a command needs is not in the store.
    #[error("{dir} has no {kind} run{}", name.as_deref().map(|n| format!(" named {n:?}")).unwrap_or_default())]
    NoSuchRun {
        /// The run directory.
        dir: PathBuf,
        /// Kind asked for.
        kind: String,
        /// Name asked for, if any.
        name: Option<String>,
    },
    /// A path or run name recorded in the store (or a shard) that could lead outside the run.
    #[error("{}: {field} {path:?} is {why}", dir.display())]
    UnsafePath {
        /// The run directory whose store (or whose folder) holds it.
        dir: PathBuf,
        /// Which field, e.g. `attack_results.image of image 3`.
        field: String,
        /// The value found.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Stored JSON could not be decoded.
    #[error("stored JSON in {what}: {source}")]
    Json {
        /// Where.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}
