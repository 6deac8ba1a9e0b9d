//! The one error type of the crate: every way reading a checkpoint can fail, each variant carrying the context a
//! user needs to find the problem (which file, which zip entry, which pickle opcode or global, which tensor and
//! which sizes were expected and found).

use std::path::PathBuf;

/// Why a checkpoint could not be read.
///
/// Errors nest: [`WeightsError::File`] wraps the cause with the path, so print them with `{:#}` (anyhow) or walk
/// [`std::error::Error::source`] to see the whole chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The file could not be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Reading the file's contents failed; `source` says why.
    #[error("cannot load {}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<WeightsError>,
    },
    /// The bytes are neither a `torch.save` archive nor a safetensors file.
    #[error(
        "not a PyTorch checkpoint: the first bytes {head:02x?} are neither a torch.save zip archive, \
         a legacy torch.save pickle, nor a safetensors header"
    )]
    UnknownFormat {
        /// Up to the first 16 bytes.
        head: Vec<u8>,
    },
    /// A format this crate recognises but does not read.
    #[error("{format} is not supported: {advice}")]
    Unsupported {
        /// What the file is.
        format: &'static str,
        /// What to do instead.
        advice: &'static str,
    },
    /// The zip container of a `torch.save` archive is damaged or lacks an entry.
    #[error("zip archive: {context}")]
    Zip {
        /// Which entry, or which step.
        context: String,
        /// The zip library's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A required zip entry or section is missing.
    #[error("missing {what}")]
    Missing {
        /// What was looked for (`archive/data.pkl`, `storage 3`, ...).
        what: String,
    },
    /// The pickle stream uses an opcode this reader does not implement.
    #[error("pickle opcode {opcode:#04x} ({name}) at byte {offset} is not supported in a state dict")]
    UnsupportedOpcode {
        /// The opcode byte.
        opcode: u8,
        /// Its name in `pickletools`, or `unknown`.
        name: &'static str,
        /// Where it is in the pickle.
        offset: usize,
    },
    /// The pickle refers to a Python global outside the allow-list (nothing is ever executed).
    #[error(
        "pickle refers to the Python global {module}.{name}, which a state dict does not need \
         (allowed: tensor rebuilders, storage types, dtypes, OrderedDict); if the file pickles a whole model \
         or other objects, re-save just the tensors: torch.save(model.state_dict(), path)"
    )]
    UnknownGlobal {
        /// Module part, e.g. `argparse`.
        module: String,
        /// Attribute part, e.g. `Namespace`.
        name: String,
    },
    /// The pickle is malformed (truncated, stack underflow, wrong argument types, ...).
    #[error("pickle at byte {offset}: {reason}")]
    Pickle {
        /// Where it went wrong.
        offset: usize,
        /// What went wrong.
        reason: String,
    },
    /// The unpickled object does not hold one dict of tensors.
    #[error("no state dict: {reason}")]
    NoStateDict {
        /// What was found instead.
        reason: String,
    },
    /// A storage's bytes do not have the size its header or tensors need.
    #[error("storage {key}: expected {expected} bytes, found {found}")]
    StorageSize {
        /// The storage key (zip entry `data/<key>` or legacy key).
        key: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A tensor's shape, strides or dtype are invalid for its data.
    #[error("tensor {tensor}: {reason}")]
    Tensor {
        /// The tensor's name in the state dict.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// Materialising the tensors would take more memory than the file can justify.
    #[error("{what} would need {bytes} bytes, more than the limit of {limit} for this file")]
    TooLarge {
        /// Which tensor or storage.
        what: String,
        /// Bytes requested.
        bytes: u64,
        /// Bytes allowed.
        limit: u64,
    },
    /// The safetensors library rejected the file.
    #[error("safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
}

impl WeightsError {
    /// A [`WeightsError::Tensor`] for `tensor`.
    pub(crate) fn tensor(tensor: &str, reason: impl Into<String>) -> Self {
        WeightsError::Tensor { tensor: tensor.to_owned(), reason: reason.into() }
    }

    /// A [`WeightsError::NoStateDict`].
    pub(crate) fn no_state_dict(reason: impl Into<String>) -> Self {
        WeightsError::NoStateDict { reason: reason.into() }
    }
}
