//! Inception-v3 as torchvision builds it for its ImageNet weights (299 px).
//!
//! Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016
//! (<https://arxiv.org/abs/1512.00567>). Names follow `torchvision.models.inception`:
//! `Conv2d_1a_3x3` … `Conv2d_4a_3x3`, `Mixed_5b` … `Mixed_7c` (InceptionA–E, each branch a
//! `BasicConv2d`: conv without bias, BatchNorm with ε 1e-3, ReLU), `AuxLogits` (built so that
//! torchvision's checkpoints load; it only runs in training), `fc`. As `inception_v3(weights=…)`
//! sets `transform_input=True`, the ImageNet-normalised input is re-normalised to mean/std 0.5
//! first, with torchvision's constants. Dropout is a no-op in eval mode and omitted.

use tch::nn;
use tch::Tensor;

use super::conv_bn::{ConvBn, Geometry};
use super::{global_pool, Head, Net};

const EPS: f64 = 1e-3;

/// `BasicConv2d`: `p.conv` → `p.bn` (ε 1e-3) → ReLU.
fn basic(
    p: &nn::Path,
    name: &str,
    c_in: i64,
    c_out: i64,
    g: Geometry,
    fold: bool,
) -> impl Fn(&Tensor) -> Tensor + Send {
    let q = p / name;
    let cb = ConvBn::new_eps(&q / "conv", &q / "bn", c_in, c_out, g, EPS, fold);
    move |xs: &Tensor| cb.forward(xs).relu()
}

fn one(k: i64) -> Geometry {
    Geometry::same(k, 1)
}

fn avg_pool(xs: &Tensor) -> Tensor {
    xs.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None::<i64>)
}

fn max_pool(xs: &Tensor) -> Tensor {
    xs.max_pool2d([3, 3], [2, 2], [0, 0], [1, 1], false)
}

fn inception_a(p: nn::Path, c_in: i64, pool: i64, fold: bool) -> nn::FuncT<'static> {
    let b1 = basic(&p, "branch1x1", c_in, 64, one(1), fold);
    let b5_1 = basic(&p, "branch5x5_1", c_in, 48, one(1), fold);
    let b5_2 = basic(&p, "branch5x5_2", 48, 64, one(5), fold);
    let d1 = basic(&p, "branch3x3dbl_1", c_in, 64, one(1), fold);
    let d2 = basic(&p, "branch3x3dbl_2", 64, 96, one(3), fold);
    let d3 = basic(&p, "branch3x3dbl_3", 96, 96, one(3), fold);
    let bp = basic(&p, "branch_pool", c_in, pool, one(1), fold);
    nn::func_t(move |x, _| Tensor::cat(&[b1(x), b5_2(&b5_1(x)), d3(&d2(&d1(x))), bp(&avg_pool(x))], 1))
}

fn inception_b(p: nn::Path, c_in: i64, fold: bool) -> nn::FuncT<'static> {
    let b3 = basic(&p, "branch3x3", c_in, 384, Geometry::valid(3, 2), fold);
    let d1 = basic(&p, "branch3x3dbl_1", c_in, 64, one(1), fold);
    let d2 = basic(&p, "branch3x3dbl_2", 64, 96, one(3), fold);
    let d3 = basic(&p, "branch3x3dbl_3", 96, 96, Geometry::valid(3, 2), fold);
    nn::func_t(move |x, _| Tensor::cat(&[b3(x), d3(&d2(&d1(x))), max_pool(x)], 1))
}

fn inception_c(p: nn::Path, c_in: i64, c7: i64, fold: bool) -> nn::FuncT<'static> {
    let (row, col) = (Geometry::rect(1, 7, 0, 3), Geometry::rect(7, 1, 3, 0));
    let b1 = basic(&p, "branch1x1", c_in, 192, one(1), fold);
    let s1 = basic(&p, "branch7x7_1", c_in, c7, one(1), fold);
    let s2 = basic(&p, "branch7x7_2", c7, c7, row, fold);
    let s3 = basic(&p, "branch7x7_3", c7, 192, col, fold);
    let d1 = basic(&p, "branch7x7dbl_1", c_in, c7, one(1), fold);
    let d2 = basic(&p, "branch7x7dbl_2", c7, c7, col, fold);
    let d3 = basic(&p, "branch7x7dbl_3", c7, c7, row, fold);
    let d4 = basic(&p, "branch7x7dbl_4", c7, c7, col, fold);
    let d5 = basic(&p, "branch7x7dbl_5", c7, 192, row, fold);
    let bp = basic(&p, "branch_pool", c_in, 192, one(1), fold);
    nn::func_t(move |x, _| {
        let dbl = d5(&d4(&d3(&d2(&d1(x)))));
        Tensor::cat(&[b1(x), s3(&s2(&s1(x))), dbl, bp(&avg_pool(x))], 1)
    })
}

fn inception_d(p: nn::Path, c_in: i64, fold: bool) -> nn::FuncT<'static> {
    let b1 = basic(&p, "branch3x3_1", c_in, 192, one(1), fold);
    let b2 = basic(&p, "branch3x3_2", 192, 320, Geometry::valid(3, 2), fold);
    let s1 = basic(&p, "branch7x7x3_1", c_in, 192, one(1), fold);
    let s2 = basic(&p, "branch7x7x3_2", 192, 192, Geometry::rect(1, 7, 0, 3), fold);
    let s3 = basic(&p, "branch7x7x3_3", 192, 192, Geometry::rect(7, 1, 3, 0), fold);
    let s4 = basic(&p, "branch7x7x3_4", 192, 192, Geometry::valid(3, 2), fold);
    nn::func_t(move |x, _| Tensor::cat(&[b2(&b1(x)), s4(&s3(&s2(&s1(x)))), max_pool(x)], 1))
}

fn inception_e(p: nn::Path, c_in: i64, fold: bool) -> nn::FuncT<'static> {
    let (row, col) = (Geometry::rect(1, 3, 0, 1), Geometry::rect(3, 1, 1, 0));
    let b1 = basic(&p, "branch1x1", c_in, 320, one(1), fold);
    let t1 = basic(&p, "branch3x3_1", c_in, 384, one(1), fold);
    let t2a = basic(&p, "branch3x3_2a", 384, 384, row, fold);
    let t2b = basic(&p, "branch3x3_2b", 384, 384, col, fold);
    let d1 = basic(&p, "branch3x3dbl_1", c_in, 448, one(1), fold);
    let d2 = basic(&p, "branch3x3dbl_2", 448, 384, one(3), fold);
    let d3a = basic(&p, "branch3x3dbl_3a", 384, 384, row, fold);
    let d3b = basic(&p, "branch3x3dbl_3b", 384, 384, col, fold);
    let bp = basic(&p, "branch_pool", c_in, 192, one(1), fold);
    nn::func_t(move |x, _| {
        let t = t1(x);
        let d = d2(&d1(x));
        let three = Tensor::cat(&[t2a(&t), t2b(&t)], 1);
        let dbl = Tensor::cat(&[d3a(&d), d3b(&d)], 1);
        Tensor::cat(&[b1(x), three, dbl, bp(&avg_pool(x))], 1)
    })
}

/// torchvision's `_transform_input`: ImageNet normalisation → (x − 0.5) / 0.5 per channel.
fn transform_input(x: &Tensor) -> Tensor {
    let ch = |c: i64, std: f64, mean: f64| x.select(1, c).unsqueeze(1) * (std / 0.5) + (mean - 0.5) / 0.5;
    Tensor::cat(&[ch(0, 0.229, 0.485), ch(1, 0.224, 0.456), ch(2, 0.225, 0.406)], 1)
}

/// Inception-v3 with `num_classes` outputs.
pub(crate) fn inception_v3(p: &nn::Path, num_classes: i64, fold: bool) -> Net {
    let c1a = basic(p, "Conv2d_1a_3x3", 3, 32, Geometry::valid(3, 2), fold);
    let c2a = basic(p, "Conv2d_2a_3x3", 32, 32, Geometry::valid(3, 1), fold);
    let c2b = basic(p, "Conv2d_2b_3x3", 32, 64, one(3), fold);
    let c3b = basic(p, "Conv2d_3b_1x1", 64, 80, one(1), fold);
    let c4a = basic(p, "Conv2d_4a_3x3", 80, 192, Geometry::valid(3, 1), fold);
    let mixed = nn::seq_t()
        .add(inception_a(p / "Mixed_5b", 192, 32, fold))
        .add(inception_a(p / "Mixed_5c", 256, 64, fold))
        .add(inception_a(p / "Mixed_5d", 288, 64, fold))
        .add(inception_b(p / "Mixed_6a", 288, fold))
        .add(inception_c(p / "Mixed_6b", 768, 128, fold))
        .add(inception_c(p / "Mixed_6c", 768, 160, fold))
        .add(inception_c(p / "Mixed_6d", 768, 160, fold))
        .add(inception_c(p / "Mixed_6e", 768, 192, fold))
        .add(inception_d(p / "Mixed_7a", 768, fold))
        .add(inception_e(p / "Mixed_7b", 1280, fold))
        .add(inception_e(p / "Mixed_7c", 2048, fold));
    // InceptionAux: loaded with the checkpoint, never run in eval mode.
    let aux = p / "AuxLogits";
    let _ = ConvBn::new_eps(&aux / "conv0" / "conv", &aux / "conv0" / "bn", 768, 128, one(1), EPS, fold);
    let _ = ConvBn::new_eps(&aux / "conv1" / "conv", &aux / "conv1" / "bn", 128, 768, Geometry::valid(5, 1), EPS, fold);
    let _ = nn::linear(&aux / "fc", 768, num_classes, Default::default());
    let body = nn::func_t(move |xs: &Tensor, _| {
        let x = c2b(&c2a(&c1a(&transform_input(xs))));
        let x = c4a(&c3b(&max_pool(&x)));
        global_pool(&max_pool(&x).apply_t(&mixed, false))
    });
    let head = nn::linear(p / "fc", 2048, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
