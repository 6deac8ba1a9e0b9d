//! Preprocessing settings from a timm or Hugging Face model config.
//!
//! timm resolves a model's evaluation transform from its `pretrained_cfg` (`input_size`,
//! `interpolation`, `crop_pct`, `crop_mode`, `mean`, `std`); a Hugging Face hub model made by timm
//! carries the same object as `config.json`'s `pretrained_cfg`. [`from_json`] accepts either that
//! `config.json` or the bare `pretrained_cfg` object (`timm.create_model(…).pretrained_cfg`,
//! saved with `json.dump`), and builds what `timm.data.transforms_factory.transforms_imagenet_eval`
//! builds:
//!
//! ```python
//! scale_size = math.floor(img_size / crop_pct)
//! # crop_mode 'center' (the default): Resize(scale_size, interpolation), CenterCrop(img_size)
//! # crop_mode 'squash': Resize((scale_size, scale_size), interpolation), CenterCrop(img_size)
//! ```
//!
//! Missing keys take timm's defaults (`crop_pct` 0.875, `interpolation` bilinear, `crop_mode`
//! center, ImageNet mean and std); `input_size` is required. Square inputs only (every timm
//! ImageNet classifier); `crop_mode: border` and the filters Pillow has but torchvision models do
//! not use (`lanczos`, `box`, `hamming`, `random`) are refused by name.

use std::path::Path;

use serde_json::Value;

use super::{resize_for_crop_pct, CropMode, Interpolation, Preprocess, DEFAULT_CROP_PCT};

/// Largest config file read (a timm `config.json` is about 1 KiB).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why a preprocessing config or setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read: missing, not a regular file, or larger than any model config.
    #[error(transparent)]
    File(#[from] crate::files::SmallFileError),
    /// Not JSON, or not an object.
    #[error("not a JSON object: {0}")]
    Json(String),
    /// A key has a value timm would not accept, or rectify does not port.
    #[error("{key}: {message}")]
    Key {
        /// The key, e.g. `pretrained_cfg.input_size`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `crop_pct` out of (0, ∞) or giving a resize over `u32`.
    #[error("crop_pct {0} must be a positive number (timm resizes to floor(crop / crop_pct))")]
    CropPct(f64),
    /// Settings that no transform can run.
    #[error("invalid preprocessing: {0}")]
    Invalid(String),
}

/// Reads a timm / Hugging Face config file (see the [module](self) docs), at most 1 MiB.
pub fn from_file(path: &Path) -> Result<Preprocess, ConfigError> {
    let text = crate::files::read_text(path, MAX_CONFIG_BYTES, "a preprocessing config")?;
    from_json(&text)
}

/// Parses a timm `pretrained_cfg` object or a `config.json` holding one.
pub fn from_json(text: &str) -> Result<Preprocess, ConfigError> {
    let root: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
    let (cfg, prefix) = match root.get("pretrained_cfg") {
        Some(cfg @ Value::Object(_)) => (cfg, "pretrained_cfg."),
        Some(_) => return Err(key_err("pretrained_cfg", "must be an object")),
        None if root.is_object() => (&root, ""),
        None => return Err(ConfigError::Json("the top level is not an object".into())),
    };
    let key = |k: &str| format!("{prefix}{k}");
    let present = |k: &str| cfg.get(k).filter(|v| !v.is_null());

    let size = present("input_size").ok_or_else(|| key_err(&key("input_size"), "missing ([3, H, W])"))?;
    let dims: Vec<u64> = size
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .filter(|d: &Vec<u64>| d.len() == 3 && size.as_array().is_some_and(|a| a.len() == 3))
        .ok_or_else(|| key_err(&key("input_size"), &format!("{size} is not [channels, height, width]")))?;
    if dims[0] != 3 {
        return Err(key_err(&key("input_size"), &format!("{} channels: rectify reads RGB images (3)", dims[0])));
    }
    if dims[1] != dims[2] {
        return Err(key_err(
            &key("input_size"),
            &format!("{}×{} is not square: rectify crops square inputs", dims[1], dims[2]),
        ));
    }
    let crop = u32::try_from(dims[1]).ok().filter(|&c| (1..=super::MAX_CROP).contains(&c));
    let crop =
        crop.ok_or_else(|| key_err(&key("input_size"), &format!("side {} px (1 to {})", dims[1], super::MAX_CROP)))?;

    let interpolation = match present("interpolation") {
        None => Interpolation::Bilinear,
        Some(Value::String(s)) => s.parse().map_err(|m: String| key_err(&key("interpolation"), &m))?,
        Some(v) => return Err(key_err(&key("interpolation"), &format!("{v} is not a name"))),
    };
    let crop_pct = match present("crop_pct") {
        None => DEFAULT_CROP_PCT,
        Some(v) => v.as_f64().ok_or_else(|| key_err(&key("crop_pct"), &format!("{v} is not a number")))?,
    };
    let crop_mode = match present("crop_mode").map(|v| (v, v.as_str())) {
        None | Some((_, Some("center"))) => CropMode::Center,
        Some((_, Some("squash"))) => CropMode::Squash,
        Some((v, _)) => {
            return Err(key_err(&key("crop_mode"), &format!("{v} is not supported (center or squash)")));
        }
    };
    let triple = |k: &str, default: [f32; 3]| -> Result<[f32; 3], ConfigError> {
        let Some(v) = present(k) else { return Ok(default) };
        let values: Option<Vec<f32>> =
            v.as_array().and_then(|a| a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect());
        values
            .and_then(|v| <[f32; 3]>::try_from(v).ok())
            .ok_or_else(|| key_err(&key(k), &format!("{v} is not three numbers (R, G, B)")))
    };
    let resize = resize_for_crop_pct(crop, crop_pct).ok_or(ConfigError::CropPct(crop_pct))?;
    let pre = Preprocess {
        resize,
        crop,
        mean: triple("mean", super::IMAGENET_MEAN)?,
        std: triple("std", super::IMAGENET_STD)?,
        interpolation,
        crop_mode,
    };
    pre.check()?;
    Ok(pre)
}

fn key_err(key: &str, message: &str) -> ConfigError {
    ConfigError::Key { key: key.to_string(), message: message.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `timm.create_model('convnext_tiny.fb_in1k').pretrained_cfg` (timm 1.0), the keys that
    /// matter, and the same inside a hub `config.json`.
    const CONVNEXT: &str = r#"{"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.875,
        "crop_mode": "center", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        "num_classes": 1000, "pool_size": [7, 7], "first_conv": "stem.0", "classifier": "head.fc"}"#;

    #[test]
    fn timm_cfg_and_hub_config_give_the_same_settings() {
        let bare = from_json(CONVNEXT).unwrap();
        let hub = from_json(&format!(r#"{{"architecture": "convnext_tiny", "pretrained_cfg": {CONVNEXT}}}"#)).unwrap();
        assert_eq!(bare, hub);
        assert_eq!((bare.resize, bare.crop, bare.interpolation), (256, 224, Interpolation::Bicubic));
    }

    #[test]
    fn resize_is_floor_of_crop_over_crop_pct() {
        // Python: math.floor(299 / 0.875) == 341, math.floor(384 / 0.95) == 404,
        // math.floor(224 / 0.9) == 248, math.floor(240 / 1.0) == 240.
        for (crop, pct, want) in [(299, 0.875, 341), (384, 0.95, 404), (224, 0.9, 248), (240, 1.0, 240)] {
            let cfg = format!(r#"{{"input_size": [3, {crop}, {crop}], "crop_pct": {pct}}}"#);
            assert_eq!(from_json(&cfg).unwrap().resize, want, "{crop} / {pct}");
        }
    }

    #[test]
    fn defaults_are_timms() {
        let pre = from_json(r#"{"input_size": [3, 224, 224], "crop_pct": null}"#).unwrap();
        assert_eq!(pre, Preprocess::default());
    }

    #[test]
    fn bad_configs_name_the_key() {
        for (cfg, needle) in [
            (r#"{"input_size": [3, 224, 192]}"#, "input_size: 224×192 is not square"),
            (r#"{"input_size": [1, 224, 224]}"#, "1 channels"),
            (r#"{"input_size": "224"}"#, "input_size: \"224\" is not [channels"),
            (
                r#"{"pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "lanczos"}}"#,
                "pretrained_cfg.interpolation",
            ),
            (r#"{"input_size": [3, 224, 224], "crop_mode": "border"}"#, "crop_mode: \"border\" is not supported"),
            (r#"{"input_size": [3, 224, 224], "crop_pct": 0}"#, "crop_pct 0"),
            (r#"{"input_size": [3, 224, 224], "mean": [0.5, 0.5]}"#, "mean: [0.5,0.5] is not three numbers"),
            (r#"{"input_size": [3, 224, 224], "std": [0, 1, 1]}"#, "invalid preprocessing"),
            (r#"{"interpolation": "bicubic"}"#, "input_size: missing"),
            (r#"[1, 2]"#, "not a JSON object"),
            (r#"{"input_size": [3, 224, 224"#, "not a JSON object"),
        ] {
            let err = from_json(cfg).unwrap_err().to_string();
            assert!(err.contains(needle), "{cfg}: {err}");
        }
    }
}
