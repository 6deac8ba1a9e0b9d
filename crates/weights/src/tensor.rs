//! Backend-free tensors: a dtype as stored in the checkpoint, a shape, and the values as contiguous little-endian
//! bytes in C order — the layout of both safetensors data and `torch.Tensor.contiguous()` storage. Strided views
//! from a `torch.save` storage are gathered into that layout here (PyTorch's `_rebuild_tensor_v2` /
//! `Tensor.as_strided`, <https://github.com/pytorch/pytorch/blob/main/torch/_utils.py>).

use crate::WeightsError;
use half::{bf16, f16};

/// An element type, as stored in the checkpoint (nothing is converted on reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE half precision (`torch.float16`).
    F16,
    /// bfloat16 (`torch.bfloat16`).
    BF16,
    /// `torch.float32`.
    F32,
    /// `torch.float64`.
    F64,
    /// `torch.int64`.
    I64,
    /// `torch.int32`.
    I32,
    /// `torch.int16`.
    I16,
    /// `torch.int8`.
    I8,
    /// `torch.uint8`.
    U8,
    /// `torch.bool`, one byte per element (0 or 1).
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// PyTorch's name without the `torch.` prefix (`float32`, `bfloat16`, `bool`, ...).
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::I64 => "int64",
            DType::I32 => "int32",
            DType::I16 => "int16",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::Bool => "bool",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.torch_name())
    }
}

/// One tensor: dtype, shape and values (contiguous, C order, little-endian bytes).
///
/// `dtype` and `shape` are public for reading; the bytes can only be set through [`TensorData::from_bytes`], which
/// checks that their length matches.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorData {
    /// Element type, as stored.
    pub dtype: DType,
    /// Dimensions, outermost first; empty for a 0-dim (scalar) tensor.
    pub shape: Vec<usize>,
    data: Vec<u8>,
}

impl TensorData {
    /// A tensor from contiguous little-endian `bytes` in C order; their length must be `numel × element size`.
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: Vec<u8>) -> Result<Self, WeightsError> {
        let expected = shape.iter().try_fold(dtype.size_in_bytes(), |n, &d| n.checked_mul(d));
        if expected != Some(bytes.len()) {
            return Err(WeightsError::tensor(
                "(new)",
                format!(
                    "shape {shape:?} of {dtype} needs {} bytes, got {}",
                    expected.map_or_else(|| "too many".to_owned(), |n| n.to_string()),
                    bytes.len()
                ),
            ));
        }
        Ok(TensorData { dtype, shape, data: bytes })
    }

    /// Number of elements (the product of `shape`; 1 for a scalar).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw contiguous little-endian bytes, `numel × dtype.size_in_bytes()` long.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Takes the raw bytes out (e.g. to hand them to a tensor library without copying).
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }

    /// The values as `f32` in C order: floats are rounded (f64) or widened (f16, bf16), integers converted with
    /// `as` (large i64 lose precision), bools become 0.0 / 1.0.
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            DType::F32 => d.chunks_exact(4).map(|c| f32::from_le_bytes(le(c))).collect(),
            DType::F16 => d.chunks_exact(2).map(|c| f16::from_le_bytes(le(c)).to_f32()).collect(),
            DType::BF16 => d.chunks_exact(2).map(|c| bf16::from_le_bytes(le(c)).to_f32()).collect(),
            DType::F64 => d.chunks_exact(8).map(|c| f64::from_le_bytes(le(c)) as f32).collect(),
            DType::I64 => d.chunks_exact(8).map(|c| i64::from_le_bytes(le(c)) as f32).collect(),
            DType::I32 => d.chunks_exact(4).map(|c| i32::from_le_bytes(le(c)) as f32).collect(),
            DType::I16 => d.chunks_exact(2).map(|c| f32::from(i16::from_le_bytes(le(c)))).collect(),
            DType::I8 => d.iter().map(|&b| f32::from(b as i8)).collect(),
            DType::U8 => d.iter().map(|&b| f32::from(b)).collect(),
            DType::Bool => d.iter().map(|&b| f32::from(u8::from(b != 0))).collect(),
        }
    }

    /// The values as `f64` in C order (exact for every dtype except i64 beyond 2^53).
    pub fn to_f64(&self) -> Vec<f64> {
        match self.dtype {
            DType::F64 => self.data.chunks_exact(8).map(|c| f64::from_le_bytes(le(c))).collect(),
            DType::I64 => self.data.chunks_exact(8).map(|c| i64::from_le_bytes(le(c)) as f64).collect(),
            DType::I32 => self.data.chunks_exact(4).map(|c| f64::from(i32::from_le_bytes(le(c)))).collect(),
            _ => self.to_f32().into_iter().map(f64::from).collect(),
        }
    }

    /// The values as `i64` in C order for integer and bool tensors; `None` for floating-point tensors.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        let d = &self.data;
        Some(match self.dtype {
            DType::I64 => d.chunks_exact(8).map(|c| i64::from_le_bytes(le(c))).collect(),
            DType::I32 => d.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes(le(c)))).collect(),
            DType::I16 => d.chunks_exact(2).map(|c| i64::from(i16::from_le_bytes(le(c)))).collect(),
            DType::I8 => d.iter().map(|&b| i64::from(b as i8)).collect(),
            DType::U8 => d.iter().map(|&b| i64::from(b)).collect(),
            DType::Bool => d.iter().map(|&b| i64::from(b != 0)).collect(),
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => return None,
        })
    }
}

/// A fixed-size array from a chunk produced by `chunks_exact(N)`.
fn le<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(chunk);
    a
}

/// Copies the strided view `(offset, shape, stride)` (in elements of `elem` bytes) of `src` into a contiguous C-order
/// buffer. The caller has checked that every addressed element lies inside `src`.
pub(crate) fn gather(src: &[u8], elem: usize, offset: usize, shape: &[usize], stride: &[usize]) -> Vec<u8> {
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return Vec::new();
    }
    if is_contiguous(shape, stride) {
        return src[offset * elem..(offset + numel) * elem].to_vec();
    }
    let mut out = Vec::with_capacity(numel * elem);
    let (inner, outer) = shape.split_last().unwrap_or((&1, &[]));
    let inner_stride = stride.last().copied().unwrap_or(1);
    let mut index = vec![0usize; outer.len()];
    loop {
        let start = offset + index.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
        if inner_stride == 1 {
            out.extend_from_slice(&src[start * elem..(start + inner) * elem]);
        } else {
            for i in 0..*inner {
                let at = (start + i * inner_stride) * elem;
                out.extend_from_slice(&src[at..at + elem]);
            }
        }
        // Advance the outer multi-index like an odometer, last dimension fastest.
        let mut dim = outer.len();
        loop {
            if dim == 0 {
                return out;
            }
            dim -= 1;
            index[dim] += 1;
            if index[dim] < outer[dim] {
                break;
            }
            index[dim] = 0;
        }
    }
}

/// Whether `stride` is the C-order stride of `shape` (dimensions of size 1 may have any stride).
pub(crate) fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&d, &s) in shape.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected *= d;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn gather_transpose_slice_and_broadcast() {
        let base: Vec<f32> = (0..12).map(|i| i as f32).collect(); // [3, 4]
        let src = f32_bytes(&base);
        let t = gather(&src, 4, 0, &[4, 3], &[1, 4]);
        assert_eq!(t, f32_bytes(&[0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]));
        let s = gather(&src, 4, 5, &[2, 2], &[4, 1]); // base[1:3, 1:3]
        assert_eq!(s, f32_bytes(&[5., 6., 9., 10.]));
        let e = gather(&src, 4, 2, &[2, 3], &[0, 0]); // base[0, 2] expanded
        assert_eq!(e, f32_bytes(&[2.; 6]));
        assert_eq!(gather(&src, 4, 7, &[], &[]), f32_bytes(&[7.]));
        assert!(gather(&src, 4, 0, &[0, 3], &[3, 1]).is_empty());
    }

    #[test]
    fn conversions() {
        let t = TensorData::from_bytes(DType::I16, vec![2], vec![0xff, 0xff, 2, 0]).unwrap();
        assert_eq!(t.to_f32(), vec![-1.0, 2.0]);
        assert_eq!(t.to_i64(), Some(vec![-1, 2]));
        let h = TensorData::from_bytes(DType::F16, vec![1], f16::from_f32(0.5).to_le_bytes().to_vec()).unwrap();
        assert_eq!((h.to_f32(), h.to_i64()), (vec![0.5], None));
        assert!(TensorData::from_bytes(DType::F32, vec![2], vec![0; 4]).is_err());
        assert!(TensorData::from_bytes(DType::F32, vec![usize::MAX, 2], vec![]).is_err());
    }
}
