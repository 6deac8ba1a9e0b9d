//! ViT-B/16 as torchvision builds it.
//!
//! Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at
//! Scale", ICLR 2021 (<https://arxiv.org/abs/2010.11929>). Names follow
//! `torchvision.models.vision_transformer`: `conv_proj` (16×16 patchify), `class_token`,
//! `encoder.pos_embedding`, `encoder.layers.encoder_layer_{i}.{ln_1, self_attention, ln_2,
//! mlp.0, mlp.3}`, `encoder.ln`, `heads.head`. The penultimate features are the class token
//! after `encoder.ln` (768 wide). Input side 224 only (the position embedding has 197 entries),
//! as torchvision asserts.
//!
//! Attention is what `nn.MultiheadAttention` runs in eval mode: without gradients its fast path,
//! `torch._native_multi_head_attention` (what torchvision computes under `torch.no_grad()`, so
//! `--exact` logits are bit-identical); when the input needs a gradient (attacks, LIME's
//! gradients) the differentiable `F.multi_head_attention_forward` ops, as PyTorch then does.

use tch::nn::{self, Module};
use tch::Tensor;

use super::{Head, Net};

const HIDDEN: i64 = 768;
const LAYERS: i64 = 12;
const HEADS: i64 = 12;
const MLP: i64 = 3072;
const PATCH: i64 = 16;
const SIDE: i64 = 224;
const EPS: f64 = 1e-6;

fn layer_norm(p: nn::Path) -> nn::LayerNorm {
    nn::layer_norm(p, vec![HIDDEN], nn::LayerNormConfig { eps: EPS, ..Default::default() })
}

/// `nn.MultiheadAttention(HIDDEN, HEADS, batch_first=True)` on `x` `[N, L, E]` as self-attention.
struct SelfAttention {
    in_w: Tensor,
    in_b: Tensor,
    out: nn::Linear,
}

impl SelfAttention {
    fn new(p: nn::Path) -> Self {
        let in_w = p.var("in_proj_weight", &[3 * HIDDEN, HIDDEN], nn::Init::Const(0.0));
        let in_b = p.var("in_proj_bias", &[3 * HIDDEN], nn::Init::Const(0.0));
        let out = nn::linear(&p / "out_proj", HIDDEN, HIDDEN, Default::default());
        SelfAttention { in_w, in_b, out }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        if !x.requires_grad() {
            let (y, _) = Tensor::internal_native_multi_head_attention(
                x,
                x,
                x,
                HIDDEN,
                HEADS,
                &self.in_w,
                &self.in_b,
                &self.out.ws,
                self.out.bs.as_ref().expect("out_proj has a bias"),
                None::<Tensor>,
                false,
                true,
                None,
            );
            return y;
        }
        // F.multi_head_attention_forward, sequence-first, need_weights=False.
        let q = x.transpose(1, 0);
        let (tgt, bsz) = (q.size()[0], q.size()[1]);
        let head_dim = HIDDEN / HEADS;
        let proj = q.linear(&self.in_w, Some(&self.in_b));
        let proj = proj.unflatten(-1, [3, HIDDEN]).unsqueeze(0).transpose(0, -2).squeeze_dim(-2).contiguous();
        let split =
            |i: i64| proj.get(i).view([tgt, bsz * HEADS, head_dim]).transpose(0, 1).view([bsz, HEADS, tgt, head_dim]);
        let attn = Tensor::scaled_dot_product_attention(
            &split(0),
            &split(1),
            &split(2),
            None::<Tensor>,
            0.0,
            false,
            None,
            false,
        );
        let attn = attn.permute([2, 0, 1, 3]).contiguous().view([bsz * tgt, HIDDEN]);
        self.out.forward(&attn).view([tgt, bsz, HIDDEN]).transpose(1, 0)
    }
}

fn encoder_block(p: nn::Path) -> nn::FuncT<'static> {
    let ln_1 = layer_norm(&p / "ln_1");
    let attention = SelfAttention::new(&p / "self_attention");
    let ln_2 = layer_norm(&p / "ln_2");
    let fc1 = nn::linear(&p / "mlp" / 0, HIDDEN, MLP, Default::default());
    let fc2 = nn::linear(&p / "mlp" / 3, MLP, HIDDEN, Default::default());
    nn::func_t(move |input, _| {
        let x = attention.forward(&ln_1.forward(input)) + input;
        let y = fc2.forward(&fc1.forward(&ln_2.forward(&x)).gelu("none"));
        x + y
    })
}

/// ViT-B/16 with `num_classes` outputs.
pub(crate) fn vit_b_16(p: &nn::Path, num_classes: i64) -> Net {
    let cfg = nn::ConvConfig { stride: PATCH, ..Default::default() };
    let conv_proj = nn::conv2d(p / "conv_proj", 3, HIDDEN, PATCH, cfg);
    let class_token = p.var("class_token", &[1, 1, HIDDEN], nn::Init::Const(0.0));
    let ep = p / "encoder";
    let seq_len = (SIDE / PATCH) * (SIDE / PATCH) + 1;
    let pos = ep.var("pos_embedding", &[1, seq_len, HIDDEN], nn::Init::Const(0.0));
    let mut layers = nn::seq_t();
    for i in 0..LAYERS {
        layers = layers.add(encoder_block(&ep / "layers" / format!("encoder_layer_{i}")));
    }
    let ln = layer_norm(&ep / "ln");
    let body = nn::func_t(move |xs: &Tensor, _| {
        let n = xs.size()[0];
        let x = conv_proj.forward(xs);
        let (h, w) = (x.size()[2], x.size()[3]);
        let x = x.reshape([n, HIDDEN, h * w]).permute([0, 2, 1]);
        let x = Tensor::cat(&[class_token.expand([n, -1, -1], false), x], 1);
        let x = ln.forward(&(x + &pos).apply_t(&layers, false));
        x.select(1, 0)
    });
    let head = nn::linear(p / "heads" / "head", HIDDEN, num_classes, Default::default());
    Net { body, head: Head::Linear(head) }
}
