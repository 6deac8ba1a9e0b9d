//! What the Python globals in a `torch.save` pickle mean, without running them: the allow-list of globals, the
//! `REDUCE` calls torch emits (`torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
//! requires_grad, backward_hooks[, metadata])`, `_rebuild_parameter`, `collections.OrderedDict()`), and the
//! persistent ids that name storages: `('storage', storage_type, key, location, numel)` in the zip format, plus a
//! trailing `view_metadata` in the legacy format. Sources: `torch/_utils.py` and `persistent_load` in
//! `torch/serialization.py` (<https://github.com/pytorch/pytorch/blob/main/torch/serialization.py>).

use crate::pickle::{Object, Pickle, Value};
use crate::{DType, WeightsError};
use std::rc::Rc;

/// A Python global the reader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Global {
    /// `collections.OrderedDict`: called with no arguments, it makes an empty dict.
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2` (and the pre-1.0 `_rebuild_tensor`): a strided view of a storage.
    RebuildTensor,
    /// `torch._utils._rebuild_parameter[_with_state]`: an `nn.Parameter` around a tensor, which is kept as is.
    RebuildParameter,
    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`: a tensor subclass; `func(*args)` is kept.
    RebuildFromType,
    /// `torch.Tensor` or `torch.nn.parameter.Parameter`, as the type argument of `_rebuild_from_type_v2`.
    TensorType,
    /// A storage type (`torch.FloatStorage`, `torch.UntypedStorage` = bytes) or a dtype (`torch.float32`).
    Storage(DType),
    /// `_codecs.encode(text, 'latin1')`: how protocol 2 pickles a `bytes` object.
    CodecsEncode,
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

/// A storage named by a persistent id: a whole zip entry / legacy record, or (legacy only) a view into one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StorageRef {
    /// The record key: zip entry `data/<key>`, or the legacy root key. Shared, not copied, by every tensor
    /// (and every repeated persistent id) that names it.
    pub key: Rc<str>,
    pub dtype: DType,
    /// Elements in the whole record, as declared.
    pub numel: u64,
    /// Legacy `view_metadata`: (first element, element count) of a view into the record.
    pub view: Option<(u64, u64)>,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view (in elements) of a storage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorRef {
    pub storage: StorageRef,
    pub offset: u64,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// What a `REDUCE` made: an existing value (a parameter is its tensor) or a new arena object.
pub(crate) enum Reduced {
    Value(Value),
    Object(Object),
}

/// Applies an allow-listed callable to `args` (`REDUCE` or `NEWOBJ`), reading them in place.
pub(crate) fn reduce(p: &Pickle, global: Global, args: &[Value]) -> Result<Reduced, String> {
    match global {
        Global::OrderedDict if args.is_empty() => Ok(Reduced::Object(Object::Dict(Vec::new()))),
        Global::OrderedDict => Err("OrderedDict called with arguments".to_owned()),
        Global::RebuildTensor => Ok(Reduced::Object(Object::Tensor(rebuild_tensor(p, args)?))),
        Global::RebuildParameter => match args.first() {
            Some(v) if matches!(p.object(v), Some(Object::Tensor(_))) => Ok(Reduced::Value(v.clone())),
            _ => Err("_rebuild_parameter: the first argument is not a tensor".to_owned()),
        },
        Global::RebuildFromType => {
            let [func, ty, inner, ..] = args else {
                return Err("_rebuild_from_type_v2 needs (func, type, args, state)".to_owned());
            };
            let (Some(Object::Global(Global::RebuildTensor)), Some(Object::Global(Global::TensorType))) =
                (p.object(func), p.object(ty))
            else {
                return Err("_rebuild_from_type_v2 of something other than a plain tensor".to_owned());
            };
            let Some(Object::Tuple(inner)) = p.object(inner) else {
                return Err("_rebuild_from_type_v2: args is not a tuple".to_owned());
            };
            Ok(Reduced::Object(Object::Tensor(rebuild_tensor(p, inner)?)))
        }
        Global::CodecsEncode => match args {
            [Value::Str(text), Value::Str(encoding)] if encoding.as_ref() == "latin1" => text
                .chars()
                .map(|c| u8::try_from(c).map_err(|_| format!("{c:?} is not latin-1")))
                .collect::<Result<Vec<u8>, _>>()
                .map(|b| Reduced::Value(Value::Bytes(b.into()))),
            _ => Err("_codecs.encode needs (str, 'latin1')".to_owned()),
        },
        Global::TensorType | Global::Storage(_) => Err(format!("{global:?} cannot be called in a state dict")),
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`; trailing arguments are ignored.
fn rebuild_tensor(p: &Pickle, args: &[Value]) -> Result<TensorRef, String> {
    let [storage, offset, size, stride, ..] = args else {
        return Err(format!("_rebuild_tensor_v2 needs at least 4 arguments, got {}", args.len()));
    };
    let Some(Object::Storage(storage)) = p.object(storage) else {
        return Err("_rebuild_tensor_v2: the first argument is not a storage".to_owned());
    };
    let shape = usize_tuple(p, size, "size")?;
    let stride = usize_tuple(p, stride, "stride")?;
    if shape.len() != stride.len() {
        return Err(format!("size {shape:?} and stride {stride:?} differ in length"));
    }
    Ok(TensorRef { storage: storage.clone(), offset: non_negative(offset, "storage_offset")?, shape, stride })
}

/// The most dimensions a tensor may have here. No real checkpoint comes near it; the bound keeps every
/// `_rebuild_tensor_v2` call cheap, so that a pickle repeating it over a huge size tuple stays linear.
const MAX_DIMS: usize = 64;

/// A persistent id `('storage', storage_type, key, location, numel[, view_metadata])`.
pub(crate) fn persistent_load(p: &Pickle, pid: &Value) -> Result<StorageRef, String> {
    let Some(Object::Tuple(items)) = p.object(pid) else {
        return Err("persistent id is not a tuple".to_owned());
    };
    let typename = match items.first() {
        Some(Value::Str(s)) => s.as_bytes(),
        Some(Value::Bytes(b)) => b,
        _ => return Err("persistent id has no type name".to_owned()),
    };
    if typename != b"storage" {
        return Err(format!(
            "persistent id of type {:?}: the file pickles more than tensors (torch.save(model)?)",
            String::from_utf8_lossy(typename)
        ));
    }
    let [_, storage_type, key, _location, numel, rest @ ..] = items.as_slice() else {
        return Err(format!("storage persistent id has {} items, expected 5 or 6", items.len()));
    };
    let Some(Object::Global(Global::Storage(dtype))) = p.object(storage_type) else {
        return Err("storage persistent id: the storage type is not a torch storage class".to_owned());
    };
    let view = match rest.first() {
        None | Some(Value::None) => None,
        Some(v) => match p.object(v) {
            Some(Object::Tuple(t)) if t.len() == 3 => {
                Some((non_negative(&t[1], "view offset")?, non_negative(&t[2], "view size")?))
            }
            _ => return Err("storage view metadata is not (key, offset, size)".to_owned()),
        },
    };
    Ok(StorageRef { key: key_string(key)?, dtype: *dtype, numel: non_negative(numel, "storage numel")?, view })
}

/// A storage key: a string (zip: `"0"`, legacy: a decimal address), tolerated as an int.
pub(crate) fn key_string(v: &Value) -> Result<Rc<str>, String> {
    match v {
        Value::Str(s) => Ok(Rc::clone(s)),
        Value::Bytes(b) => Ok(String::from_utf8_lossy(b).into()),
        Value::Int(i) => Ok(i.to_string().into()),
        _ => Err("storage key is not a string".to_owned()),
    }
}

fn non_negative(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Int(i) => u64::try_from(*i).map_err(|_| format!("{what} is negative ({i})")),
        Value::Bool(b) => Ok(u64::from(*b)),
        _ => Err(format!("{what} is not an integer")),
    }
}

fn usize_tuple(p: &Pickle, v: &Value, what: &str) -> Result<Vec<usize>, String> {
    let Some(Object::Tuple(items)) = p.object(v) else {
        return Err(format!("{what} is not a tuple"));
    };
    if items.len() > MAX_DIMS {
        return Err(format!("{what} has {} dimensions, more than {MAX_DIMS}", items.len()));
    }
    items
        .iter()
        .map(|i| non_negative(i, what).and_then(|n| usize::try_from(n).map_err(|_| format!("{what} too large"))))
        .collect()
}
