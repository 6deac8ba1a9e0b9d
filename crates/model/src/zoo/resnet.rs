//! ResNet-18/34/50/101/152 as torchvision builds them.
//!
//! He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
//! (<https://arxiv.org/abs/1512.03385>). The bottleneck puts its stride on the 3×3 convolution
//! (torchvision's "ResNet V1.5"). Names follow `torchvision.models.resnet`: `conv1`, `bn1`,
//! `layer{1..4}.{i}.conv{1,2,3}`, `…downsample.{0,1}`, `fc`.

use tch::nn;
use tch::Tensor;

use super::{bn, conv, global_pool, Net};

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

fn block(p: nn::Path, kind: Block, c_in: i64, planes: i64, stride: i64) -> nn::FuncT<'static> {
    let c_out = planes * kind.expansion();
    let downsample = (stride != 1 || c_in != c_out).then(|| {
        let d = &p / "downsample";
        (conv(&d / "0", c_in, c_out, 1, stride, 0, 1), bn(&d / "1", c_out))
    });
    let identity = move |xs: &Tensor| match &downsample {
        Some((c, b)) => xs.apply(c).apply_t(b, false),
        None => xs.shallow_clone(),
    };
    match kind {
        Block::Basic => {
            let conv1 = conv(&p / "conv1", c_in, planes, 3, stride, 1, 1);
            let bn1 = bn(&p / "bn1", planes);
            let conv2 = conv(&p / "conv2", planes, planes, 3, 1, 1, 1);
            let bn2 = bn(&p / "bn2", planes);
            nn::func_t(move |xs, _| {
                let out = xs.apply(&conv1).apply_t(&bn1, false).relu();
                let out = out.apply(&conv2).apply_t(&bn2, false);
                (out + identity(xs)).relu()
            })
        }
        Block::Bottleneck => {
            let conv1 = conv(&p / "conv1", c_in, planes, 1, 1, 0, 1);
            let bn1 = bn(&p / "bn1", planes);
            let conv2 = conv(&p / "conv2", planes, planes, 3, stride, 1, 1);
            let bn2 = bn(&p / "bn2", planes);
            let conv3 = conv(&p / "conv3", planes, c_out, 1, 1, 0, 1);
            let bn3 = bn(&p / "bn3", c_out);
            nn::func_t(move |xs, _| {
                let out = xs.apply(&conv1).apply_t(&bn1, false).relu();
                let out = out.apply(&conv2).apply_t(&bn2, false).relu();
                let out = out.apply(&conv3).apply_t(&bn3, false);
                (out + identity(xs)).relu()
            })
        }
    }
}

/// A ResNet with `layers[i]` blocks in stage `i`.
pub(crate) fn resnet(p: &nn::Path, kind: Block, layers: [i64; 4], num_classes: i64) -> Net {
    let conv1 = conv(p / "conv1", 3, 64, 7, 2, 3, 1);
    let bn1 = bn(p / "bn1", 64);
    let mut stages = nn::seq_t();
    let mut c_in = 64;
    for (i, (&n, planes)) in layers.iter().zip([64, 128, 256, 512]).enumerate() {
        let lp = p / format!("layer{}", i + 1);
        for j in 0..n {
            let stride = if i > 0 && j == 0 { 2 } else { 1 };
            stages = stages.add(block(&lp / j, kind, c_in, planes, stride));
            c_in = planes * kind.expansion();
        }
    }
    let body = nn::func_t(move |xs, _| {
        let xs = xs.apply(&conv1).apply_t(&bn1, false).relu();
        let xs = xs.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        global_pool(&xs.apply_t(&stages, false))
    });
    let head = nn::linear(p / "fc", c_in, num_classes, Default::default());
    Net { body, head }
}
