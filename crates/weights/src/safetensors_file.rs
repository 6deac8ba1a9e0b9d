//! safetensors files (<https://github.com/huggingface/safetensors#format>): an 8-byte little-endian header length,
//! a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the tensors' bytes, contiguous
//! and little-endian. Parsing and validation are the `safetensors` crate's; this file keeps the tensors in file
//! (data offset) order and the dtypes as stored.

use crate::{DType, TensorData, WeightsError};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;

/// The tensors of a safetensors file in data order, and its `__metadata__` strings.
pub(crate) type Loaded = (Vec<(String, TensorData)>, BTreeMap<String, String>);

/// Whether `bytes` start with a plausible safetensors header: a length that fits, followed by `{`.
pub(crate) fn is_safetensors(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let mut n = [0u8; 8];
    n.copy_from_slice(head);
    let n = u64::from_le_bytes(n);
    n >= 2 && n <= bytes.len() as u64 - 8 && bytes.get(8) == Some(&b'{')
}

/// Reads every tensor of a safetensors file.
pub(crate) fn read(bytes: &[u8]) -> Result<Loaded, WeightsError> {
    let (header_len, meta) = SafeTensors::read_metadata(bytes)?;
    let data = &bytes[8 + header_len..];
    let metadata =
        meta.metadata().as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    let tensors = meta
        .offset_keys()
        .into_iter()
        .map(|name| {
            let info = meta
                .info(&name)
                .ok_or_else(|| WeightsError::Missing { what: format!("safetensors header entry for {name}") })?;
            let dtype = dtype(info.dtype)
                .ok_or_else(|| WeightsError::tensor(&name, format!("dtype {:?} is not supported", info.dtype)))?;
            let (start, end) = info.data_offsets;
            let bytes = data.get(start..end).ok_or_else(|| {
                WeightsError::tensor(&name, format!("data offsets {start}..{end} lie outside the file"))
            })?;
            let tensor = TensorData::from_bytes(dtype, info.shape.clone(), bytes.to_vec())
                .map_err(|e| WeightsError::tensor(&name, e.to_string()))?;
            Ok((name, tensor))
        })
        .collect::<Result<_, WeightsError>>()?;
    Ok((tensors, metadata))
}

/// Our dtype for a safetensors dtype; `None` for the ones torchvision checkpoints never use (u16–u64, fp8, fp4).
fn dtype(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::I8 => DType::I8,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file with `header` (JSON) padded to 8 bytes, followed by `data`.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.as_bytes().to_vec();
        h.resize(h.len().div_ceil(8) * 8, b' ');
        [&(h.len() as u64).to_le_bytes()[..], &h, data].concat()
    }

    #[test]
    fn tensors_come_in_data_order_with_dtypes_kept() {
        let header = r#"{"z":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},
            "a":{"dtype":"I8","shape":[2],"data_offsets":[2,4]},"__metadata__":{"k":"v"}}"#;
        let bytes = file(header, &[0x80, 0x3f, 0xff, 0x01]);
        assert!(is_safetensors(&bytes));
        let (tensors, metadata) = read(&bytes).unwrap();
        let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["z", "a"]);
        assert_eq!((tensors[0].1.dtype, tensors[0].1.to_f32()), (DType::BF16, vec![1.0]));
        assert_eq!(tensors[1].1.to_i64(), Some(vec![-1, 1]));
        assert_eq!(metadata.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn unsupported_dtypes_and_bad_offsets_are_named() {
        let u16s = file(r#"{"w":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}}"#, &[0, 0]);
        let err = read(&u16s).unwrap_err().to_string();
        assert!(err.contains("tensor w") && err.contains("U16"), "{err}");
        let short = file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, &[0; 4]);
        assert!(read(&short).is_err());
        assert!(!is_safetensors(b"\xff\xff\xff\xff\xff\xff\xff\xff{"));
        assert!(!is_safetensors(b"\x02\x00\x00\x00"));
    }
}
