//! The default model shipped inside the binary: torchvision's MobileNetV2 (IMAGENET1K_V1,
//! `mobilenet_v2-b0353104.pth`) as float32 safetensors (14 MB), made by `scripts/bundle-weights.py`.
//!
//! float32, not float16: a float16 copy would halve the size but moves the logits on val-1300 by
//! up to 0.078 (measured in PyTorch on the first 64 images), over the 0.05 that issue #2 allows.

use rectify_weights::StateDict;

use crate::Arch;

/// The bundled weights file's bytes.
pub const MOBILENET_V2: &[u8] = include_bytes!("../../../assets/mobilenet_v2_imagenet1k_v1.safetensors");

/// How the bundled weights are named in provenance records.
pub const ORIGIN: &str = "bundled:mobilenet_v2_imagenet1k_v1.safetensors";

/// The architecture the bundled weights are for.
pub const ARCH: Arch = Arch::MobilenetV2;

/// The bundled state dict and its sha256.
pub fn mobilenet_v2() -> (StateDict, String) {
    let sd = StateDict::from_safetensors_bytes(MOBILENET_V2).expect("bundled weights are a valid safetensors file");
    (sd, rectify_weights::sha256_bytes(MOBILENET_V2))
}
