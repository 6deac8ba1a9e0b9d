//! ConvNeXt-T as torchvision builds it.
//!
//! Liu et al., "A ConvNet for the 2020s", CVPR 2022 (<https://arxiv.org/abs/2201.03545>).
//! Names follow `torchvision.models.convnext`: `features.0.{0,1}` (4×4 patchify conv with bias,
//! channels-first LayerNorm), `features.{1,3,5,7}.{j}.block.{0,2,3,5}` and `…layer_scale` (CNBlock:
//! depthwise 7×7, permute to NHWC, LayerNorm, Linear ×4, GELU, Linear, permute back, times the
//! layer scale, plus the input), `features.{2,4,6}.{0,1}` (LayerNorm, 2×2 stride-2 conv),
//! `classifier.{0,2}`. Every LayerNorm has ε 1e-6. The penultimate features are the pooled map
//! after `classifier.0` (768 wide). Stochastic depth is a no-op in eval mode and omitted.

use tch::nn::{self, Module};
use tch::Tensor;

use super::{Head, Net};

/// (channels, blocks) of each stage of ConvNeXt-T.
const TINY: [(i64, i64); 4] = [(96, 3), (192, 3), (384, 9), (768, 3)];
const EPS: f64 = 1e-6;

fn layer_norm(p: nn::Path, dim: i64) -> nn::LayerNorm {
    nn::layer_norm(p, vec![dim], nn::LayerNormConfig { eps: EPS, ..Default::default() })
}

/// torchvision's `LayerNorm2d`: LayerNorm over channels of an NCHW map, through NHWC.
fn layer_norm_2d(p: nn::Path, dim: i64) -> impl Fn(&Tensor) -> Tensor + Send + 'static {
    let ln = layer_norm(p, dim);
    move |xs: &Tensor| ln.forward(&xs.permute([0, 2, 3, 1])).permute([0, 3, 1, 2])
}

fn conv(p: nn::Path, c_in: i64, c_out: i64, k: i64, stride: i64, padding: i64, groups: i64) -> nn::Conv2D {
    nn::conv2d(p, c_in, c_out, k, nn::ConvConfig { stride, padding, groups, ..Default::default() })
}

fn cn_block(p: nn::Path, dim: i64) -> nn::FuncT<'static> {
    let b = &p / "block";
    let dw = conv(&b / 0, dim, dim, 7, 1, 3, dim);
    let ln = layer_norm(&b / 2, dim);
    let fc1 = nn::linear(&b / 3, dim, 4 * dim, Default::default());
    let fc2 = nn::linear(&b / 5, 4 * dim, dim, Default::default());
    let scale = p.var("layer_scale", &[dim, 1, 1], nn::Init::Const(1e-6));
    nn::func_t(move |xs, _| {
        let ys = ln.forward(&dw.forward(xs).permute([0, 2, 3, 1]));
        let ys = fc2.forward(&fc1.forward(&ys).gelu("none")).permute([0, 3, 1, 2]);
        &scale * ys + xs
    })
}

/// ConvNeXt-T with `num_classes` outputs.
pub(crate) fn convnext_tiny(p: &nn::Path, num_classes: i64) -> Net {
    let fp = p / "features";
    let stem_conv = conv(&fp / 0 / 0, 3, 96, 4, 4, 0, 1);
    let stem_ln = layer_norm_2d(&fp / 0 / 1, 96);
    let mut features = nn::seq_t().add_fn(move |xs| stem_ln(&stem_conv.forward(xs)));
    for (i, (dim, blocks)) in TINY.into_iter().enumerate() {
        let sp = &fp / (2 * i + 1);
        let mut stage = nn::seq_t();
        for j in 0..blocks {
            stage = stage.add(cn_block(&sp / j, dim));
        }
        features = features.add(stage);
        if let Some(&(next, _)) = TINY.get(i + 1) {
            let dp = &fp / (2 * i + 2);
            let ln = layer_norm_2d(&dp / 0, dim);
            let down = conv(&dp / 1, dim, next, 2, 2, 0, 1);
            features = features.add_fn(move |xs| down.forward(&ln(xs)));
        }
    }
    let norm = layer_norm_2d(p / "classifier" / 0, 768);
    let body = nn::func_t(move |xs: &Tensor, _| {
        norm(&xs.apply_t(&features, false).adaptive_avg_pool2d([1, 1])).flatten(1, -1)
    });
    let head = nn::linear(p / "classifier" / 2, 768, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
