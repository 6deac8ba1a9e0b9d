//! Preprocessing against torchvision on the fixtures of `scripts/fixtures/preprocess.py`.
//!
//! Every valid fixture is expected **bit-exact** (except where the manifest says `exact: false`,
//! lossy WebP, which may differ by ±2): PNG/BMP/TIFF/GIF/lossless-WebP decoding is exact
//! everywhere, the resize is a port of Pillow's, and JPEGs go through our port of libjpeg-turbo.
//! The fixtures live in `$RECTIFY_FIXTURES/preprocess/` (default `<workspace>/target/fixtures`);
//! without them the tests print "skipped" — or fail when `RECTIFY_REQUIRE_FIXTURES=1`.

use std::path::PathBuf;

use rectify_data::npy;
use rectify_data::preprocess::Preprocess;
use serde::Deserialize;

/// Largest difference allowed (in 0–255 levels) for cases not expected bit-exact.
const INEXACT_TOLERANCE: u8 = 2;

#[derive(Deserialize)]
struct Manifest {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    file: String,
    error: bool,
    /// Bit-exactness expected; otherwise at most [`INEXACT_TOLERANCE`] levels apart.
    exact: bool,
    note: String,
    /// `<file>.npy`: torchvision's uint8 crop [224, 224, 3] (for 16-bit inputs, of our 8-bit
    /// conversion; for EXIF, after `exif_transpose`).
    expected: Option<String>,
    /// `<file>.pil.npy`: what plain PIL + torchvision give, where we deliberately differ.
    pil: Option<String>,
}

/// The `preprocess` fixture set (see `rectify_testkit::fixtures`).
fn fixtures() -> Option<PathBuf> {
    rectify_testkit::fixtures("preprocess")
}

/// An error and its sources, `: `-separated (what `anyhow`'s `{:#}` prints).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out = format!("{out}: {s}");
        source = s.source();
    }
    out
}

/// Number of differing bytes and the largest difference.
fn compare(ours: &[u8], theirs: &[u8]) -> (usize, u8) {
    ours.iter().zip(theirs).map(|(a, b)| a.abs_diff(*b)).filter(|&d| d > 0).fold((0, 0), |(n, m), d| (n + 1, m.max(d)))
}

#[test]
fn fixtures_match_torchvision_bit_exactly() {
    let Some(dir) = fixtures() else { return };
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let pre = Preprocess::default();
    let mut failures = Vec::new();
    for case in &manifest.cases {
        let result = pre.load(&dir.join(&case.file));
        if case.error {
            match result {
                Err(e) => println!("{:<28} error as expected: {}", case.file, chain(&e)),
                Ok(_) => failures.push(format!("{}: decoded, expected an error", case.file)),
            }
            continue;
        }
        let crop = match result {
            Ok(crop) => crop,
            Err(e) => {
                failures.push(format!("{}: {}", case.file, chain(&e)));
                continue;
            }
        };
        let expected = npy::read_u8(&dir.join(case.expected.as_ref().unwrap())).unwrap();
        assert_eq!(expected.shape, [224, 224, 3]);
        let (n, max) = compare(&crop, &expected.data);
        let vs_pil = case.pil.as_ref().map(|p| {
            let pil = npy::read_u8(&dir.join(p)).unwrap();
            let (n, max) = compare(&crop, &pil.data);
            format!("; vs plain PIL: {n} bytes differ, max {max}")
        });
        println!("{:<28} {n} bytes differ, max {max}{}  [{}]", case.file, vs_pil.unwrap_or_default(), case.note);
        if (case.exact && n > 0) || max > INEXACT_TOLERANCE {
            failures.push(format!("{}: {n} bytes differ (max {max})", case.file));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// All 1,300 val-1300 crops are bit-identical to PIL + torchvision's (hashes made by
/// `scripts/fixtures/preprocess.py` when ../shared is present; the fixture stamp records whether
/// it was, so the hashes are made as soon as it is).
#[test]
fn imagenet_val1300_crops_are_bit_exact() {
    let Some(dir) = fixtures() else { return };
    let Some(shared) = rectify_testkit::shared() else { return };
    let hashes = dir.join("imagenet_val1300_hashes.json");
    let hashes: std::collections::BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(&hashes)
            .unwrap_or_else(|e| panic!("{}: {e}; rerun scripts/fixtures.sh with ../shared present", hashes.display())),
    )
    .unwrap();
    let rows = std::fs::read_to_string(shared.join("data/imagenet-val-1300.csv")).unwrap().lines().count() - 1;
    assert_eq!(hashes.len(), rows, "a hash for every val-1300 image");
    let pre = Preprocess::default();
    let start = std::time::Instant::now();
    let mismatched: Vec<&String> = hashes
        .iter()
        .filter(|(file, hash)| {
            let crop = pre.load(&shared.join("data/imagenet-val-1300").join(file)).unwrap();
            rectify_testkit::crop_hash(&crop) != **hash
        })
        .map(|(file, _)| file)
        .collect();
    println!(
        "{} of {} ImageNet crops bit-identical to torchvision's ({:.1} ms per image)",
        hashes.len() - mismatched.len(),
        hashes.len(),
        start.elapsed().as_secs_f64() * 1e3 / hashes.len() as f64
    );
    assert!(mismatched.is_empty(), "differ from torchvision: {mismatched:?}");
}
