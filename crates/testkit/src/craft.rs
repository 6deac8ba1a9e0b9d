//! Crafted files for the hostile-input tests: `.npy` streams with any header, `.npz` archives of
//! them.

use std::io::Write;
use std::path::Path;

/// An `.npy` stream: a version-1 header for `dict` padded as numpy pads it (or, with
/// `header_len`, a version-2 header that declares that length, whatever `dict` holds), then `data`.
pub fn npy(dict: &str, data: &[u8], header_len: Option<u32>) -> Vec<u8> {
    let mut out = Vec::new();
    match header_len {
        None => {
            let mut d = dict.to_string();
            while !(11 + d.len()).is_multiple_of(64) {
                d.push(' ');
            }
            d.push('\n');
            out.extend_from_slice(b"\x93NUMPY\x01\x00");
            out.extend_from_slice(&(d.len() as u16).to_le_bytes());
            out.extend_from_slice(d.as_bytes());
        }
        Some(len) => {
            out.extend_from_slice(b"\x93NUMPY\x02\x00");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(dict.as_bytes());
        }
    }
    out.extend_from_slice(data);
    out
}

/// Writes an `.npz` (a zip, members stored) of `members` (name, bytes) at `path`.
pub fn npz(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut zip =
        zip::ZipWriter::new(std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    for (name, bytes) in members {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).expect("zip member");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip finish");
}
