//! Errors of model building and weight loading.

use std::path::PathBuf;

/// A tensor whose shape in the checkpoint differs from the model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// State-dict key.
    pub name: String,
    /// Shape the architecture expects.
    pub expected: Vec<i64>,
    /// Shape found in the checkpoint.
    pub found: Vec<i64>,
}

/// Everything that can go wrong when building or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// `--arch` named no architecture of the zoo.
    #[error("unknown architecture {0:?}; known: {known}", known = crate::zoo::Arch::names().join(", "))]
    UnknownArch(String),
    /// A device string that is not `cpu`, `cuda`, `cuda:N` or `auto`.
    #[error("unknown device {0:?}; use cpu, cuda, cuda:N or auto")]
    UnknownDevice(String),
    /// CUDA was asked for but libtorch sees no GPU.
    #[error("--device {0} asked for CUDA, but libtorch reports no CUDA device")]
    CudaUnavailable(String),
    /// The weights file could not be read.
    #[error("cannot read weights {path}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rectify_weights::WeightsError,
    },
    /// The checkpoint does not fit the architecture.
    #[error("{}", describe_state_dict_mismatch(arch, missing, unexpected, mismatched, hint.as_deref()))]
    StateDict {
        /// Architecture being loaded.
        arch: String,
        /// Keys the architecture needs that the checkpoint lacks.
        missing: Vec<String>,
        /// Keys in the checkpoint the architecture does not have.
        unexpected: Vec<String>,
        /// Keys present in both with different shapes.
        mismatched: Vec<Mismatch>,
        /// A guess at the architecture the checkpoint was made for.
        hint: Option<String>,
    },
    /// A TorchScript file could not be loaded or run.
    #[error("TorchScript model {path}: {message}")]
    TorchScript {
        /// The file.
        path: PathBuf,
        /// libtorch's message.
        message: String,
    },
    /// A computation failed inside libtorch (most often an allocation), caught by
    /// [`guarded`](crate::guarded).
    #[error("{what} failed in libtorch: {message}")]
    Forward {
        /// What was being computed.
        what: String,
        /// libtorch's first line.
        message: String,
    },
    /// An error raised by libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 6;
    let mut s: Vec<String> = items.iter().take(SHOWN).map(|x| x.to_string()).collect();
    if items.len() > SHOWN {
        s.push(format!("… and {} more", items.len() - SHOWN));
    }
    s.join(", ")
}

fn describe_state_dict_mismatch(
    arch: &str,
    missing: &[String],
    unexpected: &[String],
    mismatched: &[Mismatch],
    hint: Option<&str>,
) -> String {
    let mut parts = vec![format!("the weights do not fit {arch}")];
    if !missing.is_empty() {
        parts.push(format!("{} missing: {}", missing.len(), list(missing)));
    }
    if !unexpected.is_empty() {
        parts.push(format!("{} unexpected: {}", unexpected.len(), list(unexpected)));
    }
    if !mismatched.is_empty() {
        let m: Vec<String> =
            mismatched.iter().map(|m| format!("{} (model {:?}, file {:?})", m.name, m.expected, m.found)).collect();
        parts.push(format!("{} mis-shaped: {}", m.len(), list(&m)));
    }
    if let Some(h) = hint {
        parts.push(format!("the file looks like a {h} checkpoint (try --arch {h})"));
    }
    parts.join("; ")
}
