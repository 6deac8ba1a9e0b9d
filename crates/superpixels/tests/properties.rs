//! Properties that hold for any image: labels `0..count` all used, determinism, splits at colour
//! edges, no panic on tiny or odd sizes, typed errors for bad input. The expected counts come from
//! scikit-image 0.26 on the same images:
//! ```python
//! const = np.full((24, 32, 3), 128 / 255)
//! two = np.zeros((30, 40, 3)); two[:, :20] = (200, 30, 30); two[:, 20:] = (20, 40, 210); two /= 255
//! for img in const, two:
//!     print(slic(img, start_label=0).max() + 1,                             # 88, 120
//!           quickshift(img, kernel_size=4, max_dist=200, ratio=0.2).max() + 1)  # 1, 2
//! ```
//! SLIC does not merge a flat image into one segment: its connectivity step only absorbs
//! fragments smaller than half the expected size, and a flat image yields the regular grid.

use rectify_superpixels::{Image, Segmentation, Segmenter, SuperpixelError};

fn all() -> [Segmenter; 2] {
    [Segmenter::lime_default(), Segmenter::slic_default()]
}

fn segment(segmenter: Segmenter, width: usize, height: usize, rgb: &[u8]) -> Segmentation {
    let seg = segmenter.segment(&Image::new(width, height, rgb).unwrap()).unwrap();
    assert_eq!((seg.width, seg.height, seg.labels.len()), (width, height, width * height));
    assert!(seg.count >= 1, "{segmenter:?}: at least one segment");
    assert!(seg.sizes().iter().all(|&n| n > 0), "{segmenter:?}: labels 0..{} all used", seg.count);
    seg
}

/// A photo-like test card: gradients, a disc, stripes (deterministic).
fn card(width: usize, height: usize) -> Vec<u8> {
    (0..width * height)
        .flat_map(|i| {
            let (x, y) = ((i % width) as f64, (i / width) as f64);
            let disc = (x - 20.0).powi(2) + (y - 15.0).powi(2) < 100.0;
            let stripe = (x as usize / 6).is_multiple_of(2);
            let r = if disc { 220.0 } else { 40.0 + 3.0 * x };
            let g = if stripe { 90.0 + y } else { 160.0 };
            let b = 255.0 * (0.5 + 0.5 * (x / 9.0 + y / 13.0).sin());
            [r, g, b].map(|v| v.clamp(0.0, 255.0) as u8)
        })
        .collect()
}

#[test]
fn constant_image_as_scikit_image() {
    let rgb = vec![128u8; 32 * 24 * 3];
    assert_eq!(segment(Segmenter::lime_default(), 32, 24, &rgb).count, 1);
    let grid = segment(Segmenter::slic_default(), 32, 24, &rgb);
    assert_eq!(grid.count, 88);
    // The grid cells: compact, none smaller than half the expected 768 / 88 pixels.
    assert!(grid.sizes().iter().all(|&n| (4..=30).contains(&n)), "{:?}", grid.sizes());
}

#[test]
fn two_colours_split_at_the_edge() {
    // Left half red, right half blue: no segment may straddle the edge at x = 20.
    let (w, h) = (40, 30);
    let rgb: Vec<u8> = (0..w * h).flat_map(|i| if i % w < 20 { [200, 30, 30] } else { [20, 40, 210] }).collect();
    for (s, count) in all().into_iter().zip([2, 120]) {
        let seg = segment(s, w, h, &rgb);
        assert_eq!(seg.count, count, "{s:?}");
        for y in 0..h {
            for x in 0..w {
                let other = (0..h).flat_map(|yy| (0..w).map(move |xx| (xx, yy))).find(|&(xx, _)| (xx < 20) != (x < 20));
                let (xx, yy) = other.unwrap();
                if seg.label(x, y) == seg.label(xx, yy) {
                    panic!("{s:?}: ({x}, {y}) and ({xx}, {yy}) share a segment across the edge");
                }
            }
        }
        let edges = seg.boundaries();
        assert!((0..h).all(|y| edges[y * w + 19] && edges[y * w + 20]), "{s:?}: boundary on both sides of the edge");
    }
}

#[test]
fn same_input_same_labels() {
    let rgb = card(64, 48);
    for s in all() {
        let first = segment(s, 64, 48, &rgb);
        assert_eq!(first, segment(s, 64, 48, &rgb), "{s:?}");
        // Also on one thread: parallelism must not change any label.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(first, pool.install(|| segment(s, 64, 48, &rgb)), "{s:?} on one thread");
        assert!(first.count > 1, "{s:?} finds structure in the card");
    }
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    for (w, h) in [(1, 1), (7, 5), (5, 7), (1, 9), (13, 1), (2, 2), (225, 3)] {
        let rgb = card(w, h);
        for s in all() {
            let seg = segment(s, w, h, &rgb);
            assert!(seg.count <= w * h, "{s:?} on {w}x{h}");
        }
    }
    // More segments asked for than there are pixels.
    let many = Segmenter::Slic { n_segments: 1000, compactness: 10.0, max_iter: 10 };
    segment(many, 7, 5, &card(7, 5));
}

#[test]
fn bad_input_is_a_typed_error() {
    let rgb = vec![0u8; 10];
    assert!(matches!(Image::new(2, 2, &rgb), Err(SuperpixelError::BufferSize { expected: 12, found: 10, .. })));
    assert!(matches!(Image::new(0, 3, &[]), Err(SuperpixelError::Empty { .. })));
    let img = Image { width: 2, height: 2, rgb: &rgb }; // fields are public: segment checks again
    assert!(matches!(Segmenter::lime_default().segment(&img), Err(SuperpixelError::BufferSize { .. })));
    let ok = vec![0u8; 12];
    let img = Image::new(2, 2, &ok).unwrap();
    for bad in [
        Segmenter::Quickshift { kernel_size: 0.5, max_dist: 200.0, ratio: 0.2 },
        Segmenter::Quickshift { kernel_size: 4.0, max_dist: f64::NAN, ratio: 0.2 },
        Segmenter::Quickshift { kernel_size: 4.0, max_dist: 200.0, ratio: -1.0 },
        Segmenter::Slic { n_segments: 0, compactness: 10.0, max_iter: 10 },
        Segmenter::Slic { n_segments: 100, compactness: 0.0, max_iter: 10 },
        Segmenter::Slic { n_segments: 100, compactness: 10.0, max_iter: 0 },
    ] {
        let err = bad.segment(&img).unwrap_err();
        assert!(matches!(err, SuperpixelError::Parameter { .. }), "{bad:?}: {err}");
        assert!(err.to_string().contains("must be"), "{err}");
    }
}

#[test]
fn segmenter_serialises_with_a_tag() {
    let json = serde_json::to_string(&Segmenter::lime_default()).unwrap();
    assert_eq!(json, r#"{"algorithm":"quickshift","kernel_size":4.0,"max_dist":200.0,"ratio":0.2}"#);
    let back: Segmenter =
        serde_json::from_str(r#"{"algorithm":"slic","n_segments":100,"compactness":10.0,"max_iter":10}"#).unwrap();
    assert_eq!(back, Segmenter::slic_default());
    assert_eq!(Segmenter::default(), Segmenter::lime_default());
}

#[test]
fn mean_colors_of_a_two_colour_image() {
    let (w, h) = (40, 30);
    let rgb: Vec<u8> = (0..w * h).flat_map(|i| if i % w < 20 { [200, 30, 30] } else { [20, 40, 210] }).collect();
    let img = Image::new(w, h, &rgb).unwrap();
    let seg = Segmenter::slic_default().segment(&img).unwrap();
    for (label, mean) in seg.mean_colors(&img).unwrap().iter().enumerate() {
        let left = seg.labels.iter().position(|&l| l as usize == label).unwrap() % w < 20;
        assert_eq!(*mean, if left { [200.0, 30.0, 30.0] } else { [20.0, 40.0, 210.0] });
    }
}
