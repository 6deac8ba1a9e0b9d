//! Which images to evaluate and their labels.
//!
//! Three layouts, resolved once by [`Dataset::open`]:
//! * `--images DIR --labels FILE`: every image under `DIR` (recursive); labels from `FILE`, a CSV
//!   whose header has `file` and `label` columns (others ignored) or `file label` lines
//!   (`val_labels_50000.txt`). Rows are matched by relative path, then by file name; an image with
//!   no row stays in the set, unlabelled, and is reported. Labels may be indices or wnids.
//! * ImageFolder (`DIR/<wnid>/*.JPEG`, as torchvision's `ImageFolder`): labels from the folder names.
//! * Any other folder: every image, recursively, without labels.
//!
//! Images are ordered by relative path (byte order), which is the input order everywhere after.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::imagenet;

/// File extensions taken as images (case-insensitive). Other files are skipped and counted.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"];

/// Why a dataset could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A directory or file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A label file that is not a regular file or is too large.
    #[error(transparent)]
    File(#[from] crate::files::SmallFileError),
    /// `--images` is not a directory.
    #[error("--images {0} is not a directory")]
    NotADirectory(PathBuf),
    /// No image file was found.
    #[error("no image files ({exts}) under {0}", exts = IMAGE_EXTENSIONS.join(", "))]
    Empty(PathBuf),
    /// A malformed row of a label file.
    #[error("{path}:{line}: {message}")]
    BadRow {
        /// The label file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The label file matches none of the images: probably the wrong file.
    #[error("none of the {images} images under {dir} has a row in {labels}; is it the right label file?")]
    NoMatch {
        /// Images directory.
        dir: PathBuf,
        /// Label file.
        labels: PathBuf,
        /// Number of images.
        images: usize,
    },
}

/// Where the labels came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum LabelSource {
    /// No labels.
    None,
    /// Folder names (wnids or class indices).
    ImageFolder,
    /// A label file.
    File(PathBuf),
}

/// One input image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Position in the full listing (stable across shards and `--limit`).
    pub index: usize,
    /// Path relative to the root, `/`-separated.
    pub file: String,
    /// The true label, when known.
    pub label: Option<i64>,
}

/// Something under the images folder that is neither an image nor a file to skip silently: a
/// folder that cannot be listed, or a symbolic link that leads back into a folder being listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    /// Path relative to the root, `/`-separated.
    pub file: String,
    /// Why it was skipped.
    pub reason: String,
}

/// The images of one evaluation.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The images directory.
    pub root: PathBuf,
    /// Images in input order.
    pub samples: Vec<Sample>,
    /// Where labels came from.
    pub labels: LabelSource,
    /// Files skipped because their extension is not an image's.
    pub skipped_non_images: usize,
    /// Folders that could not be listed and symbolic-link loops, skipped (the run goes on).
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    /// Lists `root` and attaches labels from `labels` or from the folder layout.
    pub fn open(root: &Path, labels: Option<&Path>) -> Result<Self, DatasetError> {
        if !root.is_dir() {
            return Err(DatasetError::NotADirectory(root.to_path_buf()));
        }
        let mut walk = Walk::default();
        walk.dir(root, "", &mut Vec::new())?;
        let Walk { mut files, skipped_non_images, skipped } = walk;
        if files.is_empty() {
            return Err(DatasetError::Empty(root.to_path_buf()));
        }
        files.sort_unstable();
        let (found, source): (Vec<Option<i64>>, LabelSource) = match labels {
            Some(path) => {
                let table = LabelTable::read(path)?;
                let found: Vec<_> = files.iter().map(|f| table.get(f)).collect();
                if found.iter().all(Option::is_none) {
                    return Err(DatasetError::NoMatch { dir: root.into(), labels: path.into(), images: files.len() });
                }
                (found, LabelSource::File(path.to_path_buf()))
            }
            None => match folder_labels(&files) {
                Some(found) => (found, LabelSource::ImageFolder),
                None => (vec![None; files.len()], LabelSource::None),
            },
        };
        let samples = files
            .into_iter()
            .zip(found)
            .enumerate()
            .map(|(index, (file, label))| Sample { index, file, label })
            .collect();
        Ok(Self { root: root.to_path_buf(), samples, labels: source, skipped_non_images, skipped })
    }

    /// Samples whose label was expected (a label file was given) but not found.
    pub fn unlabeled(&self) -> impl Iterator<Item = &Sample> {
        let expected = self.labels != LabelSource::None;
        self.samples.iter().filter(move |s| expected && s.label.is_none())
    }

    /// Keeps the deterministic shard `i` of `n` (0-based): samples whose index ≡ i (mod n).
    pub fn shard(&mut self, i: usize, n: usize) {
        assert!(n > 0 && i < n, "shard {i}/{n} out of range");
        self.samples.retain(|s| s.index % n == i);
    }
}

/// The listing of an images folder, recursively, following symbolic links.
#[derive(Default)]
struct Walk {
    files: Vec<String>,
    skipped_non_images: usize,
    skipped: Vec<Skipped>,
}

impl Walk {
    /// Lists `dir` (relative path `rel`); `ancestors` holds the canonical paths of the folders being listed,
    /// so that a link back into one of them is reported instead of followed forever.
    fn dir(&mut self, dir: &Path, rel: &str, ancestors: &mut Vec<PathBuf>) -> Result<(), DatasetError> {
        let io = |source| DatasetError::Io { path: dir.to_path_buf(), source };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            // The root must be readable; a subfolder that is not is skipped and reported.
            Err(source) if !rel.is_empty() => {
                self.skipped
                    .push(Skipped { file: rel.to_string(), reason: format!("cannot list the folder: {source}") });
                return Ok(());
            }
            Err(source) => return Err(io(source)),
        };
        let canonical = dir.canonicalize().map_err(io)?;
        ancestors.push(canonical);
        for entry in entries {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let rel_name = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            // metadata() follows symbolic links, as a user who links a dataset in expects. A link
            // that leads nowhere (dangling, or a loop of links) is kept when its name is an image's,
            // so that reading it gives a per-file error like any other unreadable image.
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => match path.canonicalize() {
                    Ok(target) if ancestors.contains(&target) => self.skipped.push(Skipped {
                        file: rel_name,
                        reason: format!("symbolic link loop: leads back to {}", target.display()),
                    }),
                    _ => self.dir(&path, &rel_name, ancestors)?,
                },
                // Reading a named pipe would wait forever for a writer; devices and sockets are no
                // images either.
                Ok(meta) if !meta.is_file() => self.skipped.push(Skipped {
                    file: rel_name,
                    reason: "not a regular file (a named pipe, socket or device)".to_string(),
                }),
                _ if is_image_name(&name) => self.files.push(rel_name),
                _ => self.skipped_non_images += 1,
            }
        }
        ancestors.pop();
        Ok(())
    }
}

/// Whether a file name has an image extension.
pub fn is_image_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// ImageFolder labels: every file one level down, and every folder a wnid or a class index.
fn folder_labels(files: &[String]) -> Option<Vec<Option<i64>>> {
    files
        .iter()
        .map(|f| {
            let (folder, rest) = f.split_once('/')?;
            if rest.contains('/') {
                return None;
            }
            parse_label(folder).map(Some)
        })
        .collect()
}

/// A label as an index (`281`) or a wnid (`n02123045`).
fn parse_label(s: &str) -> Option<i64> {
    let s = s.trim();
    if imagenet::is_wnid(s) {
        imagenet::index_of_wnid(s).map(|i| i as i64)
    } else {
        s.parse::<i64>().ok().filter(|&l| l >= 0)
    }
}

/// Labels from a file, by relative path and by file name.
struct LabelTable {
    by_path: HashMap<String, i64>,
    by_name: HashMap<String, Option<i64>>, // None: two rows with this name disagree
}

impl LabelTable {
    fn read(path: &Path) -> Result<Self, DatasetError> {
        let text = crate::files::read_text(path, crate::files::MAX_LABEL_FILE, "a label file")?;
        let bad = |line: usize, message: String| DatasetError::BadRow { path: path.into(), line, message };
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let first = lines.next().map(|(_, l)| l).unwrap_or_default();
        let header: Vec<&str> = first.split(',').map(str::trim).collect();
        let csv_cols = header.iter().position(|h| *h == "file").zip(header.iter().position(|h| *h == "label"));
        let mut rows = Vec::new();
        if let Some((fi, li)) = csv_cols {
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
            for (i, rec) in rdr.records().enumerate() {
                let line = i + 2;
                let rec = rec.map_err(|e| bad(line, e.to_string()))?;
                let (Some(f), Some(l)) = (rec.get(fi), rec.get(li)) else {
                    return Err(bad(line, format!("needs columns {fi} (file) and {li} (label)")));
                };
                rows.push((line, f.to_string(), l.to_string()));
            }
        } else {
            for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let mut parts = l.split_whitespace();
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(f), Some(lab), None) => rows.push((i + 1, f.to_string(), lab.to_string())),
                    _ => {
                        return Err(bad(
                            i + 1,
                            format!("expected `file label` or a CSV header with file,label; got {l:?}"),
                        ))
                    }
                }
            }
        }
        let mut by_path = HashMap::new();
        let mut by_name: HashMap<String, Option<i64>> = HashMap::new();
        for (line, f, l) in rows {
            let label = parse_label(&l)
                .ok_or_else(|| bad(line, format!("label {l:?} is neither a class index ≥ 0 nor a known wnid")))?;
            let f = f.replace('\\', "/");
            let name = f.rsplit('/').next().unwrap_or(&f).to_string();
            let e = by_name.entry(name).or_insert(Some(label));
            if *e != Some(label) {
                *e = None;
            }
            by_path.insert(f, label);
        }
        Ok(Self { by_path, by_name })
    }

    fn get(&self, rel: &str) -> Option<i64> {
        self.by_path.get(rel).copied().or_else(|| {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            self.by_name.get(name).copied().flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn image_folder_by_wnid() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "n01440764/b.JPEG");
        touch(d.path(), "n01440764/a.JPEG");
        touch(d.path(), "n02112137/c.png");
        touch(d.path(), "n02112137/notes.txt");
        let ds = Dataset::open(d.path(), None).unwrap();
        assert_eq!(ds.labels, LabelSource::ImageFolder);
        let got: Vec<_> = ds.samples.iter().map(|s| (s.file.as_str(), s.label)).collect();
        assert_eq!(got, [("n01440764/a.JPEG", Some(0)), ("n01440764/b.JPEG", Some(0)), ("n02112137/c.png", Some(260))]);
        assert_eq!(ds.skipped_non_images, 1);
    }

    #[test]
    fn plain_folder_is_unlabeled_and_recursive() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "x/y/a.jpg");
        touch(d.path(), "b.jpg");
        let ds = Dataset::open(d.path(), None).unwrap();
        assert_eq!(ds.labels, LabelSource::None);
        assert_eq!(ds.samples.len(), 2);
        assert_eq!(ds.unlabeled().count(), 0, "no labels were expected");
    }

    #[test]
    fn csv_and_txt_label_files() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "img/a.jpg");
        touch(d.path(), "img/b.jpg");
        touch(d.path(), "img/c.jpg");
        let csv = d.path().join("l.csv");
        std::fs::write(&csv, "file,label,name\na.jpg,3,x\nb.jpg,n01440764,\"tench, fish\"\nzzz.jpg,7,\n").unwrap();
        let ds = Dataset::open(&d.path().join("img"), Some(&csv)).unwrap();
        let labels: Vec<_> = ds.samples.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Some(3), Some(0), None]);
        assert_eq!(ds.unlabeled().map(|s| s.file.as_str()).collect::<Vec<_>>(), ["c.jpg"]);

        let txt = d.path().join("l.txt");
        std::fs::write(&txt, "a.jpg 5\nb.jpg 6\nc.jpg 7\n").unwrap();
        let ds = Dataset::open(&d.path().join("img"), Some(&txt)).unwrap();
        assert_eq!(ds.samples.iter().map(|s| s.label.unwrap()).collect::<Vec<_>>(), [5, 6, 7]);
    }

    #[test]
    fn bad_label_files_say_where() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "img/a.jpg");
        let f = d.path().join("l.txt");
        std::fs::write(&f, "a.jpg 5\na.jpg cat\n").unwrap();
        let e = Dataset::open(&d.path().join("img"), Some(&f)).unwrap_err().to_string();
        assert!(e.contains("l.txt:2") && e.contains("cat"), "{e}");
        std::fs::write(&f, "other.jpg 5\n").unwrap();
        let e = Dataset::open(&d.path().join("img"), Some(&f)).unwrap_err().to_string();
        assert!(e.contains("none of the 1 images"), "{e}");
    }

    #[test]
    fn shards_partition_the_listing() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..10 {
            touch(d.path(), &format!("{i:02}.png"));
        }
        let all = Dataset::open(d.path(), None).unwrap();
        let mut seen = Vec::new();
        for i in 0..3 {
            let mut s = all.clone();
            s.shard(i, 3);
            seen.extend(s.samples.iter().map(|s| s.index));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    /// Issue #12: a dangling link or a loop of links used to abort the listing.
    #[test]
    #[cfg(unix)]
    fn dangling_links_and_link_loops_do_not_stop_the_listing() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "a.jpg");
        touch(d.path(), "sub/b.jpg");
        symlink(d.path().join("missing.jpg"), d.path().join("dangling.jpg")).unwrap();
        symlink(d.path().join("missing.txt"), d.path().join("dangling.txt")).unwrap();
        symlink(d.path().join("self.jpg"), d.path().join("self.jpg")).unwrap();
        symlink(d.path(), d.path().join("sub/loop")).unwrap();
        symlink("..", d.path().join("sub/up")).unwrap();
        let fifo = std::process::Command::new("mkfifo").arg(d.path().join("pipe.jpg")).status();
        let ds = Dataset::open(d.path(), None).unwrap();
        let files: Vec<&str> = ds.samples.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(
            files,
            ["a.jpg", "dangling.jpg", "self.jpg", "sub/b.jpg"],
            "unreadable images stay, to fail one by one"
        );
        assert_eq!(ds.skipped_non_images, 1);
        let skipped: Vec<(&str, &str)> = ds.skipped.iter().map(|s| (s.file.as_str(), s.reason.as_str())).collect();
        let loops: Vec<&str> = skipped.iter().filter(|s| s.1.starts_with("symbolic link loop")).map(|s| s.0).collect();
        assert_eq!(loops.len(), 2, "{skipped:?}");
        assert!(loops.contains(&"sub/loop") && loops.contains(&"sub/up"), "{skipped:?}");
        if fifo.is_ok_and(|s| s.success()) {
            assert!(
                skipped.contains(&("pipe.jpg", "not a regular file (a named pipe, socket or device)")),
                "{skipped:?}"
            );
            assert_eq!(skipped.len(), 3, "{skipped:?}");
        }
    }

    #[test]
    fn empty_and_missing_dirs() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(Dataset::open(d.path(), None), Err(DatasetError::Empty(_))));
        assert!(matches!(Dataset::open(&d.path().join("nope"), None), Err(DatasetError::NotADirectory(_))));
    }
}
