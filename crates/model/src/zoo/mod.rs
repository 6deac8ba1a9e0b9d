//! The torchvision model zoo: same module structure, same state-dict names, eval-mode BatchNorm.
//!
//! Every network is split into a `body` that ends with the penultimate features (`[N, D]`: the
//! global average pool, or VGG's second 4096-wide layer) and a linear `head`
//! (`[N, D] → [N, classes]`), exactly where torchvision's `forward` reaches its last `Linear`.
//! SqueezeNet, whose classifier is a 1×1 convolution before the pool, keeps its feature map
//! (`Net::map`): its features are the map's global average, its logits the classifier's.

mod conv_bn;
mod convnext;
mod densenet;
mod efficientnet;
mod inception;
mod mobilenet_v2;
mod mobilenet_v3;
mod regnet;
mod resnet;
mod squeeze_excitation;
mod squeezenet;
mod vgg;
mod vit;

use std::str::FromStr;

use tch::nn::{self, Module};
use tch::Tensor;

use crate::ModelError;

/// An architecture of the zoo, named as in `torchvision.models`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// ResNet-18 (He et al. 2016).
    Resnet18,
    /// ResNet-34.
    Resnet34,
    /// ResNet-50 (bottleneck, stride on the 3×3 conv as torchvision's v1.5).
    Resnet50,
    /// ResNet-101.
    Resnet101,
    /// ResNet-152.
    Resnet152,
    /// DenseNet-121 (Huang et al. 2017).
    Densenet121,
    /// DenseNet-161.
    Densenet161,
    /// DenseNet-169.
    Densenet169,
    /// DenseNet-201.
    Densenet201,
    /// MobileNetV2 (Sandler et al. 2018).
    MobilenetV2,
    /// ResNeXt-50 32×4d (Xie et al. 2017): ResNet-50 with 32 groups of width 4 in every 3×3.
    Resnext50_32x4d,
    /// Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50 with twice the bottleneck width.
    WideResnet50_2,
    /// VGG-16 with BatchNorm (Simonyan & Zisserman 2015).
    Vgg16Bn,
    /// SqueezeNet 1.1 (Iandola et al. 2016).
    Squeezenet1_1,
    /// MobileNetV3-Large (Howard et al. 2019).
    MobilenetV3Large,
    /// EfficientNet-B0 (Tan & Le 2019).
    EfficientnetB0,
    /// RegNetY-400MF (Radosavovic et al. 2020).
    RegnetY400mf,
    /// ConvNeXt-T (Liu et al. 2022).
    ConvnextTiny,
    /// ViT-B/16 (Dosovitskiy et al. 2021), 224 px.
    VitB16,
    /// Inception-v3 (Szegedy et al. 2016), 299 px, with torchvision's `transform_input`.
    InceptionV3,
}

impl Arch {
    /// Every architecture, in a stable order.
    pub const ALL: [Arch; 20] = [
        Arch::Resnet18,
        Arch::Resnet34,
        Arch::Resnet50,
        Arch::Resnet101,
        Arch::Resnet152,
        Arch::Densenet121,
        Arch::Densenet161,
        Arch::Densenet169,
        Arch::Densenet201,
        Arch::MobilenetV2,
        Arch::Resnext50_32x4d,
        Arch::WideResnet50_2,
        Arch::Vgg16Bn,
        Arch::Squeezenet1_1,
        Arch::MobilenetV3Large,
        Arch::EfficientnetB0,
        Arch::RegnetY400mf,
        Arch::ConvnextTiny,
        Arch::VitB16,
        Arch::InceptionV3,
    ];

    /// torchvision's name (`resnet50`, `mobilenet_v2`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Resnet18 => "resnet18",
            Arch::Resnet34 => "resnet34",
            Arch::Resnet50 => "resnet50",
            Arch::Resnet101 => "resnet101",
            Arch::Resnet152 => "resnet152",
            Arch::Densenet121 => "densenet121",
            Arch::Densenet161 => "densenet161",
            Arch::Densenet169 => "densenet169",
            Arch::Densenet201 => "densenet201",
            Arch::MobilenetV2 => "mobilenet_v2",
            Arch::Resnext50_32x4d => "resnext50_32x4d",
            Arch::WideResnet50_2 => "wide_resnet50_2",
            Arch::Vgg16Bn => "vgg16_bn",
            Arch::Squeezenet1_1 => "squeezenet1_1",
            Arch::MobilenetV3Large => "mobilenet_v3_large",
            Arch::EfficientnetB0 => "efficientnet_b0",
            Arch::RegnetY400mf => "regnet_y_400mf",
            Arch::ConvnextTiny => "convnext_tiny",
            Arch::VitB16 => "vit_b_16",
            Arch::InceptionV3 => "inception_v3",
        }
    }

    /// All names, for help texts and errors.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|a| a.name()).collect()
    }

    /// Width of the penultimate (globally pooled) features.
    pub fn feature_dim(self) -> i64 {
        match self {
            Arch::Resnet18 | Arch::Resnet34 => 512,
            Arch::Resnet50
            | Arch::Resnet101
            | Arch::Resnet152
            | Arch::Resnext50_32x4d
            | Arch::WideResnet50_2
            | Arch::InceptionV3 => 2048,
            Arch::Densenet121 => 1024,
            Arch::Densenet161 => 2208,
            Arch::Densenet169 => 1664,
            Arch::Densenet201 => 1920,
            Arch::MobilenetV2 | Arch::MobilenetV3Large | Arch::EfficientnetB0 => 1280,
            Arch::Vgg16Bn => 4096,
            Arch::Squeezenet1_1 => 512,
            Arch::RegnetY400mf => 440,
            Arch::ConvnextTiny | Arch::VitB16 => 768,
        }
    }

    /// The state-dict name of the classifier's bias, whose length is the number of classes.
    pub fn head_bias(self) -> &'static str {
        match self {
            Arch::Resnet18
            | Arch::Resnet34
            | Arch::Resnet50
            | Arch::Resnet101
            | Arch::Resnet152
            | Arch::Resnext50_32x4d
            | Arch::WideResnet50_2
            | Arch::RegnetY400mf
            | Arch::InceptionV3 => "fc.bias",
            Arch::MobilenetV2 | Arch::Squeezenet1_1 | Arch::EfficientnetB0 => "classifier.1.bias",
            Arch::MobilenetV3Large => "classifier.3.bias",
            Arch::Vgg16Bn => "classifier.6.bias",
            Arch::ConvnextTiny => "classifier.2.bias",
            Arch::VitB16 => "heads.head.bias",
            Arch::Densenet121 | Arch::Densenet161 | Arch::Densenet169 | Arch::Densenet201 => "classifier.bias",
        }
    }

    /// Builds the network's variables under `p` (names as torchvision's state dict). With
    /// `fold`, every convolution → BatchNorm pair runs as one convolution (see `conv_bn.rs`).
    pub fn build(self, p: &nn::Path, num_classes: i64, fold: bool) -> Net {
        match self {
            Arch::Resnet18 => resnet::resnet(p, resnet::Config::basic([2, 2, 2, 2]), num_classes, fold),
            Arch::Resnet34 => resnet::resnet(p, resnet::Config::basic([3, 4, 6, 3]), num_classes, fold),
            Arch::Resnet50 => resnet::resnet(p, resnet::Config::bottleneck([3, 4, 6, 3], 1, 64), num_classes, fold),
            Arch::Resnet101 => resnet::resnet(p, resnet::Config::bottleneck([3, 4, 23, 3], 1, 64), num_classes, fold),
            Arch::Resnet152 => resnet::resnet(p, resnet::Config::bottleneck([3, 8, 36, 3], 1, 64), num_classes, fold),
            Arch::Resnext50_32x4d => {
                resnet::resnet(p, resnet::Config::bottleneck([3, 4, 6, 3], 32, 4), num_classes, fold)
            }
            Arch::WideResnet50_2 => {
                resnet::resnet(p, resnet::Config::bottleneck([3, 4, 6, 3], 1, 128), num_classes, fold)
            }
            Arch::Vgg16Bn => vgg::vgg16_bn(p, num_classes, fold),
            Arch::Squeezenet1_1 => squeezenet::squeezenet1_1(p, num_classes),
            Arch::MobilenetV3Large => mobilenet_v3::mobilenet_v3_large(p, num_classes, fold),
            Arch::EfficientnetB0 => efficientnet::efficientnet_b0(p, num_classes, fold),
            Arch::RegnetY400mf => regnet::regnet_y_400mf(p, num_classes, fold),
            Arch::ConvnextTiny => convnext::convnext_tiny(p, num_classes),
            Arch::VitB16 => vit::vit_b_16(p, num_classes),
            Arch::InceptionV3 => inception::inception_v3(p, num_classes, fold),
            Arch::Densenet121 => densenet::densenet(p, 64, 32, [6, 12, 24, 16], num_classes, fold),
            Arch::Densenet161 => densenet::densenet(p, 96, 48, [6, 12, 36, 24], num_classes, fold),
            Arch::Densenet169 => densenet::densenet(p, 64, 32, [6, 12, 32, 32], num_classes, fold),
            Arch::Densenet201 => densenet::densenet(p, 64, 32, [6, 12, 48, 32], num_classes, fold),
            Arch::MobilenetV2 => mobilenet_v2::mobilenet_v2(p, num_classes, fold),
        }
    }

    /// Guesses the architecture a checkpoint was written for from its key names and count.
    pub fn guess_from_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Option<Arch> {
        let keys: Vec<&str> = keys.filter(|k| !k.ends_with("num_batches_tracked")).collect();
        let has = |prefix: &str| keys.iter().any(|k| k.starts_with(prefix));
        let family: &[Arch] = if has("layer1.") {
            &[Arch::Resnet18, Arch::Resnet34, Arch::Resnet50, Arch::Resnet101, Arch::Resnet152]
        } else if has("features.denseblock1.") {
            &Self::ALL[5..9]
        } else if has("features.1.conv.") {
            &Self::ALL[9..10]
        } else if has("features.1.block.") {
            &[Arch::MobilenetV3Large]
        } else if has("features.1.0.block.") {
            &[Arch::EfficientnetB0]
        } else if has("trunk_output.block1.") {
            &[Arch::RegnetY400mf]
        } else if has("features.1.0.layer_scale") {
            &[Arch::ConvnextTiny]
        } else if has("encoder.layers.encoder_layer_0.") {
            &[Arch::VitB16]
        } else if has("Mixed_5b.") {
            &[Arch::InceptionV3]
        } else if has("features.3.squeeze.") {
            &[Arch::Squeezenet1_1]
        } else if has("features.1.running_mean") && has("classifier.6.") {
            &[Arch::Vgg16Bn]
        } else {
            return None;
        };
        // Within a family the depth shows in the number of tensors. (ResNeXt-50 and Wide
        // ResNet-50 have ResNet-50's tensor names; the loader's shape check tells them apart.)
        family.iter().copied().find(|a| a.tensor_count() == keys.len())
    }

    /// Number of tensors in the state dict, `num_batches_tracked` excluded.
    pub fn tensor_count(self) -> usize {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        // Building on the CPU only allocates; cheap next to loading a checkpoint.
        let _net = tch::no_grad(|| self.build(&vs.root(), 1000, false));
        vs.variables().len()
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        let norm = if norm == "mobilenetv2" { "mobilenet_v2".to_string() } else { norm };
        Self::ALL.iter().copied().find(|a| a.name() == norm).ok_or_else(|| ModelError::UnknownArch(s.to_string()))
    }
}

/// A zoo network: `body` maps normalised images `[N, 3, H, W]` to penultimate features
/// `[N, D]`, `head` maps those to logits `[N, classes]`.
#[derive(Debug)]
pub struct Net {
    body: nn::FuncT<'static>,
    head: Head,
}

/// What turns the body's output into logits.
#[derive(Debug)]
pub(crate) enum Head {
    /// The body ends with the features; a linear layer gives the logits.
    Linear(nn::Linear),
    /// The body ends with a feature map `[N, C, h, w]`: the features are its global average,
    /// the logits this function of the map (SqueezeNet).
    Map(nn::FuncT<'static>),
}

impl Net {
    /// What the body computes from normalised images `[N, 3, H, W]` (eval mode): the features,
    /// or for [`Head::Map`] the feature map.
    pub fn trunk(&self, xs: &Tensor) -> Tensor {
        xs.apply_t(&self.body, false)
    }

    /// Penultimate features `[N, D]` from [`trunk`](Self::trunk)'s output.
    pub fn features_of(&self, trunk: &Tensor) -> Tensor {
        match &self.head {
            Head::Linear(_) => trunk.shallow_clone(),
            Head::Map(_) => global_pool(trunk),
        }
    }

    /// Logits `[N, classes]` from [`trunk`](Self::trunk)'s output.
    pub fn logits_of(&self, trunk: &Tensor) -> Tensor {
        match &self.head {
            Head::Linear(linear) => linear.forward(trunk),
            Head::Map(f) => trunk.apply_t(f, false),
        }
    }

    /// Penultimate features `[N, D]` of normalised images.
    pub fn features(&self, xs: &Tensor) -> Tensor {
        self.features_of(&self.trunk(xs))
    }
}

/// `adaptive_avg_pool2d(x, (1, 1))` then `flatten(1)`, as torchvision's `forward` does.
pub(crate) fn global_pool(xs: &Tensor) -> Tensor {
    xs.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
}

/// `seq`, plus its input when `residual` (an inverted residual block with stride 1 and as many
/// channels out as in). Float addition commutes bit for bit, so `input + out` and `out + input`
/// (torchvision writes both) are the same.
pub(crate) fn maybe_residual(seq: nn::SequentialT, residual: bool) -> nn::FuncT<'static> {
    nn::func_t(move |xs, _| {
        let ys = xs.apply_t(&seq, false);
        if residual {
            ys + xs
        } else {
            ys
        }
    })
}

/// A bias-free convolution, torchvision's default inside these networks.
pub(crate) fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, padding: i64, groups: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig { stride, padding, groups, bias: false, ..Default::default() };
    nn::conv2d(p, c_in, c_out, k, cfg)
}

/// BatchNorm2d with torchvision's defaults (eps 1e-5); always applied in eval mode here.
pub(crate) fn bn(p: nn::Path, c: i64) -> nn::BatchNorm {
    nn::batch_norm2d(p, c, Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Arch::ALL {
            assert_eq!(a.name().parse::<Arch>().unwrap(), a);
        }
        assert_eq!("MobileNetV2".parse::<Arch>().unwrap(), Arch::MobilenetV2);
        assert!("vgg16".parse::<Arch>().is_err());
        assert_eq!("vgg16_bn".parse::<Arch>().unwrap(), Arch::Vgg16Bn);
    }

    #[test]
    fn feature_widths_match_the_head() {
        for a in [Arch::Resnet18, Arch::Densenet121, Arch::MobilenetV2, Arch::Resnext50_32x4d, Arch::Squeezenet1_1] {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let net = a.build(&vs.root(), 10, true);
            let x = Tensor::zeros([1, 3, 64, 64], (tch::Kind::Float, tch::Device::Cpu));
            let t = tch::no_grad(|| net.trunk(&x));
            assert_eq!(net.features_of(&t).size(), vec![1, a.feature_dim()], "{a}");
            assert_eq!(net.logits_of(&t).size(), vec![1, 10]);
        }
    }
}
