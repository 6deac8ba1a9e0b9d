//! Pillow's resize of 8-bit RGB images: bilinear and bicubic with antialiasing, and nearest.
//!
//! Bilinear and bicubic port `precompute_coeffs`, `normalize_coeffs_8bpc`,
//! `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc` and `ImagingResampleInner`
//! from Pillow's `src/libImaging/Resample.c` (Pillow 9–13; the algorithm has been unchanged since
//! Pillow 4), for the full-image box, with Pillow's `bilinear_filter` (support 1) and
//! `bicubic_filter` (support 2, a = -0.5), and Pillow 13's choice of which pass runs first. Nearest ports `ImagingScaleAffine` from
//! `src/libImaging/Geometry.c`, which `Image.resize(…, NEAREST)` reaches through
//! `ImagingTransform` with the affine scale `in / out`. The results are bit-identical to
//! `PIL.Image.resize((w, h), filter)` on an `RGB` image, which is what torchvision's
//! `Resize(…, interpolation, antialias=True)` calls for PIL input.
//!
//! For the convolution filters, the filter is widened by the scale factor when shrinking (that is
//! the antialiasing), the weights are computed in `f64` exactly as the C code does, then rounded
//! to fixed point with 22 fractional bits; both passes sum in `i32` and round half up (bicubic's
//! negative lobes can take a sum below 0 or above 255: it is clamped, as Pillow's `clip8` table
//! does). The horizontal pass goes into an 8-bit temporary holding only the source rows the
//! vertical pass reads.

use std::ops::Range;

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// The resampling filter of a resize, as Pillow names them (`Image.NEAREST`, `Image.BILINEAR`,
/// `Image.BICUBIC`) and as torchvision's `InterpolationMode` and timm's configs spell them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Interpolation {
    /// Pillow's `NEAREST`: each output pixel copies the input pixel under its centre.
    Nearest,
    /// Pillow's `BILINEAR` (triangle filter, widened when shrinking): torchvision's default.
    #[default]
    Bilinear,
    /// Pillow's `BICUBIC` (Keys' cubic, a = -0.5, widened when shrinking): most timm models.
    Bicubic,
}

impl Interpolation {
    /// The lower-case name (`"bilinear"`), as in timm's configs.
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
        }
    }

    /// The convolution filter, `None` for nearest.
    fn filter(self) -> Option<Filter> {
        match self {
            Interpolation::Nearest => None,
            Interpolation::Bilinear => Some(Filter { kernel: bilinear_filter, support: 1.0 }),
            Interpolation::Bicubic => Some(Filter { kernel: bicubic_filter, support: 2.0 }),
        }
    }
}

impl std::str::FromStr for Interpolation {
    type Err = String;

    /// `nearest`, `bilinear` or `bicubic` (any case); timm's `random` and the filters rectify does
    /// not port (`lanczos`, `box`, `hamming`) are refused with the list.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            "bicubic" => Ok(Interpolation::Bicubic),
            other => Err(format!("interpolation {other:?} is not supported (nearest, bilinear or bicubic)")),
        }
    }
}

/// One of Pillow's `struct filter`s: the kernel and its support at scale 1.
#[derive(Clone, Copy)]
struct Filter {
    kernel: fn(f64) -> f64,
    support: f64,
}

/// Fractional bits of the fixed-point weights: `32 - 8 - 2` in Pillow.
const PRECISION_BITS: u32 = 32 - 8 - 2;
/// Rounding bias added to every sum before the shift (round half up).
const HALF: i32 = 1 << (PRECISION_BITS - 1);
/// Pillow's `bilinear_filter`: a triangle of half-width 1.
fn bilinear_filter(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// Pillow's `bicubic_filter`: Keys' cubic convolution with a = -0.5, support 2. The expressions
/// are Pillow's, term for term, so the `f64` results are the same.
fn bicubic_filter(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point resampling weights along one axis, for one (input size, output size) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Coeffs {
    /// Per output index: the first input index it reads and how many it reads.
    bounds: Vec<(usize, usize)>,
    /// Weights, `ksize` per output index (only the first `bounds[i].1` are meaningful).
    weights: Vec<i32>,
    /// Stride of `weights`: Pillow's maximum number of taps, `2 * ceil(support) + 1`.
    ksize: usize,
}

impl Coeffs {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the box `[0, in_size)`,
    /// restricted to the output indices `outputs` (a subrange of `0..out_size`).
    fn new(in_size: u32, out_size: u32, outputs: Range<u32>, filter: Filter) -> Self {
        // `(double)(in1 - in0) / outSize` with in0 = 0 and in1 = in_size as a C float.
        let scale = f64::from(in_size as f32) / f64::from(out_size);
        let filterscale = scale.max(1.0);
        let support = filter.support * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(outputs.len());
        let mut weights = vec![0i32; outputs.len() * ksize];
        let mut k = vec![0f64; ksize];
        for (xx, row) in outputs.zip(weights.chunks_exact_mut(ksize)) {
            let center = (f64::from(xx) + 0.5) * scale;
            // C's `(int)` truncates toward zero, as `as i64` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size)) - xmin;
            let n = xmax.clamp(0, ksize as i64) as usize;
            let mut ww = 0.0;
            for (x, w) in k.iter_mut().take(n).enumerate() {
                *w = (filter.kernel)(((x as i64 + xmin) as f64 - center + 0.5) * ss);
                ww += *w;
            }
            for (w, fixed) in k.iter().take(n).zip(row.iter_mut()) {
                let w = if ww == 0.0 { *w } else { *w / ww };
                *fixed = to_fixed(w);
            }
            bounds.push((xmin as usize, n));
        }
        Coeffs { bounds, weights, ksize }
    }

    /// The taps of the `i`-th computed output: first input index and its weights.
    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (start, n) = self.bounds[i];
        (start, &self.weights[i * self.ksize..i * self.ksize + n])
    }

    /// The same taps on an input that starts at index `by` (the first `by` samples cut off).
    fn shifted(mut self, by: usize) -> Self {
        for (start, _) in &mut self.bounds {
            *start -= by;
        }
        self
    }

    /// The input indices any computed output reads (bounds are non-decreasing).
    fn input_span(&self) -> Range<usize> {
        match (self.bounds.first(), self.bounds.last()) {
            (Some(&(first, _)), Some(&(last, n))) => first..last + n,
            _ => 0..0,
        }
    }
}

/// Pillow's `normalize_coeffs_8bpc` for one weight: round half away from zero to fixed point.
fn to_fixed(w: f64) -> i32 {
    let scaled = w * f64::from(1u32 << PRECISION_BITS);
    if w < 0.0 {
        (scaled - 0.5) as i32
    } else {
        (scaled + 0.5) as i32
    }
}

/// Pillow's `clip8`: drop the fraction bits and clamp to `0..=255`.
#[inline]
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an RGB image to `width × height` exactly as Pillow's `Image.resize(…, BILINEAR)`.
///
/// Input `H×W×3` (row-major, as stored by [`RgbImage`]), output `height×width×3`. Shrinking
/// widens the triangle filter by the scale factor (antialiasing), enlarging interpolates
/// linearly. A zero `width` or `height`, or an empty input, gives an image of the asked size
/// (all zeros when the input is empty).
pub fn resize_bilinear_antialias(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    resize(img, width, height, Interpolation::Bilinear)
}

/// Resizes an RGB image to `width × height` exactly as Pillow's `Image.resize((width, height),
/// filter)`. Shapes as in [`resize_bilinear_antialias`].
pub fn resize(img: &RgbImage, width: u32, height: u32, filter: Interpolation) -> RgbImage {
    resize_window(img, width, height, 0..width, 0..height, filter)
}

/// The window `xs × ys` of [`resize`]`(img, width, height, filter)`, computing only the pixels
/// inside it (each output pixel depends only on its own taps, so the result is bit-identical to
/// cropping the full resize). Output `ys.len() × xs.len() × 3`; the ranges are clamped to the
/// output size.
pub fn resize_window(
    img: &RgbImage,
    width: u32,
    height: u32,
    xs: Range<u32>,
    ys: Range<u32>,
    filter: Interpolation,
) -> RgbImage {
    let xs = xs.start.min(width)..xs.end.min(width);
    let ys = ys.start.min(height)..ys.end.min(height);
    let (in_w, in_h) = img.dimensions();
    let (out_w, out_h) = (xs.len() as u32, ys.len() as u32);
    if out_w == 0 || out_h == 0 || in_w == 0 || in_h == 0 {
        return RgbImage::new(out_w, out_h);
    }
    let Some(filter) = filter.filter() else {
        return nearest_window(img, width, height, xs, ys);
    };
    // `ImagingResampleInner`: a pass runs only when its size changes. Pillow 13 runs the vertical
    // pass first when the height shrinks by more than twice as many pixels as the width (the
    // 8-bit intermediate makes the order visible in the result); otherwise the horizontal pass
    // first, producing just the source rows the vertical one reads.
    let (dh, dw) = (i64::from(in_h) - i64::from(height), i64::from(in_w) - i64::from(width));
    let vertical_first = dh > 0 && dh > dw * 2;
    let vert = (in_h != height).then(|| Coeffs::new(in_h, height, ys.clone(), filter));
    let hor = (in_w != width).then(|| Coeffs::new(in_w, width, xs.clone(), filter));
    let rows = match &vert {
        Some(v) => v.input_span(),
        None => ys.start as usize..ys.end as usize,
    };
    let stride = in_w as usize * 3;
    let band = &img.as_raw()[rows.start * stride..rows.end * stride];
    let out = if vertical_first {
        // Only the source columns the horizontal pass reads (each column is independent).
        let cols = hor.as_ref().map_or(xs.start as usize..xs.end as usize, Coeffs::input_span);
        let band: Vec<u8> =
            band.chunks_exact(stride).flat_map(|row| &row[cols.start * 3..cols.end * 3]).copied().collect();
        let band = match &vert {
            Some(v) => resample_vertical(&band, cols.len(), rows.start, v),
            None => band,
        };
        match hor {
            Some(h) => resample_horizontal(&band, cols.len(), &h.shifted(cols.start)),
            None => band,
        }
    } else {
        let band = match &hor {
            Some(h) => resample_horizontal(band, in_w as usize, h),
            None => {
                let cols = xs.start as usize * 3..xs.end as usize * 3;
                band.chunks_exact(stride).flat_map(|row| &row[cols.clone()]).copied().collect()
            }
        };
        match &vert {
            Some(v) => resample_vertical(&band, out_w as usize, rows.start, v),
            None => band,
        }
    };
    RgbImage::from_raw(out_w, out_h, out).expect("resample output has w*h*3 bytes")
}

/// Pillow's `ImagingScaleAffine` (nearest neighbour) for the scale `in / out` on both axes,
/// restricted to the window `xs × ys` of the `width × height` output.
///
/// The source coordinate of output `x` is Pillow's running sum `a/2 + a + … + a` (`a = in / out`
/// in `f64`, added once per pixel, not multiplied, so the rounding is the C code's), truncated;
/// a coordinate outside the image leaves the pixel 0, as Pillow's `fill`.
fn nearest_window(img: &RgbImage, width: u32, height: u32, xs: Range<u32>, ys: Range<u32>) -> RgbImage {
    let (in_w, in_h) = img.dimensions();
    if (in_w, in_h) == (width, height) {
        // `Image.resize` returns a copy when the size does not change.
        let cols = xs.start as usize * 3..xs.end as usize * 3;
        let stride = in_w as usize * 3;
        let rows = &img.as_raw()[ys.start as usize * stride..ys.end as usize * stride];
        let out: Vec<u8> = rows.chunks_exact(stride).flat_map(|row| &row[cols.clone()]).copied().collect();
        return RgbImage::from_raw(xs.len() as u32, ys.len() as u32, out).expect("w*h*3 bytes");
    }
    let xin = nearest_table(in_w, width);
    let yin = nearest_table(in_h, height);
    // Columns between the first and last valid one read `xintab[x]`, which `calloc` left 0 for
    // an invalid x; the others stay 0.
    let first = xin.iter().position(Option::is_some).unwrap_or(xin.len());
    let last = xin.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let (out_w, out_h) = (xs.len(), ys.len());
    let mut out = vec![0u8; out_w * out_h * 3];
    let src = img.as_raw();
    let stride = in_w as usize * 3;
    for (row, y) in out.chunks_exact_mut(out_w * 3).zip(ys) {
        let Some(sy) = yin[y as usize] else { continue };
        let line = &src[sy * stride..(sy + 1) * stride];
        for (px, x) in row.chunks_exact_mut(3).zip(xs.clone()) {
            let x = x as usize;
            if (first..last).contains(&x) {
                let sx = xin[x].unwrap_or(0) * 3;
                px.copy_from_slice(&line[sx..sx + 3]);
            }
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, out).expect("w*h*3 bytes")
}

/// The source index of each of `out_size` outputs along one axis of Pillow's nearest scale, or
/// `None` where it falls outside `0..in_size` (Pillow's `COORD`: -1 below 0, else truncation).
fn nearest_table(in_size: u32, out_size: u32) -> Vec<Option<usize>> {
    // `a[0] = (double)(box[2] - box[0]) / xsize` with a float box: in_size as f32.
    let a = f64::from(in_size as f32) / f64::from(out_size);
    let mut o = a * 0.5;
    (0..out_size)
        .map(|_| {
            let i = if o < 0.0 { -1 } else { o as i64 };
            o += a;
            (0..i64::from(in_size)).contains(&i).then_some(i as usize)
        })
        .collect()
}

/// `ImagingResampleHorizontal_8bpc` for 3 bands: every row of `src` (`in_w` pixels wide) to the
/// outputs `coeffs` describes.
fn resample_horizontal(src: &[u8], in_w: usize, coeffs: &Coeffs) -> Vec<u8> {
    let out_w = coeffs.bounds.len();
    let rows = src.len() / (in_w * 3);
    let mut out = vec![0u8; rows * out_w * 3];
    for (src_row, out_row) in src.chunks_exact(in_w * 3).zip(out.chunks_exact_mut(out_w * 3)) {
        for (xx, px) in out_row.chunks_exact_mut(3).enumerate() {
            let (start, k) = coeffs.taps(xx);
            let taps = &src_row[start * 3..(start + k.len()) * 3];
            let (mut r, mut g, mut b) = (HALF, HALF, HALF);
            for (p, &w) in taps.chunks_exact(3).zip(k) {
                r += i32::from(p[0]) * w;
                g += i32::from(p[1]) * w;
                b += i32::from(p[2]) * w;
            }
            px[0] = clip8(r);
            px[1] = clip8(g);
            px[2] = clip8(b);
        }
    }
    out
}

/// `ImagingResampleVertical_8bpc`: `src` holds rows `first_row..` of the image (`width` pixels
/// wide); output row `yy` mixes the rows `coeffs` names. Sums a whole row at a time so the inner
/// loop runs over contiguous bytes.
fn resample_vertical(src: &[u8], width: usize, first_row: usize, coeffs: &Coeffs) -> Vec<u8> {
    let stride = width * 3;
    let out_h = coeffs.bounds.len();
    let mut out = vec![0u8; out_h * stride];
    let mut acc = vec![0i32; stride];
    for (yy, out_row) in out.chunks_exact_mut(stride).enumerate() {
        let (start, k) = coeffs.taps(yy);
        acc.fill(HALF);
        for (y, &w) in k.iter().enumerate() {
            let row_start = (start + y - first_row) * stride;
            let row = &src[row_start..row_start + stride];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += i32::from(p) * w;
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(227, 256), (500, 256), (1, 256), (37, 300), (10000, 256)] {
            let c = Coeffs::new(i, o, 0..o, Interpolation::Bilinear.filter().unwrap());
            for xx in 0..o as usize {
                let (start, k) = c.taps(xx);
                assert!(start + k.len() <= i as usize);
                let sum: i32 = k.iter().sum();
                assert!((sum - (1 << PRECISION_BITS)).abs() <= k.len() as i32, "{i}->{o}");
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        for &(w, h, ow, oh) in &[(227, 227, 256, 256), (500, 375, 341, 256), (3, 7, 256, 597)] {
            let img = RgbImage::from_pixel(w, h, image::Rgb([17, 200, 255]));
            let out = resize_bilinear_antialias(&img, ow, oh);
            assert_eq!(out.dimensions(), (ow, oh));
            assert!(out.pixels().all(|p| p.0 == [17, 200, 255]));
        }
    }

    #[test]
    fn one_pixel_enlarges_to_constant() {
        let img = RgbImage::from_pixel(1, 1, image::Rgb([1, 2, 3]));
        let out = resize_bilinear_antialias(&img, 256, 256);
        assert!(out.pixels().all(|p| p.0 == [1, 2, 3]));
    }

    #[test]
    fn same_size_is_identity_and_empty_is_empty() {
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8, y as u8, 9]));
        assert_eq!(resize_bilinear_antialias(&img, 5, 4), img);
        assert_eq!(resize_bilinear_antialias(&img, 0, 4).dimensions(), (0, 4));
        let empty = RgbImage::new(0, 0);
        assert_eq!(resize_bilinear_antialias(&empty, 3, 2).len(), 18);
    }

    /// Expected bytes from Pillow 13:
    /// ```python
    /// from PIL import Image
    /// row = bytes([0,0,0, 255,255,255, 0,0,0, 255,255,255, 10,20,30])
    /// Image.frombytes('RGB', (4, 1), row[:12]).resize((2, 1), Image.BILINEAR).tobytes()
    /// Image.frombytes('RGB', (5, 1), row).resize((2, 1), Image.BILINEAR).tobytes()
    /// ```
    #[test]
    fn shrinking_matches_pillow() {
        let row = [0u8, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 10, 20, 30];
        let img = RgbImage::from_raw(4, 1, row[..12].to_vec()).unwrap();
        let out = resize_bilinear_antialias(&img, 2, 1);
        assert_eq!(out.as_raw(), &[109, 109, 109, 146, 146, 146]);
        let img = RgbImage::from_raw(5, 1, row.to_vec()).unwrap();
        let out = resize_bilinear_antialias(&img, 2, 1);
        assert_eq!(out.as_raw(), &[116, 116, 116, 119, 122, 125]);
    }
}
