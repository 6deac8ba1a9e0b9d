//! Reads PyTorch checkpoints into a backend-free state dict, without libtorch.
//!
//! - `torch.save` files: the zip archive of PyTorch ≥ 1.6 (`<name>/data.pkl` + `<name>/data/<key>` storages) and the
//!   legacy stream of older versions (torchvision's own `.pth` downloads are legacy), decoded by a small pickle VM
//!   that knows only the globals a state dict needs and never executes anything
//!   (format: `torch/serialization.py`, <https://github.com/pytorch/pytorch/blob/main/torch/serialization.py>);
//! - safetensors files (<https://github.com/huggingface/safetensors#format>), through the `safetensors` crate.
//!
//! ```no_run
//! use rectify_weights::StateDict;
//! let sd = StateDict::read("mobilenet_v2-b0353104.pth".as_ref())?;
//! let w = sd.get("features.0.0.weight").expect("first conv");
//! assert_eq!(w.shape, [32, 3, 3, 3]);
//! let values: Vec<f32> = w.to_f32();
//! # Ok::<(), rectify_weights::WeightsError>(())
//! ```
//!
//! Tensors keep the dtype they were stored with ([`DType`]); views and shared storages are gathered into
//! contiguous C-order copies. [`sha256_file`] fingerprints a checkpoint for provenance.

mod error;
mod extract;
mod objects;
mod pickle;
mod rebuild;
mod safetensors_file;
mod state_dict;
mod tensor;
mod torch_save;

pub use error::WeightsError;
pub use state_dict::{Format, StateDict};
pub use tensor::{DType, TensorData};

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::path::Path;

/// `Ok` when `path` is a regular file (after following links): a named pipe would block a reader
/// for ever and a device never end, so neither is read.
pub fn regular(path: &Path) -> io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        Ok(())
    } else {
        Err(io::Error::other("not a regular file (a named pipe, device or folder)"))
    }
}

/// The SHA-256 of a file's contents as 64 lowercase hex digits, read in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    regular(path)?;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answers() {
        // printf 'abc' | sha256sum
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_bytes(b"abc"), abc);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(sha256_file(&path).unwrap(), abc);
        let big = vec![7u8; (1 << 20) + 3]; // crosses the chunk boundary
        std::fs::write(&path, &big).unwrap();
        assert_eq!(sha256_file(&path).unwrap(), sha256_bytes(&big));
        assert!(sha256_file(&dir.path().join("missing")).is_err());
    }
}
