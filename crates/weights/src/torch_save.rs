//! The two containers `torch.save` writes (`torch/serialization.py`,
//! <https://github.com/pytorch/pytorch/blob/main/torch/serialization.py>):
//!
//! - since PyTorch 1.6, a zip archive (stored, not compressed): `<name>/data.pkl` (the pickled object),
//!   `<name>/data/<key>` (one raw storage per key), `<name>/byteorder` (`little` or `big`; absent = little),
//!   `<name>/version`, `.data/serialization_id`;
//! - before that, or with `_use_new_zipfile_serialization=False`, the "legacy" stream: five pickles back to back
//!   (magic number `0x1950a86a20f9469cfc6c`, protocol version 1001, sys info, the object, the list of storage keys)
//!   followed, for each key in that order, by the element count (i64) and the raw storage bytes.
//!
//! The pre-0.4 tar format and TorchScript archives are recognised and refused with advice.

use crate::extract::{materialize, materialize_limit, state_dict_refs};
use crate::objects::{Object, Value};
use crate::pickle;
use crate::rebuild::Torch;
use crate::{TensorData, WeightsError};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

/// What a `torch.save` file holds: the tensors in order, and the top-level key they were unwrapped from.
pub(crate) type Loaded = (Vec<(String, TensorData)>, Option<String>);

/// `torch.serialization.MAGIC_NUMBER` as the little-endian bytes of its `LONG1` opcode.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Whether `bytes` start like a zip archive.
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Whether `bytes` start like a pickle (`PROTO` opcode), which is how a legacy `torch.save` starts.
pub(crate) fn is_pickle(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x80)
}

/// Whether `bytes` are a tar archive (the pre-0.4 `torch.save` format).
pub(crate) fn is_tar(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar")
}

/// Reads a zip-format `torch.save` file.
pub(crate) fn read_zip(bytes: &[u8]) -> Result<Loaded, WeightsError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_error("cannot open the archive", e))?;
    let pkl = archive
        .file_names()
        .filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .min_by_key(|n| n.len())
        .map(str::to_owned)
        .ok_or_else(|| WeightsError::Missing {
            what: "a data.pkl entry: the zip archive was not written by torch.save".to_owned(),
        })?;
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    if archive.index_for_name(&format!("{prefix}constants.pkl")).is_some() {
        return Err(WeightsError::Unsupported {
            format: "a TorchScript archive (torch.jit.save)",
            advice: "load it with tch::CModule, or save model.state_dict() with torch.save",
        });
    }
    let big_endian = match entry(&mut archive, bytes, &format!("{prefix}byteorder")) {
        Ok(order) => order.trim_ascii() == b"big",
        Err(WeightsError::Missing { .. }) => false,
        Err(e) => return Err(e),
    };
    let (pickle, _) = pickle::load(&entry(&mut archive, bytes, &pkl)?, 0, &Torch)?;
    let (refs, unwrapped_from) = state_dict_refs(&pickle, bytes.len())?;
    let mut storages = HashMap::new();
    for (_, t) in &refs {
        let s = &t.storage;
        if storages.contains_key(&s.key) {
            continue;
        }
        let mut data = entry(&mut archive, bytes, &format!("{prefix}data/{}", s.key))?;
        let expected = s.numel.checked_mul(s.dtype.size_in_bytes() as u64);
        if expected != Some(data.len() as u64) {
            return Err(WeightsError::StorageSize {
                key: s.key.to_string(),
                expected: expected.unwrap_or(u64::MAX),
                found: data.len() as u64,
            });
        }
        if big_endian {
            swap_bytes(data.to_mut(), s.dtype.size_in_bytes());
        }
        storages.insert(s.key.clone(), data);
    }
    let tensors = materialize(refs, &storages, materialize_limit(bytes.len()))?;
    Ok((tensors, unwrapped_from))
}

/// The bytes of zip entry `name`: borrowed from `bytes` when stored (what torch writes), else decompressed.
///
/// Stored entries are sliced without checking their CRC, as torch itself does (`torch.save` may leave it 0).
fn entry<'a>(
    archive: &mut ZipArchive<Cursor<&'a [u8]>>,
    bytes: &'a [u8],
    name: &str,
) -> Result<Cow<'a, [u8]>, WeightsError> {
    let file = archive.by_name(name).map_err(|e| match e {
        ZipError::FileNotFound => WeightsError::Missing { what: format!("zip entry {name}") },
        e => zip_error(name, e),
    })?;
    let (size, compressed) = (file.size(), file.compressed_size());
    // The declared sizes come from the (untrusted) headers: the entry's data must lie inside the file before
    // anything is sliced or allocated for it.
    let start = file.data_start();
    if start.checked_add(compressed).is_none_or(|end| end > bytes.len() as u64) {
        return Err(zip_error(name, ZipError::InvalidArchive("entry data lies outside the file".into())));
    }
    if file.compression() == CompressionMethod::Stored && !file.encrypted() {
        let slice = usize::try_from(start)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(start, len)| bytes.get(start..start.checked_add(len)?));
        return slice
            .filter(|_| compressed == size)
            .map(Cow::Borrowed)
            .ok_or_else(|| zip_error(name, ZipError::InvalidArchive("entry data lies outside the file".into())));
    }
    // Deflate expands at most ~1032:1; a larger declared size is corrupt and must not be allocated.
    let limit = compressed.saturating_mul(1032).saturating_add(1024);
    if size > limit {
        return Err(WeightsError::TooLarge { what: format!("zip entry {name}"), bytes: size, limit });
    }
    let mut out = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut out).map_err(|e| zip_error(name, ZipError::Io(e)))?;
    Ok(Cow::Owned(out))
}

fn zip_error(context: &str, source: ZipError) -> WeightsError {
    WeightsError::Zip { context: context.to_owned(), source }
}

/// Reverses the bytes of each `elem`-byte element (big-endian storages to little-endian).
fn swap_bytes(data: &mut [u8], elem: usize) {
    if elem > 1 {
        data.chunks_exact_mut(elem).for_each(<[u8]>::reverse);
    }
}

/// Reads a legacy (non-zip) `torch.save` stream.
pub(crate) fn read_legacy(bytes: &[u8]) -> Result<Loaded, WeightsError> {
    let (magic, pos) = pickle::load(bytes, 0, &Torch)?;
    if !matches!(&magic.root, Value::BigInt(b) if **b == LEGACY_MAGIC) {
        return Err(WeightsError::Unsupported {
            format: "a plain Python pickle (no torch.save magic number)",
            advice: "save the tensors with torch.save(model.state_dict(), path) or as safetensors",
        });
    }
    let (version, pos) = pickle::load(bytes, pos, &Torch)?;
    if !matches!(version.root, Value::Int(1001)) {
        return Err(WeightsError::Pickle {
            offset: pos,
            reason: format!("legacy protocol version {:?}, expected 1001", version.root),
        });
    }
    let (sys_info, pos) = pickle::load(bytes, pos, &Torch)?;
    let big_endian = match sys_info.object(&sys_info.root) {
        Some(Object::Dict(items)) => {
            items.iter().any(|(k, v)| matches!((k, v), (Value::Str(k), Value::Bool(false)) if &**k == "little_endian"))
        }
        _ => false,
    };
    let (object, pos) = pickle::load(bytes, pos, &Torch)?;
    let (keys, mut pos) = pickle::load(bytes, pos, &Torch)?;
    let (refs, unwrapped_from) = state_dict_refs(&object, bytes.len())?;

    let declared: HashMap<&str, _> = object
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Storage(s) => Some((&*s.key, s)),
            _ => None,
        })
        .collect();
    let Some(Object::List(keys)) = keys.object(&keys.root) else {
        return Err(WeightsError::Missing { what: "the list of storage keys after the pickled object".to_owned() });
    };
    let mut storages = HashMap::new();
    for key in keys {
        let key = crate::rebuild::key_string(key).map_err(|r| WeightsError::Pickle { offset: pos, reason: r.0 })?;
        let s = declared.get(&*key).ok_or_else(|| WeightsError::Missing {
            what: format!("storage {key}: listed after the pickle but never referenced in it"),
        })?;
        let elem = s.dtype.size_in_bytes();
        let mut count = [0u8; 8];
        count.copy_from_slice(
            bytes.get(pos..pos + 8).ok_or_else(|| WeightsError::Missing {
                what: format!("storage {key}: the file ends before its data"),
            })?,
        );
        let count = if big_endian { i64::from_be_bytes(count) } else { i64::from_le_bytes(count) };
        let expected = s.numel.saturating_mul(elem as u64);
        let available = bytes.len().saturating_sub(pos + 8) as u64;
        let found =
            if count < 0 || count as u64 != s.numel { (count as u64).saturating_mul(elem as u64) } else { available };
        if found < expected || count as u64 != s.numel {
            return Err(WeightsError::StorageSize { key: key.to_string(), expected, found });
        }
        let start = pos + 8;
        pos = start + expected as usize;
        let mut data = Cow::Borrowed(&bytes[start..pos]);
        if big_endian {
            swap_bytes(data.to_mut(), elem);
        }
        storages.insert(key, data);
    }
    let tensors = materialize(refs, &storages, materialize_limit(bytes.len()))?;
    Ok((tensors, unwrapped_from))
}
