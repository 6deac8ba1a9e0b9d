//! LIME's image front end (lime's `lime_image.LimeImageExplainer`): random on/off masks over
//! superpixels, perturbed images evaluated in large batches, then the [`LimeBase`] surrogate.
//!
//! Row 0 keeps every superpixel (the image itself); the other rows switch each superpixel off
//! with probability ½. A switched-off superpixel shows its own mean colour (lime's
//! `hide_color=None`) or a constant. The perturbed batch is built on the model's device as one
//! matrix product (masks × superpixel indicator), so there is no per-sample work on the CPU.

use rectify_data::rng::SplitMix64;
use rectify_model::Classifier;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::lime::{cosine_distances_to_first, Explanation, LimeBase, SelectionError};

/// What a hidden superpixel shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Hide {
    /// The superpixel's mean colour (lime's default, `hide_color=None`).
    #[default]
    MeanColor,
    /// A constant colour, RGB in `[0, 1]`.
    Constant([f32; 3]),
}

/// Settings of one image explanation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageLime {
    /// The surrogate's settings.
    pub base: LimeBase,
    /// Perturbed samples, the instance included (lime's `num_samples`, 1000).
    pub samples: usize,
    /// Samples per forward pass.
    pub batch_size: usize,
    /// What hidden superpixels show.
    pub hide: Hide,
    /// Seed of the masks.
    pub seed: u64,
}

impl Default for ImageLime {
    fn default() -> Self {
        Self { base: LimeBase::paper(8), samples: 1000, batch_size: 100, hide: Hide::MeanColor, seed: 0 }
    }
}

/// An image and its superpixels, ready to be perturbed on a device.
pub struct Perturber {
    /// `[3, H, W]` pixels in `[0, 1]`.
    image: Tensor,
    /// `[3, H, W]`: what each pixel shows when its superpixel is hidden.
    fill: Tensor,
    /// `[count, H·W]` float indicator of each superpixel.
    indicator: Tensor,
    count: usize,
    height: i64,
    width: i64,
}

impl Perturber {
    /// `crop`: `H×W×3` 8-bit pixels; `segments`: `H·W` labels in `0..count`.
    pub fn new(
        crop: &[u8],
        height: usize,
        width: usize,
        segments: &[u32],
        count: usize,
        hide: Hide,
        device: Device,
    ) -> Self {
        assert_eq!(crop.len(), height * width * 3, "crop must be H×W×3");
        assert_eq!(segments.len(), height * width, "one label per pixel");
        let (h, w) = (height as i64, width as i64);
        let image = (Tensor::from_slice(crop).view([h, w, 3]).permute([2, 0, 1]).to_kind(Kind::Float) / 255.0)
            .to_device(device);
        let labels = Tensor::from_slice(&segments.iter().map(|&s| i64::from(s)).collect::<Vec<_>>()).to_device(device);
        let indicator =
            labels.view([1, -1]).eq_tensor(&Tensor::arange(count as i64, (Kind::Int64, device)).view([-1, 1]));
        let indicator = indicator.to_kind(Kind::Float);
        let fill = match hide {
            Hide::Constant(rgb) => Tensor::from_slice(&rgb).view([3, 1, 1]).to_device(device).expand([3, h, w], false),
            Hide::MeanColor => {
                // Per-superpixel mean of each channel, painted back on its pixels.
                let flat = image.view([3, -1]); // [3, HW]
                let sums = flat.matmul(&indicator.tr()); // [3, count]
                let sizes = indicator.sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0); // [count]
                (sums / sizes).matmul(&indicator).view([3, h, w])
            }
        };
        Self { image, fill, indicator, count, height: h, width: w }
    }

    /// Number of superpixels.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Images `[B, 3, H, W]` for masks `[B, count]` (1 = shown).
    pub fn images(&self, masks: &Tensor) -> Tensor {
        let shown = masks.to_kind(Kind::Float).matmul(&self.indicator).view([-1, 1, self.height, self.width]);
        &self.fill + shown * (&self.image - &self.fill)
    }

    /// Class probabilities `[B, C]` of the images for `masks`, in batches of `batch_size`.
    pub fn probabilities(&self, model: &dyn Classifier, masks: &Tensor, batch_size: usize) -> Tensor {
        let n = masks.size()[0];
        let chunks: Vec<Tensor> = (0..n)
            .step_by(batch_size.max(1))
            .map(|start| {
                let len = (batch_size as i64).min(n - start);
                let m = masks.narrow(0, start, len).to_device(self.image.device());
                tch::no_grad(|| model.logits(&self.images(&m)).softmax(-1, Kind::Float)).to_device(Device::Cpu)
            })
            .collect();
        Tensor::cat(&chunks, 0)
    }
}

/// The outcome of explaining one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageExplanation {
    /// The class explained.
    pub label: i64,
    /// Its probability on the unperturbed image.
    pub probability: f64,
    /// The surrogate.
    pub explanation: Explanation,
}

/// The random masks: `samples × count`, row 0 all ones, from `seed`.
pub fn masks(samples: usize, count: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed, 0);
    let mut data: Vec<f64> = (0..samples * count).map(|_| (rng.next_u64() >> 63) as f64).collect();
    data[..count].iter_mut().for_each(|v| *v = 1.0);
    data
}

impl ImageLime {
    /// Explains `label` (or the top class when `None`) of the image behind `perturber`.
    pub fn explain(
        &self,
        model: &dyn Classifier,
        perturber: &Perturber,
        label: Option<i64>,
    ) -> Result<ImageExplanation, SelectionError> {
        let p = perturber.count();
        let data = masks(self.samples.max(1), p, self.seed);
        let mask_t = Tensor::from_slice(&data.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([-1, p as i64]);
        let probs = perturber.probabilities(model, &mask_t, self.batch_size);
        let label = label.unwrap_or_else(|| probs.get(0).argmax(0, false).int64_value(&[]));
        let column: Vec<f64> =
            Vec::<f32>::try_from(probs.select(1, label)).expect("floats").into_iter().map(f64::from).collect();
        let distances = cosine_distances_to_first(&data, p);
        let explanation = self.base.explain(&data, p, &column, &distances)?;
        Ok(ImageExplanation { label, probability: column[0], explanation })
    }
}
