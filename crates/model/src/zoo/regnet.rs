//! RegNetY-400MF as torchvision builds it.
//!
//! Radosavovic et al., "Designing Network Design Spaces", CVPR 2020
//! (<https://arxiv.org/abs/2003.13678>). Names follow `torchvision.models.regnet`: `stem.{0,1}`,
//! `trunk_output.block{s}.block{s}-{i}.{proj, f.a, f.b, f.se, f.c}`, `fc`. The stage widths
//! and depths are what torchvision's `BlockParams.from_init_params(depth=16, w_0=48,
//! w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)` computes (checked against the built
//! model: 48/104/208/440 wide, 1/3/6/6 deep).

use tch::nn;
use tch::Tensor;

use super::conv_bn::{Geometry, BN_EPS};
use super::squeeze_excitation::{conv_norm_act, squeeze_excitation, Act};
use super::{global_pool, Head, Net};

/// (width, depth) of each stage of RegNetY-400MF; every stage starts with stride 2.
const Y_400MF: [(i64, i64); 4] = [(48, 1), (104, 3), (208, 6), (440, 6)];
const GROUP_WIDTH: i64 = 8;
const SE_RATIO: f64 = 0.25;

/// `ResBottleneckBlock` with bottleneck multiplier 1: 1×1 → grouped 3×3 → SE → 1×1, plus the
/// (projected) input, then ReLU.
fn block(p: nn::Path, w_in: i64, w_out: i64, stride: i64, fold: bool) -> nn::FuncT<'static> {
    let relu = Some(Act::Relu);
    let proj = (w_in != w_out || stride != 1)
        .then(|| conv_norm_act(&p / "proj", w_in, w_out, Geometry::same(1, stride), BN_EPS, None, fold));
    let f = &p / "f";
    let squeeze = (SE_RATIO * w_in as f64).round() as i64;
    let transform = nn::seq_t()
        .add(conv_norm_act(&f / "a", w_in, w_out, Geometry::same(1, 1), BN_EPS, relu, fold))
        .add(conv_norm_act(
            &f / "b",
            w_out,
            w_out,
            Geometry::same(3, stride).groups(w_out / GROUP_WIDTH),
            BN_EPS,
            relu,
            fold,
        ))
        .add(squeeze_excitation(&f / "se", w_out, squeeze, Act::Relu, Act::Sigmoid))
        .add(conv_norm_act(&f / "c", w_out, w_out, Geometry::same(1, 1), BN_EPS, None, fold));
    nn::func_t(move |xs, _| {
        let ys = match &proj {
            Some(proj) => xs.apply_t(proj, false) + xs.apply_t(&transform, false),
            None => xs + xs.apply_t(&transform, false),
        };
        ys.relu()
    })
}

/// RegNetY-400MF with `num_classes` outputs.
pub(crate) fn regnet_y_400mf(p: &nn::Path, num_classes: i64, fold: bool) -> Net {
    let stem = conv_norm_act(p / "stem", 3, 32, Geometry::same(3, 2), BN_EPS, Some(Act::Relu), fold);
    let tp = p / "trunk_output";
    let mut trunk = nn::seq_t().add(stem);
    let mut w_in = 32;
    for (s, (width, depth)) in Y_400MF.into_iter().enumerate() {
        let sp = &tp / format!("block{}", s + 1);
        for i in 0..depth {
            let stride = if i == 0 { 2 } else { 1 };
            trunk = trunk.add(block(&sp / format!("block{}-{i}", s + 1), w_in, width, stride, fold));
            w_in = width;
        }
    }
    let body = nn::func_t(move |xs: &Tensor, _| global_pool(&xs.apply_t(&trunk, false)));
    let head = nn::linear(p / "fc", 440, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
