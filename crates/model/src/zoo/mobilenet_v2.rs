//! MobileNetV2 as torchvision builds it (width 1.0, round to multiples of 8).
//!
//! Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals and Linear
//! Bottlenecks", CVPR 2018 (<https://arxiv.org/abs/1801.04381>). Names follow
//! `torchvision.models.mobilenetv2`: `features.0.{0,1}` (stem Conv-BN-ReLU6),
//! `features.{1..17}.conv.…` (inverted residuals), `features.18.{0,1}`, `classifier.1`.

use tch::nn;
use tch::Tensor;

use super::conv_bn::{ConvBn, Geometry};
use super::{global_pool, Head, Net};

/// (expansion t, output channels c, repeats n, first stride s), the paper's Table 2.
const SETTINGS: [(i64, i64, i64, i64); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// Conv2d → BatchNorm2d → ReLU6 (torchvision's `Conv2dNormActivation`), children `0` and `1`.
fn conv_bn_relu6(p: nn::Path, c_in: i64, c_out: i64, g: Geometry, fold: bool) -> nn::FuncT<'static> {
    let cb = ConvBn::new(&p / "0", &p / "1", c_in, c_out, g, fold);
    nn::func_t(move |xs, _| cb.forward(xs).relu6())
}

fn inverted_residual(p: nn::Path, c_in: i64, c_out: i64, stride: i64, t: i64, fold: bool) -> nn::FuncT<'static> {
    let hidden = c_in * t;
    let cp = &p / "conv";
    let mut seq = nn::seq_t();
    let mut i = 0;
    if t != 1 {
        seq = seq.add(conv_bn_relu6(&cp / i, c_in, hidden, Geometry::same(1, 1), fold));
        i += 1;
    }
    seq = seq
        .add(conv_bn_relu6(&cp / i, hidden, hidden, Geometry::same(3, stride).groups(hidden), fold))
        .add(ConvBn::new(&cp / (i + 1), &cp / (i + 2), hidden, c_out, Geometry::same(1, 1), fold));
    super::maybe_residual(seq, stride == 1 && c_in == c_out)
}

/// MobileNetV2 with `num_classes` outputs; dropout (0.2) is a no-op in eval mode and omitted.
pub(crate) fn mobilenet_v2(p: &nn::Path, num_classes: i64, fold: bool) -> Net {
    let fp = p / "features";
    let mut features = nn::seq_t().add(conv_bn_relu6(&fp / 0, 3, 32, Geometry::same(3, 2), fold));
    let mut c_in = 32;
    let mut idx = 1;
    for (t, c, n, s) in SETTINGS {
        for j in 0..n {
            let stride = if j == 0 { s } else { 1 };
            features = features.add(inverted_residual(&fp / idx, c_in, c, stride, t, fold));
            c_in = c;
            idx += 1;
        }
    }
    features = features.add(conv_bn_relu6(&fp / idx, c_in, 1280, Geometry::same(1, 1), fold));
    let body = nn::func_t(move |xs: &Tensor, _| global_pool(&xs.apply_t(&features, false)));
    let head = nn::linear(p / "classifier" / 1, 1280, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
