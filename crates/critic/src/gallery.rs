//! Galleries as in Stock & Cisse's Fig. 7 and 9: one row of prototypes above one row of
//! criticisms, each tile framed (green: prototype, red: criticism), on a white sheet.

/// An RGB image, 8 bits per channel, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height × width × 3` bytes.
    pub rgb: Vec<u8>,
}

/// Layout of a gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Side of each tile in pixels (tiles are square images resized to it).
    pub tile: usize,
    /// Frame width.
    pub frame: usize,
    /// Space between tiles.
    pub gap: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self { tile: 112, frame: 4, gap: 6 }
    }
}

const PROTOTYPE: [u8; 3] = [46, 160, 67];
const CRITICISM: [u8; 3] = [207, 34, 46];

/// Draws `prototypes` on the first row and `criticisms` on the second; each input is a square
/// RGB image of side `side` (`side × side × 3` bytes), box-resized to the tile.
pub fn gallery(prototypes: &[&[u8]], criticisms: &[&[u8]], side: usize, layout: Layout) -> Sheet {
    let cols = prototypes.len().max(criticisms.len()).max(1);
    let cell = layout.tile + 2 * layout.frame;
    let width = layout.gap + cols * (cell + layout.gap);
    let height = layout.gap + 2 * (cell + layout.gap);
    let mut sheet = Sheet { width, height, rgb: vec![255; width * height * 3] };
    for (r, (images, colour)) in [(prototypes, PROTOTYPE), (criticisms, CRITICISM)].into_iter().enumerate() {
        for (c, img) in images.iter().enumerate() {
            assert_eq!(img.len(), side * side * 3, "tiles must be side × side × 3");
            let (x0, y0) = (layout.gap + c * (cell + layout.gap), layout.gap + r * (cell + layout.gap));
            fill(&mut sheet, x0, y0, cell, colour);
            let tile = resize(img, side, layout.tile);
            for y in 0..layout.tile {
                let dst = ((y0 + layout.frame + y) * width + x0 + layout.frame) * 3;
                sheet.rgb[dst..dst + layout.tile * 3]
                    .copy_from_slice(&tile[y * layout.tile * 3..(y + 1) * layout.tile * 3]);
            }
        }
    }
    sheet
}

fn fill(sheet: &mut Sheet, x0: usize, y0: usize, side: usize, colour: [u8; 3]) {
    for y in y0..y0 + side {
        for x in x0..x0 + side {
            sheet.rgb[(y * sheet.width + x) * 3..][..3].copy_from_slice(&colour);
        }
    }
}

/// Box filter from `side` to `to` pixels (area average; exact for integer ratios).
fn resize(img: &[u8], side: usize, to: usize) -> Vec<u8> {
    let mut out = vec![0u8; to * to * 3];
    for ty in 0..to {
        let (y0, y1) = (ty * side / to, ((ty + 1) * side).div_ceil(to));
        for tx in 0..to {
            let (x0, x1) = (tx * side / to, ((tx + 1) * side).div_ceil(to));
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            for ch in 0..3 {
                let mut sum = 0u32;
                for y in y0..y1 {
                    for x in x0..x1 {
                        sum += u32::from(img[(y * side + x) * 3 + ch]);
                    }
                }
                out[(ty * to + tx) * 3 + ch] = ((sum + n / 2) / n) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_land_in_their_rows_with_their_frames() {
        let black = vec![0u8; 8 * 8 * 3];
        let grey = vec![100u8; 8 * 8 * 3];
        let layout = Layout { tile: 4, frame: 1, gap: 2 };
        let s = gallery(&[&black, &black], &[&grey], 8, layout);
        assert_eq!((s.width, s.height), (2 + 2 * (6 + 2), 2 + 2 * (6 + 2)));
        let px = |x: usize, y: usize| &s.rgb[(y * s.width + x) * 3..][..3];
        assert_eq!(px(2, 2), PROTOTYPE, "prototype frame");
        assert_eq!(px(3, 3), [0, 0, 0], "prototype tile");
        assert_eq!(px(2, 10), CRITICISM, "criticism frame");
        assert_eq!(px(3, 11), [100, 100, 100], "criticism tile, box-resized");
        assert_eq!(px(10, 11), [255, 255, 255], "no second criticism: white");
    }

    #[test]
    fn box_resize_averages() {
        // 2×2 → 1×1: mean of 0, 10, 20, 30 = 15.
        let img: Vec<u8> = [0u8, 10, 20, 30].iter().flat_map(|&v| [v, v, v]).collect();
        assert_eq!(resize(&img, 2, 1), vec![15, 15, 15]);
    }
}
