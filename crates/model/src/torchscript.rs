//! Any other model, as TorchScript: `torch.jit.save(torch.jit.script(model), "model.pt")`.
//!
//! The module must take a normalised `[N, 3, crop, crop]` batch (224 unless the preprocessing
//! says otherwise) and return logits `[N, classes]` (a tuple or list whose first element is the
//! logits is accepted too). Normalisation happens here, as for the zoo, so the module sees
//! exactly what a torchvision pipeline would feed it.
//!
//! Penultimate features (for MMD-critic, `--save-features`) come from a method of the module:
//! `forward_features` when it has one (timm's name; export it with `@torch.jit.export` on a
//! wrapper), or the method named by `--features-method`. Its output is reduced as timm's heads
//! do: a map `[N, C, H, W]` is globally average-pooled, tokens `[N, L, C]` give their first
//! (class) token, `[N, D]` is taken as is.

use std::path::Path;

use tch::{CModule, Device, IValue, Tensor};

use crate::classifier::{channel_tensor, normalize};
use crate::device::device_name;
use crate::{Classifier, ModelError, ModelInfo, Normalization};

/// A TorchScript classifier.
#[derive(Debug)]
pub struct TorchScriptModel {
    module: CModule,
    mean: Tensor,
    std: Tensor,
    device: Device,
    info: ModelInfo,
    /// The method that gives the penultimate features, if any.
    features: Option<String>,
}

/// The method timm's models (and rectify's docs) name for the penultimate features.
pub const FEATURES_METHOD: &str = "forward_features";

impl TorchScriptModel {
    /// Loads `path` onto `device` in eval mode and probes it with one zero 224×224 image to learn
    /// the class count.
    pub fn load(path: &Path, device: Device) -> Result<Self, ModelError> {
        Self::load_sized(path, device, 224, None)
    }

    /// [`load`](Self::load), probing with a `side × side` image: the crop size the model will be
    /// given (a ViT at 384 takes nothing else). Features come from the method `features`, or
    /// from `forward_features` when `None` and the module has it.
    pub fn load_sized(path: &Path, device: Device, side: u32, features: Option<&str>) -> Result<Self, ModelError> {
        let err = |message: String| ModelError::TorchScript { path: path.to_path_buf(), message };
        let mut module = CModule::load_on_device(path, device).map_err(|e| err(e.to_string()))?;
        module.set_eval();
        let norm = Normalization::default();
        let sha = rectify_weights::sha256_file(path).map_err(|e| err(e.to_string()))?;
        let mut me = Self {
            module,
            mean: channel_tensor(norm.mean, device),
            std: channel_tensor(norm.std, device),
            device,
            info: ModelInfo {
                arch: "torchscript".into(),
                weights: path.display().to_string(),
                weights_sha256: sha,
                num_classes: 0,
                feature_dim: None,
                normalization: norm,
                device: device_name(device),
                numerics: crate::Numerics::Exact,
                features_method: None,
                class_subset: None,
                class_groups: None,
            },
            features: None,
        };
        let probe = Tensor::zeros([1, 3, i64::from(side), i64::from(side)], (tch::Kind::Float, device));
        let logits = tch::no_grad(|| me.try_logits(&probe)).map_err(err)?;
        if logits.dim() != 2 || logits.size()[0] != 1 {
            return Err(err(format!("expected logits [1, classes] for one image, got {:?}", logits.size())));
        }
        me.info.num_classes = logits.size()[1];
        let method = features.unwrap_or(FEATURES_METHOD);
        me.features = Some(method.to_string());
        match tch::no_grad(|| me.try_features(&probe)) {
            Ok(f) => {
                me.info.feature_dim = Some(f.size()[1]);
                me.info.features_method = Some(method.to_string());
            }
            // Without a method of that name the model simply has no features, unless it was asked for.
            Err(_) if features.is_none() => me.features = None,
            Err(e) => return Err(err(format!("features from `{method}`: {e}"))),
        }
        Ok(me)
    }

    /// The method the features come from, if the model has one.
    pub fn features_method(&self) -> Option<&str> {
        self.features.as_deref()
    }

    /// Penultimate features `[N, D]` of normalised pixels, reduced as described in the module docs.
    fn try_features(&self, pixels: &Tensor) -> Result<Tensor, String> {
        let method = self.features.as_deref().ok_or("the model has no features method")?;
        let x = normalize(pixels, &self.mean, &self.std);
        let out = self.module.method_is(method, &[IValue::Tensor(x)]).map_err(|e| e.to_string())?;
        let IValue::Tensor(t) = out else {
            return Err(format!("`{method}` returned {out:?}, not a tensor"));
        };
        match t.dim() {
            2 => Ok(t),
            3 => Ok(t.select(1, 0)),
            4 => Ok(t.adaptive_avg_pool2d([1, 1]).flatten(1, -1)),
            _ => Err(format!(
                "`{method}` returned a tensor of shape {:?}: expected [N, D], [N, L, C] or [N, C, H, W]",
                t.size()
            )),
        }
    }

    /// The same model normalising its input with `norm` instead of ImageNet's.
    pub fn with_normalization(mut self, norm: Normalization) -> Self {
        self.mean = channel_tensor(norm.mean, self.device);
        self.std = channel_tensor(norm.std, self.device);
        self.info.normalization = norm;
        self
    }

    fn try_logits(&self, pixels: &Tensor) -> Result<Tensor, String> {
        let x = normalize(pixels, &self.mean, &self.std);
        let out = self.module.forward_is(&[IValue::Tensor(x)]).map_err(|e| e.to_string())?;
        match out {
            IValue::Tensor(t) => Ok(t),
            IValue::Tuple(v) | IValue::GenericList(v) => match v.into_iter().next() {
                Some(IValue::Tensor(t)) => Ok(t),
                _ => Err("the module returned a tuple/list whose first element is not a tensor".into()),
            },
            other => Err(format!("the module returned {other:?}, not a logits tensor")),
        }
    }
}

impl Classifier for TorchScriptModel {
    fn logits(&self, pixels: &Tensor) -> Tensor {
        self.try_logits(pixels).unwrap_or_else(|e| panic!("TorchScript forward failed: {e}"))
    }

    fn forward(&self, pixels: &Tensor) -> crate::Output {
        let features = self
            .features
            .as_ref()
            .map(|_| self.try_features(pixels).unwrap_or_else(|e| panic!("TorchScript features failed: {e}")));
        crate::Output { logits: self.logits(pixels), features }
    }

    fn device(&self) -> Device {
        self.device
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}
