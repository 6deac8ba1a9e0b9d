//! sRGB to CIE-L\*a\*b\* (D65, 2° observer), as scikit-image's `skimage.color.rgb2lab` computes it.
//!
//! Both segmenters work in Lab space. scikit-image 0.26 (`skimage/color/colorconv.py`):
//! ```python
//! arr = rgb.copy(); mask = arr > 0.04045                          # rgb2xyz
//! arr[mask] = np.power((arr[mask] + 0.055) / 1.055, 2.4); arr[~mask] /= 12.92
//! xyz = arr @ xyz_from_rgb.T                                      # OpenBLAS: fused multiply-adds
//! arr = xyz / (0.95047, 1.0, 1.08883); mask = arr > 0.008856      # xyz2lab
//! arr[mask] = np.cbrt(arr[mask]); arr[~mask] = 7.787 * arr[~mask] + 16.0 / 116.0
//! L, a, b = 116 * y - 16, 500 * (x - y), 200 * (y - z)
//! ```
//! The conversion here repeats those `f64` operations in the same order, including the fused
//! multiply-adds of the matrix product (`fma(b, m2, fma(g, m1, r * m0))`, which is what numpy's
//! `@` yields with OpenBLAS, checked on 6,000 products). The power and the cube root come from
//! libm and [`cbrt`] (within 1 ulp), where numpy uses SVML on AVX-512 machines, which is not
//! correctly rounded either; Lab values differ from scikit-image's by at most about 1e-13
//! (`whole_crop_matches_scikit_image`). The input is 8-bit, so the gamma expansion is a
//! 256-entry table. Rows are converted as AVX2 or AVX-512 code where the CPU has it
//! ([`crate::cpu`]): the same values, twice as fast, `mul_add` then being one instruction instead
//! of a library call.

use rayon::prelude::*;

/// `xyz_from_rgb` of scikit-image (sRGB primaries, D65).
const XYZ_FROM_RGB: [[f64; 3]; 3] =
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]];

/// The D65 white point for the 2° observer, as scikit-image has it (`lab_ref_white`).
const WHITE_D65: [f64; 3] = [0.95047, 1.0, 1.08883];

/// An image in Lab space, one plane per channel (planar, so that loops over a row vectorise).
#[derive(Clone, Debug)]
pub(crate) struct LabPlanes {
    /// Image width.
    pub width: usize,
    /// `[L, a, b]`, each `height × width` values, row-major.
    pub planes: [Vec<f64>; 3],
}

/// `img_as_float` of an 8-bit channel value: `v / 255`.
pub(crate) fn unit_table() -> [f64; 256] {
    std::array::from_fn(|v| v as f64 / 255.0)
}

/// SLIC's rescaling of the whole image to `[0, 1]` before the conversion: `(x - min) / (max -
/// min)` over all channels of all pixels of `x = v / 255`, unchanged when `max == min`.
pub(crate) fn rescaled_table(rgb: &[u8]) -> [f64; 256] {
    let unit = unit_table();
    let (lo, hi) = rgb.iter().fold((u8::MAX, u8::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (imin, imax) = (unit[lo as usize], unit[hi as usize]);
    std::array::from_fn(|v| if imax != imin { (unit[v] - imin) / (imax - imin) } else { unit[v] - imin })
}

/// `rgb2xyz`'s gamma expansion of a channel value in `[0, 1]`.
fn rgb_to_linear(c: f64) -> f64 {
    if c > 0.04045 {
        ((c + 0.055) / 1.055).powf(2.4)
    } else {
        c / 12.92
    }
}

/// Converts an 8-bit HWC RGB image (`rgb.len() == 3 * width * height`) to Lab, after mapping each
/// channel value through `unit` (the `[0, 1]` float scikit-image would see for it), and multiplies
/// every channel value by `factor` (scikit-image scales the *image*, not the coordinates:
/// quickshift by `ratio`, SLIC by `1 / compactness`).
pub(crate) fn rgb_to_lab(rgb: &[u8], width: usize, unit: &[f64; 256], factor: f64) -> LabPlanes {
    let linear: [f64; 256] = std::array::from_fn(|v| rgb_to_linear(unit[v]));
    let n = rgb.len() / 3;
    let mut planes = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let [l, a, b] = &mut planes;
    let rows = width.max(1);
    (l.par_chunks_mut(rows), a.par_chunks_mut(rows), b.par_chunks_mut(rows), rgb.par_chunks(3 * rows))
        .into_par_iter()
        .for_each(|(l, a, b, src)| convert_row(&linear, factor, src, l, a, b));
    LabPlanes { width, planes }
}

crate::cpu::multiversion! {
    /// Converts one row (`src`, RGB) into `l`, `a` and `b`, through the gamma expansion `linear`,
    /// and multiplies the values by `factor`.
    fn convert_row(linear: &[f64; 256], factor: f64, src: &[u8], l: &mut [f64], a: &mut [f64], b: &mut [f64]) = convert_row_any;
}

/// [`convert_row`]'s code, for any instruction set.
#[inline(always)]
fn convert_row_any(linear: &[f64; 256], factor: f64, src: &[u8], l: &mut [f64], a: &mut [f64], b: &mut [f64]) {
    // X/Xn, Y/Yn, Z/Zn into the output row, then Lab in place (a loop that vectorises).
    for (i, px) in src.chunks_exact(3).enumerate() {
        let lin = [linear[px[0] as usize], linear[px[1] as usize], linear[px[2] as usize]];
        [l[i], a[i], b[i]] = std::array::from_fn(|j| {
            let m = &XYZ_FROM_RGB[j];
            lin[2].mul_add(m[2], lin[1].mul_add(m[1], lin[0] * m[0])) / WHITE_D65[j]
        });
    }
    let len = l.len();
    let (a, b) = (&mut a[..len], &mut b[..len]);
    for i in 0..len {
        let (fx, fy, fz) = (lab_f(l[i]), lab_f(a[i]), lab_f(b[i]));
        [l[i], a[i], b[i]] = [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)].map(|v| v * factor);
    }
}

/// `xyz2lab`'s non-linearity: `cbrt(t)` above 0.008856, `7.787 t + 16/116` below (branch-free).
#[inline(always)]
fn lab_f(t: f64) -> f64 {
    let (root, line) = (cbrt(t), 7.787 * t + 16.0 / 116.0);
    let above = u64::from(t > 0.008856).wrapping_neg();
    f64::from_bits((root.to_bits() & above) | (line.to_bits() & !above))
}

/// Cube root of `t >= 0`, within 1 ulp of the correctly rounded value, written to vectorise
/// (libm's is a scalar call and took a sixth of SLIC's time): a 3 % guess from the `f32` bit
/// pattern (Kahan's `bits / 3 + 709921077`), three Halley steps `y (y³ + 2t) / (2y³ + t)` and a
/// final Newton step.
#[inline(always)]
fn cbrt(t: f64) -> f64 {
    let bits = (t as f32).to_bits() as i32;
    let mut y = f64::from(f32::from_bits(((bits as f32 / 3.0) as i32 + 709_921_077) as u32));
    for _ in 0..3 {
        let y3 = y * y * y;
        y = y * (y3 + 2.0 * t) / (2.0 * y3 + t);
    }
    y - (y * y * y - t) / (3.0 * y * y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by scikit-image 0.26:
    /// ```python
    /// from skimage.color import rgb2lab; import numpy as np
    /// print(rgb2lab(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [5, 5, 5],
    ///                          [128, 64, 32]]]) / 255.0).tolist())
    /// ```
    #[test]
    fn matches_scikit_image() {
        let rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 5, 5, 5, 128, 64, 32];
        let lab = rgb_to_lab(&rgb, 6, &unit_table(), 1.0);
        let expected = [
            [53.2405879437449, 80.0923082256922, 67.2027510444287],
            [87.73509948831895, -86.18302974439501, 83.17970317538452],
            [32.29567256501351, 79.18559091176556, -107.85730020669489],
            [100.0, -0.0024549378620508655, 0.004653421154054982],
            [1.3708674801189815, -8.703563682266324e-05, 0.00016497608551491183],
            [34.72479591236425, 24.9995677303827, 31.372839725488376],
        ];
        for (i, e) in expected.iter().enumerate() {
            let got = [lab.planes[0][i], lab.planes[1][i], lab.planes[2][i]];
            for c in 0..3 {
                assert!((got[c] - e[c]).abs() <= 1e-12, "pixel {i}: {got:?} vs {e:?}");
            }
        }
    }

    /// A whole 224×224 crop against `rgb2lab(crop / 255)` from `scripts/fixtures/superpixels.py`.
    /// numpy evaluates `np.power` and `np.cbrt` with SVML on AVX-512 machines, which is not
    /// correctly rounded (measured: 88 of the 245 gamma values, 0.7 % of cube roots), while libm's
    /// (here) are; so values may differ in the last bits, never by more than a few ulp.
    #[test]
    fn whole_crop_matches_scikit_image() {
        let Some(dir) = rectify_testkit::fixtures("superpixels") else { return };
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        let case = &manifest["cases"][0];
        let img = image::open(dir.join(case["png"].as_str().unwrap())).unwrap().to_rgb8();
        let expected = rectify_data::npy::read_f64(&dir.join(case["lab"].as_str().unwrap())).unwrap();
        let lab = rgb_to_lab(img.as_raw(), img.width() as usize, &unit_table(), 1.0);
        let (mut differ, mut worst) = (0, 0.0f64);
        for (i, e) in expected.data.chunks_exact(3).enumerate() {
            for (plane, e) in lab.planes.iter().zip(e) {
                let diff = (plane[i] - e).abs();
                differ += usize::from(diff > 0.0);
                worst = worst.max(diff);
            }
        }
        println!("Lab: {differ} of {} values differ from scikit-image's, by at most {worst:e}", expected.data.len());
        assert!(worst <= 1e-12, "Lab differs from scikit-image's by {worst}");
    }

    /// The conversion for every instruction set this CPU has agrees with the baseline bit for
    /// bit, on every 8-bit colour whose channels are multiples of 5 plus 2 and on random pixels.
    #[test]
    fn conversion_is_the_same_on_every_instruction_set() {
        let mut rgb: Vec<u8> = (0..51u8)
            .flat_map(|r| (0..51u8).flat_map(move |g| (0..51u8).flat_map(move |b| [r, g, b])))
            .map(|v| v * 5 + 2)
            .collect();
        let mut seed = 1u64;
        rgb.extend((0..3 * 4099).map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        }));
        for unit in [unit_table(), rescaled_table(&rgb[3 * 51 * 51 * 51..])] {
            let linear: [f64; 256] = std::array::from_fn(|v| rgb_to_linear(unit[v]));
            let n = rgb.len() / 3;
            let [mut l0, mut a0, mut b0] = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            convert_row_any(&linear, 0.1, &rgb, &mut l0, &mut a0, &mut b0);
            for level in crate::cpu::levels() {
                let [mut l, mut a, mut b] = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
                crate::cpu::with_level(level, || convert_row(&linear, 0.1, &rgb, &mut l, &mut a, &mut b));
                for (ours, base) in [(&l, &l0), (&a, &a0), (&b, &b0)] {
                    assert!(ours.iter().zip(base).all(|(x, y)| x.to_bits() == y.to_bits()), "{level:?}");
                }
            }
        }
    }

    #[test]
    fn cbrt_is_within_one_ulp() {
        let mut worst = 0.0f64;
        for i in 0..1_000_000 {
            let t = 0.008 + i as f64 * 1.3e-6;
            let (got, want) = (cbrt(t), t.cbrt());
            worst = worst.max((got - want).abs() / (want * f64::EPSILON));
        }
        assert!(worst <= 1.0, "cbrt off by {worst} ulp");
        assert_eq!(cbrt(1.0), 1.0);
        assert!(cbrt(0.0).is_finite() && lab_f(0.0) == 16.0 / 116.0);
    }

    #[test]
    fn rescale_stretches_to_unit_range() {
        let t = rescaled_table(&[10, 20, 30, 110]);
        assert_eq!((t[10], t[110]), (0.0, 1.0));
        assert!((t[60] - 0.5).abs() < 1e-15);
        assert_eq!(rescaled_table(&[7, 7, 7])[7], 0.0);
    }
}
