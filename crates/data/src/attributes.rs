//! Per-image attribute tables, the label source of `rectify bias` (Stock & Cisse §3.4): a CSV
//! (`file,attribute,value`) or ImageNet-X's factor annotations (Idrissi et al. 2023). An image
//! "has" attribute A when its value is truthy (`1`, `yes`, `true`, or any other non-empty value
//! than `0`/`no`/`false`).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// A table that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AttributesError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file, or too large.
    #[error(transparent)]
    File(#[from] crate::files::SmallFileError),
    /// A line is malformed.
    #[error("{path}: line {line}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// What is wrong.
        what: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AttributesError + '_ {
    move |source| AttributesError::Io { path: path.to_path_buf(), source }
}

/// Line `i` (from 0) of `path` is malformed.
fn bad(path: &Path, i: usize, what: String) -> AttributesError {
    AttributesError::Format { path: path.to_path_buf(), line: i + 1, what }
}

/// Which attributes each image has (by file name without folders).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    /// file name → attributes it has.
    pub has: HashMap<String, BTreeSet<String>>,
    /// file name → attributes it was annotated for (has or has not).
    pub annotated: HashMap<String, BTreeSet<String>>,
}

fn truthy(v: &str) -> bool {
    !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "no" | "false" | "n")
}

fn base(file: &str) -> String {
    Path::new(file).file_name().and_then(|n| n.to_str()).unwrap_or(file).to_string()
}

impl Attributes {
    /// Records that `file` has (or has not) `attribute`.
    pub fn set(&mut self, file: &str, attribute: &str, has: bool) {
        let f = base(file);
        self.annotated.entry(f.clone()).or_default().insert(attribute.to_string());
        if has {
            self.has.entry(f).or_default().insert(attribute.to_string());
        }
    }

    /// Whether `file` was annotated for `attribute`, and if so whether it has it.
    pub fn get(&self, file: &str, attribute: &str) -> Option<bool> {
        let f = base(file);
        self.annotated.get(&f)?.contains(attribute).then(|| self.has.get(&f).is_some_and(|s| s.contains(attribute)))
    }

    /// Reads `file,attribute,value` rows (a header line starting with `file` is skipped).
    pub fn from_csv(path: &Path) -> Result<Self, AttributesError> {
        let text = crate::files::read_text(path, crate::files::MAX_TABLE_FILE, "an attribute table")?;
        let mut a = Attributes::default();
        for (i, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if line.trim().is_empty() || (i == 0 && f[0] == "file") {
                continue;
            }
            if f.len() < 3 {
                return Err(bad(path, i, "expected file,attribute,value".into()));
            }
            a.set(f[0], f[1], truthy(f[2]));
        }
        Ok(a)
    }
}

/// ImageNet-X's factor annotations (`imagenet_x_val_multi_factor.jsonl.gz`): each line a JSON
/// object with `file_name` and 0/1 factors (`pose`, `background`, `color` …).
pub fn imagenet_x(path: &Path) -> Result<Attributes, AttributesError> {
    let file = crate::files::open_regular(path)?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut a = Attributes::default();
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(path, i, e.to_string()))?;
        let name = v["file_name"].as_str().ok_or_else(|| bad(path, i, "no file_name".into()))?;
        for (k, val) in v.as_object().into_iter().flatten() {
            if let Some(x) = val.as_i64().filter(|_| k != "class") {
                a.set(name, k, x != 0);
            }
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_read_and_malformed_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "file,attribute,value\nsub/x.JPEG,outdoors,yes\ny.JPEG,outdoors,0\n").unwrap();
        let a = Attributes::from_csv(&csv).unwrap();
        assert_eq!(a.get("x.JPEG", "outdoors"), Some(true), "folders are dropped from file names");
        assert_eq!(a.get("other/y.JPEG", "outdoors"), Some(false));
        assert_eq!(a.get("z.JPEG", "outdoors"), None, "not annotated");
        std::fs::write(&csv, "file,attribute,value\nx.JPEG,outdoors\n").unwrap();
        let e = Attributes::from_csv(&csv).unwrap_err();
        assert!(matches!(e, AttributesError::Format { line: 2, .. }), "{e}");
        assert!(e.to_string().starts_with(&format!("{}: line 2:", csv.display())), "{e}");

        let jsonl = dir.path().join("x.jsonl.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(
            &mut gz,
            b"{\"file_name\": \"x.JPEG\", \"pose\": 1, \"class\": 3}\n\n{\"pose\": 0}\n",
        )
        .unwrap();
        std::fs::write(&jsonl, gz.finish().unwrap()).unwrap();
        let e = imagenet_x(&jsonl).unwrap_err();
        assert!(e.to_string().ends_with("line 3: no file_name"), "{e}");
        let missing = imagenet_x(&dir.path().join("none.jsonl")).unwrap_err();
        assert!(matches!(missing, AttributesError::File(crate::files::SmallFileError::Io { .. })), "{missing}");
    }
}
