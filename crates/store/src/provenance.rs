//! How a stored result was made.

use serde::{Deserialize, Serialize};

/// The model a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ModelRecord {
    /// Architecture (`mobilenet_v2`, `torchscript`).
    pub arch: String,
    /// Where the weights came from (a path or `bundled:…`).
    pub weights: String,
    /// sha256 of the weights file.
    pub weights_sha256: String,
}

/// Everything needed to tell how a run's results were made, stored with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The model.
    pub model: ModelRecord,
    /// Preprocessing, in words precise enough to redo it.
    pub preprocessing: String,
    /// The algorithm's parameters (JSON object), e.g. `{"batch_size": 32}`.
    pub params: serde_json::Value,
    /// Seed of any randomness, when there is some.
    pub seed: Option<u64>,
    /// Device the run computed on.
    pub device: String,
    /// rectify's version.
    pub version: String,
    /// The command line that started the run.
    pub command: String,
}

impl Provenance {
    /// The record of a run of this process: `model`, `preprocessing`, `params`, no seed, on
    /// the CPU, this version and this process's command line. Set `seed` and `device` where
    /// the run has them.
    pub fn new(model: ModelRecord, preprocessing: impl Into<String>, params: serde_json::Value) -> Self {
        Provenance {
            model,
            preprocessing: preprocessing.into(),
            params,
            seed: None,
            device: "cpu".into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }

    /// `self` with `seed`.
    pub fn seed(mut self, seed: Option<u64>) -> Self {
        self.seed = seed;
        self
    }

    /// `self` computed on `device`.
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.device = device.into();
        self
    }

    /// The first field that makes `self` and `other` produce different results, as
    /// `"field: a vs b"`; `None` when resuming one with the other is sound. Device, command
    /// line, version and the listed `volatile` parameters (batch size, limits) do not count.
    pub fn incompatibility(&self, other: &Provenance, volatile: &[&str]) -> Option<String> {
        let pairs = [
            ("arch", &self.model.arch, &other.model.arch),
            ("weights sha256", &self.model.weights_sha256, &other.model.weights_sha256),
            ("preprocessing", &self.preprocessing, &other.preprocessing),
        ];
        for (what, a, b) in pairs {
            if a != b {
                return Some(format!("{what}: {a} vs {b}"));
            }
        }
        if self.seed != other.seed {
            return Some(format!("seed: {:?} vs {:?}", self.seed, other.seed));
        }
        let strip = |v: &serde_json::Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                for k in volatile {
                    m.remove(*k);
                }
            }
            v
        };
        let (a, b) = (strip(&self.params), strip(&other.params));
        (a != b).then(|| format!("parameters: {a} vs {b}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(sha: &str, params: serde_json::Value) -> Provenance {
        Provenance {
            model: ModelRecord { arch: "resnet18".into(), weights: "w".into(), weights_sha256: sha.into() },
            preprocessing: "pre".into(),
            params,
            seed: None,
            device: "cpu".into(),
            version: "0.1.0".into(),
            command: "rectify eval".into(),
        }
    }

    #[test]
    fn volatile_parameters_and_device_do_not_block_resuming() {
        let mut a = p("aa", serde_json::json!({"batch_size": 8, "images": "x"}));
        let b = p("aa", serde_json::json!({"batch_size": 64, "images": "x"}));
        a.device = "cuda:0".into();
        assert_eq!(a.incompatibility(&b, &["batch_size"]), None);
        assert!(a.incompatibility(&b, &[]).unwrap().contains("parameters"));
    }

    #[test]
    fn other_weights_block_resuming() {
        let a = p("aa", serde_json::json!({}));
        let b = p("bb", serde_json::json!({}));
        assert!(a.incompatibility(&b, &[]).unwrap().starts_with("weights sha256"));
    }
}
