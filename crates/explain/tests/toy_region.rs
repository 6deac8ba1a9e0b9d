//! A toy model that only looks at one region: LIME's top superpixels must be that region's.

use rectify_explain::image::{Hide, ImageLime, Perturber};
use rectify_explain::lime::{FeatureSelection, LimeBase, Regressor};
use rectify_explain::path::{area, order_by_weight, path, random_order};
use rectify_model::{Classifier, ModelInfo, Normalization, Numerics};
use tch::{Device, Kind, Tensor};

const SIDE: usize = 32;
const CELL: usize = 8; // 4 × 4 grid of superpixels

/// Class 0's logit grows with the contrast inside the top-left 16×8 block (grid cells 0 and 1);
/// class 1's is constant. Everything else in the image is ignored.
struct RegionModel(ModelInfo);

impl Classifier for RegionModel {
    fn logits(&self, pixels: &Tensor) -> Tensor {
        let region = pixels.narrow(2, 0, CELL as i64).narrow(3, 0, 2 * CELL as i64);
        let contrast = (region - 0.5).abs().mean_dim(&[1i64, 2, 3][..], false, Kind::Float);
        Tensor::stack(&[contrast * 20.0, Tensor::full([pixels.size()[0]], 4.0, (Kind::Float, Device::Cpu))], 1)
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn info(&self) -> &ModelInfo {
        &self.0
    }
}

fn model() -> RegionModel {
    RegionModel(ModelInfo {
        arch: "toy-region".into(),
        weights: "test".into(),
        weights_sha256: String::new(),
        num_classes: 2,
        feature_dim: None,
        normalization: Normalization::default(),
        device: "cpu".into(),
        numerics: Numerics::Exact,
        features_method: None,
        class_subset: None,
        class_groups: None,
    })
}

/// A checkerboard everywhere (so every cell has contrast), grid superpixels.
fn image() -> (Vec<u8>, Vec<u32>) {
    let mut crop = vec![0u8; SIDE * SIDE * 3];
    let mut seg = vec![0u32; SIDE * SIDE];
    for y in 0..SIDE {
        for x in 0..SIDE {
            let v = if (x + y) % 2 == 0 { 255 } else { 0 };
            crop[(y * SIDE + x) * 3..(y * SIDE + x) * 3 + 3].copy_from_slice(&[v, v / 2, 255 - v]);
            seg[y * SIDE + x] = ((y / CELL) * (SIDE / CELL) + x / CELL) as u32;
        }
    }
    (crop, seg)
}

#[test]
fn top_superpixels_are_the_region_the_model_looks_at() {
    let (crop, seg) = image();
    let m = model();
    let perturber = Perturber::new(&crop, SIDE, SIDE, &seg, 16, Hide::MeanColor, Device::Cpu);
    for selection in [FeatureSelection::LassoPath, FeatureSelection::Forward, FeatureSelection::HighestWeights] {
        let lime = ImageLime {
            base: LimeBase { kernel_width: 0.25, selection, num_features: 4, regressor: Regressor::LeastSquares },
            samples: 400,
            batch_size: 64,
            hide: Hide::MeanColor,
            seed: 7,
        };
        let e = lime.explain(&m, &perturber, None).unwrap();
        assert_eq!(e.label, 0, "the region's contrast makes class 0 the top class");
        let mut top2 = e.explanation.ranked[..2].to_vec();
        top2.sort_unstable();
        assert_eq!(top2, vec![0, 1], "{selection:?}: {:?} weights {:?}", e.explanation.ranked, e.explanation.weights);
        assert!(e.explanation.weights[0] > 0.0 && e.explanation.weights[1] > 0.0);
        // Uncovering the region first raises the class probability at once: the explanation's
        // path dominates a random order's.
        let ours = path(&m, &perturber, &order_by_weight(&e.explanation.weights), 0, 64);
        let random = path(&m, &perturber, &random_order(16, 1), 0, 64);
        assert_eq!(ours.len(), 17);
        assert!((ours[16] - e.probability).abs() < 1e-6, "all shown = the image itself");
        assert!(area(&ours) > area(&random), "{ours:?} vs {random:?}");
    }
}

#[test]
fn same_seed_same_explanation_other_seed_other_masks() {
    let (crop, seg) = image();
    let m = model();
    let perturber = Perturber::new(&crop, SIDE, SIDE, &seg, 16, Hide::MeanColor, Device::Cpu);
    let lime = ImageLime { samples: 200, ..ImageLime::default() };
    let a = lime.explain(&m, &perturber, Some(0)).unwrap();
    let b = lime.explain(&m, &perturber, Some(0)).unwrap();
    assert_eq!(a, b);
    let c = ImageLime { seed: 1, ..lime }.explain(&m, &perturber, Some(0)).unwrap();
    assert_ne!(a.explanation.weights, c.explanation.weights);
}

#[test]
fn hidden_superpixels_show_their_mean_colour() {
    let (crop, seg) = image();
    let perturber = Perturber::new(&crop, SIDE, SIDE, &seg, 16, Hide::MeanColor, Device::Cpu);
    let none = perturber.images(&Tensor::zeros([1, 16], (Kind::Float, Device::Cpu)));
    // A checkerboard cell's mean: half 255, half 0 → 0.5 in every channel's red/blue; green 127.5/255 · ½.
    let red = none.get(0).get(0);
    assert!((red.mean(Kind::Float).double_value(&[]) - 0.5).abs() < 1e-6);
    assert!(red.std(false).double_value(&[]) < 1e-6, "hidden cells are flat");
    let all = perturber.images(&Tensor::ones([1, 16], (Kind::Float, Device::Cpu)));
    let original = Tensor::from_slice(&crop).view([32, 32, 3]).permute([2, 0, 1]).to_kind(Kind::Float) / 255.0;
    assert!((all.get(0) - original).abs().max().double_value(&[]) < 1e-6, "all shown = the image");
}
