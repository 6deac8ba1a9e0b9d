//! The geometry of torchvision's `Resize(int)` and `CenterCrop`.
//!
//! Ports `torchvision.transforms.functional._compute_resized_output_size` (the shorter side
//! becomes `size`, the longer `int(size * long / short)`, truncated) and
//! `torchvision.transforms.functional.center_crop` (zero padding when the image is smaller than
//! the crop, then a crop whose offset is Python's `int(round((h - crop) / 2.0))`, rounding halves
//! to even), both from torchvision 0.26.

use image::RgbImage;

/// Output `(width, height)` of torchvision's `Resize(size)` on a `width × height` image.
///
/// The shorter side becomes `size`; the longer becomes `int(size * long / short)` evaluated in
/// `f64` as Python does, so it is truncated, not rounded (500×375 → 341×256). A square image
/// becomes `size × size`; a zero side is passed through unchanged (there is nothing to scale).
pub fn resized_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (width, height);
    }
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    let new_long = (f64::from(size) * f64::from(long) / f64::from(short)) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

/// Offset of a centred window of `crop` samples in `len` samples, as torchvision computes it:
/// `int(round((len - crop) / 2.0))` with Python's round-half-to-even (difference 1 → 0, 3 → 2,
/// 5 → 2). When the image is smaller than the crop the result is negative: minus the zero padding
/// torchvision adds before the crop, `(crop - len) // 2`.
pub fn crop_offset(len: u32, crop: u32) -> i64 {
    if crop > len {
        return -(i64::from(crop - len) / 2);
    }
    let diff = i64::from(len - crop);
    let half = diff / 2;
    // An odd difference puts the centre on .5: round to the even neighbour.
    if diff % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

/// torchvision's `CenterCrop((height, width))`: the centred `height × width × 3` window of `img`
/// (HWC, row-major), with zeros where the image is smaller than the crop.
pub fn center_crop(img: &RgbImage, width: u32, height: u32) -> Vec<u8> {
    let (in_w, in_h) = img.dimensions();
    let (left, top) = (crop_offset(in_w, width), crop_offset(in_h, height));
    let (out_w, in_w, in_h) = (width as usize, in_w as i64, in_h as i64);
    let src = img.as_raw();
    let mut out = vec![0u8; out_w * height as usize * 3];
    // The output columns that fall inside the image, and the first source column.
    let x0 = (-left).clamp(0, i64::from(width)) as usize;
    let x1 = (in_w - left).clamp(0, i64::from(width)) as usize;
    if x0 >= x1 {
        return out;
    }
    for (y, out_row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        let sy = y as i64 + top;
        if !(0..in_h).contains(&sy) {
            continue;
        }
        let row_start = (sy * in_w + x0 as i64 + left) as usize * 3;
        out_row[x0 * 3..x1 * 3].copy_from_slice(&src[row_start..row_start + (x1 - x0) * 3]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resized_size_truncates_like_torchvision() {
        // Values from torchvision 0.26 `_compute_resized_output_size((h, w), [256])`.
        assert_eq!(resized_size(500, 375, 256), (341, 256));
        assert_eq!(resized_size(375, 500, 256), (256, 341));
        assert_eq!(resized_size(227, 227, 256), (256, 256));
        assert_eq!(resized_size(300, 200, 256), (384, 256));
        assert_eq!(resized_size(37, 53, 256), (256, 366));
        assert_eq!(resized_size(1, 1, 256), (256, 256));
        assert_eq!(resized_size(10000, 3, 256), (853333, 256));
        assert_eq!(resized_size(640, 427, 256), (383, 256));
        assert_eq!(resized_size(0, 5, 256), (0, 5));
    }

    #[test]
    fn crop_offset_rounds_half_to_even() {
        assert_eq!(crop_offset(256, 224), 16);
        assert_eq!(crop_offset(225, 224), 0);
        assert_eq!(crop_offset(227, 224), 2);
        assert_eq!(crop_offset(229, 224), 2);
        assert_eq!(crop_offset(231, 224), 4);
        assert_eq!(crop_offset(341, 224), 58);
        assert_eq!(crop_offset(224, 224), 0);
        assert_eq!(crop_offset(200, 224), -12);
        assert_eq!(crop_offset(201, 224), -11);
    }

    #[test]
    fn center_crop_pads_with_zeros() {
        let img = RgbImage::from_pixel(2, 3, image::Rgb([9, 9, 9]));
        let out = center_crop(&img, 5, 4);
        // Padding ltrb = (1, 0, 2, 1): columns 1..3 and rows 0..3 hold the image.
        for y in 0..4 {
            for x in 0..5 {
                let inside = (1..3).contains(&x) && y < 3;
                assert_eq!(out[(y * 5 + x) * 3], if inside { 9 } else { 0 }, "{x},{y}");
            }
        }
    }

    #[test]
    fn center_crop_takes_the_middle() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let out = center_crop(&img, 4, 2);
        // left = round(1.5) = 2, top = round(1.5) = 2.
        assert_eq!(&out[..3], &[2, 2, 0]);
        assert_eq!(&out[out.len() - 3..], &[5, 3, 0]);
    }
}
