//! Reading JSON and PNG files of a run directory, and writing files atomically.

use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::ReportError;

/// Most bytes of a run's JSON file read back (a run directory is untrusted bytes too: a file
/// there may be a named pipe or `/dev/zero` behind a link).
const MAX_JSON: u64 = 1 << 30;

/// Reads and parses a JSON file: a regular file, at most 1 GiB.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    let text = rectify_data::files::read_text(path, MAX_JSON, "a run's JSON file")?;
    serde_json::from_str(&text).map_err(|source| ReportError::Json { path: path.to_path_buf(), source })
}

/// Reads and parses a JSON file when it exists.
pub fn read_json_if<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ReportError> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// The bytes of a file, empty when it does not exist.
pub fn read_or_empty(path: &Path) -> Result<Vec<u8>, ReportError> {
    use rectify_data::files::{read_bounded, SmallFileError};
    match read_bounded(path, MAX_JSON, "a run's file") {
        Ok(b) => Ok(b),
        Err(SmallFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Subdirectories of `dir` (sorted by name; none when `dir` does not exist).
pub fn subdirs(dir: &Path) -> Result<Vec<std::path::PathBuf>, ReportError> {
    entries(dir, |p| p.is_dir())
}

/// Files of `dir` whose name ends with `suffix` (sorted by name).
pub fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<std::path::PathBuf>, ReportError> {
    entries(dir, |p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(suffix)))
}

fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<std::path::PathBuf>, ReportError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(ReportError::io(dir))? {
        let p = e.map_err(ReportError::io(dir))?.path();
        if keep(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(ReportError::io(path))
}
