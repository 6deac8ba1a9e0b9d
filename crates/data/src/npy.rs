//! A minimal reader and writer for NumPy's `.npy` format (versions 1.0, 2.0 and 3.0).
//!
//! Follows the format description in NumPy's `numpy/lib/format.py`: the magic `\x93NUMPY`, a
//! version, a little-endian header length (`u16` in 1.0, `u32` from 2.0), then a Python dict
//! literal `{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }` padded with spaces to a
//! multiple of 64 bytes and ending in `\n`, then the raw C-order data.
//!
//! Reading accepts little-endian floats (`<f2`, `<f4`, `<f8`), integers (`|i1`, `<i2`, `<i4`,
//! `<i8`, `|u1`, `<u2`, `<u4`) and `|b1`, converted to the element type asked for; Fortran order
//! and big-endian data are refused. Writing produces version 1.0 files (`<f4`, `|u1` or `<i8`),
//! whole ([`write_f32`]) or row by row with an unknown row count ([`NpyWriter`]).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An n-dimensional array read from a `.npy` file: `shape` and the elements in C order
/// (`data.len()` is the product of `shape`, 1 for a 0-d array).
#[derive(Clone, Debug, PartialEq)]
pub struct Npy<T = f32> {
    /// Size of each dimension, outermost first.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<T>,
}

/// Why a `.npy` file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file is not a well-formed `.npy` file.
    #[error("{path} is not a valid .npy file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The element type cannot be converted to the one asked for.
    #[error("{path} holds dtype {descr:?}, which cannot be read as {wanted}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The file's `descr` field.
        descr: String,
        /// The Rust element type asked for.
        wanted: &'static str,
    },
    /// The array is stored in Fortran (column-major) order.
    #[error("{path} is stored in Fortran order; only C order is supported")]
    FortranOrder {
        /// The file.
        path: PathBuf,
    },
    /// The data is shorter than the shape requires.
    #[error("{path}: shape {shape:?} needs {expected} bytes of data, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The declared shape.
        shape: Vec<usize>,
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes present after the header.
        found: usize,
    },
}

/// Reads a float array as `f32` (`<f4` as is, `<f2` and `<f8` converted; `<f8` rounds to nearest).
pub fn read_f32(path: &Path) -> Result<Npy<f32>, NpyError> {
    read_as(path, "f32", |d, b| match d {
        Dtype::F2 => Some(half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
        Dtype::F4 => Some(f32::from_le_bytes(b.try_into().ok()?)),
        Dtype::F8 => Some(f64::from_le_bytes(b.try_into().ok()?) as f32),
        _ => None,
    })
}

/// Reads a float array as `f64` (`<f2`, `<f4` and `<f8`, exactly).
pub fn read_f64(path: &Path) -> Result<Npy<f64>, NpyError> {
    read_as(path, "f64", |d, b| match d {
        Dtype::F2 => Some(f64::from(half::f16::from_le_bytes([b[0], b[1]]).to_f32())),
        Dtype::F4 => Some(f64::from(f32::from_le_bytes(b.try_into().ok()?))),
        Dtype::F8 => Some(f64::from_le_bytes(b.try_into().ok()?)),
        _ => None,
    })
}

/// Reads an integer or boolean array as `i64` (`|b1`, `|i1`–`<i8`, `|u1`–`<u4`).
pub fn read_i64(path: &Path) -> Result<Npy<i64>, NpyError> {
    read_as(path, "i64", |d, b| d.int_value(b))
}

/// Reads a `|u1` (`uint8`) array, e.g. an image crop, as `u8`.
pub fn read_u8(path: &Path) -> Result<Npy<u8>, NpyError> {
    read_as(path, "u8", |d, b| (d == Dtype::U1).then_some(b[0]))
}

/// Most bytes of an `.npy` file read: 16 GiB (the features of ImageNet's 1.28 million training
/// images at 2,048 floats take 10 GiB). A regular file only: a named pipe is refused, not read.
const MAX_NPY_BYTES: u64 = 16 << 30;

/// Reads `path` and converts each element with `conv`, which returns `None` for dtypes it does not
/// accept.
fn read_as<T>(path: &Path, wanted: &'static str, conv: impl Fn(Dtype, &[u8]) -> Option<T>) -> Result<Npy<T>, NpyError> {
    let bytes = crate::files::read_bounded(path, MAX_NPY_BYTES, "an .npy array").map_err(|e| match e {
        crate::files::SmallFileError::Io { source, .. } => NpyError::Io { path: path.to_path_buf(), source },
        other => NpyError::Format { path: path.to_path_buf(), message: other.to_string() },
    })?;
    let format = |message: String| NpyError::Format { path: path.to_path_buf(), message };
    let header = parse_header(&bytes).map_err(format)?;
    if header.fortran_order {
        return Err(NpyError::FortranOrder { path: path.to_path_buf() });
    }
    let dtype_error = || NpyError::Dtype { path: path.to_path_buf(), descr: header.descr.clone(), wanted };
    let dtype = Dtype::parse(&header.descr).ok_or_else(dtype_error)?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format(format!("shape {:?} overflows", header.shape)))?;
    let size = dtype.size();
    let body = &bytes[header.data_offset..];
    let expected = count.saturating_mul(size);
    if body.len() < expected {
        return Err(NpyError::Truncated { path: path.to_path_buf(), shape: header.shape, expected, found: body.len() });
    }
    let data = body[..expected]
        .chunks_exact(size)
        .map(|b| conv(dtype, b))
        .collect::<Option<Vec<T>>>()
        .ok_or_else(dtype_error)?;
    Ok(Npy { shape: header.shape, data })
}

/// Writes a `<f4` array of `shape` (C order); `data.len()` must be the product of `shape`.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> io::Result<()> {
    write_array(path, "<f4", shape, data, |v| v.to_le_bytes())
}

/// Writes a `|u1` (`uint8`) array of `shape`, e.g. `[224, 224, 3]` for an HWC crop.
pub fn write_u8(path: &Path, shape: &[usize], data: &[u8]) -> io::Result<()> {
    write_array(path, "|u1", shape, data, |v| [v])
}

/// Writes a `<i8` (`int64`) array of `shape`, e.g. labels or indices.
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> io::Result<()> {
    write_array(path, "<i8", shape, data, |v| v.to_le_bytes())
}

fn write_array<T: Copy, const N: usize>(
    path: &Path,
    descr: &str,
    shape: &[usize],
    data: &[T],
    bytes: impl Fn(T) -> [u8; N],
) -> io::Result<()> {
    let count: usize = shape.iter().product();
    if count != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("shape {shape:?} needs {count} elements, got {}", data.len()),
        ));
    }
    let mut out = BufWriter::new(File::create(path)?);
    write_header(&mut out, descr, shape, 0)?;
    for &v in data {
        out.write_all(&bytes(v))?;
    }
    out.flush()
}

/// Streams a `<f4` array of shape `[rows, row_shape…]` to disk when the number of rows is not
/// known in advance: [`append`](Self::append) rows, then [`finish`](Self::finish) writes the
/// final row count into the header. A writer dropped without `finish` leaves a file that
/// declares 0 rows.
#[derive(Debug)]
pub struct NpyWriter {
    file: BufWriter<File>,
    row_shape: Vec<usize>,
    row_len: usize,
    rows: usize,
    header_len: usize,
}

impl NpyWriter {
    /// Creates `path` for rows of shape `row_shape` (`[d]` for a matrix `[rows, d]`).
    pub fn create(path: &Path, row_shape: &[usize]) -> io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        let shape = |rows: usize| -> Vec<usize> { std::iter::once(rows).chain(row_shape.iter().copied()).collect() };
        // Reserve a header long enough for any row count.
        let header_len = write_header(&mut io::sink(), "<f4", &shape(usize::MAX), 0)?;
        write_header(&mut file, "<f4", &shape(0), header_len)?;
        Ok(NpyWriter { file, row_shape: row_shape.to_vec(), row_len: row_shape.iter().product(), rows: 0, header_len })
    }

    /// Appends one row; `row.len()` must be the product of `row_shape`.
    pub fn append(&mut self, row: &[f32]) -> io::Result<()> {
        if row.len() != self.row_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("row of {} values, expected {}", row.len(), self.row_len),
            ));
        }
        for v in row {
            self.file.write_all(&v.to_le_bytes())?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows appended so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Writes the row count into the header and flushes; returns the number of rows.
    pub fn finish(mut self) -> io::Result<usize> {
        let shape: Vec<usize> = std::iter::once(self.rows).chain(self.row_shape.iter().copied()).collect();
        rewrite_header(&mut self.file, "<f4", &shape, self.header_len)?;
        self.file.get_ref().sync_all()?;
        Ok(self.rows)
    }
}

/// Writes a version 1.0 header for `descr` and `shape`, padded so the header is at least
/// `min_len` bytes (the streaming writer reserves room to rewrite it); returns its length.
fn write_header(out: &mut impl Write, descr: &str, shape: &[usize], min_len: usize) -> io::Result<usize> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + length (2) + dict + '\n', padded to a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.max(min_len).div_ceil(64) * 64;
    if total - 10 > usize::from(u16::MAX) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "npy header too long"));
    }
    dict.extend(std::iter::repeat_n(' ', total - unpadded));
    dict.push('\n');
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&((total - 10) as u16).to_le_bytes())?;
    out.write_all(dict.as_bytes())?;
    Ok(total)
}

/// Rewrites the header at the start of `file` in place (same length).
fn rewrite_header(file: &mut BufWriter<File>, descr: &str, shape: &[usize], len: usize) -> io::Result<()> {
    file.flush()?;
    file.seek(SeekFrom::Start(0))?;
    let mut header = Vec::with_capacity(len);
    let written = write_header(&mut header, descr, shape, len)?;
    if written != len {
        return Err(io::Error::other("npy header grew past its reserved size"));
    }
    file.write_all(&header)?;
    file.flush()
}

/// The fields of a `.npy` header that matter here.
/// The header of an `.npy` stream (for readers that stream the data, e.g. out of an `.npz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The dtype, e.g. `<f8` or `<U28`.
    pub descr: String,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Size of each dimension, outermost first.
    pub shape: Vec<usize>,
    /// Bytes before the data: magic, version, header length and the header itself.
    pub header_len: usize,
}

/// The longest `.npy` header read, as NumPy's own reader allows by default (`max_header_size`, NumPy ≥ 1.24):
/// a stream that declares more is refused before anything is allocated for it.
pub const MAX_HEADER_LEN: usize = 10_000;

/// Reads an `.npy` header from `r`, leaving it at the first data byte. Headers over [`MAX_HEADER_LEN`] bytes
/// are refused.
pub fn read_header(r: &mut impl Read) -> io::Result<NpyHeader> {
    let mut pre = [0u8; 12];
    r.read_exact(&mut pre[..10])?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "missing the \\x93NUMPY magic"));
    }
    let (len, start) = match pre[6] {
        1 => (usize::from(u16::from_le_bytes([pre[8], pre[9]])), 10),
        _ => {
            r.read_exact(&mut pre[10..12])?;
            (u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as usize, 12)
        }
    };
    if len > MAX_HEADER_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the header declares {len} bytes, more than the {MAX_HEADER_LEN} NumPy reads"),
        ));
    }
    let mut bytes = pre[..start].to_vec();
    bytes.resize(start + len, 0);
    r.read_exact(&mut bytes[start..])?;
    let h = parse_header(&bytes).map_err(|m| io::Error::new(io::ErrorKind::InvalidData, m))?;
    Ok(NpyHeader { descr: h.descr, fortran_order: h.fortran_order, shape: h.shape, header_len: h.data_offset })
}

struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Where the data starts.
    data_offset: usize,
}

/// Parses the magic, version, length and dict of a `.npy` file.
fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let (len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (len as usize, 12)
        }
        v => return Err(format!("unsupported format version {v}")),
    };
    let dict = bytes.get(start..start + len).ok_or("header is longer than the file")?;
    let dict = std::str::from_utf8(dict).map_err(|_| "header is not UTF-8")?;
    let value = |key: &str| -> Result<&str, String> {
        let at = dict
            .find(&format!("'{key}'"))
            .or_else(|| dict.find(&format!("\"{key}\"")))
            .ok_or(format!("header has no {key:?}: {dict:?}"))?;
        let rest = &dict[at + key.len() + 2..];
        let colon = rest.find(':').ok_or(format!("no ':' after {key:?}"))?;
        Ok(rest[colon + 1..].trim_start())
    };
    let descr = value("descr")?;
    let quote = descr.chars().next().filter(|c| *c == '\'' || *c == '"');
    let descr = quote.and_then(|q| descr[1..].split(q).next()).ok_or(format!("descr is not a string: {descr:?}"))?;
    let fortran_order = value("fortran_order")?.starts_with("True");
    let shape = value("shape")?;
    let shape =
        shape.strip_prefix('(').and_then(|s| s.split(')').next()).ok_or(format!("shape is not a tuple: {shape:?}"))?;
    let shape = shape
        .split(',')
        .map(|d| d.trim().trim_end_matches('L'))
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().map_err(|_| format!("bad dimension {d:?}")))
        .collect::<Result<_, _>>()?;
    Ok(Header { descr: descr.to_owned(), fortran_order, shape, data_offset: start + len })
}

/// Element types the reader understands (little-endian or single-byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    B1,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    F2,
    F4,
    F8,
}

impl Dtype {
    /// From a `descr` such as `<f4` or `|u1`; big-endian (`>`) and other kinds give `None`.
    fn parse(descr: &str) -> Option<Self> {
        let (order, kind) = descr.split_at_checked(1)?;
        if !matches!(order, "<" | "|" | "=") {
            return None;
        }
        Some(match kind {
            "b1" => Dtype::B1,
            "i1" => Dtype::I1,
            "i2" => Dtype::I2,
            "i4" => Dtype::I4,
            "i8" => Dtype::I8,
            "u1" => Dtype::U1,
            "u2" => Dtype::U2,
            "u4" => Dtype::U4,
            "f2" => Dtype::F2,
            "f4" => Dtype::F4,
            "f8" => Dtype::F8,
            _ => return None,
        })
    }

    /// Bytes per element.
    fn size(self) -> usize {
        match self {
            Dtype::B1 | Dtype::I1 | Dtype::U1 => 1,
            Dtype::I2 | Dtype::U2 | Dtype::F2 => 2,
            Dtype::I4 | Dtype::U4 | Dtype::F4 => 4,
            Dtype::I8 | Dtype::F8 => 8,
        }
    }

    /// The element in `b` (exactly `size()` bytes) as `i64`, for the integer and bool kinds.
    fn int_value(self, b: &[u8]) -> Option<i64> {
        Some(match self {
            Dtype::B1 => i64::from(b[0] != 0),
            Dtype::I1 => i64::from(b[0] as i8),
            Dtype::U1 => i64::from(b[0]),
            Dtype::I2 => i64::from(i16::from_le_bytes(b.try_into().ok()?)),
            Dtype::U2 => i64::from(u16::from_le_bytes(b.try_into().ok()?)),
            Dtype::I4 => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
            Dtype::U4 => i64::from(u32::from_le_bytes(b.try_into().ok()?)),
            Dtype::I8 => i64::from_le_bytes(b.try_into().ok()?),
            Dtype::F2 | Dtype::F4 | Dtype::F8 => return None,
        })
    }
}
