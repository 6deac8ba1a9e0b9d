//! Copies a [`StateDict`] into a [`VarStore`], checking names and shapes first.
//!
//! Like `torch.nn.Module.load_state_dict(strict=True)`, except that BatchNorm's
//! `num_batches_tracked` counters are ignored (they do not affect eval-mode outputs) and a
//! single common prefix such as `module.` (DataParallel) is stripped when that makes the
//! names fit. Every missing, unexpected and mis-shaped tensor is reported, not just the first.

use std::collections::BTreeSet;

use rectify_weights::StateDict;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::error::Mismatch;
use crate::{Arch, ModelError};

fn ignorable(name: &str) -> bool {
    name.ends_with("num_batches_tracked")
}

/// Loads `sd` into `vs` (whose variables were built for `arch`); float tensors of any width
/// (f16, bf16, f64) are converted to the store's f32.
pub fn load_state_dict(vs: &mut VarStore, sd: &StateDict, arch: Arch) -> Result<(), ModelError> {
    let vars = vs.variables();
    let sd = strip_known_prefix(sd, &vars.keys().cloned().collect());
    let model_keys: BTreeSet<&str> = vars.keys().map(|s| s.as_str()).collect();
    let file_keys: BTreeSet<&str> = sd.names().filter(|n| !ignorable(n)).collect();
    let missing: Vec<String> = model_keys.difference(&file_keys).map(|s| s.to_string()).collect();
    let unexpected: Vec<String> = file_keys.difference(&model_keys).map(|s| s.to_string()).collect();
    let mut mismatched = Vec::new();
    for name in model_keys.intersection(&file_keys) {
        let expected = vars[*name].size();
        let found: Vec<i64> = sd.get(name).map(|t| t.shape.iter().map(|&d| d as i64).collect()).unwrap_or_default();
        if expected != found {
            mismatched.push(Mismatch { name: name.to_string(), expected, found });
        }
    }
    if !(missing.is_empty() && unexpected.is_empty() && mismatched.is_empty()) {
        let hint = Arch::guess_from_keys(sd.names()).filter(|g| *g != arch).map(|g| g.to_string());
        return Err(ModelError::StateDict { arch: arch.to_string(), missing, unexpected, mismatched, hint });
    }
    tch::no_grad(|| -> Result<(), ModelError> {
        for (name, var) in vars.iter() {
            let mut var = var.shallow_clone();
            let t = sd.get(name).expect("checked above");
            let src = Tensor::from_slice(&t.to_f32()).view(var.size().as_slice());
            var.f_copy_(&src.to_kind(Kind::Float).to_device(var.device()))?;
        }
        Ok(())
    })
}

/// Strips one leading prefix (`module.`, `model.`) when the file's names carry it and the model's do not.
fn strip_known_prefix(sd: &StateDict, model_keys: &BTreeSet<String>) -> StateDict {
    for prefix in ["module.", "model."] {
        let all_prefixed = sd.names().all(|n| n.starts_with(prefix));
        let model_prefixed = model_keys.iter().any(|k| k.starts_with(prefix));
        if all_prefixed && !model_prefixed && !sd.is_empty() {
            return sd.clone().strip_prefix(prefix);
        }
    }
    sd.clone()
}
