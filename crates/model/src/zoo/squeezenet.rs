//! SqueezeNet 1.1 as torchvision builds it.
//!
//! Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB
//! model size", 2016 (<https://arxiv.org/abs/1602.07360>), version 1.1 from the authors'
//! repository. Names follow `torchvision.models.squeezenet`: `features.0` (stem conv),
//! `features.{3,4,6,7,9,10,11,12}.{squeeze,expand1x1,expand3x3}`, `classifier.1` (the final 1×1
//! convolution). No BatchNorm, so there is nothing to fold. The classifier is a 1×1 convolution,
//! ReLU and global average pool on the feature map: the penultimate features are the map's
//! global average (512 wide), the logits the classifier's.

use tch::nn::{self, Module};
use tch::Tensor;

use super::{Head, Net};

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    nn::conv2d(p, c_in, c_out, k, nn::ConvConfig { stride, padding, ..Default::default() })
}

/// torchvision's `Fire`: squeeze 1×1 → ReLU, then the ReLU'd 1×1 and 3×3 expansions concatenated.
fn fire(p: nn::Path, c_in: i64, squeeze: i64, e1: i64, e3: i64) -> nn::FuncT<'static> {
    let sq = conv(&p / "squeeze", c_in, squeeze, 1, 1, 0);
    let x1 = conv(&p / "expand1x1", squeeze, e1, 1, 1, 0);
    let x3 = conv(&p / "expand3x3", squeeze, e3, 3, 1, 1);
    nn::func_t(move |xs, _| {
        let s = sq.forward(xs).relu();
        Tensor::cat(&[x1.forward(&s).relu(), x3.forward(&s).relu()], 1)
    })
}

fn pool(xs: &Tensor) -> Tensor {
    xs.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], true)
}

/// SqueezeNet 1.1 with `num_classes` outputs; dropout is a no-op in eval mode and omitted.
pub(crate) fn squeezenet1_1(p: &nn::Path, num_classes: i64) -> Net {
    let fp = p / "features";
    let stem = conv(&fp / 0, 3, 64, 3, 2, 0);
    let features = nn::seq_t()
        .add_fn(move |xs| pool(&stem.forward(xs).relu()))
        .add(fire(&fp / 3, 64, 16, 64, 64))
        .add(fire(&fp / 4, 128, 16, 64, 64))
        .add_fn(pool)
        .add(fire(&fp / 6, 128, 32, 128, 128))
        .add(fire(&fp / 7, 256, 32, 128, 128))
        .add_fn(pool)
        .add(fire(&fp / 9, 256, 48, 192, 192))
        .add(fire(&fp / 10, 384, 48, 192, 192))
        .add(fire(&fp / 11, 384, 64, 256, 256))
        .add(fire(&fp / 12, 512, 64, 256, 256));
    let body = nn::func_t(move |xs: &Tensor, _| xs.apply_t(&features, false));
    let final_conv = conv(p / "classifier" / 1, 512, num_classes, 1, 1, 0);
    let head =
        nn::func_t(move |map: &Tensor, _| final_conv.forward(map).relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1));
    Net { body, head: Head::Map(head) }
}
