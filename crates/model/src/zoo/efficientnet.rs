//! EfficientNet-B0 as torchvision builds it.
//!
//! Tan, Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", ICML
//! 2019 (<https://arxiv.org/abs/1905.11946>). Names follow `torchvision.models.efficientnet`:
//! `features.0.{0,1}` (stem, SiLU), `features.{1..7}.{j}.block.{k}` (MBConv: expand, depthwise,
//! squeeze-excitation with a sigmoid gate and SiLU, project), `features.8.{0,1}`,
//! `classifier.1`. Stochastic depth and dropout are no-ops in eval mode and omitted.

use tch::nn;
use tch::Tensor;

use super::conv_bn::{Geometry, BN_EPS};
use super::squeeze_excitation::{conv_norm_act, squeeze_excitation, Act};
use super::{global_pool, Head, Net};

/// (expand ratio, kernel, stride, input, output, layers): torchvision's B0 `MBConvConfig`s
/// (width and depth multipliers 1.0).
const B0: [(i64, i64, i64, i64, i64, i64); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

fn mbconv(p: nn::Path, expand: i64, k: i64, stride: i64, c_in: i64, c_out: i64, fold: bool) -> nn::FuncT<'static> {
    let exp = super::mobilenet_v3::make_divisible((c_in * expand) as f64, 8);
    let bp = &p / "block";
    let mut seq = nn::seq_t();
    let mut j = 0;
    let silu = Some(Act::Silu);
    if exp != c_in {
        seq = seq.add(conv_norm_act(&bp / j, c_in, exp, Geometry::same(1, 1), BN_EPS, silu, fold));
        j += 1;
    }
    seq = seq.add(conv_norm_act(&bp / j, exp, exp, Geometry::same(k, stride).groups(exp), BN_EPS, silu, fold));
    seq = seq.add(squeeze_excitation(&bp / (j + 1), exp, (c_in / 4).max(1), Act::Silu, Act::Sigmoid));
    seq = seq.add(conv_norm_act(&bp / (j + 2), exp, c_out, Geometry::same(1, 1), BN_EPS, None, fold));
    super::maybe_residual(seq, stride == 1 && c_in == c_out)
}

/// EfficientNet-B0 with `num_classes` outputs.
pub(crate) fn efficientnet_b0(p: &nn::Path, num_classes: i64, fold: bool) -> Net {
    let fp = p / "features";
    let mut features =
        nn::seq_t().add(conv_norm_act(&fp / 0, 3, 32, Geometry::same(3, 2), BN_EPS, Some(Act::Silu), fold));
    for (i, (expand, k, stride, c_in, c_out, layers)) in B0.into_iter().enumerate() {
        let sp = &fp / (i + 1);
        let mut stage = nn::seq_t();
        for j in 0..layers {
            let (c_in, stride) = if j == 0 { (c_in, stride) } else { (c_out, 1) };
            stage = stage.add(mbconv(&sp / j, expand, k, stride, c_in, c_out, fold));
        }
        features = features.add(stage);
    }
    features = features.add(conv_norm_act(&fp / 8, 320, 1280, Geometry::same(1, 1), BN_EPS, Some(Act::Silu), fold));
    let body = nn::func_t(move |xs: &Tensor, _| global_pool(&xs.apply_t(&features, false)));
    let head = nn::linear(p / "classifier" / 1, 1280, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
