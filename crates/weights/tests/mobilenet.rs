//! The real torchvision MobileNetV2 checkpoint (`mobilenet_v2-b0353104.pth`, a legacy-format `torch.save`) against
//! the same tensors saved as float32 safetensors, both from `../shared/models`. Skips when `shared/` is absent.
//!
//! Expected numbers from PyTorch 2.11:
//! ```python
//! sd = torch.load("mobilenet_v2-b0353104.pth")
//! len(sd), sum(v.numel() for v in sd.values())            # 314, 3539036
//! sd["classifier.1.bias"][:3].tolist()                     # [0.04718802496790886, 0.00994938239455223, -0.0333951227...]
//! sd["features.0.1.num_batches_tracked"]                   # tensor(1431430)
//! sd["features.0.0.weight"].double().sum().item()          # -0.7730716340520303
//! ```

use rectify_weights::{sha256_file, DType, Format, StateDict};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn shared_models() -> Option<PathBuf> {
    rectify_testkit::shared().map(|s| s.join("models"))
}

/// Fastest of a few reads, to keep the timing free of cold-cache noise.
fn timed_read(path: &std::path::Path) -> (StateDict, Duration) {
    let mut best = Duration::MAX;
    let mut sd = None;
    for _ in 0..3 {
        let t = Instant::now();
        sd = Some(StateDict::read(path).unwrap());
        best = best.min(t.elapsed());
    }
    (sd.unwrap(), best)
}

#[test]
fn pth_and_safetensors_agree_bit_for_bit() {
    let Some(models) = shared_models() else { return };
    let (pth, pth_time) = timed_read(&models.join("mobilenet_v2-b0353104.pth"));
    let (st, st_time) = timed_read(&models.join("mobilenet_v2_imagenet1k_v1.safetensors"));
    assert_eq!(pth.format(), Format::TorchLegacy);
    assert_eq!(st.format(), Format::Safetensors);
    assert_eq!(pth.unwrapped_from(), None);

    assert_eq!(pth.len(), 314);
    assert_eq!(st.len(), pth.len());
    let mut a: Vec<&str> = pth.names().collect();
    let mut b: Vec<&str> = st.names().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "same tensor names");
    for (name, t) in pth.iter() {
        let s = st.get(name).unwrap();
        assert_eq!((t.dtype, &t.shape), (s.dtype, &s.shape), "{name}");
        assert!(t.as_bytes() == s.as_bytes(), "{name}: values differ");
    }

    let batches: Vec<&str> = pth.names().filter(|n| n.ends_with("num_batches_tracked")).collect();
    let params: usize = pth.iter().filter(|(_, t)| t.dtype == DType::F32).map(|(_, t)| t.numel()).sum();
    assert_eq!(pth.total_numel(), 3_539_036);
    assert_eq!(params, 3_538_984);
    assert_eq!(batches.len(), 52);
    let nbt = pth.get("features.0.1.num_batches_tracked").unwrap();
    assert_eq!((nbt.dtype, nbt.shape.as_slice(), nbt.to_i64()), (DType::I64, &[][..], Some(vec![1431430])));
    let bias = pth.get("classifier.1.bias").unwrap().to_f32();
    assert_eq!(&bias[..3], &[0.047_188_025_f32, 0.009_949_382, -0.033_395_123]);
    let w = pth.get("features.0.0.weight").unwrap();
    assert_eq!(w.shape, [32, 3, 3, 3]);
    let sum: f64 = w.to_f64().iter().sum();
    assert!((sum - -0.773_071_634_052_030_3).abs() < 1e-9, "{sum}");
    assert_eq!(st.metadata().get("arch").map(String::as_str), Some("torchvision.models.mobilenet_v2"));

    eprintln!(
        "mobilenet_v2: {} tensors ({} num_batches_tracked, in both files), {} elements ({} float32), \
         read .pth in {:.1} ms, .safetensors in {:.1} ms",
        pth.len(),
        batches.len(),
        pth.total_numel(),
        params,
        pth_time.as_secs_f64() * 1e3,
        st_time.as_secs_f64() * 1e3,
    );
    if !cfg!(debug_assertions) {
        assert!(pth_time < Duration::from_millis(100), "reading the .pth took {pth_time:?}");
    }
}

#[test]
fn sha256_of_the_checkpoint_matches_its_name() {
    let Some(models) = shared_models() else { return };
    // torchvision names its files <arch>-<first 8 hex digits of the SHA-256>.pth.
    let digest = sha256_file(&models.join("mobilenet_v2-b0353104.pth")).unwrap();
    assert_eq!(digest, "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889");
}
