//! The [`Classifier`] trait and the ImageNet model that implements it for the zoo.
//!
//! A classifier takes **pixels in `[0, 1]`** (`[N, 3, H, W]`, float) and normalises inside, the
//! way the attacks and LIME need it: gradients are then taken w.r.t. pixels, and clipping to the
//! valid image range is clipping to `[0, 1]`. The scaling and normalisation are the same f32
//! operations torchvision's `ToTensor` + `Normalize` perform, so logits are bit-identical.

use std::path::Path;

use rectify_weights::StateDict;
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::device::device_name;
use crate::load::load_state_dict;
use crate::zoo::{Arch, Net};
use crate::ModelError;

/// Per-channel normalisation applied inside the model: `(x - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Channel means (RGB).
    pub mean: [f32; 3],
    /// Channel standard deviations (RGB).
    pub std: [f32; 3],
}

impl Default for Normalization {
    /// ImageNet's, as in every torchvision classification preset.
    fn default() -> Self {
        Self { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    }
}

/// How the forward pass is computed. Both give the same predictions up to float rounding.
///
/// Measured on val-1300 with MobileNetV2 (2 CPU cores): `Exact` reproduces torchvision's logits
/// bit for bit; `Fast` agrees within about 2e-5 and runs about 2.5× faster, so it is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Numerics {
    /// PyTorch's eval forward op for op: NCHW, BatchNorm as its own op (`--exact`).
    Exact,
    /// BatchNorm folded into the preceding convolution, activations and weights in NHWC
    /// (`torch.channels_last`, oneDNN's fast path).
    #[default]
    Fast,
}

/// Where a model came from: enough to tell two runs apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Architecture name (`mobilenet_v2`) or `torchscript`.
    pub arch: String,
    /// The weights' origin: a path, or `bundled:<name>`.
    pub weights: String,
    /// sha256 of the weights file as read.
    pub weights_sha256: String,
    /// Number of classes.
    pub num_classes: i64,
    /// Width of the penultimate features, when the model exposes them.
    pub feature_dim: Option<i64>,
    /// Normalisation applied inside.
    pub normalization: Normalization,
    /// Device the model runs on (`cpu`, `cuda:0`).
    pub device: String,
    /// How the forward pass is computed.
    pub numerics: Numerics,
    /// A TorchScript model's method that gives its features (`forward_features`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features_method: Option<String>,
    /// The classes the logits are restricted to (`--class-subset`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_subset: Option<Vec<i64>>,
    /// A many-to-one class map (ObjectNet's), if any: each group's logit is the largest of its
    /// classes', given to the group's first class; the other members' logits are masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_groups: Option<Vec<ClassGroup>>,
}

/// Several classes that count as one (an ObjectNet class and the ImageNet classes it maps to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassGroup {
    /// The group's name: the images folder that holds its images.
    pub name: String,
    /// Its classes, sorted; the first stands for the group (labels and predictions).
    pub classes: Vec<i64>,
}

/// The outputs of one forward pass.
#[derive(Debug)]
pub struct Output {
    /// Logits `[N, classes]`.
    pub logits: Tensor,
    /// Penultimate features `[N, D]`, when the model has them.
    pub features: Option<Tensor>,
}

/// An image classifier on `[0, 1]` pixels.
pub trait Classifier {
    /// Logits `[N, classes]` of pixels `[N, 3, H, W]` in `[0, 1]`. Differentiable w.r.t. the
    /// pixels; wrap calls in `tch::no_grad` when no gradient is needed.
    fn logits(&self, pixels: &Tensor) -> Tensor;

    /// Logits and, where available, the penultimate features.
    fn forward(&self, pixels: &Tensor) -> Output {
        Output { logits: self.logits(pixels), features: None }
    }

    /// The device inputs must live on.
    fn device(&self) -> Device;

    /// Provenance of the model.
    fn info(&self) -> &ModelInfo;
}

/// A zoo architecture with loaded weights, in eval mode.
#[derive(Debug)]
pub struct ImageNetModel {
    net: Net,
    _vs: VarStore,
    mean: Tensor,
    std: Tensor,
    device: Device,
    info: ModelInfo,
}

impl ImageNetModel {
    /// Builds `arch` on `device` and loads `weights`; `origin` and `sha256` describe where they came from.
    pub fn new(
        arch: Arch,
        weights: &StateDict,
        origin: &str,
        sha256: &str,
        device: Device,
        numerics: Numerics,
    ) -> Result<Self, ModelError> {
        let num_classes = classes_in(weights, arch).unwrap_or(1000);
        let mut vs = VarStore::new(device);
        let net = arch.build(&vs.root(), num_classes, numerics == Numerics::Fast);
        load_state_dict(&mut vs, weights, arch)?;
        vs.freeze();
        if numerics == Numerics::Fast {
            for (_, mut v) in vs.variables() {
                if v.dim() == 4 {
                    let cl = to_channels_last(&v);
                    v.set_data(&cl);
                }
            }
        }
        let norm = Normalization::default();
        let info = ModelInfo {
            arch: arch.name().to_string(),
            weights: origin.to_string(),
            weights_sha256: sha256.to_string(),
            num_classes,
            feature_dim: Some(arch.feature_dim()),
            normalization: norm,
            device: device_name(device),
            numerics,
            features_method: None,
            class_subset: None,
            class_groups: None,
        };
        Ok(Self {
            net,
            _vs: vs,
            mean: channel_tensor(norm.mean, device),
            std: channel_tensor(norm.std, device),
            device,
            info,
        })
    }

    /// The same model normalising its input with `norm` instead of ImageNet's (a model trained
    /// with other statistics, e.g. timm's 0.5 / 0.5, or Inception's).
    pub fn with_normalization(mut self, norm: Normalization) -> Self {
        self.mean = channel_tensor(norm.mean, self.device);
        self.std = channel_tensor(norm.std, self.device);
        self.info.normalization = norm;
        self
    }

    /// Reads a `.pth` (torch.save) or `.safetensors` file and builds the model.
    pub fn from_file(arch: Arch, path: &Path, device: Device, numerics: Numerics) -> Result<Self, ModelError> {
        let wrap = |source| ModelError::Weights { path: path.to_path_buf(), source };
        let sd = StateDict::read(path).map_err(wrap)?;
        let sha = rectify_weights::sha256_file(path)
            .map_err(|source| wrap(rectify_weights::WeightsError::Io { path: path.to_path_buf(), source }))?;
        Self::new(arch, &sd, &path.display().to_string(), &sha, device, numerics)
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.info.arch.parse().expect("built from an Arch")
    }

    /// Normalises `[0, 1]` pixels as torchvision's `Normalize` does (NHWC-strided under [`Numerics::Fast`]).
    pub fn normalize(&self, pixels: &Tensor) -> Tensor {
        let x = normalize(pixels, &self.mean, &self.std);
        match self.info.numerics {
            Numerics::Exact => x,
            Numerics::Fast => to_channels_last(&x),
        }
    }
}

/// The class count of a checkpoint from its head's bias.
fn classes_in(sd: &StateDict, arch: Arch) -> Option<i64> {
    sd.get(arch.head_bias()).and_then(|t| t.shape.first().map(|&n| n as i64))
}

pub(crate) fn channel_tensor(v: [f32; 3], device: Device) -> Tensor {
    Tensor::from_slice(&v).view([1, 3, 1, 1]).to_device(device)
}

pub(crate) fn normalize(pixels: &Tensor, mean: &Tensor, std: &Tensor) -> Tensor {
    (pixels.to_kind(Kind::Float) - mean) / std
}

/// The same values with NHWC strides (PyTorch's `channels_last` memory format).
pub(crate) fn to_channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

impl Classifier for ImageNetModel {
    fn logits(&self, pixels: &Tensor) -> Tensor {
        self.net.logits_of(&self.net.trunk(&self.normalize(pixels)))
    }

    fn forward(&self, pixels: &Tensor) -> Output {
        let trunk = self.net.trunk(&self.normalize(pixels));
        Output { logits: self.net.logits_of(&trunk), features: Some(self.net.features_of(&trunk)) }
    }

    fn device(&self) -> Device {
        self.device
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}

/// Turns a batch of 8-bit HWC crops (`n` images of `h×w×3`, row-major) into `[n, 3, h, w]`
/// float pixels in `[0, 1]` on `device`: `x as f32 / 255`, as `ToTensor` computes it. An
/// allocation libtorch cannot make (on the CPU or the device) is an error, not a panic.
pub fn pixels_from_u8(hwc: &[u8], n: usize, h: usize, w: usize, device: Device) -> Result<Tensor, ModelError> {
    if hwc.len() != n * h * w * 3 {
        return Err(ModelError::Forward {
            what: format!("a batch of {n} images of {h}×{w} px"),
            message: format!("the buffer holds {} bytes, not {}", hwc.len(), n * h * w * 3),
        });
    }
    let t = Tensor::f_from_slice(hwc)?
        .f_view([n as i64, h as i64, w as i64, 3])?
        .f_to_device(device)?
        .f_permute([0, 3, 1, 2])?
        .f_contiguous()?
        .f_to_kind(Kind::Float)?;
    Ok(t.f_div_scalar(255.0)?)
}
