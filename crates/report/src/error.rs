//! The errors of reading run directories and writing the report, each naming the file.

use std::path::PathBuf;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `build` was given no directory.
    #[error("no run directory given")]
    NoRuns,
    /// A directory holds neither a run nor runs one level below.
    #[error("{0}: not a run directory (no summary.json or rectify.db in it or in its subdirectories)")]
    NotARun(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file of the run that is not a regular file, or too large.
    #[error(transparent)]
    File(#[from] rectify_data::files::SmallFileError),
    /// A JSON file is malformed, or lacks a field the report needs.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A file has an unexpected shape.
    #[error("{path}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

impl ReportError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ReportError::Io { path, source }
    }
}
