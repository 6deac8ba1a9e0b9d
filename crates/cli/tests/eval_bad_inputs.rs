//! Bad input never stops a run: every unreadable file is named in the log, the store and the
//! summary, and every readable one (however odd) is evaluated.

mod common;

use std::path::Path;

use common::*;
use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba, RgbaImage};

fn write_images(dir: &Path) {
    let sample = assets().join("sample-images/ILSVRC2012_val_00000347.JPEG");
    let jpeg = std::fs::read(&sample).unwrap();
    std::fs::write(dir.join("good.jpg"), &jpeg).unwrap();
    std::fs::write(dir.join("truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(dir.join("text.jpg"), b"this is not an image, whatever its name says\n").unwrap();
    std::fs::write(dir.join("empty.png"), b"").unwrap();
    let rgb = image::open(&sample).unwrap().to_rgb8();
    image::DynamicImage::ImageRgb8(rgb.clone()).to_luma8().save(dir.join("gray.jpg")).unwrap();
    let wide: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_fn(300, 200, |x, y| Rgb([(x * 200) as u16, (y * 300) as u16, 40000]));
    wide.save(dir.join("sixteen_bit.png")).unwrap();
    RgbaImage::from_pixel(64, 48, Rgba([200, 10, 10, 0])).save(dir.join("alpha.png")).unwrap();
    RgbImage::from_pixel(1, 1, Rgb([0, 128, 255])).save(dir.join("one_pixel.png")).unwrap();
    GrayImage::from_fn(10_000, 10_000, |x, y| Luma([((x / 100 + y / 100) % 2 * 255) as u8]))
        .save(dir.join("huge.jpg"))
        .unwrap();
    if let Some(fx) = rectify_testkit::fixtures("preprocess") {
        std::fs::copy(fx.join("cmyk.jpg"), dir.join("cmyk.jpg")).expect("the preprocess fixtures have a CMYK JPEG");
    }
}

#[test]
fn corrupt_and_odd_files() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    write_images(&images);
    let files: Vec<String> =
        std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    // Every file has a label row but one.
    let labels = tmp.path().join("labels.csv");
    let rows: String = files.iter().filter(|f| *f != "one_pixel.png").map(|f| format!("{f},472\n")).collect();
    std::fs::write(&labels, format!("file,label\n{rows}")).unwrap();
    let run = tmp.path().join("run");
    let out =
        rectify_ok(&["eval", "--images", s(&images), "--labels", s(&labels), "--out", s(&run), "--device", "cpu"]);
    let log = String::from_utf8_lossy(&out.stderr);
    for bad in ["truncated.jpg", "text.jpg", "empty.png"] {
        assert!(log.contains(bad), "log does not name {bad}:\n{log}");
    }
    assert!(log.contains("1 images have no row in the label file"), "{log}");

    let sum = summary(&run);
    let failed: Vec<&str> = sum["errors"].as_array().unwrap().iter().map(|e| e["file"].as_str().unwrap()).collect();
    assert_eq!(failed, ["empty.png", "text.jpg", "truncated.jpg"], "{sum}");
    assert_eq!(sum["failed"], 3);
    assert_eq!(sum["n"].as_u64().unwrap() as usize, files.len());
    assert_eq!(sum["unlabeled"], 1);
    assert_eq!(sum["labeled"].as_u64().unwrap() as usize, files.len() - 4);
    let evaluated: Vec<String> = predictions(&run).into_iter().map(|r| r[0].clone()).collect();
    for odd in ["gray.jpg", "sixteen_bit.png", "alpha.png", "one_pixel.png", "huge.jpg", "good.jpg"] {
        assert!(evaluated.iter().any(|f| f == odd), "{odd} was not evaluated: {evaluated:?}");
    }
    // The unlabeled image is predicted, with an empty label.
    assert!(predictions(&run).iter().any(|r| r[0] == "one_pixel.png" && r[1].is_empty()));
    // The good image is still the canoe it is.
    assert!(predictions(&run).iter().any(|r| r[0] == "good.jpg" && r[2].starts_with("472 ")));

    // Errors are in the store, and a rerun retries only what is not done.
    let out =
        rectify_ok(&["eval", "--images", s(&images), "--labels", s(&labels), "--out", s(&run), "--device", "cpu"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 to evaluate"));
}
