//! From an unpickled `torch.save` object to named tensors: find the dict of tensors (unwrapping one level of
//! `{"state_dict": ...}`-style checkpoints), then gather each tensor's strided view of its storage into contiguous
//! bytes, as `torch._utils._rebuild_tensor_v2` + `.contiguous()` would
//! (<https://github.com/pytorch/pytorch/blob/main/torch/_utils.py>).

use crate::pickle::{Object, Pickle, Value};
use crate::rebuild::TensorRef;
use crate::tensor::gather;
use crate::{TensorData, WeightsError};
use std::borrow::Cow;
use std::collections::HashMap;

/// Named tensor views, in pickle order, and the top-level key they were unwrapped from, if any.
pub(crate) type Refs = (Vec<(String, TensorRef)>, Option<String>);

/// Finds the state dict in the unpickled object.
///
/// The root must be a dict. If all its values are tensors (and its keys strings), it is the state dict. Otherwise,
/// if exactly one of its values is a non-empty dict of tensors (`{"state_dict": sd, "epoch": 3, "optimizer": ...}`,
/// `{"model": sd, ...}`), that one is, and its key is returned with it. Anything else is
/// [`WeightsError::NoStateDict`].
pub(crate) fn state_dict_refs(p: &Pickle) -> Result<Refs, WeightsError> {
    let Some(Object::Dict(root)) = p.object(&p.root) else {
        return Err(WeightsError::no_state_dict(format!("the checkpoint holds {}, not a dict", describe(p, &p.root))));
    };
    if let Some(tensors) = tensor_dict(p, root) {
        return Ok((tensors, None));
    }
    let mut found = Vec::new();
    for (key, value) in root {
        if let (Value::Str(key), Some(Object::Dict(inner))) = (key, p.object(value)) {
            if let Some(tensors) = tensor_dict(p, inner).filter(|t| !t.is_empty()) {
                found.push((key.to_string(), tensors));
            }
        }
    }
    let keys: Vec<String> = root.iter().map(|(k, _)| key_repr(k)).collect();
    match found.len() {
        1 => {
            let (key, tensors) = found.remove(0);
            Ok((tensors, Some(key)))
        }
        0 => Err(WeightsError::no_state_dict(format!(
            "neither the top-level dict nor any of its values is a dict of tensors (top-level keys: {})",
            keys.join(", ")
        ))),
        _ => Err(WeightsError::no_state_dict(format!(
            "more than one top-level value is a dict of tensors ({}); save the one you mean",
            found.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The entries of `items` if every key is a string and every value a tensor.
fn tensor_dict(p: &Pickle, items: &[(Value, Value)]) -> Option<Vec<(String, TensorRef)>> {
    items
        .iter()
        .map(|(k, v)| match (k, p.object(v)) {
            (Value::Str(k), Some(Object::Tensor(t))) => Some((k.to_string(), t.clone())),
            _ => None,
        })
        .collect()
}

fn key_repr(k: &Value) -> String {
    match k {
        Value::Str(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        _ => "?".to_owned(),
    }
}

/// A few words on what `v` is, for error messages.
fn describe(p: &Pickle, v: &Value) -> &'static str {
    match (v, p.object(v)) {
        (Value::None, _) => "None",
        (Value::Bool(_), _) => "a bool",
        (Value::Int(_) | Value::BigInt(_), _) => "an int",
        (Value::Float(_), _) => "a float",
        (Value::Str(_), _) => "a string",
        (Value::Bytes(_), _) => "bytes",
        (_, Some(Object::Tuple(_))) => "a tuple",
        (_, Some(Object::List(_))) => "a list",
        (_, Some(Object::Tensor(_))) => "a single tensor",
        _ => "an object",
    }
}

/// How many bytes of tensors a checkpoint of `file_len` bytes may materialise: views are copied out of their
/// storages, so expanded (stride 0) or overlapping views can need more than the file holds, but a corrupt or hostile
/// file must not make the reader allocate without bound.
pub(crate) fn materialize_limit(file_len: usize) -> u64 {
    (file_len as u64).saturating_mul(4).saturating_add(1 << 30)
}

/// Gathers each tensor out of its storage (`storages` maps record keys to their raw bytes).
pub(crate) fn materialize(
    refs: Vec<(String, TensorRef)>,
    storages: &HashMap<String, Cow<'_, [u8]>>,
    limit: u64,
) -> Result<Vec<(String, TensorData)>, WeightsError> {
    let mut used = 0u64;
    refs.into_iter()
        .map(|(name, t)| {
            let storage = storages
                .get(&t.storage.key)
                .ok_or_else(|| WeightsError::Missing { what: format!("storage {} of tensor {name}", t.storage.key) })?;
            let data = one(&name, &t, storage, limit, &mut used)?;
            Ok((name, data))
        })
        .collect()
}

fn one(name: &str, t: &TensorRef, storage: &[u8], limit: u64, used: &mut u64) -> Result<TensorData, WeightsError> {
    let fail = |reason: String| WeightsError::tensor(name, reason);
    let dtype = t.storage.dtype;
    let elem = dtype.size_in_bytes();
    let record_numel = (storage.len() / elem) as u64;
    let (start, len) = t.storage.view.unwrap_or((0, record_numel));
    if start.checked_add(len).is_none_or(|end| end > record_numel) {
        return Err(fail(format!("storage view [{start}, +{len}) is outside its record of {record_numel} elements")));
    }
    let numel = t.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
    let bytes = numel.and_then(|n| n.checked_mul(elem as u64));
    let Some(bytes) = bytes.filter(|&b| used.saturating_add(b) <= limit) else {
        return Err(WeightsError::TooLarge {
            what: format!("tensor {name} of shape {:?}", t.shape),
            bytes: bytes.unwrap_or(u64::MAX),
            limit,
        });
    };
    *used += bytes;
    if bytes > 0 {
        // The furthest element the view touches must lie inside the storage (view).
        let last =
            t.shape.iter().zip(&t.stride).try_fold(t.offset, |acc, (&d, &s)| {
                (d as u64 - 1).checked_mul(s as u64).and_then(|x| acc.checked_add(x))
            });
        if last.is_none_or(|last| last >= len) {
            return Err(fail(format!(
                "offset {} with size {:?} and stride {:?} reaches past its storage of {len} elements",
                t.offset, t.shape, t.stride
            )));
        }
    }
    let view = &storage[start as usize * elem..(start + len) as usize * elem];
    let data = gather(view, elem, t.offset as usize, &t.shape, &t.stride);
    TensorData::from_bytes(dtype, t.shape.clone(), data).map_err(|e| fail(e.to_string()))
}
