//! Hand-built checkpoints, valid and broken: every failure must be an error naming its cause — never a panic, an
//! out-of-memory abort, or executed code. The pickles are written opcode by opcode (see CPython's
//! `Lib/pickletools.py`) in the shape `torch.save` gives them.

use rectify_weights::{DType, StateDict, WeightsError};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

/// A protocol-2 pickle, built opcode by opcode.
struct Pickle(Vec<u8>);

impl Pickle {
    fn new() -> Self {
        Pickle(vec![0x80, 2])
    }
    fn op(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn str(self, text: &str) -> Self {
        self.op(b"X").op(&(text.len() as u32).to_le_bytes()).op(text.as_bytes())
    }
    fn int(self, i: i32) -> Self {
        self.op(b"J").op(&i.to_le_bytes())
    }
    fn global(self, module: &str, name: &str) -> Self {
        self.op(format!("c{module}\n{name}\n").as_bytes())
    }
    fn ints(self, values: &[i32]) -> Self {
        values.iter().fold(self.op(b"("), |p, &v| p.int(v)).op(b"t")
    }
    fn stop(self) -> Vec<u8> {
        self.op(b".").0
    }
}

/// `{"w": _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), offset, shape, stride, False, {})}`.
fn state_dict_pickle(numel: i32, offset: i32, shape: &[i32], stride: &[i32]) -> Vec<u8> {
    Pickle::new()
        .op(b"}(")
        .str("w")
        .global("torch._utils", "_rebuild_tensor_v2")
        .op(b"((")
        .str("storage")
        .global("torch", "FloatStorage")
        .str("0")
        .str("cpu")
        .int(numel)
        .op(b"tQ")
        .int(offset)
        .ints(shape)
        .ints(stride)
        .op(b"\x89")
        .global("collections", "OrderedDict")
        .op(b")Rt")
        .op(b"Ru")
        .stop()
}

/// A zip-format torch.save archive with `data.pkl` and storage `0`.
fn torch_zip(pickle: &[u8], storage: &[u8]) -> Vec<u8> {
    zip_of(&[("archive/data.pkl", pickle), ("archive/data/0", storage), ("archive/version", b"3\n")])
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        zip.start_file(*name, stored).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn floats(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A legacy torch.save stream holding `object` and storage `0` of f32 `values`.
fn torch_legacy(object: &[u8], values: &[f32]) -> Vec<u8> {
    let magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.'];
    let version = Pickle::new().op(b"M\xe9\x03").stop();
    let sys_info = Pickle::new().op(b"}").str("little_endian").op(b"\x88s").stop();
    let keys = Pickle::new().op(b"]").str("0").op(b"a").stop();
    let mut out = [&magic[..], &version, &sys_info, object, &keys].concat();
    out.extend_from_slice(&(values.len() as i64).to_le_bytes());
    out.extend_from_slice(&floats(values));
    out
}

fn message(e: &WeightsError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[test]
fn hand_built_transposed_view_reads_in_both_containers() {
    let pickle = state_dict_pickle(6, 1, &[2, 2], &[1, 3]); // base[1:] of [[0,1,2],[3,4,5]] flat, transposed
    let values = [0., 1., 2., 3., 4., 5.];
    for bytes in [torch_zip(&pickle, &floats(&values)), torch_legacy(&pickle, &values)] {
        let sd = StateDict::from_bytes(&bytes).unwrap();
        let w = sd.get("w").unwrap();
        assert_eq!((w.dtype, w.shape.as_slice()), (DType::F32, &[2, 2][..]));
        assert_eq!(w.to_f32(), [1., 4., 2., 5.]);
    }
}

#[test]
fn big_endian_archives_are_swapped_and_torchscript_is_refused() {
    let pickle = state_dict_pickle(2, 0, &[2], &[1]);
    let be: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_be_bytes()).collect();
    let entries: [(&str, &[u8]); 3] = [("m/data.pkl", &pickle), ("m/data/0", &be), ("m/byteorder", b"big")];
    let sd = StateDict::from_bytes(&zip_of(&entries)).unwrap();
    assert_eq!(sd.get("w").unwrap().to_f32(), [1.5, -2.0]);

    let script: [(&str, &[u8]); 3] = [("m/data.pkl", &pickle), ("m/constants.pkl", b""), ("m/code/m.py", b"")];
    let text = message(&StateDict::from_bytes(&zip_of(&script)).unwrap_err());
    assert!(text.contains("TorchScript"), "{text}");
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error() {
    let pickle = state_dict_pickle(4, 0, &[2, 2], &[2, 1]);
    for bytes in [torch_zip(&pickle, &floats(&[1., 2., 3., 4.])), torch_legacy(&pickle, &[1., 2., 3., 4.])] {
        assert!(StateDict::from_bytes(&bytes).is_ok());
        for n in 0..bytes.len() {
            assert!(StateDict::from_bytes(&bytes[..n]).is_err(), "truncated to {n} bytes");
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let pickle = state_dict_pickle(4, 0, &[2, 2], &[2, 1]);
    for bytes in [torch_zip(&pickle, &floats(&[1., 2., 3., 4.])), torch_legacy(&pickle, &[1., 2., 3., 4.])] {
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                let _ = StateDict::from_bytes(&b); // Ok or Err, but returns
            }
        }
    }
}

#[test]
fn garbage_and_foreign_formats_are_named() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "not a PyTorch checkpoint"),
        (b"hello, this is not a checkpoint at all", "not a PyTorch checkpoint"),
        (b"\x80\x02K\x01.", "plain Python pickle"),
        (b"PK\x03\x04garbage", "zip archive"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}        ", "safetensors"),
    ];
    for (bytes, want) in cases {
        let text = message(&StateDict::from_bytes(bytes).unwrap_err());
        assert!(text.contains(want), "{bytes:?}: {text}");
    }
    let mut tar = vec![0u8; 1024];
    tar[257..262].copy_from_slice(b"ustar");
    let text = message(&StateDict::from_bytes(&tar).unwrap_err());
    assert!(text.contains("re-save it with a recent torch"), "{text}");
}

#[test]
fn unknown_globals_and_opcodes_are_refused_by_name() {
    let evil = Pickle::new().global("os", "system").str("echo hi").op(b"\x85R").stop();
    let err = StateDict::from_bytes(&torch_zip(&evil, b"")).unwrap_err();
    assert!(matches!(&err, WeightsError::UnknownGlobal { module, name } if module == "os" && name == "system"));
    assert!(message(&err).contains("os.system"), "{}", message(&err));

    let stacked = Pickle::new().str("argparse").str("Namespace").op(b"\x93").stop();
    let err = StateDict::from_bytes(&torch_legacy(&stacked, &[])).unwrap_err();
    assert!(message(&err).contains("argparse.Namespace"), "{}", message(&err));

    let inst = Pickle::new().op(b"(ibuiltins\nobject\n").stop();
    let err = StateDict::from_bytes(&torch_zip(&inst, b"")).unwrap_err();
    assert!(matches!(err, WeightsError::UnsupportedOpcode { opcode: b'i', name: "INST", .. }), "{err}");
}

#[test]
fn absurd_sizes_are_refused_without_allocating() {
    let one = floats(&[1.0]);
    // 2^30 × 2^30 f32 elements broadcast from one: 4 EiB.
    let huge = state_dict_pickle(1, 0, &[1 << 30, 1 << 30], &[0, 0]);
    let err = StateDict::from_bytes(&torch_zip(&huge, &one)).unwrap_err();
    assert!(matches!(err, WeightsError::TooLarge { .. }), "{err}");
    // A view reaching past its storage.
    let past = state_dict_pickle(1, 0, &[3, 3], &[3, 1]);
    let err = StateDict::from_bytes(&torch_zip(&past, &one)).unwrap_err();
    assert!(message(&err).contains("reaches past its storage"), "{}", message(&err));
    // A storage whose declared size disagrees with its record.
    let short = state_dict_pickle(8, 0, &[2], &[1]);
    let err = StateDict::from_bytes(&torch_zip(&short, &one)).unwrap_err();
    assert!(matches!(err, WeightsError::StorageSize { expected: 32, found: 4, .. }), "{err}");
    // A string length of 4 GiB in a 20-byte pickle.
    let long_str = Pickle::new().op(b"X\xff\xff\xff\xff").stop();
    let err = StateDict::from_bytes(&torch_zip(&long_str, b"")).unwrap_err();
    assert!(message(&err).contains("truncated"), "{}", message(&err));
    // A negative element count in a legacy record.
    let pickle = state_dict_pickle(1, 0, &[1], &[1]);
    let mut legacy = torch_legacy(&pickle, &[1.0]);
    let at = legacy.len() - 12;
    legacy[at..at + 8].copy_from_slice(&(-1i64).to_le_bytes());
    assert!(matches!(StateDict::from_bytes(&legacy).unwrap_err(), WeightsError::StorageSize { .. }));
}

#[test]
fn deep_nesting_and_memo_cycles_do_not_overflow_the_stack() {
    let depth = 200_000;
    let mut nested = Pickle::new();
    for _ in 0..depth {
        nested = nested.op(b"]");
    }
    for _ in 1..depth {
        nested = nested.op(b"a");
    }
    let err = StateDict::from_bytes(&torch_zip(&nested.stop(), b"")).unwrap_err();
    assert!(message(&err).contains("holds a list"), "{}", message(&err));
    let cycle = Pickle::new().op(b"}q\x00").str("self").op(b"h\x00s").stop(); // d = {}; d["self"] = d
    let err = StateDict::from_bytes(&torch_zip(&cycle, b"")).unwrap_err();
    assert!(message(&err).contains("no state dict"), "{}", message(&err));
}

#[test]
fn nested_checkpoint_is_unwrapped_and_says_so() {
    // {"epoch": 3, "model": {"w": tensor}}: the inner pickle's dict, wrapped by hand.
    let inner = state_dict_pickle(1, 0, &[], &[]);
    let body = &inner[2..inner.len() - 1]; // without PROTO and STOP
    let outer = Pickle::new().op(b"}(").str("epoch").int(3).str("model").op(body).op(b"u").stop();
    let sd = StateDict::from_bytes(&torch_zip(&outer, &floats(&[2.5]))).unwrap();
    assert_eq!(sd.unwrapped_from(), Some("model"));
    assert_eq!(sd.get("w").unwrap().to_f32(), [2.5]);
    assert!(sd.get("w").unwrap().shape.is_empty());
}

/// A zip archive with one deflated `archive/data.pkl` whose zip64 sizes claim `compressed` and `size` bytes, with
/// 16 bytes of actual data: what a hostile or damaged download can look like.
fn zip64_claiming(compressed: u64, size: u64) -> Vec<u8> {
    let name = b"archive/data.pkl";
    let extra: Vec<u8> =
        [&1u16.to_le_bytes()[..], &16u16.to_le_bytes(), &size.to_le_bytes(), &compressed.to_le_bytes()].concat();
    let sizes = [0xffu8; 8]; // compressed, uncompressed: 0xFFFFFFFF, see the zip64 extra field
    let mut local = vec![0x50, 0x4b, 0x03, 0x04, 45, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    local.extend_from_slice(&sizes);
    local.extend_from_slice(&(name.len() as u16).to_le_bytes());
    local.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    local.extend_from_slice(name);
    local.extend_from_slice(&extra);
    local.extend_from_slice(&[0x4b; 16]);
    let mut central = vec![0x50, 0x4b, 0x01, 0x02, 45, 0, 45, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    central.extend_from_slice(&sizes);
    central.extend_from_slice(&(name.len() as u16).to_le_bytes());
    central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    central.extend_from_slice(&[0; 14]); // comment length, disk, attributes, local header offset 0
    central.extend_from_slice(name);
    central.extend_from_slice(&extra);
    let mut end = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0];
    end.extend_from_slice(&(central.len() as u32).to_le_bytes());
    end.extend_from_slice(&(local.len() as u32).to_le_bytes());
    end.extend_from_slice(&[0, 0]);
    [local, central, end].concat()
}

/// Issue #12: a zip64 header claiming a 2^60-byte entry made the reader ask for that much memory and abort
/// ("memory allocation of … failed"). Declared sizes are checked against the file's real length first.
#[test]
fn zip64_sizes_beyond_the_file_are_refused_without_allocating() {
    for (compressed, size) in [(1u64 << 50, 1u64 << 60), (1 << 60, 1 << 60), (u64::MAX, u64::MAX), (16, 1 << 60)] {
        let bytes = zip64_claiming(compressed, size);
        let err = StateDict::from_bytes(&bytes).unwrap_err();
        let text = message(&err);
        if compressed > bytes.len() as u64 {
            assert!(text.contains("entry data lies outside the file"), "{compressed} / {size}: {text}");
        } else {
            assert!(matches!(err, WeightsError::TooLarge { .. }), "{compressed} / {size}: {text}");
        }
    }
}

/// Issue #12: a pickle that applies REDUCE to the same large memoised tuple again and again took ~2 minutes
/// (the tuple was copied at every call). Arguments are now read in place: a 1 MB pickle of that shape, and ones
/// repeating a long storage key or a long tensor name, load or fail in well under a second.
#[test]
fn repeated_reduce_persistent_ids_and_names_stay_linear() {
    let tensor = |p: Pickle| {
        p.global("torch._utils", "_rebuild_tensor_v2")
            .op(b"((")
            .str("storage")
            .global("torch", "FloatStorage")
            .str("0")
            .str("cpu")
            .int(1)
            .op(b"tQ")
            .int(0)
            .ints(&[1])
            .ints(&[1])
            .op(b"\x89")
            .global("collections", "OrderedDict")
            .op(b")Rt")
            .op(b"R")
    };
    // memo 0: a tensor; memo 1: (tensor, 0, 0, …) with 100k items; memo 2: _rebuild_parameter.
    let mut p = tensor(Pickle::new().op(b"}")).op(b"q\x00").op(b"0").op(b"(h\x00");
    for _ in 0..100_000 {
        p = p.op(b"K\x00");
    }
    p = p.op(b"tq\x01").op(b"0").global("torch._utils", "_rebuild_parameter").op(b"q\x02").op(b"0");
    for _ in 0..150_000 {
        p = p.op(b"h\x02h\x01R0"); // _rebuild_parameter(*big) and drop it
    }
    let reduce = p.str("w").op(b"h\x02h\x01Rs").stop(); // {"w": _rebuild_parameter(*big)}
    assert!(reduce.len() > 1_000_000, "{} bytes", reduce.len());

    // A 500 kB storage key, named by 100k persistent ids.
    let key = "k".repeat(500_000);
    let mut p = Pickle::new().op(b"(").str("storage").global("torch", "FloatStorage").str(&key).str("cpu").int(1);
    p = p.op(b"tq\x00").op(b"0");
    for _ in 0..100_000 {
        p = p.op(b"h\x00Q0");
    }
    let persid = p.op(b"}").stop();

    // A 500 kB tensor name, used as the key of 100k entries.
    let mut p = tensor(Pickle::new().op(b"}")).op(b"q\x00").op(b"0").str(&"n".repeat(500_000)).op(b"q\x01").op(b"0");
    p = p.op(b"}(");
    for _ in 0..100_000 {
        p = p.op(b"h\x01h\x00");
    }
    let names = p.op(b"u").stop();

    for (what, pickle) in [("reduce", reduce), ("persistent ids", persid), ("names", names)] {
        let bytes = torch_zip(&pickle, &floats(&[1.0]));
        let start = std::time::Instant::now();
        let result = StateDict::from_bytes(&bytes);
        let took = start.elapsed();
        println!("{what}: {} bytes, {took:?}: {:?}", bytes.len(), result.as_ref().map(StateDict::len).map_err(message));
        assert!(took.as_secs_f64() < 1.0, "{what}: {took:?}");
        if what == "reduce" {
            assert_eq!(result.unwrap().get("w").unwrap().to_f32(), [1.0]);
        }
    }
}

/// Issue #12: a 572-byte file with a stride-0 view of one element made the loader allocate 2.6 GB. What a file
/// may materialise is now bounded by what it holds: twice its length plus 16 MiB.
#[test]
fn expanded_views_are_bounded_by_the_file_size() {
    let one = floats(&[1.0]);
    let expanded = state_dict_pickle(1, 0, &[8192, 8192], &[0, 0]); // 256 MiB of f32 from 4 bytes
    let bytes = torch_zip(&expanded, &one);
    assert!(bytes.len() < 1024, "{} bytes", bytes.len());
    let err = StateDict::from_bytes(&bytes).unwrap_err();
    assert!(matches!(err, WeightsError::TooLarge { limit, .. } if limit < 17 << 20), "{err}");
    // A small broadcast buffer, as real checkpoints may hold, still loads.
    let small = state_dict_pickle(1, 0, &[64, 64], &[0, 0]);
    let sd = StateDict::from_bytes(&torch_zip(&small, &one)).unwrap();
    assert_eq!(sd.get("w").unwrap().to_f32(), vec![1.0; 64 * 64]);
}
