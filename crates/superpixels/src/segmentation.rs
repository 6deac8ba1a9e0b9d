//! A label map and what LIME needs from it: segment sizes, segment boundaries (scikit-image's
//! `find_boundaries(labels, mode='thick')`, for drawing) and per-segment mean colours (lime's
//! `hide_color=None` fills a switched-off superpixel with its mean colour).

use serde::{Deserialize, Serialize};

use crate::{Image, SuperpixelError};

/// Superpixel labels of a `height × width` image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segmentation {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height × width` labels, row-major; every label is in `0..count` and each occurs.
    pub labels: Vec<u32>,
    /// Number of segments.
    pub count: usize,
}

impl Segmentation {
    /// The label of pixel `(x, y)`. Panics when outside the image.
    pub fn label(&self, x: usize, y: usize) -> u32 {
        assert!(x < self.width && y < self.height, "pixel ({x}, {y}) outside {}x{}", self.width, self.height);
        self.labels[y * self.width + x]
    }

    /// Pixels per segment: `count` values, indexed by label.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; self.count];
        for &l in &self.labels {
            sizes[l as usize] += 1;
        }
        sizes
    }

    /// `height × width` flags, row-major: `true` where a 4-neighbour has another label (both
    /// sides of every edge, as scikit-image's `find_boundaries(labels, mode='thick')`).
    pub fn boundaries(&self) -> Vec<bool> {
        let (w, h) = (self.width, self.height);
        let mut edge = vec![false; self.labels.len()];
        for y in 0..h {
            for x in 0..w {
                let p = y * w + x;
                if x + 1 < w && self.labels[p] != self.labels[p + 1] {
                    edge[p] = true;
                    edge[p + 1] = true;
                }
                if y + 1 < h && self.labels[p] != self.labels[p + w] {
                    edge[p] = true;
                    edge[p + w] = true;
                }
            }
        }
        edge
    }

    /// Mean R, G, B (in `0..=255` units, as `f32`) of `img` over each segment: `count` triples,
    /// indexed by label. `img` must have this segmentation's size.
    pub fn mean_colors(&self, img: &Image) -> Result<Vec<[f32; 3]>, SuperpixelError> {
        img.validate()?;
        if (img.width, img.height) != (self.width, self.height) {
            return Err(SuperpixelError::SizeMismatch {
                seg_width: self.width,
                seg_height: self.height,
                width: img.width,
                height: img.height,
            });
        }
        let mut sums = vec![[0u64; 3]; self.count];
        for (&l, px) in self.labels.iter().zip(img.rgb.chunks_exact(3)) {
            let s = &mut sums[l as usize];
            for c in 0..3 {
                s[c] += u64::from(px[c]);
            }
        }
        Ok(sums.iter().zip(self.sizes()).map(|(s, n)| s.map(|v| (v as f64 / n.max(1) as f64) as f32)).collect())
    }

    /// A per-pixel mask (`height × width`, row-major) of the segments where `on[label]` is true:
    /// the region LIME keeps for one perturbation. `on` has `count` entries.
    pub fn mask(&self, on: &[bool]) -> Vec<bool> {
        assert_eq!(on.len(), self.count, "one flag per segment");
        self.labels.iter().map(|&l| on[l as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_by_three() -> Segmentation {
        // 0 0 1
        // 2 2 1
        Segmentation { width: 3, height: 2, labels: vec![0, 0, 1, 2, 2, 1], count: 3 }
    }

    #[test]
    fn sizes_and_boundaries() {
        let seg = two_by_three();
        assert_eq!(seg.sizes(), [2, 2, 2]);
        assert_eq!(seg.boundaries(), [true, true, true, true, true, true]);
        let flat = Segmentation { width: 2, height: 2, labels: vec![0; 4], count: 1 };
        assert_eq!(flat.boundaries(), [false; 4]);
        assert_eq!(seg.label(2, 1), 1);
        assert_eq!(seg.mask(&[true, false, false]), [true, true, false, false, false, false]);
    }

    #[test]
    fn mean_colors_average_each_segment() {
        let seg = two_by_three();
        let rgb = [10, 20, 30, 30, 40, 50, 0, 0, 0, 1, 1, 1, 3, 3, 3, 100, 200, 255];
        let means = seg.mean_colors(&Image::new(3, 2, &rgb).unwrap()).unwrap();
        assert_eq!(means, [[20.0, 30.0, 40.0], [50.0, 100.0, 127.5], [2.0, 2.0, 2.0]]);
        let small = Image::new(1, 1, &[0, 0, 0]).unwrap();
        assert!(matches!(seg.mean_colors(&small), Err(SuperpixelError::SizeMismatch { .. })));
    }
}
