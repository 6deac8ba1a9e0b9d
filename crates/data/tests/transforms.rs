//! Preprocessing as data (#15 §1), against torchvision and timm on the fixtures of
//! `scripts/fixtures/transforms.py`: every interpolation (Pillow's nearest, bilinear, bicubic) at
//! crops 224, 240, 299 and 384 with timm's resize for crop_pct 0.875 and 0.95, the squash crop
//! mode, non-square, enlarged and odd-format inputs, val-1300 images at bicubic 299 / 384; and
//! timm's own eval transform for the `pretrained_cfg` of nine timm models, read by
//! `--preprocess` from the bare config and from a hub `config.json`. All **bit-exact**.

use std::path::PathBuf;

use rectify_data::preprocess::{config, decode, resize, CropMode, Interpolation, Preprocess};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    cases: Vec<Case>,
    resizes: Vec<Resize>,
}

/// `Image.resize((width, height), interpolation)` of one of the set's images.
#[derive(Deserialize)]
struct Resize {
    file: String,
    width: u32,
    height: u32,
    interpolation: Interpolation,
    hash: String,
}

#[derive(Deserialize)]
struct Case {
    /// An image of the set, or `shared:<file>` for a val-1300 image.
    file: String,
    resize: Option<u32>,
    crop: Option<u32>,
    interpolation: Option<Interpolation>,
    crop_mode: Option<CropMode>,
    /// A timm config of the set (`configs/<tag>.json` or `.hub.json`) instead of the settings.
    config: Option<String>,
    /// `crop_hash` of the uint8 crop torchvision / timm give.
    hash: String,
}

#[test]
fn every_interpolation_size_and_config_is_bit_exact() {
    let Some(dir) = rectify_testkit::fixtures("transforms") else { return };
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let shared = manifest.cases.iter().any(|c| c.file.starts_with("shared:")).then(rectify_testkit::shared).flatten();
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for case in &manifest.cases {
        let pre = match &case.config {
            Some(cfg) => config::from_file(&dir.join(cfg)).unwrap_or_else(|e| panic!("{cfg}: {e}")),
            None => Preprocess {
                resize: case.resize.unwrap(),
                crop: case.crop.unwrap(),
                interpolation: case.interpolation.unwrap(),
                crop_mode: case.crop_mode.unwrap(),
                ..Preprocess::default()
            },
        };
        let path: PathBuf = match case.file.strip_prefix("shared:") {
            Some(f) => shared.as_ref().expect("shared cases need ../shared").join("data/imagenet-val-1300").join(f),
            None => dir.join(&case.file),
        };
        let crop = pre.load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(crop.len(), (pre.crop * pre.crop * 3) as usize);
        let kind = match &case.config {
            Some(cfg) => format!("timm {}", cfg.trim_start_matches("configs/")),
            None => format!("{:?} {:?} {}/{}", pre.interpolation, pre.crop_mode, pre.resize, pre.crop),
        };
        *counts.entry(kind.clone()).or_default() += 1;
        if rectify_testkit::crop_hash(&crop) != case.hash {
            failures.push(format!("{}: {kind}", case.file));
        }
    }
    for (kind, n) in &counts {
        println!("{kind:<60} {n} images");
    }
    println!("{} of {} crops bit-identical", manifest.cases.len() - failures.len(), manifest.cases.len());
    // The README's figures: 567 crops, of which 120 (40 val-1300 images × 3 settings) need ../shared.
    let own = manifest.cases.iter().filter(|c| !c.file.starts_with("shared:")).count();
    assert_eq!(own, 447, "the whole manifest was read");
    if rectify_testkit::shared().is_some() {
        assert_eq!(manifest.cases.len(), 567, "with ../shared's 120 cases");
    }
    assert!(failures.is_empty(), "differ from torchvision / timm: {failures:#?}");
}

/// `resize` of random sizes, up and down on each axis, equals Pillow 13's `Image.resize`: the
/// kernels, the fixed-point rounding and which pass runs first.
#[test]
fn resize_equals_pillow_in_every_direction() {
    let Some(dir) = rectify_testkit::fixtures("transforms") else { return };
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let failures: Vec<String> = manifest
        .resizes
        .iter()
        .filter(|r| {
            let img = decode(&std::fs::read(dir.join(&r.file)).unwrap()).unwrap();
            rectify_testkit::crop_hash(resize(&img, r.width, r.height, r.interpolation).as_raw()) != r.hash
        })
        .map(|r| format!("{} {:?} -> {}x{}", r.file, r.interpolation, r.width, r.height))
        .collect();
    println!(
        "{} of {} resizes bit-identical to Pillow",
        manifest.resizes.len() - failures.len(),
        manifest.resizes.len()
    );
    assert_eq!(manifest.resizes.len(), 180, "the README's figure: 180 resizes");
    assert!(failures.is_empty(), "{failures:#?}");
}
