//! Checkpoints written by PyTorch itself (`scripts/fixtures/weights.py`): every dtype, strided views with storage
//! offsets, tensors sharing a storage, `nn.Module` and `nn.DataParallel` state dicts, Parameters, a nested
//! `{"state_dict": ...}` checkpoint, pickle protocols 2 and 4, the legacy stream, and a float16 safetensors file.
//! Each tensor is checked bit for bit against its bytes and value by value against `expected.json`.
//!
//! Generate with `/root/.cache/rectify/torch-2.11.0/bin/python scripts/fixtures/weights.py target/fixtures`;
//! the directory is `$RECTIFY_FIXTURES/weights` (default `<workspace>/target/fixtures/weights`). Missing fixtures
//! skip the tests, or fail them when `RECTIFY_REQUIRE_FIXTURES=1`.

use rectify_weights::{Format, StateDict, TensorData};
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> Option<(PathBuf, Value)> {
    let dir = rectify_testkit::fixtures("weights")?;
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("the weights fixture set has expected.json");
    Some((dir, serde_json::from_str(&text).unwrap()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks one tensor against its `expected.json` record.
fn check_tensor(file: &str, t: &TensorData, want: &Value) {
    let name = want["name"].as_str().unwrap();
    let ctx = format!("{file}: {name}");
    assert_eq!(t.dtype.torch_name(), want["dtype"].as_str().unwrap(), "{ctx}");
    let shape: Vec<usize> = want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    assert_eq!(t.shape, shape, "{ctx}");
    assert_eq!(hex(t.as_bytes()), want["hex"].as_str().unwrap(), "{ctx}: bytes");
    let values = want["values"].as_array().unwrap();
    assert_eq!(t.numel(), values.len(), "{ctx}");
    if t.dtype.is_float() {
        assert_eq!(t.to_i64(), None, "{ctx}");
        for (i, (got, v)) in t.to_f64().into_iter().zip(values).enumerate() {
            let ok = match v.as_str() {
                Some("nan") => got.is_nan(),
                Some("inf") => got == f64::INFINITY,
                Some("-inf") => got == f64::NEG_INFINITY,
                _ => got.to_bits() == v.as_f64().unwrap().to_bits(),
            };
            assert!(ok, "{ctx}[{i}]: got {got}, want {v}");
        }
        let f32s = t.to_f32();
        assert_eq!(f32s.len(), values.len(), "{ctx}");
    } else {
        let got = t.to_i64().unwrap();
        let want: Vec<i64> =
            values.iter().map(|v| v.as_i64().or_else(|| v.as_bool().map(i64::from)).unwrap()).collect();
        assert_eq!(got, want, "{ctx}");
    }
}

#[test]
fn every_tensor_matches_pytorch() {
    let Some((dir, expected)) = fixtures() else { return };
    let files = expected["files"].as_object().unwrap();
    assert!(files.len() >= 11);
    for (file, want) in files {
        let sd = StateDict::read(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {}", chain(&e)));
        let format = match want["format"].as_str().unwrap() {
            "zip" => Format::TorchZip,
            "legacy" => Format::TorchLegacy,
            _ => Format::Safetensors,
        };
        assert_eq!(sd.format(), format, "{file}");
        assert_eq!(sd.unwrapped_from(), want["unwrapped_from"].as_str(), "{file}");
        let tensors = want["tensors"].as_array().unwrap();
        let names: Vec<&str> = tensors.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(sd.names().collect::<Vec<_>>(), names, "{file}: names in file order");
        for (t, w) in sd.iter().map(|(_, t)| t).zip(tensors) {
            check_tensor(file, t, w);
        }
        eprintln!("{file}: {} tensors, {:?}", sd.len(), sd.format());
    }
}

#[test]
fn broken_checkpoints_are_refused_with_reasons() {
    let Some((dir, expected)) = fixtures() else { return };
    for (file, want) in expected["errors"].as_object().unwrap() {
        let err = StateDict::read(&dir.join(file)).expect_err(file);
        let text = chain(&err);
        assert!(text.contains(want.as_str().unwrap()), "{file}: {text}");
        assert!(text.contains(file.as_str()), "{file}: the message names the file: {text}");
    }
}

#[test]
fn data_parallel_prefix_strips_to_the_plain_module() {
    let Some((dir, _)) = fixtures() else { return };
    let dp = StateDict::read(&dir.join("data_parallel.pt")).unwrap();
    assert!(dp.names().all(|n| n.starts_with("module.")));
    let plain = StateDict::read(&dir.join("module.pt")).unwrap();
    let stripped = dp.strip_prefix("module.");
    assert_eq!(stripped.names().collect::<Vec<_>>(), plain.names().collect::<Vec<_>>());
    for (name, t) in plain.iter() {
        assert_eq!(stripped.get(name), Some(t), "{name}");
    }
}

#[test]
fn in_memory_readers_match_the_file_reader() {
    let Some((dir, _)) = fixtures() else { return };
    let bytes = std::fs::read(dir.join("f16.safetensors")).unwrap();
    let st = StateDict::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(st.metadata().get("dtype").map(String::as_str), Some("float16"));
    assert!(StateDict::from_pth_bytes(&bytes).is_err(), "safetensors is not a .pth");
    for file in ["dtypes.pt", "legacy.pt"] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let a = StateDict::from_pth_bytes(&bytes).unwrap();
        let b = StateDict::read(&dir.join(file)).unwrap();
        assert!(a.iter().zip(b.iter()).all(|(x, y)| x == y), "{file}");
        assert!(StateDict::from_safetensors_bytes(&bytes).is_err(), "{file} is not safetensors");
    }
}

/// The error and its sources, like anyhow's `{:#}`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[test]
fn corrupted_torch_files_never_panic() {
    let Some((dir, _)) = fixtures() else { return };
    for file in ["module.pt", "legacy_views.pt", "f16.safetensors"] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            let _ = StateDict::from_bytes(&b); // Ok or Err, but it returns
        }
        for n in 0..bytes.len() {
            assert!(StateDict::from_bytes(&bytes[..n]).is_err(), "{file} truncated to {n} bytes");
        }
    }
}
