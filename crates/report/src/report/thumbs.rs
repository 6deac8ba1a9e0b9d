//! Thumbnails of the images a run evaluated, for the mistakes gallery, the confusions and the
//! class view: read from the images folder the eval run recorded, decoded within rectify's decode
//! limits, shrunk to fit [`SIZE`]×[`SIZE`] (Pillow's antialiased bilinear) and stored as JPEG
//! (quality [`QUALITY`]), a few kB each. An image that cannot be read gets no thumbnail (the page
//! shows its file name); the count of those is reported, never an error.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use rectify_data::preprocess::{decode, resize, Interpolation};

/// Longest side of a thumbnail, in pixels (shown at half that size on a 2× screen).
pub const SIZE: u32 = 112;
/// JPEG quality.
pub const QUALITY: u8 = 80;
/// Files larger than this are not read (ImageNet's largest validation JPEG is under 16 MB).
pub const MAX_BYTES: u64 = 64 << 20;

/// Makes the thumbnails of one run.
pub struct Thumbnailer {
    root: Option<PathBuf>,
    /// Images that could not be made into thumbnails, and the first reason.
    pub failed: u64,
    /// The first failure, in words.
    pub first_failure: Option<String>,
}

impl Thumbnailer {
    /// Thumbnails of images under `root` (the eval run's images folder; `None`: no thumbnails).
    pub fn new(root: Option<PathBuf>) -> Self {
        Thumbnailer { root, failed: 0, first_failure: None }
    }

    /// The JPEG thumbnail of `file` (a path relative to the images folder), `None` when it
    /// cannot be made.
    pub fn make(&mut self, file: &str) -> Option<Vec<u8>> {
        let root = self.root.as_ref()?;
        match thumbnail(root, file) {
            Ok(jpeg) => Some(jpeg),
            Err(why) => {
                self.failed += 1;
                self.first_failure.get_or_insert_with(|| format!("{file}: {why}"));
                None
            }
        }
    }
}

/// `root/file` as a thumbnail.
pub fn thumbnail(root: &Path, file: &str) -> Result<Vec<u8>, String> {
    let rel = Path::new(file);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err("not a path inside the images folder".into());
    }
    // Inside the images folder once links are resolved, and a regular file (not a FIFO).
    let path = root.join(rel).canonicalize().map_err(|e| e.to_string())?;
    let base = root.canonicalize().map_err(|e| format!("the images folder {}: {e}", root.display()))?;
    if !path.starts_with(&base) {
        return Err("a link out of the images folder".into());
    }
    if !path.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("not a regular file".into());
    }
    let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    f.take(MAX_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!("larger than {} MiB", MAX_BYTES >> 20));
    }
    let img = decode(&bytes).map_err(|e| e.to_string())?;
    let (w, h) = img.dimensions();
    let scale = f64::from(SIZE) / f64::from(w.max(h));
    let (tw, th) = if scale < 1.0 {
        (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1))
    } else {
        (w, h)
    };
    let small = if (tw, th) == (w, h) { img } else { resize(&img, tw, th, Interpolation::Bilinear) };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode(small.as_raw(), tw, th, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_fit_the_box_and_keep_the_aspect() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_fn(500, 375, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
        img.save(dir.path().join("a.png")).unwrap();
        let jpeg = thumbnail(dir.path(), "a.png").unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (112, 84));
        assert!(jpeg.len() < 16 << 10, "{} bytes", jpeg.len());
    }

    #[test]
    fn bad_paths_and_bytes_give_no_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.jpg"), b"not a jpeg").unwrap();
        let mut t = Thumbnailer::new(Some(dir.path().to_path_buf()));
        assert!(t.make("x.jpg").is_none());
        assert!(t.make("../x.jpg").is_none());
        assert!(t.make("/etc/passwd").is_none());
        assert!(t.make("missing.jpg").is_none());
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link.jpg")).unwrap();
        assert!(t.make("link.jpg").is_none(), "a link out of the folder");
        assert_eq!(t.failed, 5);
        assert!(t.first_failure.unwrap().starts_with("x.jpg: "));
        assert!(Thumbnailer::new(None).make("x.jpg").is_none());
    }
}
