//! ReaL labels (Beyer et al. 2020, "Are we done with ImageNet?", <https://arxiv.org/abs/2006.07159>).
//!
//! `real.json` is a list of 50,000 lists: entry `i` holds the labels human raters found fitting
//! for `ILSVRC2012_val_{i+1:08}.JPEG`; an empty list means none fitted, and such images are left
//! out of ReaL accuracy. A JSON object `{file name: [labels]}` is accepted too, for other sets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why ReaL labels could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    /// Reading the file failed.
    #[error("cannot read ReaL labels {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file, or too large.
    #[error("ReaL labels {0}")]
    File(#[from] crate::files::SmallFileError),
    /// The file is not in either accepted shape.
    #[error(
        "ReaL labels {path}: expected a JSON list of label lists (real.json) or an object {{file: [labels]}}: {source}"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// ReaL labels, looked up by image file name.
#[derive(Debug, Clone)]
pub enum RealLabels {
    /// Indexed by ImageNet validation number − 1.
    ImageNetVal(Vec<Vec<i64>>),
    /// Keyed by file name.
    ByFile(HashMap<String, Vec<i64>>),
}

/// The validation number in `ILSVRC2012_val_00000042.JPEG` (42).
pub fn imagenet_val_number(file: &str) -> Option<usize> {
    let base = file.rsplit(['/', '\\']).next()?;
    let digits = base.strip_prefix("ILSVRC2012_val_")?.get(..8)?;
    digits.parse().ok()
}

impl RealLabels {
    /// Reads `real.json` or a `{file: [labels]}` object.
    pub fn read(path: &Path) -> Result<Self, RealError> {
        let text = crate::files::read_text(path, crate::files::MAX_TABLE_FILE, "a ReaL label file")?;
        let fmt = |source| RealError::Format { path: path.into(), source };
        if text.trim_start().starts_with('{') {
            Ok(Self::ByFile(serde_json::from_str(&text).map_err(fmt)?))
        } else {
            Ok(Self::ImageNetVal(serde_json::from_str(&text).map_err(fmt)?))
        }
    }

    /// The labels of `file` (a relative path or name); `None` when the file has no entry.
    pub fn get(&self, file: &str) -> Option<&[i64]> {
        match self {
            Self::ImageNetVal(v) => {
                imagenet_val_number(file).and_then(|n| v.get(n.checked_sub(1)?)).map(|v| v.as_slice())
            }
            Self::ByFile(m) => {
                let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
                m.get(file).or_else(|| m.get(base)).map(|v| v.as_slice())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_by_validation_number() {
        let r = RealLabels::ImageNetVal(vec![vec![], vec![970, 795]]);
        assert_eq!(r.get("ILSVRC2012_val_00000002.JPEG"), Some(&[970, 795][..]));
        assert_eq!(r.get("sub/ILSVRC2012_val_00000001.JPEG"), Some(&[][..]));
        assert_eq!(r.get("ILSVRC2012_val_00000003.JPEG"), None);
        assert_eq!(r.get("cat.jpg"), None);
    }

    #[test]
    fn reads_both_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "[[1], [2, 3]]").unwrap();
        assert_eq!(RealLabels::read(&a).unwrap().get("ILSVRC2012_val_00000002.JPEG"), Some(&[2, 3][..]));
        std::fs::write(&a, r#"{"x/cat.png": [281]}"#).unwrap();
        assert_eq!(RealLabels::read(&a).unwrap().get("x/cat.png"), Some(&[281][..]));
        std::fs::write(&a, "oops").unwrap();
        assert!(RealLabels::read(&a).unwrap_err().to_string().contains("expected a JSON list"));
    }
}
