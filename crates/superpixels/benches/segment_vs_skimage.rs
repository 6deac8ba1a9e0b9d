//! Benchmark: quickshift (lime's settings) and SLIC (100 segments, compactness 10) on the 224×224
//! crops of the first 20 images of `../shared/data/imagenet-val-1300`, rectify against
//! scikit-image 0.26 (`../shared/anchors/segment_bench.py`, which times `quickshift(..., rng=0)`
//! and `slic(..., start_label=0)` on the same crops), printing the median milliseconds per image
//! and the ratio. Goal: ≤ 0.2× scikit-image's time. The anchor runs with glibc's allocator
//! defaults and with rectify's allocator settings (`rectify_testkit::anchor`); both ratios are
//! printed. Segment counts must equal scikit-image's on every image (asserted).
//!
//! `CARGO_TARGET_DIR=/tmp/target-superpixels cargo bench -p rectify-superpixels`.
//! Environment: RECTIFY_PYTHON (default `$VIRTUAL_ENV/bin/python`, else `python3`). rectify runs
//! on rayon's default pool (all cores) and, for comparison with single-threaded scikit-image, on
//! one thread. Crops come from `rectify_data::preprocess` (bit-identical to torchvision's); the
//! anchor's time excludes decoding, and so does ours.

use std::time::Instant;

use rectify_superpixels::{Image, Segmenter};
use rectify_testkit::anchor::{self, Allocator};

const LIMIT: usize = 20;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median over images of the milliseconds one `segment` call takes, and the segment counts.
fn time(segmenter: Segmenter, crops: &[Vec<u8>]) -> (f64, Vec<usize>) {
    let img = |rgb| Image::new(224, 224, rgb).expect("224x224 crop");
    segmenter.segment(&img(&crops[0])).expect("warm-up"); // rayon's pool, page faults
    let (mut ms, mut counts) = (Vec::new(), Vec::new());
    for rgb in crops {
        let t = Instant::now();
        let seg = segmenter.segment(&img(rgb)).expect("segments");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        counts.push(seg.count);
    }
    (median(ms), counts)
}

fn main() {
    let Some(shared) = rectify_testkit::shared() else { return };
    let images = shared.join("data/imagenet-val-1300");
    let script = shared.join("anchors/segment_bench.py");
    let args = ["--images", images.to_str().expect("UTF-8 path"), "--limit", &LIMIT.to_string()];
    let anchors: Vec<serde_json::Value> =
        Allocator::BOTH.iter().map(|&a| anchor::run(&[], &script, &args, a)).collect();
    let anchor = &anchors[0];

    // The anchor takes the first LIMIT files in sorted order.
    let mut files: Vec<_> = std::fs::read_dir(&images).expect("image folder").map(|e| e.unwrap().path()).collect();
    files.sort();
    let pre = rectify_data::preprocess::Preprocess::default();
    let crops: Vec<Vec<u8>> = files[..LIMIT].iter().map(|f| pre.load(f).expect("crop")).collect();
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");

    let mut goals = rectify_testkit::goals::Goals::new("segment_vs_skimage");
    for (name, segmenter) in [("quickshift", Segmenter::lime_default()), ("slic", Segmenter::slic_default())] {
        let theirs = anchors[0][name]["ms_median"].as_f64().expect("ms_median");
        let theirs_kept = anchors[1][name]["ms_median"].as_f64().expect("ms_median");
        let their_counts: Vec<usize> = anchor[name]["segments"]
            .as_array()
            .expect("segments")
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let (ours, counts) = time(segmenter, &crops);
        let (ours_1, _) = one_thread.install(|| time(segmenter, &crops));
        let equal = counts.iter().zip(&their_counts).filter(|(o, t)| o == t).count();
        println!("{name} segments (rectify / scikit-image): {counts:?} / {their_counts:?}");
        println!(
            "{name}: segment counts equal on {equal} of {LIMIT}; median ms/image: rectify {ours:.1} ({} threads), \
             {ours_1:.1} (1 thread); scikit-image {theirs:.1} with {}, {theirs_kept:.1} with {}",
            rayon::current_num_threads(),
            Allocator::GlibcDefault.label(),
            Allocator::KeepFreed.label()
        );
        println!(
            "{name}: ratio {:.3}x (1 thread {:.3}x, goal <= 0.2x); against the anchor with rectify's allocator settings \
             {:.3}x (1 thread {:.3}x)",
            ours / theirs,
            ours_1 / theirs,
            ours / theirs_kept,
            ours_1 / theirs_kept
        );
        assert_eq!(equal, LIMIT, "{name}: segment counts equal to scikit-image's on every image");
        goals.check(
            &format!("{name} ms/image / scikit-image's"),
            ours / theirs,
            rectify_testkit::goals::Cmp::AtMost,
            0.2,
            "x",
        );
    }
    goals.finish();
}
