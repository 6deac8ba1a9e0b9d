//! `rectify pairs` (issue #7): two bundled images side by side; an image paired with itself
//! changes nothing; bad CSVs are explained.

mod common;

use common::*;

#[test]
fn pairs_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs = assets().join("sample-images");
    let csv = tmp.path().join("pairs.csv");
    std::fs::write(
        &csv,
        format!(
            "image_a,image_b,differs,class\n{a},{a},nothing,\n{a},{b},the scene,472\n",
            a = imgs.join("ILSVRC2012_val_00000347.JPEG").display(),
            b = imgs.join("ILSVRC2012_val_00001750.JPEG").display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    rectify_ok(&["pairs", "--pairs", s(&csv), "--out", s(&out), "--samples", "100", "--device", "cpu"]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pairs.json")).unwrap()).unwrap();
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    let same = &pairs[0];
    assert_eq!(same["probability_change"].as_f64().unwrap(), 0.0, "an image against itself");
    assert_eq!(same["prediction_changed"], false);
    assert_eq!(same["a"]["path"], same["b"]["path"], "same seed, same image: same path");
    let segs = same["a"]["segments"].as_u64().unwrap() as usize;
    assert_eq!(same["a"]["path"].as_array().unwrap().len(), segs + 1, "j = 0 … all superpixels");
    let diff = &pairs[1];
    assert_eq!(diff["class"], 472, "the class of interest from the CSV");
    assert_eq!(diff["class_name"], "canoe");
    let (pa, pb) = (diff["a"]["probability"].as_f64().unwrap(), diff["b"]["probability"].as_f64().unwrap());
    assert!((diff["probability_change"].as_f64().unwrap() - (pb - pa)).abs() < 1e-12);
    let png = image::open(out.join("pair-2.png")).unwrap();
    assert_eq!((png.width(), png.height()), (2 * 224 + 8, 224));

    std::fs::write(&csv, "image_a,image_b,differs\nnot-there.jpg,also-not.jpg,x\n").unwrap();
    let bad = rectify(&["pairs", "--pairs", s(&csv), "--out", s(&out), "--device", "cpu"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not-there.jpg"));
    std::fs::write(&csv, "a.jpg,b.jpg,x,cat\n").unwrap();
    let bad = rectify(&["pairs", "--pairs", s(&csv), "--out", s(&out), "--device", "cpu"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("class \"cat\""));
}
