//! MobileNetV3-Large as torchvision builds it (width 1.0).
//!
//! Howard et al., "Searching for MobileNetV3", ICCV 2019 (<https://arxiv.org/abs/1905.02244>).
//! Names follow `torchvision.models.mobilenetv3`: `features.0.{0,1}` (stem, hardswish),
//! `features.{1..15}.block.{j}` (inverted residuals: expand, depthwise, squeeze-excitation with
//! a hard-sigmoid gate, project), `features.16.{0,1}`, `classifier.{0,3}`. BatchNorm's epsilon
//! is 1e-3. The penultimate features are the 1280-wide hardswish output of `classifier.0`, the
//! input of `classifier.3`; dropout is a no-op in eval mode and omitted.

use tch::nn::{self, Module};
use tch::Tensor;

use super::conv_bn::Geometry;
use super::squeeze_excitation::{conv_norm_act, squeeze_excitation, Act};
use super::{global_pool, Head, Net};

const EPS: f64 = 1e-3;

/// (input, kernel, expanded, output, squeeze-excitation, hardswish (else ReLU), stride):
/// torchvision's `_mobilenet_v3_conf("mobilenet_v3_large")`.
const LARGE: [(i64, i64, i64, i64, bool, bool, i64); 15] = [
    (16, 3, 16, 16, false, false, 1),
    (16, 3, 64, 24, false, false, 2),
    (24, 3, 72, 24, false, false, 1),
    (24, 5, 72, 40, true, false, 2),
    (40, 5, 120, 40, true, false, 1),
    (40, 5, 120, 40, true, false, 1),
    (40, 3, 240, 80, false, true, 2),
    (80, 3, 200, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 480, 112, true, true, 1),
    (112, 3, 672, 112, true, true, 1),
    (112, 5, 672, 160, true, true, 2),
    (160, 5, 960, 160, true, true, 1),
    (160, 5, 960, 160, true, true, 1),
];

/// torchvision's `_make_divisible(v, 8)`.
pub(crate) fn make_divisible(v: f64, divisor: i64) -> i64 {
    let d = divisor as f64;
    let new = (d as i64).max(((v + d / 2.0) as i64) / divisor * divisor);
    if (new as f64) < 0.9 * v {
        new + divisor
    } else {
        new
    }
}

fn inverted_residual(p: nn::Path, cfg: (i64, i64, i64, i64, bool, bool, i64), fold: bool) -> nn::FuncT<'static> {
    let (c_in, k, exp, c_out, se, hs, stride) = cfg;
    let act = if hs { Act::Hardswish } else { Act::Relu };
    let bp = &p / "block";
    let mut seq = nn::seq_t();
    let mut j = 0;
    if exp != c_in {
        seq = seq.add(conv_norm_act(&bp / j, c_in, exp, Geometry::same(1, 1), EPS, Some(act), fold));
        j += 1;
    }
    seq = seq.add(conv_norm_act(&bp / j, exp, exp, Geometry::same(k, stride).groups(exp), EPS, Some(act), fold));
    j += 1;
    if se {
        let squeeze = make_divisible((exp / 4) as f64, 8);
        seq = seq.add(squeeze_excitation(&bp / j, exp, squeeze, Act::Relu, Act::Hardsigmoid));
        j += 1;
    }
    seq = seq.add(conv_norm_act(&bp / j, exp, c_out, Geometry::same(1, 1), EPS, None, fold));
    super::maybe_residual(seq, stride == 1 && c_in == c_out)
}

/// MobileNetV3-Large with `num_classes` outputs.
pub(crate) fn mobilenet_v3_large(p: &nn::Path, num_classes: i64, fold: bool) -> Net {
    let fp = p / "features";
    let mut features =
        nn::seq_t().add(conv_norm_act(&fp / 0, 3, 16, Geometry::same(3, 2), EPS, Some(Act::Hardswish), fold));
    for (i, cfg) in LARGE.into_iter().enumerate() {
        features = features.add(inverted_residual(&fp / (i + 1), cfg, fold));
    }
    features = features.add(conv_norm_act(&fp / 16, 160, 960, Geometry::same(1, 1), EPS, Some(Act::Hardswish), fold));
    let fc = nn::linear(p / "classifier" / 0, 960, 1280, Default::default());
    let body = nn::func_t(move |xs: &Tensor, _| fc.forward(&global_pool(&xs.apply_t(&features, false))).hardswish());
    let head = nn::linear(p / "classifier" / 3, 1280, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
