//! Every zoo architecture against torchvision: random weights saved by `torch.save`, two random
//! images, logits and penultimate features compared (fixtures: `scripts/fixtures/zoo.py`).
//!
//! `Numerics::Exact` runs PyTorch's eval forward op for op: bit-identical (max |diff| 0.0).
//! `Numerics::Fast` folds BatchNorm into the convolutions and computes in NHWC, which rounds the
//! sums in another order: measured at most 5.7e-6 on logits (DenseNet-201) and 1.2e-5 on
//! features over the ten architectures; the bound [`FAST_MAX`] sits just above.

use std::path::Path;

use rectify_data::npy;
use rectify_model::{Arch, Classifier, ImageNetModel, ModelError, Numerics, TorchScriptModel};
use tch::{Device, Tensor};

fn tensor(path: &Path) -> Tensor {
    let a = npy::read_f32(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&a.data).view(shape.as_slice())
}

/// The bound for the default (fast) numerics; see the module comment for what was measured.
const FAST_MAX: f64 = 1e-4;

fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn every_architecture_matches_torchvision() {
    let Some(dir) = rectify_testkit::fixtures("zoo") else { return };
    let pixels = tensor(&dir.join("pixels.npy"));
    for (arch, format) in Arch::ALL.into_iter().flat_map(|a| [(a, Numerics::Exact), (a, Numerics::Fast)]) {
        let model = ImageNetModel::from_file(arch, &dir.join(format!("{arch}.pth")), Device::Cpu, format)
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        // Inception-v3 gets its own 299-px pixels.
        let own = dir.join(format!("{arch}.pixels.npy"));
        let pixels = if own.exists() { tensor(&own) } else { pixels.shallow_clone() };
        let out = tch::no_grad(|| model.forward(&pixels));
        let want_logits = tensor(&dir.join(format!("{arch}.logits.npy")));
        let want_feats = tensor(&dir.join(format!("{arch}.features.npy")));
        let dl = max_abs(&out.logits, &want_logits);
        let df = max_abs(out.features.as_ref().expect("zoo models expose features"), &want_feats);
        println!("{arch:>13} {format:?}: logits max|diff| {dl:.3e}, features max|diff| {df:.3e}");
        // ConvNeXt and ViT have no BatchNorm to fold: their default numerics are PyTorch's own
        // computation, bit-identical (README, *Models*).
        let bound = match (format, arch) {
            (Numerics::Exact, _) | (Numerics::Fast, Arch::ConvnextTiny | Arch::VitB16) => 0.0,
            (Numerics::Fast, _) => FAST_MAX,
        };
        assert!(dl <= bound, "{arch} {format:?}: logits differ from torchvision by {dl} (bound {bound})");
        assert!(df <= bound, "{arch} {format:?}: features differ from torchvision by {df} (bound {bound})");
        // logits() alone is the same computation.
        let l = tch::no_grad(|| model.logits(&pixels));
        assert_eq!(max_abs(&l, &out.logits), 0.0, "{arch}");
    }
}

/// ViT's attention with gradients on runs `F.multi_head_attention_forward`'s ops, as PyTorch
/// does then (its fast path is for no-grad only): logits bit-identical to PyTorch's with
/// gradients enabled, within 1e-5 of the fast path's, and a gradient reaches the pixels.
#[test]
fn vit_attention_with_gradients_matches_pytorch() {
    let Some(dir) = rectify_testkit::fixtures("zoo") else { return };
    let pixels = tensor(&dir.join("pixels.npy")).set_requires_grad(true);
    let model =
        ImageNetModel::from_file(Arch::VitB16, &dir.join("vit_b_16.pth"), Device::Cpu, Numerics::Exact).unwrap();
    let logits = model.logits(&pixels);
    let want = tensor(&dir.join("vit_b_16.logits_grad.npy"));
    let diff = max_abs(&logits.detach(), &want);
    let vs_fast = max_abs(&logits.detach(), &tensor(&dir.join("vit_b_16.logits.npy")));
    println!("vit_b_16 with gradients: max|diff| {diff:.3e} vs PyTorch, {vs_fast:.3e} vs the no-grad path");
    assert_eq!(diff, 0.0);
    assert!(vs_fast < 1e-5, "{vs_fast}");
    logits.sum(tch::Kind::Float).backward();
    let grad = pixels.grad();
    assert!(grad.abs().sum(tch::Kind::Float).double_value(&[]) > 0.0, "a gradient reaches the pixels");
}

#[test]
fn torchscript_matches_torchvision() {
    let Some(dir) = rectify_testkit::fixtures("zoo") else { return };
    let model = TorchScriptModel::load(&dir.join("resnet18.torchscript.pt"), Device::Cpu).unwrap();
    assert_eq!(model.info().num_classes, 1000);
    let logits = tch::no_grad(|| model.logits(&tensor(&dir.join("pixels.npy"))));
    let d = max_abs(&logits, &tensor(&dir.join("resnet18.logits.npy")));
    println!("TorchScript resnet18: logits max|diff| {d:.3e}");
    // The scripted module runs PyTorch's own ops on the same libtorch: bit-identical.
    assert_eq!(d, 0.0, "TorchScript logits differ by {d}");
}

#[test]
fn weights_of_another_architecture_are_named() {
    let Some(dir) = rectify_testkit::fixtures("zoo") else { return };
    // Deeper variant of the same family: missing blocks are named, and the depth is guessed.
    let err = ImageNetModel::from_file(Arch::Resnet34, &dir.join("resnet18.pth"), Device::Cpu, Numerics::default())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelError::StateDict { .. }), "{msg}");
    assert!(msg.contains("missing: layer1.2."), "{msg}");
    assert!(msg.contains("try --arch resnet18"), "{msg}");
    // Another family: unexpected tensors are named too.
    let msg = ImageNetModel::from_file(Arch::Resnet18, &dir.join("mobilenet_v2.pth"), Device::Cpu, Numerics::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("unexpected: classifier.1.bias"), "{msg}");
    assert!(msg.contains("try --arch mobilenet_v2"), "{msg}");
    // Same names, other widths: mis-shaped tensors with both shapes.
    let msg =
        ImageNetModel::from_file(Arch::Densenet169, &dir.join("densenet121.pth"), Device::Cpu, Numerics::default())
            .unwrap_err()
            .to_string();
    assert!(msg.contains("mis-shaped"), "{msg}");
    assert!(msg.contains("classifier.weight (model [1000, 1664], file [1000, 1024])"), "{msg}");
    assert!(msg.contains("try --arch densenet121"), "{msg}");
}

#[test]
fn a_file_that_is_no_checkpoint_is_an_error() {
    let dir = std::env::temp_dir().join(format!("rectify-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("weights.pth");
    std::fs::write(&f, b"this is not a checkpoint").unwrap();
    let err = ImageNetModel::from_file(Arch::Resnet18, &f, Device::Cpu, Numerics::default()).unwrap_err();
    assert!(matches!(err, ModelError::Weights { .. }), "{err}");
    assert!(err.to_string().contains("weights.pth"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
