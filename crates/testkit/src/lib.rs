//! Where tests find their inputs, and what they do when an input is absent.
//!
//! * `../shared` (the project's read-only references and data): found beside the workspace or
//!   through `RECTIFY_SHARED`. Absent → the test prints why and passes as skipped, unless
//!   `RECTIFY_REQUIRE_SHARED=1`, which makes it fail.
//! * generated fixtures (`scripts/fixtures.sh`, made with PyTorch/torchvision/Pillow): in
//!   `target/fixtures/<set>` or `RECTIFY_FIXTURES/<set>`. Absent → skipped, unless
//!   `RECTIFY_REQUIRE_FIXTURES=1` (set by `scripts/test.sh` and CI), which makes it fail.

use std::path::{Path, PathBuf};

pub mod anchor;
pub mod browser;
pub mod craft;
pub mod goals;
#[cfg(unix)]
#[allow(unsafe_code)] // wait4 and kill, for the child's own resource usage
pub mod measure;
pub mod report;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root exists")
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

fn absent(what: &str, var: &str, hint: &str) -> Option<PathBuf> {
    if required(var) {
        panic!("{what} is required ({var}=1) but absent; {hint}");
    }
    eprintln!("skipped: {what} is absent; {hint}");
    None
}

/// `../shared`, or `None` (with a printed reason) when it is absent.
pub fn shared() -> Option<PathBuf> {
    let dir =
        std::env::var_os("RECTIFY_SHARED").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("../shared"));
    if dir.join("README.md").is_file() {
        Some(dir)
    } else {
        absent(&format!("shared data ({})", dir.display()), "RECTIFY_REQUIRE_SHARED", "set RECTIFY_SHARED")
    }
}

/// A file under `../shared` (e.g. `reference/preprocessed_first4.npy`), or `None` when absent.
pub fn shared_file(rel: &str) -> Option<PathBuf> {
    let path = shared()?.join(rel);
    assert!(path.exists(), "{} is missing from shared/", path.display());
    Some(path)
}

/// The hash of an 8-bit crop that the fixture scripts write (`crop_hash` in
/// `scripts/fixtures/preprocess.py`): the sum of `(b_i + 1) · P^(i+1)` mod 2^64, `P` the FNV
/// prime, so a test can check many crops for bit-exactness without storing them.
pub fn crop_hash(bytes: &[u8]) -> String {
    const P: u64 = 0x100000001B3;
    let (mut h, mut p) = (0u64, 1u64);
    for &b in bytes {
        p = p.wrapping_mul(P);
        h = h.wrapping_add((u64::from(b) + 1).wrapping_mul(p));
    }
    format!("{h:016x}")
}

/// The generated fixture set `set` (e.g. `zoo`), or `None` (with a printed reason) when absent.
pub fn fixtures(set: &str) -> Option<PathBuf> {
    let base = std::env::var_os("RECTIFY_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/fixtures"));
    let dir = base.join(set);
    if dir.is_dir() {
        Some(dir)
    } else {
        absent(
            &format!("fixture set {set:?} ({})", dir.display()),
            "RECTIFY_REQUIRE_FIXTURES",
            "run scripts/fixtures.sh",
        )
    }
}
