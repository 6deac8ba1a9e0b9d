//! Which model a stage runs and where: the settings every command that runs a model shares.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rectify_data::preprocess::Preprocess;
use rectify_model::{
    bundled, Arch, Classifier, DeviceChoice, ImageNetModel, Normalization, Numerics, TorchScriptModel,
};
use rectify_store::{Provenance, RunStore};

/// Where and how a model computes: `--device`, `--threads`, `--exact`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct Placement {
    /// cpu, cuda, cuda:N or auto (CUDA when available).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub device: DeviceChoice,
    /// libtorch threads for the model (default: all cores).
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
    /// Compute exactly as PyTorch's eval forward does (NCHW, BatchNorm unfolded): logits
    /// bit-identical to torchvision's. The default folds BatchNorm into the convolutions and
    /// computes in NHWC: about 2.5x faster on CPU, agreeing within ~2e-5. On a run's model:
    /// exact even if the eval run used the fast numerics.
    #[cfg_attr(feature = "clap", arg(long))]
    pub exact: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Placement { device: DeviceChoice::Auto, threads: None, exact: false }
    }
}

/// The model: `--arch`, `--weights`, `--torchscript`, and its [`Placement`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ModelSpec {
    /// Architecture of the torchvision zoo: resnet18/34/50/101/152, resnext50_32x4d,
    /// wide_resnet50_2, densenet121/161/169/201, mobilenet_v2, mobilenet_v3_large,
    /// efficientnet_b0, regnet_y_400mf, convnext_tiny, vit_b_16, inception_v3 (--crop 299 --resize 342),
    /// vgg16_bn, squeezenet1_1.
    #[cfg_attr(feature = "clap", arg(long, default_value = "mobilenet_v2"))]
    pub arch: String,
    /// Weights: a torchvision `.pth` state dict or a `.safetensors` file with torchvision names.
    /// Default: the bundled MobileNetV2 (IMAGENET1K_V1).
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "torchscript"))]
    pub weights: Option<PathBuf>,
    /// Any other model as TorchScript (input [N,3,crop,crop] normalised, output logits).
    #[cfg_attr(feature = "clap", arg(long))]
    pub torchscript: Option<PathBuf>,
    /// The TorchScript module's method that gives the penultimate features (default:
    /// `forward_features` when the module has it): a map [N,C,H,W] is average-pooled, tokens
    /// [N,L,C] give their first token.
    #[cfg_attr(feature = "clap", arg(long, requires = "torchscript", value_name = "METHOD"))]
    pub features_method: Option<String>,
    /// Restrict the logits to these classes before top-k (ImageNet-A/-R's 200): a file of
    /// class indices or wnids, one per line. Indices stay ImageNet's. A many-to-one map
    /// (ObjectNet's `mappings/` folder, or JSON {"folder": [class, …]}) labels each image by its
    /// folder's group and counts a prediction of any class of the group as the group.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE|DIR"))]
    pub class_subset: Option<PathBuf>,
    /// The subset or groups, as a run recorded them (used instead of `class_subset`).
    #[cfg_attr(feature = "clap", arg(skip))]
    pub recorded_subset: Option<crate::subset::ClassSpace>,
    /// Where it computes.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub placement: Placement,
}

impl Default for ModelSpec {
    /// The bundled MobileNetV2.
    fn default() -> Self {
        ModelSpec {
            arch: bundled::ARCH.name().to_string(),
            weights: None,
            torchscript: None,
            features_method: None,
            class_subset: None,
            recorded_subset: None,
            placement: Placement::default(),
        }
    }
}

/// Where the bundled weights are named in provenance records.
const BUNDLED: &str = bundled::ORIGIN;

/// A loaded model behind the [`Classifier`] trait.
pub type BoxedModel = Box<dyn Classifier>;

impl ModelSpec {
    /// Loads the model, normalising its input with ImageNet's mean and std.
    pub fn load(&self) -> Result<BoxedModel> {
        self.load_for(&Preprocess::default())
    }

    /// Loads the model, normalising its input with `pre`'s mean and std (the model computes
    /// `(x - mean) / std` itself, so attacks work on `[0, 1]` pixels).
    pub fn load_for(&self, pre: &Preprocess) -> Result<BoxedModel> {
        let norm = Normalization { mean: pre.mean, std: pre.std };
        if let Some(n) = self.placement.threads {
            tch::set_num_threads(n as i32);
        }
        let device = self.placement.device.resolve()?;
        if let Some(ts) = &self.torchscript {
            let model = TorchScriptModel::load_sized(ts, device, pre.crop, self.features_method.as_deref())?;
            return self.restricted(Box::new(model.with_normalization(norm)));
        }
        let arch: Arch = self.arch.parse()?;
        let numerics = if self.placement.exact { Numerics::Exact } else { Numerics::Fast };
        let model = match &self.weights {
            Some(path) => ImageNetModel::from_file(arch, path, device, numerics)
                .with_context(|| format!("loading {arch} weights from {}", path.display()))?,
            None if arch == bundled::ARCH => {
                let (sd, sha) = bundled::mobilenet_v2();
                ImageNetModel::new(arch, &sd, bundled::ORIGIN, &sha, device, numerics)?
            }
            None => bail!(
                "no weights are bundled for {arch}; pass --weights FILE (a torchvision .pth such as \
                 torchvision's `{arch}` IMAGENET1K_V1 download, or a .safetensors with the same names)"
            ),
        };
        self.restricted(Box::new(model.with_normalization(norm)))
    }

    /// `model`, restricted to the class subset when one is set.
    fn restricted(&self, model: BoxedModel) -> Result<BoxedModel> {
        let space = match (&self.recorded_subset, &self.class_subset) {
            (Some(space), _) => space.clone(),
            (None, Some(path)) => crate::subset::read_space(path, model.info().num_classes)?,
            (None, None) => return Ok(model),
        };
        Ok(Box::new(crate::subset::SubsetModel::with_space(model, space)))
    }
}

impl ModelSpec {
    /// The model an earlier run recorded (`prov`), placed by `placement`; `placement.exact`
    /// forces exact numerics, otherwise the recorded ones are kept.
    pub fn recorded(prov: &Provenance, placement: &Placement) -> Self {
        let m = &prov.model;
        let path = (m.weights != BUNDLED).then(|| PathBuf::from(&m.weights));
        let torchscript = m.arch == "torchscript";
        Self {
            arch: if torchscript { bundled::ARCH.name().to_string() } else { m.arch.clone() },
            weights: if torchscript { None } else { path.clone() },
            torchscript: if torchscript { path } else { None },
            features_method: prov.params.get("features_method").and_then(|m| m.as_str()).map(str::to_string),
            class_subset: None,
            recorded_subset: crate::subset::recorded(&prov.params),
            placement: Placement { exact: placement.exact || prov.params["numerics"] == "exact", ..placement.clone() },
        }
    }

    /// Loads the model with the preprocessing `prov` recorded and checks that its weights are
    /// the ones `prov` recorded.
    pub fn load_recorded(&self, prov: &Provenance) -> Result<BoxedModel> {
        let model = self.load_for(&crate::preprocess::of_run(prov)?)?;
        let (want, got) = (&prov.model.weights_sha256, &model.info().weights_sha256);
        if want != got {
            bail!(
                "the weights {} changed since the run was made (sha256 {want} then, {got} now); \
                 restore them or start a new run directory",
                prov.model.weights
            );
        }
        Ok(model)
    }
}

/// The model the eval run of `store` used, placed by `placement`, its weights checked.
pub fn of_run(store: &RunStore, placement: &Placement) -> Result<BoxedModel> {
    let (_, prov) = store.run("eval", None)?;
    ModelSpec::recorded(&prov, placement).load_recorded(&prov)
}
