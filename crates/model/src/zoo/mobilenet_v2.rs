//! MobileNetV2 as torchvision builds it (width 1.0, round to multiples of 8).
//!
//! Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals and Linear
//! Bottlenecks", CVPR 2018 (<https://arxiv.org/abs/1801.04381>). Names follow
//! `torchvision.models.mobilenetv2`: `features.0.{0,1}` (stem Conv-BN-ReLU6),
//! `features.{1..17}.conv.…` (inverted residuals), `features.18.{0,1}`, `classifier.1`.

use tch::nn;
use tch::Tensor;

use super::{bn, conv, global_pool, Net};

/// (expansion t, output channels c, repeats n, first stride s), the paper's Table 2.
const SETTINGS: [(i64, i64, i64, i64); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// Conv2d → BatchNorm2d → ReLU6 (torchvision's `Conv2dNormActivation`), children `0` and `1`.
fn conv_bn_relu6(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, groups: i64) -> nn::FuncT<'static> {
    let c = conv(&p / "0", c_in, c_out, k, stride, (k - 1) / 2, groups);
    let b = bn(&p / "1", c_out);
    nn::func_t(move |xs, _| xs.apply(&c).apply_t(&b, false).relu6())
}

fn inverted_residual(p: nn::Path, c_in: i64, c_out: i64, stride: i64, t: i64) -> nn::FuncT<'static> {
    let hidden = c_in * t;
    let cp = &p / "conv";
    let mut seq = nn::seq_t();
    let mut i = 0;
    if t != 1 {
        seq = seq.add(conv_bn_relu6(&cp / i, c_in, hidden, 1, 1, 1));
        i += 1;
    }
    seq = seq
        .add(conv_bn_relu6(&cp / i, hidden, hidden, 3, stride, hidden))
        .add(conv(&cp / (i + 1), hidden, c_out, 1, 1, 0, 1))
        .add(bn(&cp / (i + 2), c_out));
    let residual = stride == 1 && c_in == c_out;
    nn::func_t(move |xs, _| {
        let ys = xs.apply_t(&seq, false);
        if residual {
            xs + ys
        } else {
            ys
        }
    })
}

/// MobileNetV2 with `num_classes` outputs; dropout (0.2) is a no-op in eval mode and omitted.
pub(crate) fn mobilenet_v2(p: &nn::Path, num_classes: i64) -> Net {
    let fp = p / "features";
    let mut features = nn::seq_t().add(conv_bn_relu6(&fp / 0, 3, 32, 3, 2, 1));
    let mut c_in = 32;
    let mut idx = 1;
    for (t, c, n, s) in SETTINGS {
        for j in 0..n {
            let stride = if j == 0 { s } else { 1 };
            features = features.add(inverted_residual(&fp / idx, c_in, c, stride, t));
            c_in = c;
            idx += 1;
        }
    }
    features = features.add(conv_bn_relu6(&fp / idx, c_in, 1280, 1, 1, 1));
    let body = nn::func_t(move |xs: &Tensor, _| global_pool(&xs.apply_t(&features, false)));
    let head = nn::linear(p / "classifier" / 1, 1280, num_classes, Default::default());
    Net { body, head }
}
