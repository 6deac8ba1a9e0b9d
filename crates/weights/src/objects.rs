//! What a `torch.save` pickle becomes: the values on the pickle VM's stack, the objects of its arena, and the torch
//! objects among them (allow-listed globals, storages, tensors). [`crate::pickle`] runs the opcodes and asks a
//! [`crate::pickle::Resolver`] what globals, `REDUCE` calls and persistent ids mean; [`crate::rebuild`] answers
//! for torch. Both depend on this module, neither on the other's internals.

use crate::DType;
use std::rc::Rc;

/// A value on the pickle stack. Containers and torch objects are [`Value::Obj`] indices into [`Pickle::objects`].
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in i64: little-endian two's-complement bytes, as `LONG1`/`LONG4` store them.
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Obj(usize),
}

/// An object in the arena.
#[derive(Debug)]
pub(crate) enum Object {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// A dict or `OrderedDict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    Global(Global),
    Storage(StorageRef),
    Tensor(TensorRef),
}

/// The result of unpickling: the arena and the root value.
#[derive(Debug)]
pub(crate) struct Pickle {
    pub objects: Vec<Object>,
    pub root: Value,
}

impl Pickle {
    /// The object `value` refers to, if it is one.
    pub fn object(&self, value: &Value) -> Option<&Object> {
        match value {
            Value::Obj(i) => self.objects.get(*i),
            _ => None,
        }
    }

    /// Adds an object to the arena and returns a value referring to it.
    pub fn alloc(&mut self, object: Object) -> Value {
        self.objects.push(object);
        Value::Obj(self.objects.len() - 1)
    }
}

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

/// Why a resolver refused a call or a persistent id; the VM reports it as [`crate::WeightsError::Pickle`] at the
/// offset of the opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

impl From<String> for Malformed {
    fn from(reason: String) -> Self {
        Malformed(reason)
    }
}

impl From<&str> for Malformed {
    fn from(reason: &str) -> Self {
        Malformed(reason.to_owned())
    }
}
