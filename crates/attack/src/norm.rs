//! The two threat models, their step directions and the projection onto an ε-ball.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Added to per-image gradient norms before dividing (as torchattacks does), so a zero gradient
/// gives a zero step instead of NaN.
const NORM_FLOOR: f64 = 1e-10;

/// The norm that measures a perturbation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Norm {
    /// Max-norm: each step moves every pixel by ±step (the sign of the gradient).
    #[default]
    Linf,
    /// Euclidean: each step moves by step · g/‖g‖₂, per image.
    L2,
}

/// Per-image L2 norm of `[N, …]`, shaped `[N, 1, 1, 1]` for broadcasting.
fn l2_per_image(t: &Tensor) -> Tensor {
    t.flatten(1, -1).square().sum_dim_intlist(1, false, Kind::Float).sqrt().view([-1, 1, 1, 1])
}

impl Norm {
    /// The step `[N, 3, H, W]` of size `step` in the direction of `grad` under this norm.
    pub fn direction(self, grad: &Tensor, step: f64) -> Tensor {
        match self {
            Norm::Linf => grad.sign() * step,
            Norm::L2 => grad * step / (l2_per_image(grad) + NORM_FLOOR),
        }
    }
}

/// Projects `x` onto the `eps`-ball around `x0` under `norm`, then clips to `[0, 1]`.
/// `eps = None` only clips.
pub fn project(x: &Tensor, x0: &Tensor, eps: Option<f64>, norm: Norm) -> Tensor {
    let x = match eps {
        None => x.shallow_clone(),
        Some(eps) => {
            let delta = x - x0;
            let delta = match norm {
                Norm::Linf => delta.clamp(-eps, eps),
                Norm::L2 => {
                    let n = l2_per_image(&delta);
                    // Scale down only the images outside the ball.
                    let factor = (n.reciprocal() * eps).clamp_max(1.0).nan_to_num(1.0, 1.0, 1.0);
                    delta * factor
                }
            };
            x0 + delta
        }
    };
    x.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs(t: &Tensor) -> f64 {
        t.abs().max().double_value(&[])
    }

    #[test]
    fn linf_projection_keeps_the_ball_and_the_pixel_range() {
        tch::manual_seed(0);
        let x0 = Tensor::rand([4, 3, 8, 8], (Kind::Float, tch::Device::Cpu));
        let x = &x0 + Tensor::randn([4, 3, 8, 8], (Kind::Float, tch::Device::Cpu));
        let p = project(&x, &x0, Some(0.03), Norm::Linf);
        assert!(max_abs(&(&p - &x0)) <= 0.03 + 1e-7);
        assert!(p.min().double_value(&[]) >= 0.0 && p.max().double_value(&[]) <= 1.0);
    }

    #[test]
    fn l2_projection_scales_only_images_outside_the_ball() {
        let x0 = Tensor::full([2, 1, 1, 2], 0.5, (Kind::Float, tch::Device::Cpu));
        let d = Tensor::from_slice(&[0.3f32, 0.4, 0.01, 0.0]).view([2, 1, 1, 2]);
        let p = project(&(&x0 + &d), &x0, Some(0.1), Norm::L2);
        let got = Vec::<f32>::try_from((&p - &x0).flatten(0, -1)).unwrap();
        // First image: ‖(0.3, 0.4)‖ = 0.5 → scaled to 0.1: (0.06, 0.08). Second: inside, unchanged.
        let want = [0.06, 0.08, 0.01, 0.0];
        assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6), "{got:?}");
    }

    #[test]
    fn l2_direction_has_the_step_length() {
        let g = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 0.0]).view([2, 1, 1, 2]);
        let d = Norm::L2.direction(&g, 0.5);
        let got = Vec::<f32>::try_from(d.flatten(0, -1)).unwrap();
        assert!((got[0] - 0.3).abs() < 1e-6 && (got[1] - 0.4).abs() < 1e-6);
        assert_eq!(&got[2..], &[0.0, 0.0], "a zero gradient gives a zero step");
    }
}
