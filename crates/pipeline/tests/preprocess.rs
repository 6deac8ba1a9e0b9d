//! Preprocessing as data through the stages (#15 §1): an eval run made with a timm-style setting
//! (bicubic, crop 240, crop_pct 0.95, mean/std 0.5) records it, its predictions are the model's
//! on exactly those crops, the attack works on crops of that size with the model normalising by
//! the recorded mean/std, and resuming with other settings is refused. The crops themselves are
//! checked bit for bit against torchvision and timm in `crates/data/tests/transforms.rs`.

use rectify_data::preprocess::{CropMode, Interpolation, Preprocess};
use rectify_model::classifier::pixels_from_u8;
use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::eval::{EvalSettings, ImageInputs};
use rectify_pipeline::model::Placement;
use rectify_pipeline::preprocess::PreprocessArgs;
use rectify_pipeline::{ModelSpec, Silent};
use rectify_store::RunStore;
use rectify_testkit::workspace_root;

#[test]
fn a_run_keeps_its_preprocessing_through_every_stage() {
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let args = PreprocessArgs {
        crop: Some(240),
        crop_pct: Some(0.95),
        interpolation: Some(Interpolation::Bicubic),
        mean: Some([0.5; 3]),
        std: Some([0.5; 3]),
        ..Default::default()
    };
    let pre = args.resolve().expect("settings");
    assert_eq!((pre.resize, pre.crop, pre.crop_mode), (252, 240, CropMode::Center));
    let spec = ModelSpec { placement: Placement { threads: Some(1), ..Default::default() }, ..ModelSpec::default() };

    // A model normalising with ImageNet's statistics is refused for mean/std 0.5.
    let inputs = ImageInputs {
        labels: Some(root.join("assets/sample-labels.csv")),
        ..ImageInputs::new(root.join("assets/sample-images"))
    };
    let eval = EvalSettings { preprocess: args.clone(), limit: Some(3), workers: Some(1), ..EvalSettings::new(inputs) };
    let imagenet = spec.load().expect("model");
    let err = rectify_pipeline::eval::run(&out, &*imagenet, &eval, &mut Silent).expect_err("normalisation mismatch");
    assert!(format!("{err:#}").contains("load_for"), "{err:#}");

    let model = spec.load_for(&pre).expect("model");
    let summary = rectify_pipeline::eval::run(&out, &*model, &eval, &mut Silent).expect("eval");
    assert_eq!(summary.evaluated, 3);
    assert!(summary.provenance.preprocessing.contains("Resize(252) bicubic antialias (Pillow), CenterCrop(240)"));
    assert!(summary.provenance.preprocessing.contains("mean=[0.5, 0.5, 0.5]"));

    // The stored predictions are the model's on these crops, normalised by 0.5 / 0.5.
    let store = RunStore::open(&out).expect("store");
    let (eval_run, prov) = store.run("eval", None).expect("eval run");
    assert_eq!(rectify_pipeline::preprocess::of_run(&prov).expect("recorded"), pre);
    let images = store.images().expect("images");
    for p in store.predictions(eval_run, false).expect("predictions") {
        let file = &images.iter().find(|i| i.id == p.image_id).expect("image").file;
        let crop = pre.load(&root.join("assets/sample-images").join(file)).expect("crop");
        assert_eq!(crop.len(), 240 * 240 * 3);
        let x = pixels_from_u8(&crop, 1, 240, 240, tch::Device::Cpu).unwrap();
        let logits = tch::no_grad(|| model.logits(&x));
        assert_eq!(p.top5[0], logits.argmax(-1, false).int64_value(&[0]), "{file}");
        // Normalising by 0.5 / 0.5 inside the model: the ImageNet-normalising model on pixels
        // x' with (x' - m) / s = (x - 0.5) / 0.5 gives the same logits.
        let (m, s) = (rectify_data::preprocess::IMAGENET_MEAN, rectify_data::preprocess::IMAGENET_STD);
        let chan = |v: [f32; 3]| tch::Tensor::from_slice(&v).view([1, 3, 1, 1]);
        let shifted = (&x - 0.5) / 0.5 * chan(s) + chan(m);
        let other = tch::no_grad(|| imagenet.logits(&shifted));
        let diff = (&logits - &other).abs().max().double_value(&[]);
        assert!(diff < 1e-3, "{file}: logits differ by {diff}");
    }
    drop(store);

    // The attack reads the run's preprocessing: 240-pixel adversarial images, and the model
    // reloaded from the run (model::of_run) normalises by the recorded statistics.
    let mut store = RunStore::open(&out).expect("store");
    let reloaded = rectify_pipeline::model::of_run(&store, &spec.placement).expect("run's model");
    assert_eq!(reloaded.info().normalization.mean, [0.5; 3]);
    let attack = AttackSettings { limit: Some(1), ..AttackSettings::paper() };
    let summary = rectify_pipeline::attack::run(&mut store, &*reloaded, &attack, &mut Silent).expect("attack");
    assert_eq!(summary.provenance.preprocessing, prov.preprocessing);
    let pngs: Vec<_> =
        walk(&out.join("attack")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "png")).collect();
    assert!(!pngs.is_empty(), "adversarial images saved");
    for png in pngs {
        assert_eq!(image::image_dimensions(&png).expect("png"), (240, 240), "{}", png.display());
    }
    drop(store);

    // Resuming the eval with torchvision's defaults is refused, naming the preprocessing.
    let other = EvalSettings { preprocess: PreprocessArgs::default(), ..eval.clone() };
    let err = rectify_pipeline::eval::run(&out, &*imagenet, &other, &mut Silent).expect_err("other preprocessing");
    assert!(format!("{err:#}").contains("preprocessing"), "{err:#}");
    assert_ne!(pre, Preprocess::default());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
