//! ResNet-18/34/50/101/152, ResNeXt-50 32×4d and Wide ResNet-50-2 as torchvision builds them.
//!
//! He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
//! (<https://arxiv.org/abs/1512.03385>); Xie et al., "Aggregated Residual Transformations",
//! CVPR 2017 (<https://arxiv.org/abs/1611.05431>); Zagoruyko & Komodakis, "Wide Residual
//! Networks", BMVC 2016 (<https://arxiv.org/abs/1605.07146>). The bottleneck puts its stride on
//! the 3×3 convolution (torchvision's "ResNet V1.5") and is `int(planes · width_per_group / 64)
//! · groups` wide, grouped in its 3×3, as torchvision's `Bottleneck`. Names follow `torchvision.models.resnet`: `conv1`, `bn1`,
//! `layer{1..4}.{i}.conv{1,2,3}`, `…downsample.{0,1}`, `fc`.

use tch::nn;
use tch::Tensor;

use super::conv_bn::{ConvBn, Geometry};
use super::{global_pool, Head, Net};

/// Residual block kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    /// Two 3×3 convolutions (ResNet-18/34), expansion 1.
    Basic,
    /// 1×1 → 3×3 → 1×1 (ResNet-50 and deeper), expansion 4.
    Bottleneck,
}

impl Block {
    fn expansion(self) -> i64 {
        match self {
            Block::Basic => 1,
            Block::Bottleneck => 4,
        }
    }
}

/// A ResNet's shape: block kind, blocks per stage, and the bottleneck's grouping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    kind: Block,
    layers: [i64; 4],
    groups: i64,
    width_per_group: i64,
}

impl Config {
    /// Basic blocks (ResNet-18/34).
    pub fn basic(layers: [i64; 4]) -> Self {
        Config { kind: Block::Basic, layers, groups: 1, width_per_group: 64 }
    }

    /// Bottleneck blocks with `groups` groups of `width_per_group` (ResNet-50: 1, 64).
    pub fn bottleneck(layers: [i64; 4], groups: i64, width_per_group: i64) -> Self {
        Config { kind: Block::Bottleneck, layers, groups, width_per_group }
    }
}

fn block(p: nn::Path, cfg: Config, c_in: i64, planes: i64, stride: i64, fold: bool) -> nn::FuncT<'static> {
    let kind = cfg.kind;
    let c_out = planes * kind.expansion();
    let downsample = (stride != 1 || c_in != c_out).then(|| {
        let d = &p / "downsample";
        ConvBn::new(&d / "0", &d / "1", c_in, c_out, Geometry::same(1, stride), fold)
    });
    let identity = move |xs: &Tensor| match &downsample {
        Some(d) => d.forward(xs),
        None => xs.shallow_clone(),
    };
    let cb =
        |i: usize, c_in, c_out, g| ConvBn::new(&p / format!("conv{i}"), &p / format!("bn{i}"), c_in, c_out, g, fold);
    match kind {
        Block::Basic => {
            let b1 = cb(1, c_in, planes, Geometry::same(3, stride));
            let b2 = cb(2, planes, planes, Geometry::same(3, 1));
            nn::func_t(move |xs, _| (b2.forward(&b1.forward(xs).relu()) + identity(xs)).relu())
        }
        Block::Bottleneck => {
            let width = planes * cfg.width_per_group / 64 * cfg.groups;
            let b1 = cb(1, c_in, width, Geometry::same(1, 1));
            let b2 = cb(2, width, width, Geometry::same(3, stride).groups(cfg.groups));
            let b3 = cb(3, width, c_out, Geometry::same(1, 1));
            nn::func_t(move |xs, _| {
                let out = b2.forward(&b1.forward(xs).relu()).relu();
                (b3.forward(&out) + identity(xs)).relu()
            })
        }
    }
}

/// A ResNet with `cfg.layers[i]` blocks in stage `i`.
pub(crate) fn resnet(p: &nn::Path, cfg: Config, num_classes: i64, fold: bool) -> Net {
    let (kind, layers) = (cfg.kind, cfg.layers);
    let stem = ConvBn::new(p / "conv1", p / "bn1", 3, 64, Geometry::same(7, 2), fold);
    let mut stages = nn::seq_t();
    let mut c_in = 64;
    for (i, (&n, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
        let lp = p / format!("layer{}", i + 1);
        for j in 0..n {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            stages = stages.add(block(&lp / j, cfg, c_in, planes, stride, fold));
            c_in = planes * kind.expansion();
        }
    }
    let body = nn::func_t(move |xs, _| {
        let xs = stem.forward(xs).relu();
        let xs = xs.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        global_pool(&xs.apply_t(&stages, false))
    });
    let head = nn::linear(p / "fc", c_in, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
