//! DenseNet-121/161/169/201 as torchvision builds them.
//!
//! Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks", CVPR 2017
//! (<https://arxiv.org/abs/1608.06993>). Names follow `torchvision.models.densenet`:
//! `features.{conv0,norm0}`, `features.denseblock{b}.denselayer{l}.{norm1,conv1,norm2,conv2}`,
//! `features.transition{t}.{norm,conv}`, `features.norm5`, `classifier`. bn_size is 4 and the
//! dropout rate 0, as in every torchvision preset.

use tch::nn;
use tch::Tensor;

use super::conv_bn::{ConvBn, Geometry};
use super::{bn, conv, global_pool, Head, Net};

const BN_SIZE: i64 = 4;

/// Pre-activation layer: BN → ReLU → 1×1 conv → BN → ReLU → 3×3 conv. Only the middle
/// conv → BN pair can fold; the first BN acts on the concatenated input, before a ReLU.
fn dense_layer(p: nn::Path, c_in: i64, growth: i64, fold: bool) -> impl Fn(&Tensor) -> Tensor + Send {
    let norm1 = bn(&p / "norm1", c_in);
    let conv1 = ConvBn::new(&p / "conv1", &p / "norm2", c_in, BN_SIZE * growth, Geometry::same(1, 1), fold);
    let conv2 = conv(&p / "conv2", BN_SIZE * growth, growth, 3, 1, 1, 1);
    move |xs: &Tensor| conv1.forward(&xs.apply_t(&norm1, false).relu()).relu().apply(&conv2)
}

fn dense_block(p: nn::Path, c_in: i64, growth: i64, n: i64, fold: bool) -> nn::FuncT<'static> {
    let layers: Vec<_> =
        (0..n).map(|i| dense_layer(&p / format!("denselayer{}", i + 1), c_in + i * growth, growth, fold)).collect();
    nn::func_t(move |xs, _| {
        // torchvision concatenates every earlier output before each layer.
        let mut feats = vec![xs.shallow_clone()];
        for layer in &layers {
            let input = Tensor::cat(&feats, 1);
            feats.push(layer(&input));
        }
        Tensor::cat(&feats, 1)
    })
}

fn transition(p: nn::Path, c_in: i64, c_out: i64) -> nn::FuncT<'static> {
    let norm = bn(&p / "norm", c_in);
    let conv = conv(&p / "conv", c_in, c_out, 1, 1, 0, 1);
    nn::func_t(move |xs, _| {
        xs.apply_t(&norm, false).relu().apply(&conv).avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None)
    })
}

/// A DenseNet with `init` stem channels, growth rate `growth` and `blocks[i]` layers per block.
pub(crate) fn densenet(p: &nn::Path, init: i64, growth: i64, blocks: [i64; 4], num_classes: i64, fold: bool) -> Net {
    let fp = p / "features";
    let stem = ConvBn::new(&fp / "conv0", &fp / "norm0", 3, init, Geometry::same(7, 2), fold);
    let mut stages = nn::seq_t();
    let mut c = init;
    for (i, &n) in blocks.iter().enumerate() {
        stages = stages.add(dense_block(&fp / format!("denseblock{}", i + 1), c, growth, n, fold));
        c += n * growth;
        if i + 1 < blocks.len() {
            stages = stages.add(transition(&fp / format!("transition{}", i + 1), c, c / 2));
            c /= 2;
        }
    }
    let norm5 = bn(&fp / "norm5", c);
    let body = nn::func_t(move |xs, _| {
        let xs = stem.forward(xs).relu();
        let xs = xs.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        global_pool(&xs.apply_t(&stages, false).apply_t(&norm5, false).relu())
    });
    let head = nn::linear(p / "classifier", c, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
