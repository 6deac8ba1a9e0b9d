//! torchvision's ImageNet evaluation transform, reproduced without Python or a tensor backend.
//!
//! The reference pipeline (torchvision 0.26 on Pillow 13):
//! ```python
//! img = Image.open(f).convert('RGB')
//! T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
//!            T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])(img)
//! ```
//! [`Preprocess::load`] yields the 8-bit `224×224×3` crop (what `ToTensor` receives) and
//! [`Preprocess::normalize_chw`] the normalised `3×224×224` floats, **bit-identical** to
//! torchvision's: the resize is a port of Pillow's (see [`resample`]), JPEGs are decoded by a
//! port of libjpeg-turbo's decoder (accurate integer IDCT, fancy upsampling, its YCbCr tables),
//! other formats through the `image` crate, whose lossless decoders are exact. Checked on all
//! 1,300 ImageNet validation images of `shared/` and on generated fixtures (`tests/`). One
//! deliberate difference: EXIF orientation is applied, and 16-bit images are scaled, not
//! truncated (see [`decode()`]).
//!
//! Only the part of the resized image that lands in the crop is computed, so the whole
//! transform takes about 2 ms for a 227×227 JPEG (PIL + torchvision: about 2.8 ms).
//!
//! The settings are data ([`Preprocess`]): resize, crop, [`Interpolation`] (Pillow's nearest,
//! bilinear or bicubic), [`CropMode`], mean and std, from flags or from a timm / Hugging Face
//! `pretrained_cfg` ([`config`]); every combination stays bit-identical to torchvision's
//! `Resize(size, interpolation)` + `CenterCrop(crop)` on PIL.

pub mod config;
mod decode;
mod error;
mod geometry;
mod jpeg;
pub mod limits;
pub mod resample;

use std::io::{Read, Seek};
use std::path::Path;

use image::RgbImage;
use serde::{Deserialize, Serialize};

pub use config::ConfigError;
pub use decode::decode;
pub use error::PreprocessError;
pub use geometry::{center_crop, crop_offset, resized_size};
pub use limits::{decode_limits, set_decode_limits, DecodeLimits};
pub use resample::{resize, resize_bilinear_antialias, resize_window, Interpolation};

/// ImageNet channel means (R, G, B) in `[0, 1]` pixel units, as torchvision's models expect.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (R, G, B) in `[0, 1]` pixel units.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How the image is brought to the resize size before the centre crop (timm's `crop_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum CropMode {
    /// The shorter side becomes `resize`, the aspect ratio is kept (torchvision's `Resize(int)`).
    #[default]
    Center,
    /// Both sides become `resize`, the aspect ratio is not kept (`Resize((resize, resize))`).
    Squash,
}

/// Settings of the evaluation transform: `Resize(resize, interpolation)`, `CenterCrop(crop)`,
/// `ToTensor`, `Normalize(mean, std)`.
///
/// [`Default`] is torchvision's ImageNet evaluation: resize 256 (bilinear), crop 224,
/// [`IMAGENET_MEAN`], [`IMAGENET_STD`]. [`Preprocess::with_crop_pct`] gives timm's `crop_pct`
/// convention, [`config::from_json`] reads a timm / Hugging Face config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preprocess {
    /// The shorter side is resized to this many pixels (the longer keeps the aspect ratio,
    /// truncated to an integer; both sides under [`CropMode::Squash`]). 0 means no resize.
    pub resize: u32,
    /// Side of the square centre crop, in pixels; zero-padded when the resized image is smaller.
    pub crop: u32,
    /// Per-channel mean subtracted after scaling to `[0, 1]` (R, G, B).
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after subtracting the mean (R, G, B).
    pub std: [f32; 3],
    /// The resize's filter.
    pub interpolation: Interpolation,
    /// Keep the aspect ratio (centre) or not (squash).
    pub crop_mode: CropMode,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            resize: 256,
            crop: 224,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            interpolation: Interpolation::Bilinear,
            crop_mode: CropMode::Center,
        }
    }
}

/// The largest crop side rectify takes, in pixels. The largest input of an ImageNet classifier in
/// timm is 800 px (`tf_efficientnet_l2`); a 1024-px batch of 32 already holds 400 MB of floats
/// before the model's first layer, and a larger side is a mistake or an attack (a 16384-px crop
/// asks for 3.2 GB per image).
pub const MAX_CROP: u32 = 1024;

/// The largest resize size, in pixels: four times [`MAX_CROP`] (timm's smallest `crop_pct`, 0.5
/// at most doubles the crop).
pub const MAX_RESIZE: u32 = 4 * MAX_CROP;

/// timm's default `crop_pct` (`timm.data.DEFAULT_CROP_PCT`), 224 / 256.
pub const DEFAULT_CROP_PCT: f64 = 0.875;

/// timm's resize size for a crop and a `crop_pct`: `math.floor(crop / crop_pct)`, in `f64` as
/// Python computes it (224 / 0.875 = 256, 299 / 0.875 → 341, 384 / 0.95 → 404). `None` unless
/// `0 < crop_pct` and the result fits.
pub fn resize_for_crop_pct(crop: u32, crop_pct: f64) -> Option<u32> {
    let size = (f64::from(crop) / crop_pct).floor();
    (crop_pct > 0.0 && crop_pct.is_finite() && size >= 1.0 && size <= f64::from(u32::MAX)).then_some(size as u32)
}

impl Preprocess {
    /// These settings with the resize set from `crop_pct` as timm does ([`resize_for_crop_pct`]).
    pub fn with_crop_pct(self, crop_pct: f64) -> Result<Self, ConfigError> {
        let resize = resize_for_crop_pct(self.crop, crop_pct).ok_or(ConfigError::CropPct(crop_pct))?;
        Ok(Preprocess { resize, ..self })
    }

    /// Refuses settings no transform can run: a crop outside 1 to [`MAX_CROP`], a resize over
    /// [`MAX_RESIZE`], or a mean, std that is not finite or a std of 0.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.crop == 0 || self.crop > MAX_CROP {
            return Err(ConfigError::Invalid(format!("crop size {} px (1 to {MAX_CROP})", self.crop)));
        }
        if self.resize > MAX_RESIZE {
            return Err(ConfigError::Invalid(format!("resize size {} px (at most {MAX_RESIZE})", self.resize)));
        }
        if self.mean.iter().chain(&self.std).any(|v| !v.is_finite()) || self.std.contains(&0.0) {
            return Err(ConfigError::Invalid(format!("mean {:?} / std {:?}", self.mean, self.std)));
        }
        Ok(())
    }

    /// Reads, decodes, resizes and centre-crops an image file: the 8-bit RGB crop, HWC
    /// row-major, `crop × crop × 3` bytes.
    ///
    /// Errors: [`PreprocessError::Io`] when the file cannot be read, otherwise the error of
    /// [`decode()`] wrapped in [`PreprocessError::File`] with the path.
    ///
    /// The header is read first: an image over the pixel limit is refused before the rest of the
    /// file is read, and the file's bytes plus the decode's memory are reserved from the
    /// process-wide budget (see [`limits`]) until the crop is made.
    pub fn load(&self, path: &Path) -> Result<Vec<u8>, PreprocessError> {
        let io = |source| PreprocessError::Io { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = std::io::BufReader::new(file);
        let plan = decode::plan(&mut reader).map_err(|e| e.in_file(path.to_path_buf()))?;
        let _reserved = plan.reserve(len).map_err(|e| e.in_file(path.to_path_buf()))?;
        reader.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        // Never more than was reserved, should the file grow meanwhile.
        let mut bytes = Vec::with_capacity(len as usize);
        reader.take(len).read_to_end(&mut bytes).map_err(io)?;
        let img = decode::decode_planned(&bytes, &plan).map_err(|e| e.in_file(path.to_path_buf()))?;
        Ok(self.crop_rgb(&img))
    }

    /// [`load`](Self::load) for a file already in memory: the `crop × crop × 3` HWC crop.
    pub fn from_bytes(&self, bytes: &[u8]) -> Result<Vec<u8>, PreprocessError> {
        Ok(self.crop_rgb(&decode(bytes)?))
    }

    /// Resize + centre crop of an already decoded image: `crop × crop × 3` bytes, HWC row-major.
    ///
    /// Only the pixels of the resized image that land in the crop are computed; the result is
    /// bit-identical to resizing the whole image with Pillow and cropping.
    pub fn crop_rgb(&self, img: &RgbImage) -> Vec<u8> {
        let (w, h) = img.dimensions();
        let (rw, rh) = match (self.resize, self.crop_mode) {
            (0, _) => (w, h),
            (size, CropMode::Center) => resized_size(w, h, size),
            (size, CropMode::Squash) => (size, size),
        };
        let (left, top) = (crop_offset(rw, self.crop), crop_offset(rh, self.crop));
        // The part of the crop window that lies inside the resized image.
        let span = |offset: i64, len: u32| {
            let start = offset.max(0) as u32;
            let end = (offset + i64::from(self.crop)).min(i64::from(len)).max(0) as u32;
            start..end.max(start)
        };
        let (xs, ys) = (span(left, rw), span(top, rh));
        let window = resize_window(img, rw, rh, xs.clone(), ys.clone(), self.interpolation);
        if xs.len() as u32 == self.crop && ys.len() as u32 == self.crop {
            return window.into_raw();
        }
        // Smaller than the crop: place the window inside zero padding, as torchvision does.
        let mut out = vec![0u8; self.crop as usize * self.crop as usize * 3];
        let (dx, dy) = ((i64::from(xs.start) - left) as usize, (i64::from(ys.start) - top) as usize);
        let row_len = xs.len() * 3;
        for (y, row) in window.as_raw().chunks_exact(row_len.max(1)).enumerate() {
            let at = ((dy + y) * self.crop as usize + dx) * 3;
            out[at..at + row_len].copy_from_slice(row);
        }
        out
    }

    /// `ToTensor` + `Normalize`: `(x / 255 - mean) / std` per channel, in CHW order.
    ///
    /// `hwc` is an `H×W×3` RGB crop (normally `crop × crop × 3` from [`load`](Self::load));
    /// the result is `3×H×W` (`3 × crop × crop` floats). Computed exactly as torch does in
    /// `float32`: `x as f32 / 255.0`, then `(v - mean) / std`, each operation rounded to `f32`,
    /// so the values equal torchvision's bit for bit.
    pub fn normalize_chw(&self, hwc: &[u8]) -> Vec<f32> {
        let pixels = hwc.len() / 3;
        let mut out = vec![0f32; pixels * 3];
        for (c, plane) in out.chunks_exact_mut(pixels.max(1)).enumerate().take(3) {
            let (mean, std) = (self.mean[c], self.std[c]);
            for (o, px) in plane.iter_mut().zip(hwc.chunks_exact(3)) {
                *o = (f32::from(px[c]) / 255.0 - mean) / std;
            }
        }
        out
    }

    /// One line describing the transform, for provenance records, e.g. `decode RGB (EXIF
    /// orientation), Resize(256) bilinear antialias (Pillow), CenterCrop(224), /255,
    /// Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])`. Different settings
    /// give different lines, so a run's record tells them apart.
    pub fn describe(&self) -> String {
        let filter = match self.interpolation {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear antialias",
            Interpolation::Bicubic => "bicubic antialias",
        };
        let resize = match (self.resize, self.crop_mode) {
            (0, _) => "no resize".to_owned(),
            (size, CropMode::Center) => format!("Resize({size}) {filter} (Pillow)"),
            (size, CropMode::Squash) => format!("Resize(({size}, {size})) {filter} (Pillow)"),
        };
        format!(
            "decode RGB (EXIF orientation), {resize}, CenterCrop({}), /255, \
             Normalize(mean={:?}, std={:?})",
            self.crop, self.mean, self.std
        )
    }
}

#[cfg(test)]
mod tests;
