//! Preprocessing as data (issue #15 §1): the flags that set it, and the settings a run recorded.
//!
//! `rectify eval` (and `audit`) resolve [`PreprocessArgs`] once into a
//! [`Preprocess`](rectify_data::preprocess::Preprocess) (ripgrep's low → high args): a timm /
//! Hugging Face config read with `--preprocess FILE`, then the flags that override it. The eval
//! run records the result in its provenance (the description line, and the settings under
//! `params.preprocess` when they are not torchvision's), so the later stages (attack, explain,
//! criticize) crop and normalise exactly as the eval did ([`of_run`]), and resuming with other
//! settings is refused like any other change.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rectify_data::preprocess::{config, CropMode, Interpolation, Preprocess, DEFAULT_CROP_PCT};
use rectify_store::Provenance;

/// How images become pixels: `--preprocess FILE` and the flags that override it.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PreprocessArgs {
    /// A timm `pretrained_cfg` or a Hugging Face hub `config.json` holding one: input_size,
    /// interpolation, crop_pct, crop_mode, mean, std (resize = floor(crop / crop_pct), as timm).
    /// The flags below override its values. Default: torchvision's ImageNet evaluation
    /// (resize 256 bilinear, crop 224, ImageNet mean and std).
    #[cfg_attr(feature = "clap", arg(long = "preprocess", value_name = "FILE"))]
    pub config: Option<PathBuf>,
    /// Side of the square centre crop, in pixels. Without --resize or --crop-pct, the resize
    /// follows crop_pct 0.875 (224 → 256, 299 → 341).
    #[cfg_attr(feature = "clap", arg(long, value_name = "PX"))]
    pub crop: Option<u32>,
    /// Resize the shorter side (both sides with --crop-mode squash) to this many pixels; 0: no resize.
    #[cfg_attr(feature = "clap", arg(long, value_name = "PX", conflicts_with = "crop_pct"))]
    pub resize: Option<u32>,
    /// timm's crop_pct: resize = floor(crop / crop_pct).
    #[cfg_attr(feature = "clap", arg(long, value_name = "PCT"))]
    pub crop_pct: Option<f64>,
    /// The resize's filter, as Pillow computes it.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub interpolation: Option<Interpolation>,
    /// center keeps the aspect ratio; squash resizes both sides to the resize size.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub crop_mode: Option<CropMode>,
    /// Channel means in [0, 1] pixel units, R,G,B (e.g. 0.5,0.5,0.5).
    #[cfg_attr(feature = "clap", arg(long, value_name = "R,G,B", value_parser = parse_rgb))]
    pub mean: Option<[f32; 3]>,
    /// Channel standard deviations, R,G,B.
    #[cfg_attr(feature = "clap", arg(long, value_name = "R,G,B", value_parser = parse_rgb))]
    pub std: Option<[f32; 3]>,
}

impl PreprocessArgs {
    /// The settings: the config file's (or torchvision's), then each flag given.
    pub fn resolve(&self) -> Result<Preprocess> {
        let mut pre = match &self.config {
            Some(path) => config::from_file(path).with_context(|| format!("--preprocess {}", path.display()))?,
            None => Preprocess::default(),
        };
        if let Some(crop) = self.crop {
            pre.crop = crop;
        }
        match (self.resize, self.crop_pct, self.crop) {
            (Some(_), Some(_), _) => anyhow::bail!("give --resize or --crop-pct, not both"),
            (Some(resize), None, _) => pre.resize = resize,
            (None, Some(pct), _) => pre = pre.with_crop_pct(pct)?,
            (None, None, Some(_)) => pre = pre.with_crop_pct(DEFAULT_CROP_PCT)?,
            (None, None, None) => {}
        }
        if let Some(interpolation) = self.interpolation {
            pre.interpolation = interpolation;
        }
        if let Some(mode) = self.crop_mode {
            pre.crop_mode = mode;
        }
        if let Some(mean) = self.mean {
            pre.mean = mean;
        }
        if let Some(std) = self.std {
            pre.std = std;
        }
        pre.check()?;
        Ok(pre)
    }
}

/// `0.5,0.5,0.5` → `[0.5, 0.5, 0.5]`.
pub fn parse_rgb(s: &str) -> Result<[f32; 3], String> {
    let values: Result<Vec<f32>, _> = s.split(',').map(|v| v.trim().parse::<f32>()).collect();
    values
        .ok()
        .and_then(|v| <[f32; 3]>::try_from(v).ok())
        .filter(|v| v.iter().all(|x| x.is_finite()))
        .ok_or_else(|| format!("{s:?}: expected three numbers R,G,B, e.g. 0.485,0.456,0.406"))
}

/// The preprocessing the eval run `prov` recorded: its `params.preprocess`, or torchvision's
/// ImageNet evaluation when it recorded none (the default, and every run made before #15).
pub fn of_run(prov: &Provenance) -> Result<Preprocess> {
    match prov.params.get("preprocess") {
        None | Some(serde_json::Value::Null) => Ok(Preprocess::default()),
        Some(v) => {
            let pre: Preprocess =
                serde_json::from_value(v.clone()).context("the eval run's recorded preprocessing is not readable")?;
            // A store is untrusted bytes too: the recorded settings pass the same checks as flags.
            pre.check().context("the eval run's recorded preprocessing")?;
            Ok(pre)
        }
    }
}

/// Records `pre` in the eval run's `params` when it is not torchvision's default, so a default
/// run's record (and every file made from it) is what it was before preprocessing became data.
pub fn record(params: &mut serde_json::Value, pre: &Preprocess) -> Result<()> {
    if *pre != Preprocess::default() {
        params["preprocess"] = serde_json::to_value(pre)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_resolve_over_torchvisions_defaults() {
        assert_eq!(PreprocessArgs::default().resolve().unwrap(), Preprocess::default());
        let args = PreprocessArgs {
            crop: Some(299),
            interpolation: Some(Interpolation::Bicubic),
            mean: Some([0.5; 3]),
            std: Some([0.5; 3]),
            ..Default::default()
        };
        let pre = args.resolve().unwrap();
        assert_eq!((pre.resize, pre.crop, pre.interpolation, pre.mean), (341, 299, Interpolation::Bicubic, [0.5; 3]));
        let pct = PreprocessArgs { crop: Some(384), crop_pct: Some(0.95), ..Default::default() }.resolve().unwrap();
        assert_eq!((pct.resize, pct.crop), (404, 384));
        let resize = PreprocessArgs { resize: Some(0), crop: Some(32), ..Default::default() }.resolve().unwrap();
        assert_eq!((resize.resize, resize.crop), (0, 32));
    }

    #[test]
    fn bad_values_are_refused_with_the_flag() {
        let both = PreprocessArgs { resize: Some(256), crop_pct: Some(0.9), ..Default::default() };
        assert!(both.resolve().unwrap_err().to_string().contains("not both"));
        let zero = PreprocessArgs { std: Some([1.0, 0.0, 1.0]), ..Default::default() };
        assert!(format!("{:#}", zero.resolve().unwrap_err()).contains("std"));
        let missing = PreprocessArgs { config: Some("/nonexistent/config.json".into()), ..Default::default() };
        assert!(format!("{:#}", missing.resolve().unwrap_err()).contains("--preprocess /nonexistent/config.json"));
        assert!(parse_rgb("0.5,0.5").is_err());
        assert_eq!(parse_rgb("0.5, 0.25,1").unwrap(), [0.5, 0.25, 1.0]);
    }

    #[test]
    fn default_runs_record_nothing_and_read_back_the_default() {
        let mut params = serde_json::json!({"images": "x"});
        record(&mut params, &Preprocess::default()).unwrap();
        assert!(params.get("preprocess").is_none());
        let bicubic = Preprocess { interpolation: Interpolation::Bicubic, ..Preprocess::default() };
        record(&mut params, &bicubic).unwrap();
        let prov = |params| Provenance::new(Default::default(), "", params);
        assert_eq!(of_run(&prov(params)).unwrap(), bicubic);
        assert_eq!(of_run(&prov(serde_json::json!({}))).unwrap(), Preprocess::default());
    }
}
