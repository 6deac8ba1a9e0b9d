//! Issue #12, acceptance: a folder of hostile weights, npy/npz, vote and label files, images and
//! links, each handed to the release binary the way a user would. Every file must give exit
//! status 2 with a `rectify: error:` message — or, for images, a per-file error while the run goes
//! on — within 10 s and 1.5 GiB of resident memory, never a signal (abort, out-of-memory kill) or
//! a panic. The crafted files are the ones found against the release binary when the issue was
//! filed (a zip64 entry claiming 2^60 bytes, a pickle repeating REDUCE over a large tuple, a
//! stride-0 view of one element, npy headers declaring 10^12 elements or 4 GiB, a 20000 × 20000
//! JPEG of a few hundred bytes, dangling links and link loops), and their neighbours.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use rectify_testkit::craft::{npy, npz};
use rectify_testkit::measure::{run_measured, Measured};

const TIME: Duration = Duration::from_secs(10);
const MEMORY: u64 = 3 << 29; // 1.5 GiB

/// Runs `rectify args…` under the bounds and checks how it ended: `Some(2)` for a refused input,
/// `Some(0)` for a run that went on; returns the measurement.
fn bounded(what: &str, args: &[&str], want: i32) -> Measured {
    let m = run_measured(Command::new(env!("CARGO_BIN_EXE_rectify")).args(args), TIME);
    let err = m.stderr_text();
    println!(
        "{what}: exit {:?} in {:.2} s, {:.0} MiB: {}",
        m.status.code(),
        m.wall.as_secs_f64(),
        m.max_rss as f64 / f64::from(1 << 20),
        err.lines().rev().find(|l| l.contains("error") || l.contains("rectify:")).unwrap_or("")
    );
    assert!(!m.timed_out, "{what}: still running after {TIME:?}");
    assert_eq!(m.status.signal(), None, "{what}: killed by a signal:\n{err}");
    assert!(!err.contains("panicked"), "{what}: panicked:\n{err}");
    assert_eq!(m.status.code(), Some(want), "{what}:\n{err}");
    if want == 2 {
        assert!(err.contains("rectify: error:"), "{what}: no error message:\n{err}");
    }
    assert!(m.max_rss <= MEMORY, "{what}: {} MiB resident", m.max_rss >> 20);
    m
}

use std::os::unix::process::ExitStatusExt;

/// A protocol-2 pickle, opcode by opcode (as in crates/weights/tests/corrupt.rs).
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
    /// `_rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), 0, shape, stride, False, {})`.
    fn tensor(self, numel: i32, shape: &[i32], stride: &[i32]) -> Self {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .op(b"((")
            .str("storage")
            .global("torch", "FloatStorage")
            .str("0")
            .str("cpu")
            .int(numel)
            .op(b"tQ")
            .int(0)
            .ints(shape)
            .ints(stride)
            .op(b"\x89")
            .global("collections", "OrderedDict")
            .op(b")Rt")
            .op(b"R")
    }
    fn stop(self) -> Vec<u8> {
        self.op(b".").0
    }
}

fn torch_zip(pickle: &[u8], storage: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in [("archive/data.pkl", pickle), ("archive/data/0", storage), ("archive/version", b"3\n")] {
        zip.start_file(name, stored).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A zip whose one deflated `archive/data.pkl` claims, through zip64, `compressed` and `size` bytes.
fn zip64_claiming(compressed: u64, size: u64) -> Vec<u8> {
    let name = b"archive/data.pkl";
    let extra =
        [&1u16.to_le_bytes()[..], &16u16.to_le_bytes(), &size.to_le_bytes(), &compressed.to_le_bytes()].concat();
    let mut local = vec![0x50, 0x4b, 3, 4, 45, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    local.extend_from_slice(&[0xff; 8]);
    local.extend_from_slice(&(name.len() as u16).to_le_bytes());
    local.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    local.extend_from_slice(name);
    local.extend_from_slice(&extra);
    local.extend_from_slice(&[0x4b; 16]);
    let mut central = vec![0x50, 0x4b, 1, 2, 45, 0, 45, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    central.extend_from_slice(&[0xff; 8]);
    central.extend_from_slice(&(name.len() as u16).to_le_bytes());
    central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    central.extend_from_slice(&[0; 14]);
    central.extend_from_slice(name);
    central.extend_from_slice(&extra);
    let mut end = vec![0x50, 0x4b, 5, 6, 0, 0, 0, 0, 1, 0, 1, 0];
    end.extend_from_slice(&(central.len() as u32).to_le_bytes());
    end.extend_from_slice(&(local.len() as u32).to_le_bytes());
    end.extend_from_slice(&[0, 0]);
    [local, central, end].concat()
}

/// The hostile weights files, by name.
fn hostile_weights() -> Vec<(&'static str, Vec<u8>)> {
    let one = 1.0f32.to_le_bytes();
    // REDUCE on a memoised 100k-item tuple, 150k times (1.1 MB).
    let mut p = Pickle::new().op(b"}").tensor(1, &[1], &[1]).op(b"q\x00").op(b"0(h\x00");
    for _ in 0..100_000 {
        p = p.op(b"K\x00");
    }
    p = p.op(b"tq\x010").global("torch._utils", "_rebuild_parameter").op(b"q\x020");
    for _ in 0..150_000 {
        p = p.op(b"h\x02h\x01R0");
    }
    let reduce = p.str("w").op(b"h\x02h\x01Rs").stop();
    let mut safetensors_huge = (1u64 << 62).to_le_bytes().to_vec();
    safetensors_huge.extend_from_slice(b"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}");
    let header = br#"{"w": {"dtype": "F32", "shape": [1073741824, 1073741824], "data_offsets": [0, 4]}}"#;
    let mut safetensors_shape = (header.len() as u64).to_le_bytes().to_vec();
    safetensors_shape.extend_from_slice(header);
    safetensors_shape.extend_from_slice(&one);
    vec![
        ("zip64-2^60.pth", zip64_claiming(1 << 50, 1 << 60)),
        ("zip64-max.pth", zip64_claiming(u64::MAX, u64::MAX)),
        ("reduce-repeated.pth", torch_zip(&reduce, &one)),
        (
            "stride0-1GiB.pth",
            torch_zip(&Pickle::new().op(b"}(").str("w").tensor(1, &[16384, 16384], &[0, 0]).op(b"u").stop(), &one),
        ),
        (
            "stride0-4EiB.pth",
            torch_zip(&Pickle::new().op(b"}(").str("w").tensor(1, &[1 << 30, 1 << 30], &[0, 0]).op(b"u").stop(), &one),
        ),
        ("os-system.pth", torch_zip(&Pickle::new().global("os", "system").str("echo hi").op(b"\x85R").stop(), b"")),
        ("string-4GiB.pth", torch_zip(&Pickle::new().op(b"X\xff\xff\xff\xff").stop(), b"")),
        ("header-2^62.safetensors", safetensors_huge),
        ("shape-2^60.safetensors", safetensors_shape),
        ("text.pth", b"not a checkpoint at all\n".to_vec()),
        ("empty.pth", Vec::new()),
    ]
}

/// A baseline JPEG whose frame header declares `w × h` (the data of an 8×8 image).
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut jpeg = Vec::new();
    image::RgbImage::from_pixel(8, 8, image::Rgb([90, 120, 200]))
        .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    let sof = jpeg.windows(2).position(|win| win == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[(h >> 8) as u8, h as u8, (w >> 8) as u8, w as u8]);
    jpeg
}

/// A PNG whose header declares `w × h` (with the data of a 1×1 image).
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::new(1, 1).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn sample_image() -> PathBuf {
    assets().join("sample-images/ILSVRC2012_val_00000347.JPEG")
}

#[test]
fn hostile_weights_are_refused_within_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    std::fs::copy(sample_image(), images.join("a.JPEG")).unwrap();
    for (name, bytes) in hostile_weights() {
        let file = tmp.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let out = tmp.path().join(format!("run-{name}"));
        let m = bounded(
            name,
            &["eval", "--images", s(&images), "--weights", s(&file), "--out", s(&out), "--device", "cpu"],
            2,
        );
        assert!(m.stderr_text().contains(name), "{name}: the message names the file:\n{}", m.stderr_text());
    }
}

#[test]
fn hostile_arrays_votes_and_labels_are_refused_within_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample_with(&run, &["--limit", "2"]);
    let dir = tmp.path();
    let ids = |n: &str| {
        npy(&format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({n},), }}"), &7i64.to_le_bytes(), None)
    };
    type Members = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, Members)> = vec![
        ("ids-10^12.npz", vec![("ids.npy", ids("1000000000000"))]),
        ("header-4GiB.npz", vec![("ids.npy", npy("{", b"", Some(u32::MAX)))]),
        (
            "pairs-10^12.npz",
            vec![
                ("ids.npy", ids("1")),
                (
                    "info.npy",
                    npy("{'descr': '<U28', 'fortran_order': False, 'shape': (1000000000000, 2), }", b"", None),
                ),
            ],
        ),
        ("zip-of-nothing.npz", vec![]),
    ];
    for (name, members) in cases {
        let path = dir.join(name);
        npz(&path, &members);
        bounded(name, &["study", "import", "--run", s(&run), "--format", "real-raters", s(&path)], 2);
    }
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let garbage = write("garbage.bin", &garbage_bytes());
    // npy files handed to MMD-critic.
    for (name, bytes) in [
        (
            "features-10^12.npy",
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", b"", None),
        ),
        ("features-header-4GiB.npy", npy("{", b"", Some(u32::MAX))),
        (
            "features-overflow.npy",
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", b"", None),
        ),
        ("features-text.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': oops}\n".to_vec()),
    ] {
        let p = write(name, &bytes);
        let out = dir.join(format!("{name}.json"));
        bounded(name, &["criticize", "--features", s(&p), "--method", "mmd", "--out", s(&out)], 2);
    }
    // Vote files.
    let cleanlab = write(
        "cleanlab-4e9.json",
        br#"[{"id": 1, "given_original_label": 3, "our_guessed_label": 4, "mturk": {"given": 4000000000, "guessed": 4000000000, "neither": 0, "both": 0}}]"#,
    );
    bounded("cleanlab-4e9.json", &["study", "import", "--run", s(&run), "--format", "cleanlab-mturk", s(&cleanlab)], 2);
    for format in ["cleanlab-mturk", "csv", "jsonl", "real-raters"] {
        let what = format!("garbage as {format}");
        bounded(&what, &["study", "import", "--run", s(&run), "--format", format, s(&garbage)], 2);
    }
    // Label files.
    let images = assets().join("sample-images");
    for (name, bytes) in [
        ("labels-garbage.csv", garbage_bytes()),
        ("labels-huge-index.csv", b"file,label\nILSVRC2012_val_00000347.JPEG,99999999999999999999\n".to_vec()),
        ("labels-negative.txt", b"ILSVRC2012_val_00000347.JPEG -5\n".to_vec()),
    ] {
        let p = write(name, &bytes);
        let out = dir.join(format!("run-{name}"));
        bounded(name, &["eval", "--images", s(&images), "--labels", s(&p), "--out", s(&out), "--device", "cpu"], 2);
    }
    let real = write("real-garbage.json", b"[[1, 2], {\"x\": ");
    let out = dir.join("run-real");
    bounded(
        "real-garbage.json",
        &[
            "eval",
            "--images",
            s(&images),
            "--real-labels",
            s(&real),
            "--out",
            s(&out),
            "--device",
            "cpu",
            "--limit",
            "1",
        ],
        2,
    );
}

/// The bundled 27×20 progressive JPEG (Pillow, libjpeg's default scan script) with its first
/// scan (the interleaved DC scan, which visits every block) repeated `extra` more times: valid
/// scans, decoded one after another, but a few hundred bytes that ask the decoder to go over the
/// image `extra` + ~10 times.
fn progressive_with_repeated_scan(extra: usize) -> Vec<u8> {
    let data = include_bytes!("../../data/tests/data/progressive_27x20.jpg");
    let start = data.windows(2).position(|w| w == [0xFF, 0xDA]).expect("a scan");
    let header = usize::from(data[start + 2]) << 8 | usize::from(data[start + 3]);
    let mut end = start + 2 + header;
    // The entropy-coded data ends at the next marker that is neither stuffing (FF00) nor a restart.
    while !(data[end] == 0xFF && data[end + 1] != 0 && !(0xD0..=0xD7).contains(&data[end + 1])) {
        end += 1;
    }
    let mut out = data[..end].to_vec();
    for _ in 0..extra {
        out.extend_from_slice(&data[start..end]);
    }
    out.extend_from_slice(&data[end..]);
    out
}

fn garbage_bytes() -> Vec<u8> {
    (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect()
}

#[test]
fn hostile_images_and_links_are_per_file_errors_within_bounds() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("bomb-20000x20000.jpg", jpeg_declaring(20_000, 20_000)),
        ("bomb-13000x13000.jpg", jpeg_declaring(13_000, 13_000)),
        ("bomb-60000x60000.png", png_declaring(60_000, 60_000)),
        ("bomb-13000x13000.png", png_declaring(13_000, 13_000)),
        ("garbage.jpg", garbage_bytes()),
        ("jpeg-header-only.jpg", jpeg_declaring(640, 480)[..200].to_vec()),
        ("progressive-100-passes.jpg", progressive_with_repeated_scan(100)),
    ];
    // The per-file error each must give (issue #28 §1: named, not only counted); `None`: decoded.
    let expected: HashMap<&str, Option<&str>> = [
        ("bomb-20000x20000.jpg", Some("image is 20000×20000 px, over the limit of 178956970 pixels")),
        ("bomb-13000x13000.jpg", None),
        ("bomb-60000x60000.png", Some("image is 60000×60000 px, over the limit of 178956970 pixels")),
        (
            "bomb-13000x13000.png",
            Some("cannot decode PNG image: Format error decoding Png: IDAT or fDAT chunk does not have enough data"),
        ),
        ("garbage.jpg", Some("cannot decode unknown format: not a recognised image file")),
        ("jpeg-header-only.jpg", Some("cannot decode JPEG image: file is truncated")),
        ("progressive-100-passes.jpg", Some("cannot decode JPEG image: 65 scans go over the image more than 64 times")),
    ]
    .into_iter()
    .collect();
    // Each hostile file alone beside one good image: the run goes on, the good image is
    // evaluated, and the hostile one is a per-file error (or, for the 13,000² JPEG whose data runs
    // out, decoded grey as libjpeg does) — within the bounds.
    for (name, bytes) in &hostile {
        let images = tmp.path().join(format!("images-{name}"));
        std::fs::create_dir(&images).unwrap();
        std::fs::copy(sample_image(), images.join("good.JPEG")).unwrap();
        std::fs::write(images.join(name), bytes).unwrap();
        let run = tmp.path().join(format!("run-{name}"));
        bounded(name, &["eval", "--images", s(&images), "--out", s(&run), "--device", "cpu"], 0);
        let sum = summary(&run);
        assert_eq!(sum["n"], 2, "{name}: {sum}");
        assert!(predictions(&run).iter().any(|r| r[0] == "good.JPEG"), "{name}");
        let errors = sum["errors"].as_array().unwrap();
        match expected[name] {
            None => assert!(errors.is_empty(), "{name}: decoded, no error: {sum}"),
            Some(words) => {
                assert_eq!(errors.len(), 1, "{name}: {sum}");
                assert_eq!(errors[0]["file"], *name, "{name}: the error names the file");
                let message = errors[0]["message"].as_str().unwrap();
                println!("{name}: {message}");
                assert!(message.contains(words), "{name}: {words:?} in {message:?}");
            }
        }
    }
    // The limit is what refuses the progressive file: with 40 repeats (about 50 passes) it decodes.
    let images = tmp.path().join("images-progressive-40");
    std::fs::create_dir(&images).unwrap();
    std::fs::write(images.join("p.jpg"), progressive_with_repeated_scan(40)).unwrap();
    let run = tmp.path().join("run-progressive-40");
    bounded("progressive, 40 repeats", &["eval", "--images", s(&images), "--out", s(&run), "--device", "cpu"], 0);
    assert_eq!(summary(&run)["errors"].as_array().map(Vec::len), Some(0), "{}", summary(&run));
    // Links: dangling, to itself, and a loop back to the folder.
    let images = tmp.path().join("images-links");
    std::fs::create_dir_all(images.join("sub")).unwrap();
    std::fs::copy(sample_image(), images.join("good.JPEG")).unwrap();
    symlink(images.join("nowhere.jpg"), images.join("dangling.jpg")).unwrap();
    symlink(images.join("self.jpg"), images.join("self.jpg")).unwrap();
    symlink(&images, images.join("sub/loop")).unwrap();
    let fifo = Command::new("mkfifo").arg(images.join("pipe.jpg")).status().is_ok_and(|s| s.success());
    let run = tmp.path().join("run-links");
    let m = bounded("links", &["eval", "--images", s(&images), "--out", s(&run), "--device", "cpu"], 0);
    let sum = summary(&run);
    let failed: Vec<&str> = sum["errors"].as_array().unwrap().iter().map(|e| e["file"].as_str().unwrap()).collect();
    assert_eq!(failed, ["dangling.jpg", "self.jpg"], "{sum}");
    let skipped: Vec<&str> = sum["skipped"].as_array().unwrap().iter().map(|e| e["file"].as_str().unwrap()).collect();
    assert!(skipped.contains(&"sub/loop"), "{sum}");
    assert_eq!(skipped.contains(&"pipe.jpg"), fifo, "{sum}");
    assert!(m.stderr_text().contains("symbolic link loop"), "{}", m.stderr_text());

    // All the images together, decoded by 3 workers that share the decoding budget.
    let all = tmp.path().join("images-all");
    std::fs::create_dir(&all).unwrap();
    for i in 0..3 {
        std::fs::copy(sample_image(), all.join(format!("good{i}.JPEG"))).unwrap();
    }
    for (name, bytes) in &hostile {
        std::fs::write(all.join(name), bytes).unwrap();
        std::fs::write(all.join(format!("again-{name}")), bytes).unwrap();
    }
    let run = tmp.path().join("run-all");
    let m = run_measured(
        Command::new(env!("CARGO_BIN_EXE_rectify")).args([
            "eval",
            "--images",
            s(&all),
            "--out",
            s(&run),
            "--device",
            "cpu",
            "--workers",
            "3",
        ]),
        Duration::from_secs(60),
    );
    println!(
        "all together, 3 workers: exit {:?} in {:.1} s, {} MiB",
        m.status.code(),
        m.wall.as_secs_f64(),
        m.max_rss >> 20
    );
    assert_eq!(m.status.code(), Some(0), "{}", m.stderr_text());
    assert!(m.max_rss <= MEMORY, "{} MiB resident", m.max_rss >> 20);
    assert_eq!(summary(&run)["n"].as_u64(), Some(3 + 2 * hostile.len() as u64));
    // The limits are flags: with a lower pixel limit the 13,000² bomb is refused too.
    let images = tmp.path().join("images-bomb-13000x13000.jpg");
    let run = tmp.path().join("run-limit");
    bounded(
        "--max-image-pixels",
        &["eval", "--images", s(&images), "--out", s(&run), "--device", "cpu", "--max-image-pixels", "1000000"],
        0,
    );
    let err = &summary(&run)["errors"][0]["message"];
    assert!(err.as_str().unwrap().contains("over the limit of 1000000 pixels"), "{err}");
    let run = tmp.path().join("run-budget");
    bounded(
        "--decode-memory",
        &["--decode-memory", "64MiB", "eval", "--images", s(&images), "--out", s(&run), "--device", "cpu"],
        0,
    );
    let err = &summary(&run)["errors"][0]["message"];
    assert!(err.as_str().unwrap().contains("more than the decoding memory budget of 64 MiB"), "{err}");
}

/// Issue #28 §4: a preprocessing config asking for a 16384-px crop (3.2 GB of floats per image)
/// was accepted, and eval died in an `unwrap` in `pixels_from_u8` (exit 101, a libtorch trace).
/// Crops over 1024 px and resizes over 4096 px are now refused by name, by config and by flag.
/// And the 1 MiB guards of the small text inputs trusted the file's reported size: a named pipe
/// blocked for ever and `/dev/zero` was read until out of memory. Every small text input (configs,
/// class subsets, instructions, label files, ReaL labels) is now read with a bounded reader that
/// refuses files that are not regular. Mutation: the old `check` (16384) fails the crop cases;
/// reading with `read_to_string` after the metadata check hangs on the FIFO (10 s bound).
#[test]
fn huge_crops_pipes_and_devices_are_refused_within_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (images, labels) = (assets().join("sample-images"), assets().join("sample-labels.csv"));
    let (images, labels) = (s(&images).to_string(), s(&labels).to_string());
    let out = t.join("out");
    let eval = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> =
            ["eval", "--images", &images, "--labels", &labels, "--out", s(&out), "--limit", "2", "--device", "cpu"]
                .iter()
                .map(|a| a.to_string())
                .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let run = |what: &str, args: Vec<String>, words: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let m = bounded(what, &args, 2);
        let err = m.stderr_text();
        assert!(err.contains(words), "{what}: {words:?} in\n{err}");
        assert!(!out.join("rectify.db").exists(), "{what}: a run was created");
    };
    let config = t.join("huge.json");
    std::fs::write(&config, r#"{"input_size": [3, 16384, 16384], "crop_pct": 1.0}"#).unwrap();
    run("a 16384-px crop by config", eval(&["--preprocess", s(&config)]), "side 16384 px (1 to 1024)");
    run("a 1025-px crop by flag", eval(&["--crop", "1025"]), "crop size 1025 px (1 to 1024)");
    run("a 4097-px resize by flag", eval(&["--resize", "4097"]), "resize size 4097 px (at most 4096)");
    run("a resize from a tiny crop_pct", eval(&["--crop-pct", "0.01"]), "resize size 22400 px (at most 4096)");

    let fifo = t.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo_s = s(&fifo).to_string();
    for (flag, what) in [("--preprocess", "config"), ("--class-subset", "class subset"), ("--labels", "label file")] {
        for (file, kind) in [(fifo_s.as_str(), "a named pipe"), ("/dev/zero", "a character device")] {
            let mut args = eval(&[]);
            if flag == "--labels" {
                let at = args.iter().position(|a| a == "--labels").unwrap();
                args[at + 1] = file.to_string();
            } else {
                args.extend([flag.to_string(), file.to_string()]);
            }
            run(&format!("a {what} that is {kind}"), args, &format!("{kind}, not a regular file"));
        }
    }
    let mut args = eval(&[]);
    args.extend(["--real-labels".to_string(), "/dev/zero".to_string()]);
    run("ReaL labels from /dev/zero", args, "a character device, not a regular file");
    // A regular label file over its limit is refused by its size, read no further than the limit.
    let big = t.join("big.txt");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(rectify_data::files::MAX_LABEL_FILE + 1).unwrap();
    let mut args = eval(&[]);
    let at = args.iter().position(|a| a == "--labels").unwrap();
    args[at + 1] = s(&big).to_string();
    run("a sparse label file over the limit", args, "the most rectify reads for a label file");

    // The other small inputs: weights, group files, vote files (issue #28 review).
    let mut args = eval(&[]);
    args.extend(["--weights".to_string(), fifo_s.clone()]);
    run("weights from a named pipe", args, "not a regular file");
    // `study serve --instructions` reads its Markdown the same way (checked before serving).
    let run_dir = t.join("run");
    eval_sample(&run_dir, "50");
    rectify_ok(&["study", "design", "--run", s(&run_dir), "--design", "relevance-top1"]);
    let m = bounded(
        "instructions from a named pipe",
        &[
            "study",
            "serve",
            "--run",
            s(&run_dir),
            "--platform",
            "pid",
            "--per-participant",
            "1",
            "--instructions",
            &fifo_s,
        ],
        2,
    );
    assert!(m.stderr_text().contains("a named pipe, not a regular file"), "{}", m.stderr_text());
    let r = s(&run_dir).to_string();
    for (what, args) in [
        ("a group file from a named pipe", vec!["criticize", "--run", &r, "--method", "random", "--per", &fifo_s]),
        ("ReaL's votes from a named pipe", vec!["study", "import", "--run", &r, "--format", "real-raters", &fifo_s]),
        ("a vote CSV from a named pipe", vec!["study", "import", "--run", &r, "--format", "csv", &fifo_s]),
    ] {
        let m = bounded(what, &args, 2);
        assert!(m.stderr_text().contains("a named pipe, not a regular file"), "{what}: {}", m.stderr_text());
    }
}
