//! Quickshift (Vedaldi & Soatto, "Quick shift and kernel methods for mode seeking", ECCV 2008),
//! as scikit-image 0.26 computes it (`skimage/segmentation/_quickshift.py` and
//! `_quickshift_cy.pyx`), which is what lime's `SegmentationAlgorithm('quickshift', ...)` calls.
//!
//! Each pixel is a point `(r, c, ratio·L, ratio·a, ratio·b)`; with `d²` the squared Euclidean
//! distance in that space and `w = ceil(3·kernel_size)`:
//! 1. density: `P(p) = Σ exp(-d²(p, q) / (2·kernel_size²))` over the `(2w+1)²` window around `p`
//!    (clipped at the border), plus a tiny tie-breaking perturbation;
//! 2. each pixel links to the nearest pixel of its window with a strictly higher density (the
//!    first in scan order among equally near ones), unless that is farther than `max_dist`;
//! 3. the roots of the resulting forest are the segments, numbered in increasing order of the
//!    root's row-major index (`np.unique(roots, return_inverse=True)`).
//!
//! Distances are computed in `f64` with scikit-image's order of operations. Two differences, both
//! for speed (about 7× scikit-image's single-threaded speed on one core): the kernel values are
//! evaluated in `f32` (a vectorised polynomial within 2.5e-7 of `exp`, summed in `f64`), and each
//! unordered pair is evaluated once and added to both pixels, per row offset `dr` in parallel into
//! separate buffers summed in a fixed order, so the result does not depend on the number of
//! threads. The densities stay within about 1e-6 of scikit-image's exact sums (test
//! `densities_match_the_direct_sum`), an order of magnitude below its tie-breaking noise. The
//! linking step is exact and searches by increasing distance (see `links.rs`).
//!
//! Tie-breaking: scikit-image adds `rng.normal(scale=1e-5)` noise (numpy's PCG64 stream) to the
//! densities. Here the noise is a deterministic normal(0, 1e-5) draw from a hash (SplitMix64) of
//! the pixel index, so results are reproducible and flat regions still split the way scikit-image
//! splits them. On photographs the noise rarely matters: two scikit-image seeds agree on 99.9–100 %
//! of neighbouring pixel pairs (`scripts/fixtures/superpixels.py`).

use rayon::prelude::*;

use crate::lab::LabPlanes;

mod links;

/// Standard deviation of the tie-breaking perturbation of the densities (scikit-image's).
const TIE_NOISE: f64 = 1e-5;

/// Seed of the tie-breaking perturbation (scikit-image's default `rng=42`; the stream differs).
const TIE_SEED: u64 = 42;

/// Labels (row-major, `0..count`) and `count` of the quickshift segmentation of `lab`, which holds
/// the image already multiplied by `ratio`; `height × lab.width` pixels.
pub(crate) fn quickshift(lab: &LabPlanes, height: usize, kernel_size: f64, max_dist: f64) -> (Vec<u32>, usize) {
    let half = (3.0 * kernel_size).ceil() as usize;
    let inv = -0.5 / (kernel_size * kernel_size);
    let density = densities(lab, height, half, inv);
    let parent = links::parents(lab, height, half, &density, max_dist);
    roots_to_labels(parent)
}

/// The Parzen density of every pixel, `Σ_q exp(inv · d²(p, q))` over the window of half-width
/// `half`, plus the tie-breaking noise. Each unordered pair is evaluated once; the offsets `(dr, ·)`
/// of one `dr` accumulate into their own buffer (in parallel), summed in order of `dr`.
fn densities(lab: &LabPlanes, height: usize, half: usize, inv: f64) -> Vec<f64> {
    let (width, n) = (lab.width, lab.width * height);
    let partial: Vec<Vec<f64>> = (0..=half.min(height - 1))
        .into_par_iter()
        .map(|dr| {
            let mut acc = vec![0.0; n];
            let mut row = vec![0.0f32; width];
            let dcs: Vec<isize> =
                if dr == 0 { (1..=half as isize).collect() } else { (-(half as isize)..=half as isize).collect() };
            for r in 0..height - dr {
                for &dc in &dcs {
                    let (c0, c1) = (dc.min(0).unsigned_abs(), width.saturating_sub(dc.max(0) as usize));
                    if c0 >= c1 {
                        continue;
                    }
                    let (p, q) = (r * width + c0, (r + dr) * width + c0.wrapping_add_signed(dc));
                    let len = c1 - c0;
                    let (a, b) = (rows3(lab, p, len), rows3(lab, q, len));
                    let w = &mut row[..len];
                    kernel_row(a, b, (dr * dr) as f64, (dc * dc) as f64, inv, w);
                    acc[p..p + len].iter_mut().zip(w.iter()).for_each(|(s, &v)| *s += f64::from(v));
                    acc[q..q + len].iter_mut().zip(w.iter()).for_each(|(s, &v)| *s += f64::from(v));
                }
            }
            acc
        })
        .collect();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let sum = partial.iter().fold(1.0, |d, acc| d + acc[i]); // 1 = exp(0), the pixel itself
            sum + TIE_NOISE * normal(TIE_SEED, i as u64)
        })
        .collect()
}

/// `len` consecutive values of each Lab plane from pixel index `start`.
fn rows3(lab: &LabPlanes, start: usize, len: usize) -> [&[f64]; 3] {
    lab.planes.each_ref().map(|plane| &plane[start..start + len])
}

/// `d²` between the pixels of two row segments `a` and `b` whose spatial offset has squared
/// components `dr2` and `dc2`, in scikit-image's order of summation.
#[inline(always)]
fn dist2(a: [&[f64]; 3], b: [&[f64]; 3], i: usize, dr2: f64, dc2: f64) -> f64 {
    let t0 = a[0][i] - b[0][i];
    let t1 = a[1][i] - b[1][i];
    let t2 = a[2][i] - b[2][i];
    (t0 * t0 + t1 * t1 + t2 * t2 + dr2) + dc2
}

/// `out[i] = exp(inv · d²(a[i], b[i]))` for one row segment: `d²` in `f64`, the exponential in
/// `f32` (two passes, so that each vectorises at its own width).
fn kernel_row(a: [&[f64]; 3], b: [&[f64]; 3], dr2: f64, dc2: f64, inv: f64, out: &mut [f32]) {
    let len = out.len();
    let (a, b) = (a.map(|s| &s[..len]), b.map(|s| &s[..len]));
    for (i, o) in out.iter_mut().enumerate() {
        *o = (dist2(a, b, i, dr2, dc2) * inv) as f32;
    }
    out.iter_mut().for_each(|o| *o = exp_f32(*o));
}

/// Flattens the forest and numbers the roots in increasing index order.
fn roots_to_labels(mut parent: Vec<u32>) -> (Vec<u32>, usize) {
    for p in 0..parent.len() {
        let mut root = p as u32;
        while parent[root as usize] != root {
            root = parent[root as usize];
        }
        let mut q = p as u32;
        while parent[q as usize] != root {
            q = std::mem::replace(&mut parent[q as usize], root);
        }
    }
    let mut label_of = vec![u32::MAX; parent.len()];
    let mut count = 0;
    for (p, &root) in parent.iter().enumerate() {
        if root as usize == p {
            label_of[p] = count;
            count += 1;
        }
    }
    (parent.into_iter().map(|root| label_of[root as usize]).collect(), count as usize)
}

/// `exp(x)` in `f32` for `x <= 0`, within 2.5e-7 relative; `exp(-87)` (about 1.6e-38) below
/// `-87`. Branch-free so that loops over it vectorise (four lanes on SSE2): `2^n · e^r` with
/// `n = round(x / ln 2)`, `|r| <= ln 2 / 2` (Cody–Waite reduction, Cephes' constants) and the
/// degree-7 Taylor polynomial of `e^r` (truncation error 5e-9).
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4; // 355/512: n · LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const C: [f32; 8] = [1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];
    let x = if x < -87.0 { -87.0 } else { x };
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let r2 = r * r;
    let p = (C[0] + C[1] * r + (C[2] + C[3] * r) * r2) + (C[4] + C[5] * r + (C[6] + C[7] * r) * r2) * (r2 * r2);
    // The low bits of `t` hold n; n + 127 in the exponent field is 2^n.
    f32::from_bits(t.to_bits().wrapping_add(127) << 23) * p
}

/// A deterministic standard normal draw for `index` (SplitMix64 hashing, Box–Muller).
fn normal(seed: u64, index: u64) -> f64 {
    let h1 = splitmix64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let h2 = splitmix64(h1);
    let u1 = ((h1 >> 11) as f64 + 0.5) / (1u64 << 53) as f64; // in (0, 1)
    let u2 = (h2 >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// SplitMix64's output function (Steele, Lea & Flood 2014).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_close_to_libm() {
        for i in 0..100_000 {
            let x = -(i as f32) * 0.000_87;
            let (got, want) = (f64::from(exp_f32(x)), f64::from(x).exp());
            assert!((got - want).abs() <= 2.5e-7 * want, "exp({x}) = {got}, libm {want}");
        }
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1e6) > 0.0 && exp_f32(-1e6) < 1e-37);
    }

    #[test]
    fn noise_is_standard_normal() {
        let draws: Vec<f64> = (0..100_000).map(|i| normal(TIE_SEED, i)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02, "mean {mean}, variance {var}");
    }

    /// A `width × height` image in scaled-Lab units: smooth gradients, blocks, noise, and values
    /// quantised to steps of 0.5 so that exact distance ties are common.
    fn synthetic(width: usize, height: usize) -> LabPlanes {
        let plane = |c: u64| {
            (0..width * height)
                .map(|i| {
                    let (y, x) = ((i / width) as f64, (i % width) as f64);
                    let noise = (splitmix64(c * 1_000_003 + i as u64) >> 40) as f64 / (1u64 << 24) as f64;
                    let v = 8.0 * ((x / 7.0 + c as f64).sin() + (y / 5.0).cos()) + 6.0 * f64::from(x > y) + 3.0 * noise;
                    (2.0 * v).round() / 2.0
                })
                .collect()
        };
        LabPlanes { width, planes: [plane(0), plane(1), plane(2)] }
    }

    /// scikit-image's density loop, in `f64` with libm's `exp`, plus the same noise.
    fn direct_densities(lab: &LabPlanes, height: usize, half: usize, inv: f64) -> Vec<f64> {
        let w = lab.width;
        (0..w * height)
            .map(|p| {
                let (r, c) = (p / w, p % w);
                let mut sum = 0.0;
                for rr in r.saturating_sub(half)..(r + half + 1).min(height) {
                    for cc in c.saturating_sub(half)..(c + half + 1).min(w) {
                        let q = rr * w + cc;
                        let (a, b) = (rows3(lab, p, 1), rows3(lab, q, 1));
                        let d = dist2(a, b, 0, (r.abs_diff(rr) as f64).powi(2), (c.abs_diff(cc) as f64).powi(2));
                        sum += (d * inv).exp();
                    }
                }
                sum + TIE_NOISE * normal(TIE_SEED, p as u64)
            })
            .collect()
    }

    #[test]
    fn densities_match_the_direct_sum() {
        let (lab, height) = (synthetic(41, 33), 33);
        let ours = densities(&lab, height, 12, -0.5 / 16.0);
        let direct = direct_densities(&lab, height, 12, -0.5 / 16.0);
        let worst = ours.iter().zip(&direct).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        println!("densities: worst difference from the direct sum {worst:e}");
        assert!(worst < 1e-6, "density differs from the direct sum by {worst}");
    }

    #[test]
    fn links_match_the_full_window_scan() {
        let (lab, height, half) = (synthetic(41, 33), 33, 12);
        let w = lab.width;
        let density = densities(&lab, height, half, -0.5 / 16.0);
        for max_dist in [200.0, 2.0] {
            let ours = links::parents(&lab, height, half, &density, max_dist);
            for (p, &got) in ours.iter().enumerate() {
                // scikit-image's loop: scan order, strict `>` on density and `<` on distance.
                let (r, c) = (p / w, p % w);
                let (mut best, mut parent) = (f64::MAX, p);
                for rr in r.saturating_sub(half)..(r + half + 1).min(height) {
                    for cc in c.saturating_sub(half)..(c + half + 1).min(w) {
                        let q = rr * w + cc;
                        let d = dist2(
                            rows3(&lab, p, 1),
                            rows3(&lab, q, 1),
                            0,
                            (r.abs_diff(rr) as f64).powi(2),
                            (c.abs_diff(cc) as f64).powi(2),
                        );
                        if density[q] > density[p] && d < best {
                            (best, parent) = (d, q);
                        }
                    }
                }
                let want = if best.sqrt() > max_dist { p } else { parent };
                assert_eq!(got as usize, want, "pixel {p}, max_dist {max_dist}");
            }
        }
    }

    #[test]
    fn labels_follow_root_order() {
        // 0 <- 1 <- 2, 3 is a root, 4 -> 3: roots 0 and 3 become labels 0 and 1.
        assert_eq!(roots_to_labels(vec![0, 0, 1, 3, 3]), (vec![0, 0, 0, 1, 1], 2));
    }
}
