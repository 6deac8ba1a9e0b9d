//! Chroma upsampling and colour conversion to RGB, after libjpeg-turbo's `jdsample.c` ("fancy"
//! triangle-filter upsampling, its default) and `jdcolor.c` (16-bit fixed-point YCbCr → RGB
//! tables), followed for 4-channel files by Pillow's `CMYK;I` unpacking and `cmyk2rgb`
//! (`Convert.c`), so the result equals PIL's `Image.open(f).convert('RGB')`.

use image::RgbImage;

use super::markers::{AppInfo, Component, Frame};
use super::JpegError;

/// How the stored components are to be read (libjpeg's `jpeg_color_space`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ColorSpace {
    Gray,
    YCbCr,
    Rgb,
    Cmyk,
    Ycck,
}

/// libjpeg's guess (`default_decompress_parms`): JFIF means YCbCr, an Adobe marker says RGB/YCbCr
/// or CMYK/YCCK, otherwise the component ids decide (`R`,`G`,`B` = RGB).
pub(super) fn color_space(frame: &Frame, app: &AppInfo) -> ColorSpace {
    let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
    match (ids.len(), app.adobe_transform) {
        (1, _) => ColorSpace::Gray,
        (3, _) if app.jfif => ColorSpace::YCbCr,
        (3, Some(0)) => ColorSpace::Rgb,
        (3, Some(_)) => ColorSpace::YCbCr,
        (3, None) if ids == b"RGB" => ColorSpace::Rgb,
        (3, None) => ColorSpace::YCbCr,
        (_, Some(0) | None) => ColorSpace::Cmyk,
        _ => ColorSpace::Ycck,
    }
}

/// Per-component upsampling method, chosen as `jinit_upsampler` does.
#[derive(Clone, Copy, Debug)]
enum Upsample {
    Full,
    H2V1Fancy,
    H1V2Fancy,
    H2V2Fancy,
    /// Box filter (sample replication) by integral factors, including 2×1 and 2×2 when the
    /// component is at most 2 samples wide.
    Replicate {
        h: usize,
        v: usize,
    },
}

fn choose(c: &Component, hmax: usize, vmax: usize) -> Result<Upsample, JpegError> {
    let fancy_ok = c.width > 2;
    Ok(match (c.h, c.v) {
        (h, v) if h == hmax && v == vmax => Upsample::Full,
        (h, v) if 2 * h == hmax && v == vmax && fancy_ok => Upsample::H2V1Fancy,
        (h, v) if h == hmax && 2 * v == vmax => Upsample::H1V2Fancy,
        (h, v) if 2 * h == hmax && 2 * v == vmax && fancy_ok => Upsample::H2V2Fancy,
        (h, v) if hmax / h * h == hmax && vmax / v * v == vmax => Upsample::Replicate { h: hmax / h, v: vmax / v },
        _ => return Err(JpegError::Unsupported("fractional sampling ratio".into())),
    })
}

/// Upsamples output row `y` of component `c` (its samples in `plane`, `stride` per row) into
/// `out`, which receives at least `width` samples.
fn upsample_row(up: Upsample, c: &Component, plane: &[u8], stride: usize, y: usize, out: &mut [u8]) {
    let row = |r: usize| &plane[r * stride..r * stride + c.width];
    // The nearer and the further input row for the two output rows of a 2:1 vertical step;
    // libjpeg's context rows repeat the first and last real rows at the edges.
    let rows_v2 = || {
        let r = y / 2;
        let far = if y & 1 == 0 { r.saturating_sub(1) } else { (r + 1).min(c.height - 1) };
        (row(r), row(far))
    };
    match up {
        Upsample::Full => out[..c.width].copy_from_slice(row(y)),
        Upsample::H2V1Fancy => {
            let inp = row(y);
            let n = inp.len();
            let px = |i: usize| i32::from(inp[i]);
            out[0] = inp[0];
            out[1] = ((px(0) * 3 + px(1) + 2) >> 2) as u8;
            for i in 1..n - 1 {
                let v = px(i) * 3;
                out[2 * i] = ((v + px(i - 1) + 1) >> 2) as u8;
                out[2 * i + 1] = ((v + px(i + 1) + 2) >> 2) as u8;
            }
            out[2 * n - 2] = ((px(n - 1) * 3 + px(n - 2) + 1) >> 2) as u8;
            out[2 * n - 1] = inp[n - 1];
        }
        Upsample::H1V2Fancy => {
            let (near, far) = rows_v2();
            let bias = if y & 1 == 0 { 1 } else { 2 };
            for ((o, &a), &b) in out.iter_mut().zip(near).zip(far) {
                *o = ((i32::from(a) * 3 + i32::from(b) + bias) >> 2) as u8;
            }
        }
        Upsample::H2V2Fancy => {
            let (near, far) = rows_v2();
            let n = near.len();
            let sum = |i: usize| i32::from(near[i]) * 3 + i32::from(far[i]);
            let (mut last, mut this) = (sum(0), sum(1));
            out[0] = ((last * 4 + 8) >> 4) as u8;
            out[1] = ((last * 3 + this + 7) >> 4) as u8;
            for i in 2..n {
                let next = sum(i);
                out[2 * i - 2] = ((this * 3 + last + 8) >> 4) as u8;
                out[2 * i - 1] = ((this * 3 + next + 7) >> 4) as u8;
                (last, this) = (this, next);
            }
            out[2 * n - 2] = ((this * 3 + last + 8) >> 4) as u8;
            out[2 * n - 1] = ((this * 4 + 7) >> 4) as u8;
        }
        Upsample::Replicate { h, v } => {
            let inp = &plane[(y / v) * stride..(y / v + 1) * stride];
            for (chunk, &s) in out.chunks_mut(h).zip(inp) {
                chunk.fill(s);
            }
        }
    }
}

/// libjpeg's YCbCr → RGB tables: `Cr→R`, `Cb→B` rounded, `Cr→G`, `Cb→G` (+½) scaled by 2^16.
struct YccTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

impl YccTables {
    fn new() -> Self {
        const ONE_HALF: i32 = 1 << 15;
        let fix = |x: f64| (x * 65536.0 + 0.5) as i32;
        let mut t = YccTables { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] };
        for i in 0..256 {
            let x = i as i32 - 128;
            t.cr_r[i] = (fix(1.40200) * x + ONE_HALF) >> 16;
            t.cb_b[i] = (fix(1.77200) * x + ONE_HALF) >> 16;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        }
        t
    }

    /// `(R, G, B)` of one YCbCr sample, each clamped to 0–255.
    #[inline]
    fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        [clamp(y + self.cr_r[cr]), clamp(y + ((self.cb_g[cb] + self.cr_g[cr]) >> 16)), clamp(y + self.cb_b[cb])]
    }
}

/// Pillow's `cmyk2rgb` after its `CMYK;I` unpacker, on the inks libjpeg returns: with stored
/// (Adobe, inverted) values `c` and `k`, `R = k − MULDIV255(255 − c, k)`.
#[inline]
fn cmyk_to_rgb(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let nk = i32::from(k);
    let channel = |v: u8| {
        let tmp = (255 - i32::from(v)) * nk + 128;
        (nk - (((tmp >> 8) + tmp) >> 8)).clamp(0, 255) as u8
    };
    [channel(c), channel(m), channel(y)]
}

/// Upsamples the component planes (`bw * 8` samples per row) and converts them to RGB.
pub(super) fn to_rgb(frame: &Frame, planes: &[Vec<u8>], space: ColorSpace) -> Result<RgbImage, JpegError> {
    let (w, h) = (frame.width, frame.height);
    let ups = frame.components.iter().map(|c| choose(c, frame.hmax, frame.vmax)).collect::<Result<Vec<_>, _>>()?;
    let row_len = frame.mcus_x * frame.hmax * 8 + 16;
    let mut rows = vec![vec![0u8; row_len]; frame.components.len()];
    let tables = (space == ColorSpace::YCbCr || space == ColorSpace::Ycck).then(YccTables::new);
    let mut out = vec![0u8; w * h * 3];
    for (y, line) in out.chunks_exact_mut(w * 3).enumerate() {
        for (i, c) in frame.components.iter().enumerate() {
            upsample_row(ups[i], c, &planes[i], c.bw * 8, y, &mut rows[i]);
        }
        let pixels = line.chunks_exact_mut(3).enumerate();
        let s = |i: usize, x: usize| rows[i][x];
        match (space, &tables) {
            (ColorSpace::Gray, _) => pixels.for_each(|(x, px)| px.fill(s(0, x))),
            (ColorSpace::Rgb, _) => {
                pixels.for_each(|(x, px)| px.copy_from_slice(&[s(0, x), s(1, x), s(2, x)]));
            }
            (ColorSpace::YCbCr, Some(t)) => {
                pixels.for_each(|(x, px)| px.copy_from_slice(&t.rgb(s(0, x), s(1, x), s(2, x))));
            }
            (ColorSpace::Cmyk, _) => pixels.for_each(|(x, px)| {
                px.copy_from_slice(&cmyk_to_rgb(s(0, x), s(1, x), s(2, x), s(3, x)));
            }),
            (ColorSpace::Ycck, Some(t)) => pixels.for_each(|(x, px)| {
                // libjpeg's `ycck_cmyk_convert`: C = 255 − R etc., K passes through.
                let [r, g, b] = t.rgb(s(0, x), s(1, x), s(2, x));
                px.copy_from_slice(&cmyk_to_rgb(255 - r, 255 - g, 255 - b, s(3, x)));
            }),
            _ => unreachable!("tables exist for YCbCr and YCCK"),
        }
    }
    Ok(RgbImage::from_raw(w as u32, h as u32, out).expect("w*h*3 bytes"))
}
