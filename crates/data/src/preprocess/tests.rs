//! Unit tests of the whole transform that need no fixture files: images are made and encoded in
//! memory.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};

use super::*;

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Four flat quadrants: red, green / blue, white (top-left, top-right / bottom-left, bottom-right).
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| match (x < w / 2, y < h / 2) {
        (true, true) => Rgb([255, 0, 0]),
        (false, true) => Rgb([0, 255, 0]),
        (true, false) => Rgb([0, 0, 255]),
        (false, false) => Rgb([255, 255, 255]),
    })
}

#[test]
fn one_pixel_image_becomes_a_flat_crop() {
    let img = RgbImage::from_pixel(1, 1, Rgb([10, 20, 30]));
    let pre = Preprocess::default();
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Bmp] {
        let crop = pre.from_bytes(&encode(&img, format)).unwrap();
        assert_eq!(crop.len(), 224 * 224 * 3);
        assert!(crop.chunks_exact(3).all(|p| p == &crop[..3]), "{format:?}");
    }
    let crop = pre.from_bytes(&encode(&img, ImageFormat::Png)).unwrap();
    assert_eq!(&crop[..3], &[10, 20, 30]);
}

#[test]
fn constant_image_normalises_to_constants() {
    let img = RgbImage::from_pixel(300, 200, Rgb([0, 128, 255]));
    let pre = Preprocess::default();
    let chw = pre.normalize_chw(&pre.crop_rgb(&img));
    assert_eq!(chw.len(), 3 * 224 * 224);
    for (c, x) in [0u8, 128, 255].into_iter().enumerate() {
        let want = (f32::from(x) / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        assert!(chw[c * 224 * 224..(c + 1) * 224 * 224].iter().all(|&v| v == want));
    }
}

#[test]
fn normalize_is_chw() {
    let pre = Preprocess { mean: [0.0; 3], std: [1.0; 3], ..Preprocess::default() };
    // Two pixels, HWC: (255, 0, 51), (0, 102, 255).
    let chw = pre.normalize_chw(&[255, 0, 51, 0, 102, 255]);
    assert_eq!(chw, [1.0, 0.0, 0.0, 0.4, 0.2, 1.0]);
}

#[test]
fn every_aspect_ratio_gives_the_crop_size() {
    let pre = Preprocess::default();
    for (w, h) in [(1, 1), (1, 1000), (1000, 1), (224, 224), (225, 223), (256, 100), (3000, 2000), (57, 91)] {
        let crop = pre.crop_rgb(&RgbImage::from_pixel(w, h, Rgb([1, 2, 3])));
        assert_eq!(crop.len(), 224 * 224 * 3, "{w}x{h}");
        assert!(crop.chunks_exact(3).all(|p| p == [1, 2, 3]), "{w}x{h}");
    }
}

#[test]
fn crop_equals_cropping_the_full_resize() {
    let img = RgbImage::from_fn(503, 377, |x, y| Rgb([(x * 7 + y) as u8, (x ^ y) as u8, (y * 3) as u8]));
    let pre = Preprocess::default();
    let (rw, rh) = resized_size(503, 377, 256);
    assert_eq!((rw, rh), (341, 256));
    let full = resize_bilinear_antialias(&img, rw, rh);
    assert_eq!(pre.crop_rgb(&img), center_crop(&full, 224, 224));
}

#[test]
fn smaller_than_crop_is_zero_padded() {
    // Resize(100) of a 50×80 image gives 100×160; CenterCrop(224) pads 62 left, 32 on top.
    let pre = Preprocess { resize: 100, ..Preprocess::default() };
    let crop = pre.crop_rgb(&RgbImage::from_pixel(50, 80, Rgb([9, 9, 9])));
    let at = |x: usize, y: usize| crop[(y * 224 + x) * 3];
    assert_eq!((at(61, 100), at(62, 100), at(161, 100), at(162, 100)), (0, 9, 9, 0));
    assert_eq!((at(100, 31), at(100, 32), at(100, 191), at(100, 192)), (0, 9, 9, 0));
}

#[test]
fn exif_orientation_is_applied() {
    let img = quadrants(64, 32);
    let jpeg = encode(&img, ImageFormat::Jpeg);
    // A minimal big-endian Exif block: one IFD entry, Orientation (0x0112) = 6 (rotate 90° CW).
    let mut app1 = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
    with_exif.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    with_exif.append(&mut app1);
    with_exif.extend_from_slice(&jpeg[2..]);
    let upright = decode(&with_exif).unwrap();
    assert_eq!(upright.dimensions(), (32, 64));
    // Rotated clockwise: blue is now top-left, red top-right, white bottom-left.
    let near = |p: &Rgb<u8>, q: [u8; 3]| p.0.iter().zip(q).all(|(a, b)| a.abs_diff(b) < 8);
    assert!(near(upright.get_pixel(4, 4), [0, 0, 255]));
    assert!(near(upright.get_pixel(28, 4), [255, 0, 0]));
    assert!(near(upright.get_pixel(4, 60), [255, 255, 255]));
    assert_eq!(decode(&jpeg).unwrap().dimensions(), (64, 32));
}

#[test]
fn huge_images_decode_or_are_refused() {
    // 10000 × 10000 works (as PNG and JPEG), the crop shows the four quadrants.
    let img = quadrants(10000, 10000);
    let pre = Preprocess::default();
    for format in [ImageFormat::Png, ImageFormat::Jpeg] {
        let crop = pre.from_bytes(&encode(&img, format)).unwrap();
        assert!(crop[..3].iter().zip([255, 0, 0]).all(|(a, b)| a.abs_diff(b) < 8), "{format:?}");
        assert!(crop[crop.len() - 3..].iter().all(|&v| v > 247), "{format:?}");
    }
    drop(img);
    // A header claiming 60000 × 60000 is refused before any pixel is decoded.
    let mut png = encode(&RgbImage::new(1, 1), ImageFormat::Png);
    png[16..24].copy_from_slice(&[0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60]);
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = decode(&png).unwrap_err();
    assert!(matches!(err, PreprocessError::TooLarge { width: 60000, height: 60000, .. }), "{err:?}");
    let mut jpeg = encode(&RgbImage::new(8, 8), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let err = decode(&jpeg).unwrap_err();
    assert!(matches!(err, PreprocessError::TooLarge { .. }), "{err:?}");
}

/// CRC-32 (IEEE), as PNG chunks use.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn errors_carry_the_path() {
    let dir = std::env::temp_dir().join(format!("rectify-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("x.jpg");
    std::fs::write(&text, "not an image").unwrap();
    let pre = Preprocess::default();
    let err = pre.load(&text).unwrap_err();
    assert!(matches!(&err, PreprocessError::File { path, .. } if path == &text), "{err:?}");
    assert!(matches!(err.root(), PreprocessError::Decode { .. }));
    let missing = dir.join("missing.png");
    assert!(matches!(pre.load(&missing), Err(PreprocessError::Io { path, .. }) if path == missing));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn describe_and_serde() {
    let pre = Preprocess::default();
    assert_eq!(
        pre.describe(),
        "decode RGB (EXIF orientation), Resize(256) bilinear antialias (Pillow), CenterCrop(224), /255, \
         Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])"
    );
    let json = serde_json::to_string(&pre).unwrap();
    assert_eq!(serde_json::from_str::<Preprocess>(&json).unwrap(), pre);
    let partial: Preprocess = serde_json::from_str(r#"{"crop": 192}"#).unwrap();
    assert_eq!(partial, Preprocess { crop: 192, ..Preprocess::default() });
}

/// Arithmetic-coded JPEGs (SOF9) are refused with a message naming the feature, after the
/// `image` crate's decoder had its try.
#[test]
fn arithmetic_coded_jpegs_are_refused_by_name() {
    let mut jpeg = encode(&quadrants(16, 16), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 1] = 0xC9;
    let err = decode(&jpeg).unwrap_err().to_string();
    assert!(err.contains("arithmetic coding (SOF9) is not supported"), "{err}");
}
