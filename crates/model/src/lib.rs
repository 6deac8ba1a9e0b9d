//! torchvision-exact ImageNet classifiers on libtorch (through `tch`).
//!
//! * [`zoo`] builds ResNet, DenseNet and MobileNetV2 with torchvision's module structure and
//!   state-dict names, so torchvision checkpoints load as they are;
//! * [`load`] copies a [`rectify_weights::StateDict`] into a model and names every missing,
//!   unexpected or mis-shaped tensor;
//! * [`Classifier`] is what every later stage (attacks, LIME, criticism) talks to: it takes
//!   pixels in `[0, 1]` and normalises inside, so gradients are taken w.r.t. pixels.

pub mod bundled;
pub mod classifier;
pub mod device;
pub mod error;
pub mod guard;
pub mod load;
pub mod memory;
pub mod torchscript;
pub mod zoo;

pub use classifier::{ClassGroup, Classifier, ImageNetModel, ModelInfo, Normalization, Numerics, Output};
pub use device::DeviceChoice;
pub use error::ModelError;
pub use guard::guarded;
pub use torchscript::TorchScriptModel;
pub use zoo::Arch;
