//! torchvision's `SqueezeExcitation` block and `Conv2dNormActivation` with any activation.
//!
//! Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018
//! (<https://arxiv.org/abs/1709.01507>): `input · σ(fc2(act(fc1(avgpool(input)))))` with 1×1
//! convolutions `fc1`, `fc2` (with bias) and the gate `σ` (sigmoid in EfficientNet and RegNet,
//! hard sigmoid in MobileNetV3), op for op as `torchvision.ops.SqueezeExcitation.forward`.

use tch::nn::{self, Module};
use tch::Tensor;

use super::conv_bn::{ConvBn, Geometry};

/// An elementwise activation of torchvision's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Relu,
    Hardswish,
    Silu,
    Sigmoid,
    Hardsigmoid,
}

impl Act {
    pub fn apply(self, xs: &Tensor) -> Tensor {
        match self {
            Act::Relu => xs.relu(),
            Act::Hardswish => xs.hardswish(),
            Act::Silu => xs.silu(),
            Act::Sigmoid => xs.sigmoid(),
            Act::Hardsigmoid => xs.hardsigmoid(),
        }
    }
}

/// `SqueezeExcitation(c, squeeze, activation=act, scale_activation=gate)` under `p`
/// (`p.fc1`, `p.fc2`).
pub(crate) fn squeeze_excitation(p: nn::Path, c: i64, squeeze: i64, act: Act, gate: Act) -> nn::FuncT<'static> {
    let fc1 = nn::conv2d(&p / "fc1", c, squeeze, 1, Default::default());
    let fc2 = nn::conv2d(&p / "fc2", squeeze, c, 1, Default::default());
    nn::func_t(move |xs, _| {
        let scale = xs.adaptive_avg_pool2d([1, 1]);
        let scale = gate.apply(&fc2.forward(&act.apply(&fc1.forward(&scale))));
        scale * xs
    })
}

/// `Conv2dNormActivation` (children `0`, `1`) with BatchNorm's `eps` and an optional activation.
pub(crate) fn conv_norm_act(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    g: Geometry,
    eps: f64,
    act: Option<Act>,
    fold: bool,
) -> nn::FuncT<'static> {
    let cb = ConvBn::new_eps(&p / "0", &p / "1", c_in, c_out, g, eps, fold);
    nn::func_t(move |xs, _| {
        let ys = cb.forward(xs);
        match act {
            Some(a) => a.apply(&ys),
            None => ys,
        }
    })
}
