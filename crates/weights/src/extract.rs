//! From an unpickled `torch.save` object to named tensors: find the dict of tensors (unwrapping one level of
//! `{"state_dict": ...}`-style checkpoints), then gather each tensor's strided view of its storage into contiguous
//! bytes, as `torch._utils._rebuild_tensor_v2` + `.contiguous()` would
//! (<https://github.com/pytorch/pytorch/blob/main/torch/_utils.py>).

use crate::objects::TensorRef;
use crate::objects::{Object, Pickle, Value};
use crate::tensor::gather;
use crate::{TensorData, WeightsError};
use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

/// Named tensor views, in pickle order, and the top-level key they were unwrapped from, if any.
pub(crate) type Refs = (Vec<(String, TensorRef)>, Option<String>);

/// Finds the state dict in the unpickled object.
///
/// The root must be a dict. If all its values are tensors (and its keys strings), it is the state dict. Otherwise,
/// if exactly one of its values is a non-empty dict of tensors (`{"state_dict": sd, "epoch": 3, "optimizer": ...}`,
/// `{"model": sd, ...}`), that one is, and its key is returned with it. Anything else is
/// [`WeightsError::NoStateDict`].
pub(crate) fn state_dict_refs(p: &Pickle, file_len: usize) -> Result<Refs, WeightsError> {
    let Some(Object::Dict(root)) = p.object(&p.root) else {
        return Err(WeightsError::no_state_dict(format!("the checkpoint holds {}, not a dict", describe(p, &p.root))));
    };
    if is_tensor_dict(p, root) {
        return Ok((tensor_refs(p, root, file_len)?, None));
    }
    // Each distinct inner dict is looked at once, however many keys refer to it (a memoised dict repeated under
    // many keys must not make this quadratic).
    let mut checked: HashMap<usize, bool> = HashMap::new();
    let mut found: Vec<(&Rc<str>, usize)> = Vec::new();
    for (key, value) in root {
        if let (Value::Str(key), Value::Obj(i)) = (key, value) {
            if let Some(Object::Dict(inner)) = p.objects.get(*i) {
                if *checked.entry(*i).or_insert_with(|| !inner.is_empty() && is_tensor_dict(p, inner)) {
                    found.push((key, *i));
                }
            }
        }
    }
    match found.as_slice() {
        [(key, i)] => {
            let Some(Object::Dict(inner)) = p.objects.get(*i) else { unreachable!("checked above") };
            Ok((tensor_refs(p, inner, file_len)?, Some(key.to_string())))
        }
        [] => Err(WeightsError::no_state_dict(format!(
            "neither the top-level dict nor any of its values is a dict of tensors (top-level keys: {})",
            some_keys(root.iter().map(|(k, _)| key_repr(k)), root.len())
        ))),
        _ => Err(WeightsError::no_state_dict(format!(
            "more than one top-level value is a dict of tensors ({}); save the one you mean",
            some_keys(found.iter().map(|(k, _)| format!("{k:?}")), found.len())
        ))),
    }
}

/// Whether every key of `items` is a string and every value a tensor.
fn is_tensor_dict(p: &Pickle, items: &[(Value, Value)]) -> bool {
    items.iter().all(|(k, v)| matches!((k, p.object(v)), (Value::Str(_), Some(Object::Tensor(_)))))
}

/// The entries of a dict of tensors (see [`is_tensor_dict`]). The names together may not be longer than the file:
/// a state dict names each tensor once, and a hostile pickle must not multiply one long memoised name.
fn tensor_refs(
    p: &Pickle,
    items: &[(Value, Value)],
    file_len: usize,
) -> Result<Vec<(String, TensorRef)>, WeightsError> {
    let names: usize = items.iter().map(|(k, _)| if let Value::Str(k) = k { k.len() } else { 0 }).sum();
    if names > file_len {
        return Err(WeightsError::no_state_dict(format!(
            "the {} tensor names take {names} bytes, more than the file's {file_len}: names are repeated",
            items.len()
        )));
    }
    Ok(items
        .iter()
        .filter_map(|(k, v)| match (k, p.object(v)) {
            (Value::Str(k), Some(Object::Tensor(t))) => Some((k.to_string(), t.clone())),
            _ => None,
        })
        .collect())
}

/// Up to 10 of `total` keys for an error message, each cut to 40 characters.
fn some_keys(keys: impl Iterator<Item = String>, total: usize) -> String {
    let shown: Vec<String> = keys
        .take(10)
        .map(|k| if k.chars().count() > 40 { format!("{}…", k.chars().take(40).collect::<String>()) } else { k })
        .collect();
    if total > shown.len() {
        format!("{}, … ({total} in all)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn key_repr(k: &Value) -> String {
    match k {
        Value::Str(s) => format!("{:?}", s.chars().take(41).collect::<String>()),
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

/// How many bytes of tensors a checkpoint of `file_len` bytes may materialise. Views are copied out of their
/// storages, so expanded (stride 0) or overlapping views can need more than the file holds — tied weights saved
/// under two names, a broadcast buffer — but a corrupt or hostile file must not make the reader allocate without
/// bound: twice what the file holds, plus 16 MiB for small expanded buffers. (A 572-byte file whose one tensor is
/// a stride-0 view of a single element used to be allowed 1 GiB, and its float conversion four times that.)
pub(crate) fn materialize_limit(file_len: usize) -> u64 {
    (file_len as u64).saturating_mul(2).saturating_add(16 << 20)
}

/// Gathers each tensor out of its storage (`storages` maps record keys to their raw bytes).
pub(crate) fn materialize(
    refs: Vec<(String, TensorRef)>,
    storages: &HashMap<Rc<str>, Cow<'_, [u8]>>,
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
