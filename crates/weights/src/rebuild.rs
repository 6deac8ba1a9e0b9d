//! What the Python globals in a `torch.save` pickle mean, without running them: the allow-list of globals, the
//! `REDUCE` calls torch emits (`torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
//! requires_grad, backward_hooks[, metadata])`, `_rebuild_parameter`, `collections.OrderedDict()`), and the
//! persistent ids that name storages: `('storage', storage_type, key, location, numel)` in the zip format, plus a
//! trailing `view_metadata` in the legacy format. Sources: `torch/_utils.py` and `persistent_load` in
//! `torch/serialization.py` (<https://github.com/pytorch/pytorch/blob/main/torch/serialization.py>).

use crate::objects::{Global, Malformed, Object, Pickle, Reduced, StorageRef, TensorRef, Value};
use crate::pickle::Resolver;
use crate::{DType, WeightsError};
use std::rc::Rc;

/// torch's meaning of what a `torch.save` pickle calls: the [`Resolver`] [`crate::torch_save`] runs the VM with.
pub(crate) struct Torch;

impl Resolver for Torch {
    fn global(&self, module: &str, name: &str) -> Result<Global, WeightsError> {
        global(module, name)
    }

    fn reduce(&self, p: &Pickle, global: Global, args: &[Value]) -> Result<Reduced, Malformed> {
        reduce(p, global, args)
    }

    fn persistent_load(&self, p: &Pickle, pid: &Value) -> Result<StorageRef, Malformed> {
        persistent_load(p, pid)
    }
}

/// Resolves `module.name` against the allow-list; anything else is [`WeightsError::UnknownGlobal`].
pub(crate) fn global(module: &str, name: &str) -> Result<Global, WeightsError> {
    let global = match (module, name) {
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Some(Global::RebuildTensor),
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => Some(Global::RebuildParameter),
        ("torch._tensor", "_rebuild_from_type_v2") => Some(Global::RebuildFromType),
        ("torch" | "torch._tensor", "Tensor") | ("torch.nn.parameter", "Parameter") => Some(Global::TensorType),
        ("_codecs", "encode") => Some(Global::CodecsEncode),
        ("torch" | "torch.storage" | "torch.cuda", _) => storage_dtype(name).map(Global::Storage),
        _ => None,
    };
    global.ok_or_else(|| WeightsError::UnknownGlobal { module: module.to_owned(), name: name.to_owned() })
}

/// The element type of a storage class or dtype named `name` in the `torch` module.
fn storage_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" | "float32" | "float" => DType::F32,
        "HalfStorage" | "float16" | "half" => DType::F16,
        "BFloat16Storage" | "bfloat16" => DType::BF16,
        "DoubleStorage" | "float64" | "double" => DType::F64,
        "LongStorage" | "int64" | "long" => DType::I64,
        "IntStorage" | "int32" | "int" => DType::I32,
        "ShortStorage" | "int16" | "short" => DType::I16,
        "CharStorage" | "int8" => DType::I8,
        "ByteStorage" | "uint8" | "UntypedStorage" => DType::U8,
        "BoolStorage" | "bool" => DType::Bool,
        _ => return None,
    })
}

/// Applies an allow-listed callable to `args` (`REDUCE` or `NEWOBJ`), reading them in place.
pub(crate) fn reduce(p: &Pickle, global: Global, args: &[Value]) -> Result<Reduced, Malformed> {
    match global {
        Global::OrderedDict if args.is_empty() => Ok(Reduced::Object(Object::Dict(Vec::new()))),
        Global::OrderedDict => Err("OrderedDict called with arguments".into()),
        Global::RebuildTensor => Ok(Reduced::Object(Object::Tensor(rebuild_tensor(p, args)?))),
        Global::RebuildParameter => match args.first() {
            Some(v) if matches!(p.object(v), Some(Object::Tensor(_))) => Ok(Reduced::Value(v.clone())),
            _ => Err("_rebuild_parameter: the first argument is not a tensor".into()),
        },
        Global::RebuildFromType => {
            let [func, ty, inner, ..] = args else {
                return Err("_rebuild_from_type_v2 needs (func, type, args, state)".into());
            };
            let (Some(Object::Global(Global::RebuildTensor)), Some(Object::Global(Global::TensorType))) =
                (p.object(func), p.object(ty))
            else {
                return Err("_rebuild_from_type_v2 of something other than a plain tensor".into());
            };
            let Some(Object::Tuple(inner)) = p.object(inner) else {
                return Err("_rebuild_from_type_v2: args is not a tuple".into());
            };
            Ok(Reduced::Object(Object::Tensor(rebuild_tensor(p, inner)?)))
        }
        Global::CodecsEncode => match args {
            [Value::Str(text), Value::Str(encoding)] if encoding.as_ref() == "latin1" => text
                .chars()
                .map(|c| u8::try_from(c).map_err(|_| Malformed(format!("{c:?} is not latin-1"))))
                .collect::<Result<Vec<u8>, _>>()
                .map(|b| Reduced::Value(Value::Bytes(b.into()))),
            _ => Err("_codecs.encode needs (str, 'latin1')".into()),
        },
        Global::TensorType | Global::Storage(_) => Err(format!("{global:?} cannot be called in a state dict").into()),
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`; trailing arguments are ignored.
fn rebuild_tensor(p: &Pickle, args: &[Value]) -> Result<TensorRef, Malformed> {
    let [storage, offset, size, stride, ..] = args else {
        return Err(format!("_rebuild_tensor_v2 needs at least 4 arguments, got {}", args.len()).into());
    };
    let Some(Object::Storage(storage)) = p.object(storage) else {
        return Err("_rebuild_tensor_v2: the first argument is not a storage".into());
    };
    let shape = usize_tuple(p, size, "size")?;
    let stride = usize_tuple(p, stride, "stride")?;
    if shape.len() != stride.len() {
        return Err(format!("size {shape:?} and stride {stride:?} differ in length").into());
    }
    Ok(TensorRef { storage: storage.clone(), offset: non_negative(offset, "storage_offset")?, shape, stride })
}

/// The most dimensions a tensor may have here. No real checkpoint comes near it; the bound keeps every
/// `_rebuild_tensor_v2` call cheap, so that a pickle repeating it over a huge size tuple stays linear.
const MAX_DIMS: usize = 64;

/// A persistent id `('storage', storage_type, key, location, numel[, view_metadata])`.
pub(crate) fn persistent_load(p: &Pickle, pid: &Value) -> Result<StorageRef, Malformed> {
    let Some(Object::Tuple(items)) = p.object(pid) else {
        return Err("persistent id is not a tuple".into());
    };
    let typename = match items.first() {
        Some(Value::Str(s)) => s.as_bytes(),
        Some(Value::Bytes(b)) => b,
        _ => return Err("persistent id has no type name".into()),
    };
    if typename != b"storage" {
        return Err(format!(
            "persistent id of type {:?}: the file pickles more than tensors (torch.save(model)?)",
            String::from_utf8_lossy(typename)
        )
        .into());
    }
    let [_, storage_type, key, _location, numel, rest @ ..] = items.as_slice() else {
        return Err(format!("storage persistent id has {} items, expected 5 or 6", items.len()).into());
    };
    let Some(Object::Global(Global::Storage(dtype))) = p.object(storage_type) else {
        return Err("storage persistent id: the storage type is not a torch storage class".into());
    };
    let view = match rest.first() {
        None | Some(Value::None) => None,
        Some(v) => match p.object(v) {
            Some(Object::Tuple(t)) if t.len() == 3 => {
                Some((non_negative(&t[1], "view offset")?, non_negative(&t[2], "view size")?))
            }
            _ => return Err("storage view metadata is not (key, offset, size)".into()),
        },
    };
    Ok(StorageRef { key: key_string(key)?, dtype: *dtype, numel: non_negative(numel, "storage numel")?, view })
}

/// A storage key: a string (zip: `"0"`, legacy: a decimal address), tolerated as an int.
pub(crate) fn key_string(v: &Value) -> Result<Rc<str>, Malformed> {
    match v {
        Value::Str(s) => Ok(Rc::clone(s)),
        Value::Bytes(b) => Ok(String::from_utf8_lossy(b).into()),
        Value::Int(i) => Ok(i.to_string().into()),
        _ => Err("storage key is not a string".into()),
    }
}

fn non_negative(v: &Value, what: &str) -> Result<u64, Malformed> {
    match v {
        Value::Int(i) => u64::try_from(*i).map_err(|_| Malformed(format!("{what} is negative ({i})"))),
        Value::Bool(b) => Ok(u64::from(*b)),
        _ => Err(format!("{what} is not an integer").into()),
    }
}

fn usize_tuple(p: &Pickle, v: &Value, what: &str) -> Result<Vec<usize>, Malformed> {
    let Some(Object::Tuple(items)) = p.object(v) else {
        return Err(format!("{what} is not a tuple").into());
    };
    if items.len() > MAX_DIMS {
        return Err(format!("{what} has {} dimensions, more than {MAX_DIMS}", items.len()).into());
    }
    items
        .iter()
        .map(|i| {
            non_negative(i, what).and_then(|n| usize::try_from(n).map_err(|_| Malformed(format!("{what} too large"))))
        })
        .collect()
}
