//! Benchmark of issue #5: MMD-critic's scalable path on n = 50,000 rows of d = 1,280 features
//! (goal: under 2 minutes and 2 GiB on the 2-core CPU), through `rectify criticize --features`,
//! with the wall time and the process's peak resident memory printed.
//!
//! The rows are val-1300's MobileNetV2 features (../shared/reference), resampled with a random
//! scale and noise, so distances look like real ones; without ../shared, Gaussian clusters.
//! `BENCH_MMD_ROWS` changes n. `cargo bench -p rectify --bench mmd_scalable`.

use std::process::Command;
use std::time::Instant;

use rectify_data::rng::SplitMix64;

fn main() {
    let n: usize = std::env::var("BENCH_MMD_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let d = 1280;
    let mut rng = SplitMix64::new(11, 0);
    let source = rectify_testkit::shared_file("reference/mobilenet_v2_features_val1300.npy")
        .map(|p| rectify_data::npy::read_f32(&p).expect("reference features"));
    let mut data = Vec::with_capacity(n * d);
    match &source {
        Some(npy) => {
            let rows = npy.shape[0];
            for _ in 0..n {
                let r = rng.below(rows as u64) as usize;
                let scale = 0.8 + 0.4 * rng.uniform();
                data.extend(
                    npy.data[r * d..(r + 1) * d]
                        .iter()
                        .map(|&v| (f64::from(v) * scale + 0.05 * rng.normal()).max(0.0) as f32),
                );
            }
        }
        None => {
            let centres: Vec<f32> = (0..1000 * d).map(|_| rng.normal().max(0.0) as f32).collect();
            for _ in 0..n {
                let c = rng.below(1000) as usize;
                data.extend(centres[c * d..(c + 1) * d].iter().map(|&v| (f64::from(v) + 0.3 * rng.normal()) as f32));
            }
        }
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let npy = tmp.path().join("features.npy");
    rectify_data::npy::write_f32(&npy, &[n, d], &data).expect("write features");
    drop(data);
    let out = tmp.path().join("selection.json");
    let start = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_rectify"))
        .args(["criticize", "--features", npy.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--method", "mmd", "--per", "all", "--prototypes", "20", "--criticisms", "10", "--threads", "2"])
        .output()
        .expect("rectify runs");
    let wall = start.elapsed().as_secs_f64();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let sel: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    // No figure (NaN) misses the goal rather than meeting it.
    let peak = sel["peak_memory_mib"].as_f64().unwrap_or(f64::NAN);
    println!(
        "mmd-critic, n = {n}, d = {d} ({} rows), 20 prototypes + 10 logdet criticisms, blocked kernel, 2 threads: \
         {wall:.1} s wall (selection {:.1} s), peak memory {peak} MiB (goal: < 120 s, < 2048 MiB); {}",
        if source.is_some() { "resampled val-1300" } else { "synthetic" },
        sel["seconds"].as_f64().unwrap_or(f64::NAN),
        sel["groups"][0]["note"].as_str().unwrap_or("?"),
    );
    use rectify_testkit::goals::{Cmp, Goals};
    let mut goals = Goals::new("mmd_scalable");
    goals.check(&format!("wall time, n = {n}"), wall, Cmp::Below, 120.0, " s");
    goals.check(&format!("peak resident memory, n = {n}"), peak, Cmp::Below, 2048.0, " MiB");
    goals.finish();
}
