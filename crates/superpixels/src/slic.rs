//! SLIC superpixels (Achanta, Shaji, Smith, Lucchi, Fua & Süsstrunk, "SLIC Superpixels Compared
//! to State-of-the-art Superpixel Methods", TPAMI 2012), as scikit-image 0.26 computes them
//! (`skimage/segmentation/slic_superpixels.py`, `_slic.pyx`) for
//! `slic(image, n_segments, compactness, max_num_iter, start_label=0)` on an RGB image:
//!
//! 1. the image is rescaled to `[0, 1]` by its global minimum and maximum, converted to Lab and
//!    multiplied by `1 / compactness`;
//! 2. centres start on `skimage.util.regular_grid((1, height, width), n_segments)` with colour
//!    `(0, 0, 0)`; `step` is the largest grid step;
//! 3. `max_num_iter` rounds of k-means restricted to windows: every centre claims the pixels
//!    within `2·step` (per axis) whose distance `(dy² + dx²) / step² + |colour - centre colour|²`
//!    is strictly smaller than the best so far (centres in order), then each centre moves to the
//!    mean position and colour of its pixels; a centre that lost all its pixels is dropped (in
//!    scikit-image its mean becomes NaN and it never wins a pixel again);
//! 4. [`connectivity::enforce`](crate::connectivity::enforce) relabels connected components.
//!
//! Everything follows scikit-image's order: centres claim pixels in centre order with a strict
//! `<`, and the update sums in scan order (per band of rows, then the bands in order). The colour
//! conversion, centres and sums are `f64` as in scikit-image; the distances of the assignment
//! step are `f32` (twice the lanes per vector of `f64`), from the spatial terms `(cy - y)² / step²` and
//! `(cx - x)² / step²` computed per window in `f64`.
//! That could only matter where two centres are within about 1e-7 (relative) of each other: the
//! label maps are identical to scikit-image's on all test fixtures (`tests/reference.rs`). Rows
//! are assigned and summed in parallel bands of fixed size, so the result does not depend on the
//! number of threads; the assignment runs as AVX2 or AVX-512 code where the CPU has it
//! ([`crate::cpu`]), with the same result.

use rayon::prelude::*;

use crate::lab::LabPlanes;

/// Rows per parallel band of the assignment step.
const BAND: usize = 8;

/// Window spans are a multiple of this many pixels: one AVX2 vector of `f32`, half an AVX-512 one
/// (a multiple of 16 wastes more lanes than it saves).
const LANES: usize = 8;

/// Bands per parallel task: the sums of two bands are computed together ([`band_sums`]).
const TASK_BANDS: usize = 2;

/// Label of a pixel no centre has claimed yet.
const UNCLAIMED: u32 = u32::MAX;

/// The k-means result before connectivity: one label per pixel (row-major, index of the centre)
/// and the number of initial centres (which sets the expected segment size).
pub(crate) struct Clusters {
    /// Index of the nearest centre of each pixel, `height × width` values.
    pub labels: Vec<u32>,
    /// Number of grid centres.
    pub centres: usize,
}

/// `skimage.util.regular_grid(shape, n_points)` for a 3-d shape: `(start, step)` per axis, and
/// whether the step is scikit-image's `None` (every index, when `n_points` covers the array).
pub(crate) fn regular_grid(shape: [usize; 3], n_points: usize) -> [(usize, usize); 3] {
    let mut order = [0usize, 1, 2];
    order.sort_by_key(|&i| shape[i]); // stable, as numpy's argsort is for three elements
    let sorted = order.map(|i| shape[i] as f64);
    let mut space = sorted.iter().product::<f64>();
    let n = n_points as f64;
    if space <= n {
        return [(0, 1); 3];
    }
    let mut steps = [(space / n).powf(1.0 / 3.0); 3];
    if sorted.iter().zip(&steps).any(|(d, s)| d < s) {
        for dim in 0..3 {
            steps[dim] = sorted[dim];
            space = sorted[dim + 1..].iter().product();
            let rest = (space / n).powf(1.0 / (2 - dim) as f64);
            steps[dim + 1..].iter_mut().for_each(|s| *s = rest);
            if sorted.iter().zip(&steps).all(|(d, s)| d >= s) {
                break;
            }
        }
    }
    let mut grid = [(0, 1); 3];
    for (k, &axis) in order.iter().enumerate() {
        grid[axis] = ((steps[k] / 2.0).floor() as usize, steps[k].round_ties_even() as usize);
    }
    grid
}

/// Runs steps 2–3 on `lab` (`height × lab.width`, already scaled by `1 / compactness`).
pub(crate) fn kmeans(lab: &LabPlanes, height: usize, n_segments: usize, max_iter: usize) -> Clusters {
    let width = lab.width;
    let (grid, seeds) = Grid::new(lab, height, n_segments);
    // Features [y, x, L, a, b] (z is always 0 for a 2-d image); colours start at zero.
    let mut centres: Vec<[f64; 5]> = seeds.map(|(y, x)| [y as f64, x as f64, 0.0, 0.0, 0.0]).collect();
    let count = centres.len();
    let mut alive = vec![true; count];
    // UNCLAIMED until a centre claims the pixel (always in the first round: the windows cover the
    // image); u32 like the f32 distances, so that the selects vectorise as many lanes at a time.
    let mut labels = vec![UNCLAIMED; width * height];
    let mut distance = vec![f32::MAX; width * height];
    // scikit-image stops early when a round claims no pixel, which cannot happen: each round starts
    // from `distance = DBL_MAX`, so the first centre to reach a pixel claims it. All rounds run.
    for _ in 0..max_iter {
        let windows = grid.windows(&centres, &alive);
        let sums: Vec<Vec<[f64; 6]>> = labels
            .par_chunks_mut(TASK_BANDS * BAND * width)
            .zip(distance.par_chunks_mut(TASK_BANDS * BAND * width))
            .enumerate()
            .flat_map_iter(|(task, (labels, distance))| {
                let first = task * TASK_BANDS * BAND;
                let bands = labels.chunks_mut(BAND * width).zip(distance.chunks_mut(BAND * width));
                for (band, (labels, distance)) in bands.enumerate() {
                    assign_band(&grid, &windows, first + band * BAND, labels, distance);
                }
                band_sums(lab, first, labels, count)
            })
            .collect();
        update_centres(&sums, &mut centres, &mut alive);
    }
    Clusters { labels, centres: count }
}

/// What the assignment step needs besides the centres: the image in `f32` and the window size.
struct Grid {
    width: usize,
    height: usize,
    /// Half-size of a centre's window along y and x: twice the grid step.
    reach: [usize; 2],
    /// `1 / step²`.
    spatial_weight: f64,
    /// The scaled Lab planes, rounded to `f32`.
    planes: [Vec<f32>; 3],
}

impl Grid {
    /// The grid of `skimage.util.regular_grid` for `n_segments` on `lab`, and the
    /// positions `(y, x)` of its initial centres, row by row.
    fn new(lab: &LabPlanes, height: usize, n_segments: usize) -> (Grid, impl Iterator<Item = (usize, usize)>) {
        let width = lab.width;
        let [(_, step_z), (y0, step_y), (x0, step_x)] = regular_grid([1, height, width], n_segments);
        let step = step_z.max(step_y).max(step_x) as f32; // `float step` in the Cython signature
        let grid = Grid {
            width,
            height,
            reach: [2 * step_y, 2 * step_x],
            spatial_weight: 1.0 / f64::from(step * step),
            planes: lab.planes.each_ref().map(|p| p.iter().map(|&v| v as f32).collect()),
        };
        let seeds = (y0..height).step_by(step_y).flat_map(move |y| (x0..width).step_by(step_x).map(move |x| (y, x)));
        (grid, seeds)
    }
}

/// One live centre as the assignment step sees it in one round.
struct Window {
    /// Index of the centre (its label).
    k: u32,
    /// Row of the centre.
    cy: f64,
    /// Rows it reaches (scikit-image's `<Py_ssize_t>max(cy - 2 * step_y, 0)` etc.).
    rows: std::ops::Range<usize>,
    /// The columns it reaches, widened (within the image) to a multiple of [`LANES`] columns.
    span: std::ops::Range<usize>,
    /// Its colour, in `f32`.
    colour: [f32; 3],
    /// `(cx - x)² / step²` for `x` in `span`: `+∞` in the columns it does not reach, where no
    /// distance is then smaller than the initial `f32::MAX`.
    dx2: Vec<f32>,
}

impl Grid {
    /// The windows of the live centres, in centre order.
    fn windows(&self, centres: &[[f64; 5]], alive: &[bool]) -> Vec<Window> {
        let [ry, rx] = self.reach.map(|r| r as f64);
        let bound = |c: f64, r: f64, len: usize| (c - r).max(0.0) as usize..(c + r + 1.0).min(len as f64) as usize;
        centres
            .iter()
            .zip(alive)
            .enumerate()
            .filter(|&(_, (_, &alive))| alive)
            .map(|(k, (c, _))| {
                let cols = bound(c[1], rx, self.width);
                let len = cols.len().next_multiple_of(LANES).min(self.width);
                let start = cols.start.min(self.width - len);
                let span = start..start + len;
                let dx2 = span
                    .clone()
                    .map(|x| {
                        if cols.contains(&x) {
                            ((c[1] - x as f64).powi(2) * self.spatial_weight) as f32
                        } else {
                            f32::INFINITY
                        }
                    })
                    .collect();
                let colour = [c[2] as f32, c[3] as f32, c[4] as f32];
                Window { k: k as u32, cy: c[0], rows: bound(c[0], ry, self.height), span, colour, dx2 }
            })
            .collect()
    }

    /// One assignment round on rows `first..` of a band (`labels` and `distance` hold its rows):
    /// each window, in centre order, is offered to its pixels.
    #[inline(always)]
    fn assign_band(&self, windows: &[Window], first: usize, labels: &mut [u32], distance: &mut [f32]) {
        let width = self.width;
        let rows = first..first + labels.len() / width;
        distance.fill(f32::MAX);
        for w in windows {
            let (x_lo, x_hi) = (w.span.start, w.span.end);
            for y in w.rows.start.max(rows.start)..w.rows.end.min(rows.end) {
                let (at, px) = ((y - rows.start) * width, y * width);
                let dy2 = ((w.cy - y as f64).powi(2) * self.spatial_weight) as f32;
                let planes = self.planes.each_ref().map(|p| &p[px + x_lo..px + x_hi]);
                let (d, l) = (&mut distance[at + x_lo..at + x_hi], &mut labels[at + x_lo..at + x_hi]);
                offer_row(w, dy2, planes, d, l);
            }
        }
    }
}

crate::cpu::multiversion! {
    /// [`Grid::assign_band`], compiled for the best instruction set the CPU has.
    fn assign_band(grid: &Grid, windows: &[Window], first: usize, labels: &mut [u32], distance: &mut [f32]) = Grid::assign_band;
}

/// Offers one row segment of window `w` (`dy2` = `(cy - y)² / step²`) to its pixels: those whose
/// distance `dy2 + dx2 + |colour - centre colour|²` beats `dist` take the window's label. The
/// loop vectorises; the span being a multiple of [`LANES`] columns (unless the image is
/// narrower), its scalar remainder does not run.
#[inline(always)]
fn offer_row(w: &Window, dy2: f32, planes: [&[f32]; 3], dist: &mut [f32], labels: &mut [u32]) {
    let len = w.dx2.len();
    let (l, a, b) = (&planes[0][..len], &planes[1][..len], &planes[2][..len]);
    let (dist, labels) = (&mut dist[..len], &mut labels[..len]);
    let [c0, c1, c2] = w.colour;
    for i in 0..len {
        let (t0, t1, t2) = (l[i] - c0, a[i] - c1, b[i] - c2);
        let d = (dy2 + w.dx2[i]) + (t0 * t0 + t1 * t1 + t2 * t2);
        // Bit-mask selects: branch-free, so LLVM vectorises them on plain SSE2.
        let take = u32::from(dist[i] > d).wrapping_neg();
        dist[i] = f32::from_bits((d.to_bits() & take) | (dist[i].to_bits() & !take));
        labels[i] = (w.k & take) | (labels[i] & !take);
    }
}

/// Per-centre sums over the rows `first..` of one or two bands (`labels` holds them):
/// `[pixels, Σy, Σx, ΣL, Σa, Σb]` per band, the colours from the `f64` planes, in scan order.
/// Row `r` of both bands is summed in one pass, so that the two bands' additions (independent
/// chains) overlap in the CPU; each band's are the same additions in the same order as alone.
fn band_sums(lab: &LabPlanes, first: usize, labels: &[u32], centres: usize) -> Vec<Vec<[f64; 6]>> {
    let width = lab.width;
    let rows = labels.len() / width;
    // One entry more per band, for UNCLAIMED pixels (only before the first round), dropped below.
    let mut sums = [(); TASK_BANDS].map(|_| vec![[0.0; 6]; centres + 1]);
    let row = |r: usize| {
        let at = (first + r) * width;
        Row {
            y: first + r,
            labels: &labels[r * width..(r + 1) * width],
            planes: lab.planes.each_ref().map(|p| &p[at..at + width]),
        }
    };
    let [one, two] = sums.each_mut();
    for r in 0..rows.min(BAND) {
        if BAND + r < rows {
            sum_rows([row(r), row(BAND + r)], [&mut *one, &mut *two], centres);
        } else {
            sum_rows([row(r)], [&mut *one], centres);
        }
    }
    sums.into_iter()
        .take(rows.div_ceil(BAND))
        .map(|mut s| {
            s.pop();
            s
        })
        .collect()
}

/// One row of a band, for [`band_sums`].
struct Row<'a> {
    y: usize,
    labels: &'a [u32],
    planes: [&'a [f64]; 3],
}

/// Adds `N` rows, each to its band's `sums`, pixel by pixel in step. A run of pixels with one
/// label keeps its colour sums in registers; the count and coordinates, whole numbers (exact in
/// any order), are added once per run.
#[inline(always)]
fn sum_rows<const N: usize>(rows: [Row; N], sums: [&mut Vec<[f64; 6]>; N], centres: usize) {
    let width = rows[0].labels.len();
    // Per row: the current run's centre, first column and colour sums.
    let mut runs: [(usize, usize, [f64; 3]); N] = std::array::from_fn(|j| {
        let s = sums[j][centres];
        (centres, 0, [s[3], s[4], s[5]])
    });
    let flush = |sums: &mut Vec<[f64; 6]>, (k, start, colour): (usize, usize, [f64; 3]), y: usize, end: usize| {
        let n = end - start;
        let s = &mut sums[k];
        let xs = n * start + n * n.saturating_sub(1) / 2; // start + … + (end - 1)
        *s = [s[0] + n as f64, s[1] + (n * y) as f64, s[2] + xs as f64, colour[0], colour[1], colour[2]];
    };
    for x in 0..width {
        for j in 0..N {
            let (row, run) = (&rows[j], &mut runs[j]);
            let k = (row.labels[x] as usize).min(centres);
            if k != run.0 {
                flush(sums[j], *run, row.y, x);
                let s = sums[j][k];
                *run = (k, x, [s[3], s[4], s[5]]);
            }
            let c = &mut run.2;
            *c = [c[0] + row.planes[0][x], c[1] + row.planes[1][x], c[2] + row.planes[2][x]];
        }
    }
    for j in 0..N {
        flush(sums[j], runs[j], rows[j].y, width);
    }
}

/// Moves every centre to the mean position and colour of its pixels: the band sums added in band
/// order (scikit-image adds pixel by pixel in scan order: the same up to the last bits of the
/// colour means; counts and coordinates are exact integers). Centres without pixels die.
fn update_centres(sums: &[Vec<[f64; 6]>], centres: &mut [[f64; 5]], alive: &mut [bool]) {
    for (k, (c, alive)) in centres.iter_mut().zip(alive.iter_mut()).enumerate() {
        let total = sums.iter().fold([0.0; 6], |t, band| std::array::from_fn(|j| t[j] + band[k][j]));
        *alive &= total[0] > 0.0;
        *c = std::array::from_fn(|j| total[j + 1] / total[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `skimage.util.regular_grid` 0.26 on the shapes SLIC passes it.
    #[test]
    fn grid_matches_scikit_image() {
        assert_eq!(regular_grid([1, 224, 224], 100), [(0, 1), (11, 22), (11, 22)]);
        assert_eq!(regular_grid([1, 20, 40], 8), [(0, 1), (5, 10), (5, 10)]);
        assert_eq!(regular_grid([1, 7, 5], 10), [(0, 1), (0, 2), (0, 2)]);
        assert_eq!(regular_grid([1, 7, 5], 100), [(0, 1); 3]);
        assert_eq!(regular_grid([1, 300, 100], 100), [(0, 1), (8, 17), (8, 17)]);
        assert_eq!(regular_grid([1, 224, 224], 1), [(0, 1), (112, 224), (112, 224)]);
        assert_eq!(regular_grid([1, 3, 300], 10), [(0, 1), (1, 3), (15, 30)]);
        assert_eq!(regular_grid([1, 1, 1], 100), [(0, 1); 3]);
    }

    /// xorshift64: a deterministic stream of pseudo-random numbers.
    fn stream(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// A `width × height` image of smooth colour with noise, in scaled Lab.
    fn test_image(width: usize, height: usize, seed: u64) -> LabPlanes {
        let mut next = stream(seed);
        let rgb: Vec<u8> = (0..width * height * 3)
            .map(|i| {
                let (p, c) = (i / 3, i % 3);
                ((p % width * 3 + p / width * 2 + c * 70) % 256) as u8 ^ (next() % 24) as u8
            })
            .collect();
        crate::lab::rgb_to_lab(&rgb, width, &crate::lab::rescaled_table(&rgb), 0.1)
    }

    /// Per-centre sums over one band, pixel by pixel in scan order, as scikit-image adds them.
    fn reference_sums(lab: &LabPlanes, first: usize, labels: &[u32], centres: usize) -> Vec<[f64; 6]> {
        let width = lab.width;
        let mut sums = vec![[0.0; 6]; centres];
        for (y, row) in labels.chunks_exact(width).enumerate() {
            let (y, at) = (first + y, (first + y) * width);
            for (x, &k) in row.iter().enumerate() {
                if let Some(s) = sums.get_mut(k as usize) {
                    let [l, a, b] = lab.planes.each_ref().map(|p| p[at + x]);
                    *s = [s[0] + 1.0, s[1] + y as f64, s[2] + x as f64, s[3] + l, s[4] + a, s[5] + b];
                }
            }
        }
        sums
    }

    /// [`band_sums`] adds the same numbers in the same order as [`reference_sums`], bit for bit:
    /// on label maps with runs, single pixels and unclaimed pixels, and a last band or task that is
    /// short.
    #[test]
    fn band_sums_add_in_scan_order() {
        let mut next = stream(3);
        for (width, height) in [(1, 1), (5, 3), (9, 17), (31, 40), (224, 224)] {
            let lab = test_image(width, height, next());
            let centres = 1 + (next() % 40) as usize;
            let mut labels = Vec::with_capacity(width * height);
            while labels.len() < width * height {
                let k = match next() % 10 {
                    0 => UNCLAIMED,
                    _ => (next() % centres as u64) as u32,
                };
                let run = 1 + (next() % 12) as usize;
                labels.extend(std::iter::repeat_n(k, run.min(width * height - labels.len())));
            }
            let ours: Vec<Vec<[f64; 6]>> = labels
                .chunks(TASK_BANDS * BAND * width)
                .enumerate()
                .flat_map(|(task, labels)| band_sums(&lab, task * TASK_BANDS * BAND, labels, centres))
                .collect();
            let reference: Vec<Vec<[f64; 6]>> = labels
                .chunks(BAND * width)
                .enumerate()
                .map(|(band, labels)| reference_sums(&lab, band * BAND, labels, centres))
                .collect();
            let bits =
                |sums: &[Vec<[f64; 6]>]| -> Vec<u64> { sums.iter().flatten().flatten().map(|v| v.to_bits()).collect() };
            assert_eq!(bits(&ours), bits(&reference), "{width}x{height}");
        }
    }

    /// The assignment pixel by pixel: every live centre in order, over exactly the rows and
    /// columns it reaches, with the arithmetic of [`offer_row`].
    fn reference_assign(grid: &Grid, centres: &[[f64; 5]], alive: &[bool], first: usize, labels: &mut [u32]) {
        let [ry, rx] = grid.reach.map(|r| r as f64);
        let bound = |c: f64, r: f64, len: usize| (c - r).max(0.0) as usize..(c + r + 1.0).min(len as f64) as usize;
        let mut distance = vec![f32::MAX; labels.len()];
        let band = first..first + labels.len() / grid.width;
        for (k, c) in centres.iter().enumerate().filter(|&(k, _)| alive[k]) {
            let colour = [c[2] as f32, c[3] as f32, c[4] as f32];
            for y in bound(c[0], ry, grid.height).filter(|y| band.contains(y)) {
                let dy2 = ((c[0] - y as f64).powi(2) * grid.spatial_weight) as f32;
                for x in bound(c[1], rx, grid.width) {
                    let dx2 = ((c[1] - x as f64).powi(2) * grid.spatial_weight) as f32;
                    let p = y * grid.width + x;
                    let t = [0, 1, 2].map(|j| grid.planes[j][p] - colour[j]);
                    let d = (dy2 + dx2) + (t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
                    let at = p - first * grid.width;
                    if distance[at] > d {
                        (distance[at], labels[at]) = (d, k as u32);
                    }
                }
            }
        }
    }

    /// The assignment gives the labels of [`reference_assign`], and the code for every
    /// instruction set this CPU has agrees with the baseline bit for bit.
    #[test]
    fn assignment_is_the_same_on_every_instruction_set() {
        let mut next = stream(11);
        for (width, height, n) in [(3, 2, 4), (37, 29, 12), (100, 61, 50), (224, 224, 100)] {
            let lab = test_image(width, height, next());
            let (grid, seeds) = Grid::new(&lab, height, n);
            let mut unit = || (next() % 1_000_000) as f64 / 1e6;
            let centres: Vec<[f64; 5]> = seeds
                .map(|(y, x)| {
                    [y as f64 + unit() - 0.5, x as f64 + unit() - 0.5, unit() * 10.0, unit() - 0.5, unit() - 0.5]
                })
                .collect();
            let alive: Vec<bool> = (0..centres.len()).map(|k| k % 7 != 3).collect();
            let windows = grid.windows(&centres, &alive);
            for first in (0..height).step_by(BAND) {
                let rows = BAND.min(height - first);
                let (labels, distance) = (vec![UNCLAIMED; rows * width], vec![0.0; rows * width]);
                let (mut base_labels, mut base_distance) = (labels.clone(), distance.clone());
                let mut reference = labels.clone();
                grid.assign_band(&windows, first, &mut base_labels, &mut base_distance);
                reference_assign(&grid, &centres, &alive, first, &mut reference);
                assert_eq!(base_labels, reference, "{width}x{height}, rows {first}..");
                for level in crate::cpu::levels() {
                    let (mut labels, mut distance) = (labels.clone(), distance.clone());
                    crate::cpu::with_level(level, || assign_band(&grid, &windows, first, &mut labels, &mut distance));
                    assert_eq!(labels, base_labels, "{level:?}");
                    assert_eq!(
                        distance.iter().map(|d| d.to_bits()).collect::<Vec<_>>(),
                        base_distance.iter().map(|d| d.to_bits()).collect::<Vec<_>>(),
                        "{level:?}"
                    );
                }
            }
        }
    }
}
