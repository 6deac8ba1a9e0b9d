//! `.npy` reading and writing: round trips, the streaming writer, other dtypes and header
//! versions as NumPy writes them, and the errors.
//!
//! Hand-made files follow `numpy.lib.format`; e.g. the `<f8` case is what
//! `np.save(f, np.array([[1.5, -2.0]]))` writes.

use std::path::Path;

use rectify_data::npy::{self, NpyError, NpyWriter};

/// A `.npy` file with the given version, header dict and data.
fn raw(dir: &Path, name: &str, version: u8, dict: &str, data: &[u8]) -> std::path::PathBuf {
    let mut header = dict.to_string();
    let prefix = if version == 1 { 10 } else { 12 };
    while (prefix + header.len() + 1) & 63 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend_from_slice(&[version, 0]);
    if version == 1 {
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn f32_round_trip_keeps_shape_and_bits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    let mut data: Vec<f32> = (0..24).map(|i| i as f32 * 0.1 - 1.0).collect();
    data[23] = f32::NAN;
    npy::write_f32(&path, &[2, 3, 4], &data).unwrap();
    let back = npy::read_f32(&path).unwrap();
    assert_eq!(back.shape, [2, 3, 4]);
    assert!(back.data.iter().zip(&data).all(|(a, b)| a.to_bits() == b.to_bits()));
    // The header is padded to a multiple of 64 bytes, as NumPy does: 128 for this dict.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 128 + 24 * 4);
    let header = std::str::from_utf8(&bytes[10..128]).unwrap();
    assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"));
    assert!(header.ends_with(" \n"));
}

#[test]
fn one_d_and_scalar_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    npy::write_f32(&a, &[3], &[1.0, 2.0, 3.0]).unwrap();
    npy::write_f32(&b, &[], &[7.0]).unwrap();
    assert_eq!(npy::read_f32(&a).unwrap().shape, [3]);
    let scalar = npy::read_f32(&b).unwrap();
    assert_eq!((scalar.shape.len(), scalar.data), (0, vec![7.0]));
    assert!(npy::write_f32(&a, &[2, 2], &[1.0]).is_err());
}

#[test]
fn u8_and_i64_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    npy::write_u8(&a, &[2, 2, 3], &[0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]).unwrap();
    assert_eq!(npy::read_u8(&a).unwrap().data[6..], [250, 251, 252, 253, 254, 255]);
    assert_eq!(npy::read_i64(&a).unwrap().data[11], 255);
    npy::write_i64(&b, &[3], &[-1, 0, i64::MAX]).unwrap();
    assert_eq!(npy::read_i64(&b).unwrap().data, [-1, 0, i64::MAX]);
    assert!(matches!(npy::read_f32(&b), Err(NpyError::Dtype { .. })));
}

#[test]
fn streaming_writer_patches_the_row_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.npy");
    let mut writer = NpyWriter::create(&path, &[3]).unwrap();
    for i in 0..1000 {
        writer.append(&[i as f32, 0.5, -1.0]).unwrap();
    }
    assert!(writer.append(&[1.0]).is_err());
    assert_eq!(writer.finish().unwrap(), 1000);
    let back = npy::read_f32(&path).unwrap();
    assert_eq!(back.shape, [1000, 3]);
    assert_eq!(&back.data[2997..], [999.0, 0.5, -1.0]);
    // Empty: shape (0, 3).
    NpyWriter::create(&path, &[3]).unwrap().finish().unwrap();
    assert_eq!(npy::read_f32(&path).unwrap().shape, [0, 3]);
}

#[test]
fn reads_other_float_widths_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let f8: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = raw(dir.path(), "f8.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", &f8);
    assert_eq!(npy::read_f32(&path).unwrap().data, [1.5, -2.0]);
    assert_eq!(npy::read_f64(&path).unwrap().data, [1.5, -2.0]);
    // float16 1.0 = 0x3C00, -0.5 = 0xB800; version 2.0 header.
    let path =
        raw(dir.path(), "f2.npy", 2, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", &[0, 0x3C, 0, 0xB8]);
    assert_eq!(npy::read_f32(&path).unwrap().data, [1.0, -0.5]);
    let i4: Vec<u8> = [-7i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = raw(dir.path(), "i4.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", &i4);
    assert_eq!(npy::read_i64(&path).unwrap().data, [-7, 9]);
}

#[test]
fn refuses_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fortran = raw(d, "f.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", &[0; 4]);
    assert!(matches!(npy::read_f32(&fortran), Err(NpyError::FortranOrder { .. })));
    let big_endian = raw(d, "b.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", &[0; 4]);
    assert!(matches!(npy::read_f32(&big_endian), Err(NpyError::Dtype { .. })));
    let short = raw(d, "s.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", &[0; 8]);
    assert!(matches!(npy::read_f32(&short), Err(NpyError::Truncated { expected: 16, found: 8, .. })));
    let not_npy = d.join("n.npy");
    std::fs::write(&not_npy, b"PK\x03\x04 not npy").unwrap();
    assert!(matches!(npy::read_f32(&not_npy), Err(NpyError::Format { .. })));
    assert!(matches!(npy::read_f32(&d.join("missing.npy")), Err(NpyError::Io { .. })));
}
