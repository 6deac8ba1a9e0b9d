//! [`StateDict`]: the named tensors of a checkpoint, in file order, read from `torch.save` files (zip or legacy) or
//! safetensors files. The format is recognised by content, never by extension: `PK\x03\x04` is a `torch.save` zip
//! archive, a pickle `PROTO` opcode a legacy `torch.save` stream, an 8-byte length followed by `{` a safetensors file.

use crate::{safetensors_file, torch_save, TensorData, WeightsError};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Which container a [`StateDict`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A `torch.save` zip archive (PyTorch ≥ 1.6 default).
    TorchZip,
    /// A legacy `torch.save` stream (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`).
    TorchLegacy,
    /// A safetensors file.
    Safetensors,
    /// Built in memory with [`FromIterator`].
    InMemory,
}

/// The named tensors of a checkpoint, in the order the file lists them.
///
/// Names are unique; if a file repeats one, the last value wins at the first position (as a Python dict does).
#[derive(Debug, Clone)]
pub struct StateDict {
    entries: Vec<(String, TensorData)>,
    index: HashMap<String, usize>,
    format: Format,
    unwrapped_from: Option<String>,
    metadata: BTreeMap<String, String>,
}

impl StateDict {
    /// Reads a checkpoint file, recognising its format by content (see [`StateDict::from_bytes`]).
    pub fn read(path: &Path) -> Result<StateDict, WeightsError> {
        let io = |source| WeightsError::Io { path: path.to_owned(), source };
        crate::regular(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        StateDict::from_bytes(&bytes).map_err(|e| WeightsError::File { path: path.to_owned(), source: Box::new(e) })
    }

    /// Reads a checkpoint held in memory: a `torch.save` file (zip or legacy) or a safetensors file.
    ///
    /// A `torch.save`d object that is not itself a dict of tensors but holds exactly one, such as
    /// `{"state_dict": sd, "epoch": 3, "optimizer": ...}` or `{"model": sd, ...}`, is unwrapped to that dict;
    /// [`StateDict::unwrapped_from`] then names the key. Pre-0.4 tar checkpoints and TorchScript archives are refused
    /// with advice; anything else is [`WeightsError::UnknownFormat`].
    pub fn from_bytes(bytes: &[u8]) -> Result<StateDict, WeightsError> {
        // safetensors first: its header length may begin with 0x80, which would also pass for a pickle.
        if safetensors_file::is_safetensors(bytes) {
            StateDict::from_safetensors_bytes(bytes)
        } else if torch_save::is_zip(bytes) || torch_save::is_pickle(bytes) || torch_save::is_tar(bytes) {
            StateDict::from_pth_bytes(bytes)
        } else {
            Err(unknown(bytes))
        }
    }

    /// Reads a `torch.save` file held in memory (zip archive or legacy stream); see [`StateDict::from_bytes`].
    pub fn from_pth_bytes(bytes: &[u8]) -> Result<StateDict, WeightsError> {
        let (format, (entries, unwrapped_from)) = if torch_save::is_zip(bytes) {
            (Format::TorchZip, torch_save::read_zip(bytes)?)
        } else if torch_save::is_pickle(bytes) {
            (Format::TorchLegacy, torch_save::read_legacy(bytes)?)
        } else if torch_save::is_tar(bytes) {
            return Err(WeightsError::Unsupported {
                format: "a tar-format torch.save checkpoint (PyTorch < 0.4)",
                advice: "re-save it with a recent torch: torch.save(torch.load(old), new)",
            });
        } else {
            return Err(unknown(bytes));
        };
        let mut sd: StateDict = entries.into_iter().collect();
        sd.format = format;
        sd.unwrapped_from = unwrapped_from;
        Ok(sd)
    }

    /// Reads a safetensors file held in memory (e.g. one embedded with `include_bytes!`). Dtypes are kept as stored.
    pub fn from_safetensors_bytes(bytes: &[u8]) -> Result<StateDict, WeightsError> {
        let (entries, metadata) = safetensors_file::read(bytes)?;
        let mut sd: StateDict = entries.into_iter().collect();
        sd.format = Format::Safetensors;
        sd.metadata = metadata;
        Ok(sd)
    }

    /// The tensor names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&TensorData> {
        self.index.get(name).map(|&i| &self.entries[i].1)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(name, tensor)` pairs, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TensorData)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Total number of elements over all tensors (for a model: its parameter and buffer count).
    pub fn total_numel(&self) -> usize {
        self.entries.iter().map(|(_, t)| t.numel()).sum()
    }

    /// Removes `prefix` from every name that starts with it (e.g. `"module."` from `nn.DataParallel` checkpoints);
    /// other names are kept as they are. Order is kept; if two names become equal, the later tensor wins.
    pub fn strip_prefix(self, prefix: &str) -> StateDict {
        let (format, unwrapped_from, metadata) = (self.format, self.unwrapped_from, self.metadata);
        let mut sd: StateDict = self
            .entries
            .into_iter()
            .map(|(n, t)| match n.strip_prefix(prefix) {
                Some(rest) => (rest.to_owned(), t),
                None => (n, t),
            })
            .collect();
        sd.format = format;
        sd.unwrapped_from = unwrapped_from;
        sd.metadata = metadata;
        sd
    }

    /// The container the tensors were read from.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The top-level key of a `torch.save`d checkpoint dict that the tensors were unwrapped from
    /// (`Some("state_dict")` for `{"state_dict": sd, "epoch": 3}`), or `None` if the file held the state dict itself.
    pub fn unwrapped_from(&self) -> Option<&str> {
        self.unwrapped_from.as_deref()
    }

    /// The `__metadata__` strings of a safetensors file (empty for other formats).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
}

impl FromIterator<(String, TensorData)> for StateDict {
    fn from_iter<I: IntoIterator<Item = (String, TensorData)>>(iter: I) -> Self {
        let mut entries: Vec<(String, TensorData)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (name, tensor) in iter {
            match index.get(&name) {
                Some(&i) => entries[i].1 = tensor,
                None => {
                    index.insert(name.clone(), entries.len());
                    entries.push((name, tensor));
                }
            }
        }
        StateDict { entries, index, format: Format::InMemory, unwrapped_from: None, metadata: BTreeMap::new() }
    }
}

impl IntoIterator for StateDict {
    type Item = (String, TensorData);
    type IntoIter = std::vec::IntoIter<(String, TensorData)>;

    /// Moves the `(name, tensor)` pairs out, in file order.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

fn unknown(bytes: &[u8]) -> WeightsError {
    WeightsError::UnknownFormat { head: bytes.iter().take(16).copied().collect() }
}
