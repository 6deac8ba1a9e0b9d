//! A small pickle virtual machine: enough of protocols 2–5 to read what `torch.save` writes for state dicts and
//! nested dicts. Opcodes as documented in CPython's `Lib/pickletools.py`
//! (<https://github.com/python/cpython/blob/main/Lib/pickletools.py>); the torch-specific meaning of globals,
//! `REDUCE` and persistent ids is a [`Resolver`]'s ([`crate::rebuild::Torch`]), so this module never imports it.
//!
//! Nothing is ever executed: globals resolve against a fixed allow-list, and `REDUCE` only knows those. Objects live
//! in a flat arena and values refer to them by index, so memoised containers that are filled after `BINPUT` stay
//! shared (as in Python), and no deeply nested input can overflow the stack when dropped.

use crate::objects::{Global, Malformed, Object, Pickle, Reduced, StorageRef, Value};
use crate::WeightsError;
use std::collections::HashMap;

/// What the VM asks about the torch-specific opcodes. The VM knows the pickle format; what a global, a `REDUCE`
/// call or a persistent id means is the resolver's (torch's: [`crate::rebuild::Torch`]).
pub(crate) trait Resolver {
    /// `GLOBAL` / `STACK_GLOBAL`: `module.name`, or an error for anything not allow-listed.
    fn global(&self, module: &str, name: &str) -> Result<Global, WeightsError>;
    /// `REDUCE` / `NEWOBJ`: `global(*args)`, the arguments read in place in the arena `p`.
    fn reduce(&self, p: &Pickle, global: Global, args: &[Value]) -> Result<Reduced, Malformed>;
    /// `BINPERSID`: the storage a persistent id names.
    fn persistent_load(&self, p: &Pickle, pid: &Value) -> Result<StorageRef, Malformed>;
}

/// Runs the pickle that starts at `data[start]` up to its `STOP`; returns it and the offset just after `STOP`.
pub(crate) fn load(data: &[u8], start: usize, resolver: &dyn Resolver) -> Result<(Pickle, usize), WeightsError> {
    let mut vm = Vm {
        resolver,
        data,
        pos: start,
        at: start,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        arena: Pickle { objects: Vec::new(), root: Value::None },
    };
    loop {
        vm.at = vm.pos;
        match vm.take(1)?[0] {
            b'.' => {
                vm.arena.root = vm.pop()?;
                return Ok((vm.arena, vm.pos));
            }
            op => vm.step(op)?,
        }
    }
}

struct Vm<'a> {
    resolver: &'a dyn Resolver,
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run, for error messages.
    at: usize,
    stack: Vec<Value>,
    /// Stack lengths at each `MARK` (CPython's metastack).
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    arena: Pickle,
}

impl<'a> Vm<'a> {
    fn step(&mut self, op: u8) -> Result<(), WeightsError> {
        match op {
            0x80 => {
                let proto = self.take(1)?[0];
                if proto > 5 {
                    return Err(self.fail(format!("pickle protocol {proto} is newer than 5")));
                }
            }
            0x95 => {
                self.uint(8)?; // FRAME: a size hint only
            }
            b'(' => self.marks.push(self.stack.len()),
            b'0' if self.marks.last() == Some(&self.stack.len()) => {
                self.marks.pop();
            }
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.top()?.clone();
                self.stack.push(top);
            }
            b'}' => self.push_obj(Object::Dict(Vec::new())),
            b']' => self.push_obj(Object::List(Vec::new())),
            b')' => self.push_obj(Object::Tuple(Vec::new())),
            b't' | b'l' | b'd' => {
                let items = self.pop_mark()?;
                let object = match op {
                    b't' => Object::Tuple(items),
                    b'l' => Object::List(items),
                    _ => Object::Dict(pairs(items).map_err(|r| self.fail(r))?),
                };
                self.push_obj(object);
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let split = self.stack.len().checked_sub(n).ok_or_else(|| self.fail("stack underflow"))?;
                let items = self.stack.split_off(split);
                self.push_obj(Object::Tuple(items));
            }
            b'a' | b'e' => {
                let items = if op == b'a' { vec![self.pop()?] } else { self.pop_mark()? };
                match self.top_object()? {
                    Object::List(list) => list.extend(items),
                    _ => return Err(self.fail("APPEND to something that is not a list")),
                }
            }
            b's' | b'u' => {
                let items = if op == b's' { self.split_top(2)? } else { self.pop_mark()? };
                let items = pairs(items).map_err(|r| self.fail(r))?;
                match self.top_object()? {
                    Object::Dict(dict) => dict.extend(items),
                    _ => return Err(self.fail("SETITEM on something that is not a dict")),
                }
            }
            b'J' => {
                let v = i32::from_le_bytes(self.array()?);
                self.stack.push(Value::Int(i64::from(v)));
            }
            b'K' | b'M' => {
                let v = self.uint(if op == b'K' { 1 } else { 2 })?;
                self.stack.push(Value::Int(v as i64));
            }
            0x8a | 0x8b => {
                let bytes = self.sized(if op == 0x8a { 1 } else { 4 })?;
                self.stack.push(long(bytes));
            }
            b'G' => {
                let v = f64::from_be_bytes(self.array()?);
                self.stack.push(Value::Float(v));
            }
            b'N' => self.stack.push(Value::None),
            0x88 | 0x89 => self.stack.push(Value::Bool(op == 0x88)),
            b'X' | 0x8c | 0x8d => {
                let bytes = self.sized(width(op))?;
                let text = std::str::from_utf8(bytes).map_err(|e| self.fail(format!("string is not UTF-8: {e}")))?;
                self.stack.push(Value::Str(text.into()));
            }
            b'T' | b'U' => {
                // Python 2 `str`: decoded as UTF-8 like torch.load's default, else as latin-1.
                let bytes = self.sized(width(op))?;
                let text = std::str::from_utf8(bytes)
                    .map_or_else(|_| bytes.iter().map(|&b| char::from(b)).collect(), str::to_owned);
                self.stack.push(Value::Str(text.into()));
            }
            b'B' | b'C' | 0x8e => {
                let bytes = self.sized(width(op))?;
                self.stack.push(Value::Bytes(bytes.into()));
            }
            b'h' | b'j' => {
                let key = self.uint(width(op))? as u32;
                let v = self.memo.get(&key).cloned();
                let v = v.ok_or_else(|| self.fail(format!("memo key {key} was never stored")))?;
                self.stack.push(v);
            }
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    0x94 => u32::try_from(self.memo.len()).map_err(|_| self.fail("memo is full"))?,
                    _ => self.uint(width(op))? as u32,
                };
                let v = self.top()?.clone();
                self.memo.insert(key, v);
            }
            b'c' | 0x93 => {
                let (module, name) = if op == b'c' {
                    (self.line()?.into(), self.line()?.into())
                } else {
                    match (self.pop()?, self.pop()?) {
                        (Value::Str(name), Value::Str(module)) => (module, name),
                        _ => return Err(self.fail("STACK_GLOBAL needs two strings")),
                    }
                };
                let global = self.resolver.global(&module, &name)?;
                self.push_obj(Object::Global(global));
            }
            b'R' | 0x81 => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let (Some(Object::Global(global)), Some(Object::Tuple(items))) =
                    (self.arena.object(&callable), self.arena.object(&args))
                else {
                    return Err(self.fail("REDUCE/NEWOBJ needs a global and a tuple of arguments"));
                };
                // The arguments are read in place, never copied: a pickle that applies REDUCE to the
                // same large memoised tuple over and over costs the same as reading it once.
                let made = self.resolver.reduce(&self.arena, *global, items).map_err(|r| self.fail(r.0))?;
                let v = match made {
                    Reduced::Value(v) => v,
                    Reduced::Object(o) => self.arena.alloc(o),
                };
                self.stack.push(v);
            }
            b'b' => {
                // BUILD sets attributes (an OrderedDict's `_metadata`, a Parameter's state): not needed, dropped.
                self.pop()?;
                self.top()?;
            }
            b'Q' => {
                let pid = self.pop()?;
                let storage = self.resolver.persistent_load(&self.arena, &pid).map_err(|r| self.fail(r.0))?;
                self.push_obj(Object::Storage(storage));
            }
            _ => return Err(WeightsError::UnsupportedOpcode { opcode: op, name: opcode_name(op), offset: self.at }),
        }
        Ok(())
    }

    fn fail(&self, reason: impl Into<String>) -> WeightsError {
        WeightsError::Pickle { offset: self.at, reason: reason.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WeightsError> {
        let data: &'a [u8] = self.data;
        let left = data.len().saturating_sub(self.pos);
        let bytes = data.get(self.pos..).and_then(|rest| rest.get(..n));
        let bytes = bytes.ok_or_else(|| self.fail(format!("truncated: needs {n} more bytes, {left} left")))?;
        self.pos += n;
        Ok(bytes)
    }

    /// A length of `width` bytes, then that many bytes; an absurd length is an error, never an allocation.
    fn sized(&mut self, width: usize) -> Result<&'a [u8], WeightsError> {
        let n = self.uint(width)?;
        self.take(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WeightsError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// An unsigned little-endian integer of `width` bytes.
    fn uint(&mut self, width: usize) -> Result<u64, WeightsError> {
        let bytes = self.take(width)?;
        Ok(bytes.iter().rev().fold(0, |n, &b| (n << 8) | u64::from(b)))
    }

    /// A newline-terminated line (the operands of `GLOBAL`).
    fn line(&mut self) -> Result<&'a str, WeightsError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.fail("GLOBAL line has no newline"))?;
        let line = self.take(n + 1)?;
        std::str::from_utf8(&line[..n]).map_err(|_| self.fail("GLOBAL line is not UTF-8"))
    }

    fn pop(&mut self) -> Result<Value, WeightsError> {
        Ok(self.split_top(1)?.remove(0))
    }

    /// The top `n` values, oldest first; never reaching below the innermost `MARK`.
    fn split_top(&mut self, n: usize) -> Result<Vec<Value>, WeightsError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.len().checked_sub(n) {
            Some(split) if split >= floor => Ok(self.stack.split_off(split)),
            _ => Err(self.fail("stack underflow")),
        }
    }

    fn top(&self) -> Result<&Value, WeightsError> {
        self.stack.last().ok_or_else(|| self.fail("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, WeightsError> {
        let mark = self.marks.pop().ok_or_else(|| self.fail("no MARK on the stack"))?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn push_obj(&mut self, object: Object) {
        let v = self.arena.alloc(object);
        self.stack.push(v);
    }

    fn top_object(&mut self) -> Result<&mut Object, WeightsError> {
        match self.stack.last() {
            Some(Value::Obj(i)) => Ok(&mut self.arena.objects[*i]),
            _ => Err(self.fail("expected a container on the stack")),
        }
    }
}

/// Bytes in the length operand of a sized opcode (`SHORT_*` 1, `BINGET` 1, `LONG_BINGET` 4, `*8` 8, ...).
fn width(op: u8) -> usize {
    match op {
        0x8c | b'C' | b'U' | b'h' | b'q' => 1,
        0x8d | 0x8e => 8,
        _ => 4,
    }
}

/// Pairs up `[k0, v0, k1, v1, ...]`.
fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    let n = items.len();
    let mut it = items.into_iter();
    let mut out = Vec::with_capacity(n / 2);
    while let Some(k) = it.next() {
        let v = it.next().ok_or_else(|| format!("odd number of items ({n}) for a dict"))?;
        out.push((k, v));
    }
    Ok(out)
}

/// A `LONG1`/`LONG4` integer: little-endian two's complement of any length.
fn long(bytes: &[u8]) -> Value {
    if bytes.len() > 8 {
        return Value::BigInt(bytes.into());
    }
    let fill = if bytes.last().is_some_and(|&b| b & 0x80 != 0) { 0xff } else { 0 };
    let mut a = [fill; 8];
    a[..bytes.len()].copy_from_slice(bytes);
    Value::Int(i64::from_le_bytes(a))
}

/// `pickletools` names of the opcodes this VM rejects, for error messages.
fn opcode_name(op: u8) -> &'static str {
    const NAMES: [(u8, &str); 14] = [
        (b'I', "INT"),
        (b'L', "LONG"),
        (b'F', "FLOAT"),
        (b'S', "STRING"),
        (b'V', "UNICODE"),
        (b'g', "GET"),
        (b'p', "PUT"),
        (b'P', "PERSID"),
        (b'i', "INST"),
        (b'o', "OBJ"),
        (0x8f, "EMPTY_SET"),
        (0x91, "FROZENSET"),
        (0x92, "NEWOBJ_EX"),
        (0x96, "BYTEARRAY8"),
    ];
    NAMES.iter().find(|(code, _)| *code == op).map_or("unknown", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_4_scalars_memo_and_frames() {
        // pickle.dumps([-2, 2**70, 1.5, b"x", "é", True, None, "é"], protocol=4), by hand.
        let mut p = vec![0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0, b']', 0x94, b'(', 0x8a, 1, 0xfe]; // FRAME, LONG1 -2
        p.extend([0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, b'G']); // LONG1 2**70, BINFLOAT
        p.extend(1.5f64.to_be_bytes().into_iter().chain(*b"C\x01x\x8c\x02\xc3\xa9\x94\x88Nh\x01e."));
        let (pickle, end) = load(&p, 0, &crate::rebuild::Torch).unwrap();
        assert_eq!(end, p.len());
        let Some(Object::List(items)) = pickle.object(&pickle.root) else { panic!("not a list") };
        let text: Vec<String> = items.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(text[..3], ["Int(-2)", "BigInt([0, 0, 0, 0, 0, 0, 0, 0, 64])", "Float(1.5)"]);
        assert_eq!(text[3..], ["Bytes([120])", "Str(\"é\")", "Bool(true)", "None", "Str(\"é\")"]);
    }

    #[test]
    fn malformed_pickles_are_errors_with_offsets() {
        for (bytes, offset) in [(&b"\x80\x02t."[..], 2), (b"\x80\x02h\x05.", 2), (b"\x80\x02N", 3), (b"\x80\x02Na.", 3)]
        {
            let result = load(bytes, 0, &crate::rebuild::Torch);
            assert!(matches!(result, Err(WeightsError::Pickle { offset: at, .. }) if at == offset), "{result:?}");
        }
    }
}
