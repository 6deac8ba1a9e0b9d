//! Decoding any supported file to 8-bit RGB, the counterpart of PIL's
//! `Image.open(f).convert('RGB')` (plus EXIF orientation, see [`decode`]).
//!
//! Formats: JPEG through our port of libjpeg-turbo's decoder ([`super::jpeg`], bit-identical to
//! PIL's), with the `image` crate (zune-jpeg) as fallback for JPEG features it does not cover;
//! PNG, WebP, BMP, GIF (first frame) and TIFF through the `image` crate. The format is recognised
//! from the bytes, never from the file name.

use std::io::{BufRead, Cursor, Seek, SeekFrom};

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use super::jpeg::{self, JpegError};
use super::limits::{self, check_pixels, decode_limits, Reservation};
use super::PreprocessError;

/// What decoding an image will take, known from its header before anything is decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub width: u32,
    pub height: u32,
    /// Bytes the decode holds at most (not counting the file's bytes).
    pub memory: u64,
}

impl Plan {
    /// Reserves the plan's memory plus `extra` bytes from the process-wide decode budget.
    pub fn reserve(&self, extra: u64) -> Result<Reservation, PreprocessError> {
        limits::reserve(self.memory.saturating_add(extra), self.width, self.height)
    }
}

/// Reads just the header of the image at the start of `r` (leaving `r` anywhere): its size and
/// what decoding it will cost. Refuses images over the pixel limit (see [`super::limits`]) and
/// empty ones. A header this cannot read gets a plan of zero bytes, and the decoder reports the
/// problem.
pub(crate) fn plan(r: &mut (impl BufRead + Seek)) -> Result<Plan, PreprocessError> {
    let start = r.stream_position().unwrap_or(0);
    let head = r.fill_buf().map_err(|e| decode_error("unreadable input", &e.to_string()))?;
    if head.is_empty() {
        return Err(decode_error("empty input", "zero bytes"));
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let Some(h) = jpeg::probe(r) else { return Ok(Plan { width: 0, height: 0, memory: 0 }) };
        if h.width == 0 || h.height == 0 {
            return Ok(Plan { width: h.width, height: h.height, memory: 0 });
        }
        check_pixels(h.width, h.height)?;
        let memory = h.memory() + resize_memory(h.width, h.height);
        return Ok(Plan { width: h.width, height: h.height, memory });
    }
    let _ = r.seek(SeekFrom::Start(start));
    let Ok(reader) = ImageReader::new(r).with_guessed_format() else {
        return Ok(Plan { width: 0, height: 0, memory: 0 });
    };
    let format = reader.format();
    let Ok(mut decoder) = reader.into_decoder() else { return Ok(Plan { width: 0, height: 0, memory: 0 }) };
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty { width, height });
    }
    check_pixels(width, height)?;
    let pixels = u64::from(width) * u64::from(height);
    let bpp = u64::from(decoder.color_type().bytes_per_pixel());
    // The decoded samples; the RGB conversion unless they are 8-bit RGB already; one rotated copy
    // when the image carries an orientation; the decoder's own buffers: a row and the zlib window
    // for PNG, up to a frame of 4 bytes a pixel for the others (WebP's ARGB or YUV planes, GIF's
    // canvas, TIFF strips).
    let rgb = if decoder.color_type() == image::ColorType::Rgb8 { 0 } else { 3 };
    let rotated = match decoder.orientation() {
        Ok(Orientation::NoTransforms) => 0,
        _ => bpp,
    };
    let own = if format == Some(ImageFormat::Png) { 1 } else { 4 };
    Ok(Plan { width, height, memory: pixels * (bpp + rgb + rotated + own) + resize_memory(width, height) })
}

/// The resize's intermediate rows (every source row of the crop's span, resampled to the output
/// width: at most 256·3 bytes a row, twice for the vertical pass's window), and 1 MiB for what
/// every decode allocates whatever the image (Huffman and filter tables, the EXIF block, …).
pub(crate) fn resize_memory(width: u32, height: u32) -> u64 {
    (u64::from(width) + u64::from(height)) * 1536 + (1 << 20)
}

/// Decodes an image file held in memory to 8-bit RGB, `H×W×3`.
///
/// What it does beyond PIL's `Image.open(f).convert('RGB')`, on purpose:
/// - **EXIF orientation is applied** (as `PIL.ImageOps.exif_transpose` would). torchvision and
///   PIL do not do this by default, so a photo whose EXIF says "rotate 90°" is fed to torchvision
///   models sideways; we show it upright because that is what people expect. (ImageNet's
///   validation JPEGs carry no orientation tag, so reference numbers are not affected.)
/// - **16-bit samples** (PNG, TIFF) are scaled to 8 bits as `round(v · 255 / 65535)`. PIL keeps
///   the high byte of 16-bit RGB (`v >> 8`, up to 1 lower) and *clips* 16-bit grayscale
///   (`I;16` → `min(v, 255)`, which turns nearly every pixel white), a long-standing PIL bug we do
///   not copy.
///
/// As in PIL: grayscale is replicated to the three channels, alpha is dropped without compositing
/// (RGBA, LA, palette with transparency), float samples are clamped to `[0, 1]` and scaled to
/// 0–255 with rounding. JPEGs decode exactly as PIL's libjpeg-turbo does, including 4-channel
/// ones: libjpeg returns the stored inks (Adobe files, as Photoshop and PIL write them, store them
/// inverted) and PIL's `CMYK;I` + `cmyk2rgb` make `R = K' − round((255 − C')·K'/255)` from the
/// stored `C'`, `K'`; YCCK is first converted to CMYK as libjpeg does. JPEGs this decoder does not
/// cover (arithmetic coding, 12-bit, lossless, fractional sampling ratios) fall back to the
/// `image` crate (zune-jpeg), which is within a few levels of libjpeg-turbo.
///
/// Bounds (see [`super::limits`]): a header over the pixel limit is refused before any pixel is
/// decoded, as Pillow refuses decompression bombs; the memory the decode will need is estimated
/// from the header and reserved from the process-wide decode budget first (waiting while other
/// threads hold it).
///
/// Errors: [`PreprocessError::Decode`] for empty, truncated, corrupt or unrecognised bytes,
/// [`PreprocessError::Empty`] for a 0-pixel header, [`PreprocessError::TooLarge`] above the
/// pixel limit, [`PreprocessError::OverBudget`] when the decode could never fit the budget.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, PreprocessError> {
    let plan = plan(&mut Cursor::new(bytes))?;
    let _reserved = plan.reserve(0)?;
    decode_planned(bytes, &plan)
}

/// [`decode`] once its plan is made and its memory reserved.
pub(crate) fn decode_planned(bytes: &[u8], plan: &Plan) -> Result<RgbImage, PreprocessError> {
    if bytes.is_empty() {
        return Err(decode_error("empty input", "zero bytes"));
    }
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_other(bytes, plan);
    }
    match jpeg::decode(bytes, decode_limits().max_pixels) {
        Ok(decoded) => {
            let orientation =
                decoded.exif.as_deref().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
            let mut img = DynamicImage::ImageRgb8(decoded.image);
            img.apply_orientation(orientation);
            Ok(img.into_rgb8())
        }
        // Arithmetic coding, 12-bit, lossless: let the `image` crate try, and if it cannot
        // either, say what the file uses.
        Err(JpegError::Unsupported(feature)) => {
            decode_other(bytes, plan).map_err(|_| decode_error("JPEG image", &format!("{feature} is not supported")))
        }
        Err(e) => Err(jpeg_error(e)),
    }
}

/// Everything but our JPEG path: the `image` crate's decoders, the format guessed from the bytes,
/// allowed to allocate no more than the plan reserved.
fn decode_other(bytes: &[u8], plan: &Plan) -> Result<RgbImage, PreprocessError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_error("unknown format", &e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(decode_error(
            "unknown format",
            &format!("not a recognised image file (starts with {})", magic(bytes)),
        ));
    };
    let what = format!("{} image", format_name(format));
    let mut limits = Limits::default();
    limits.max_alloc = Some(plan.memory.max(1 << 20));
    reader.limits(limits);
    let fail = |e: ImageError| decode_error(&what, &image_error_message(e));
    let mut decoder = reader.into_decoder().map_err(fail)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty { width, height });
    }
    check_pixels(width, height)?;
    let planned = u64::from(plan.width) * u64::from(plan.height);
    if planned > 0 && u64::from(width) * u64::from(height) > planned {
        // The header changed between planning and decoding (the file was rewritten).
        return Err(decode_error(&what, "the image is larger than its header said when it was planned"));
    }
    // A damaged EXIF block is not worth failing the image for: keep it as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(fail)?;
    img.apply_orientation(orientation);
    Ok(to_rgb8(img))
}

/// Converts any decoded image to 8-bit RGB with the rules documented on [`decode`].
fn to_rgb8(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let from = |data: Vec<u8>| RgbImage::from_raw(w, h, data).expect("w*h*3 bytes");
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageRgba8(rgba) => from(drop_alpha(rgba.as_raw(), 4, 3, |v| v)),
        DynamicImage::ImageLuma8(l) => from(drop_alpha(l.as_raw(), 1, 1, |v| v)),
        DynamicImage::ImageLumaA8(la) => from(drop_alpha(la.as_raw(), 2, 1, |v| v)),
        DynamicImage::ImageRgb16(rgb) => from(drop_alpha(rgb.as_raw(), 3, 3, u16_to_u8)),
        DynamicImage::ImageRgba16(rgba) => from(drop_alpha(rgba.as_raw(), 4, 3, u16_to_u8)),
        DynamicImage::ImageLuma16(l) => from(drop_alpha(l.as_raw(), 1, 1, u16_to_u8)),
        DynamicImage::ImageLumaA16(la) => from(drop_alpha(la.as_raw(), 2, 1, u16_to_u8)),
        DynamicImage::ImageRgb32F(rgb) => from(drop_alpha(rgb.as_raw(), 3, 3, f32_to_u8)),
        DynamicImage::ImageRgba32F(rgba) => from(drop_alpha(rgba.as_raw(), 4, 3, f32_to_u8)),
        other => other.to_rgb8(),
    }
}

/// Takes the first `keep` of every `channels` samples, converts them, and widens 1 kept channel
/// (gray) to 3.
fn drop_alpha<T: Copy>(src: &[T], channels: usize, keep: usize, conv: impl Fn(T) -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() / channels * 3);
    for px in src.chunks_exact(channels) {
        if keep == 1 {
            let v = conv(px[0]);
            out.extend_from_slice(&[v, v, v]);
        } else {
            out.extend(px[..keep].iter().map(|&v| conv(v)));
        }
    }
    out
}

/// `round(v · 255 / 65535)`, i.e. `round(v / 257)` (never a tie).
fn u16_to_u8(v: u16) -> u8 {
    ((u32::from(v) * 255 + 32767) / 65535) as u8
}

/// `round(clamp(v, 0, 1) · 255)`; NaN becomes 0.
fn f32_to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// The error for a JPEG our own decoder rejected.
fn jpeg_error(e: JpegError) -> PreprocessError {
    match e {
        JpegError::TooLarge { width, height } => {
            PreprocessError::TooLarge { width, height, limit: decode_limits().max_pixels }
        }
        JpegError::Empty => PreprocessError::Empty { width: 0, height: 0 },
        JpegError::Truncated => decode_error("JPEG image", "file is truncated"),
        JpegError::Corrupt(m) | JpegError::Unsupported(m) => decode_error("JPEG image", &m),
    }
}

fn decode_error(what: &str, message: &str) -> PreprocessError {
    PreprocessError::Decode { what: what.to_owned(), message: message.to_owned() }
}

/// A one-line message for an `image` error; an early end of data is reported as truncation.
fn image_error_message(e: ImageError) -> String {
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("file is truncated ({io})")
        }
        other => other.to_string(),
    }
}

fn format_name(format: ImageFormat) -> String {
    match format {
        ImageFormat::Jpeg => "JPEG".into(),
        ImageFormat::Png => "PNG".into(),
        ImageFormat::WebP => "WebP".into(),
        ImageFormat::Bmp => "BMP".into(),
        ImageFormat::Gif => "GIF".into(),
        ImageFormat::Tiff => "TIFF".into(),
        other => format!("{other:?}"),
    }
}

/// The first bytes of a file, for error messages: printable ASCII as text, else hex.
fn magic(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        head.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }
}
