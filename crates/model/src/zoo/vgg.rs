//! VGG-16 with BatchNorm as torchvision builds it.
//!
//! Simonyan, Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
//! ICLR 2015 (<https://arxiv.org/abs/1409.1556>), with BatchNorm after every convolution
//! (torchvision's `vgg16_bn`, configuration "D"). Names follow `torchvision.models.vgg`:
//! `features.{i}` (conv, bn; ReLU and max-pool have no tensors), `classifier.{0,3,6}`.
//! The penultimate features are the second 4096-wide layer (after its ReLU), the input of
//! `classifier.6`; dropout is a no-op in eval mode and omitted.

use tch::nn::{self, Module};
use tch::Tensor;

use super::conv_bn::{ConvBn, Geometry};
use super::{Head, Net};

/// Configuration "D": output channels of each 3×3 convolution, 0 for a 2×2 max-pool.
const CFG_D: [i64; 18] = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];

/// VGG-16-BN with `num_classes` outputs.
pub(crate) fn vgg16_bn(p: &nn::Path, num_classes: i64, fold: bool) -> Net {
    let fp = p / "features";
    let mut features = nn::seq_t();
    let (mut c_in, mut idx) = (3, 0);
    for c in CFG_D {
        if c == 0 {
            features = features.add_fn(|xs| xs.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false));
            idx += 1;
        } else {
            let cb = ConvBn::with_conv_bias(&fp / idx, &fp / (idx + 1), c_in, c, Geometry::same(3, 1), fold);
            features = features.add(cb).add_fn(|xs| xs.relu());
            c_in = c;
            idx += 3;
        }
    }
    let cp = p / "classifier";
    let fc1 = nn::linear(&cp / 0, 512 * 7 * 7, 4096, Default::default());
    let fc2 = nn::linear(&cp / 3, 4096, 4096, Default::default());
    let body = nn::func_t(move |xs: &Tensor, _| {
        let xs = xs.apply_t(&features, false).adaptive_avg_pool2d([7, 7]).flatten(1, -1);
        fc2.forward(&fc1.forward(&xs).relu()).relu()
    });
    let head = nn::linear(&cp / 6, 4096, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
