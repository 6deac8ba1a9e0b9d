//! The Python anchors of `../shared/anchors`, run by the benchmarks: each on the same inputs as
//! rectify, twice — with glibc's default allocator settings, as a user runs it, and with the
//! settings rectify gives itself (`rectify_model::memory::keep_freed_memory`: no mmap-backed
//! blocks, no trimming of the heap) through `GLIBC_TUNABLES` — so that every benchmark prints the
//! ratio against both. rectify keeps the advantage it built in; the second ratio shows how much of
//! it is the allocator.

use std::path::Path;
use std::process::Command;

/// glibc tunables equal to `mallopt(M_MMAP_MAX, 0)` and `mallopt(M_TRIM_THRESHOLD, i32::MAX)`.
pub const KEEP_FREED_TUNABLES: &str = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647";

/// How the anchor's process allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// glibc's defaults.
    GlibcDefault,
    /// rectify's settings, through `GLIBC_TUNABLES`.
    KeepFreed,
}

impl Allocator {
    /// Both, in the order benchmarks report them.
    pub const BOTH: [Allocator; 2] = [Allocator::GlibcDefault, Allocator::KeepFreed];

    /// A few words for the printed line.
    pub fn label(self) -> &'static str {
        match self {
            Allocator::GlibcDefault => "glibc defaults",
            Allocator::KeepFreed => "rectify's allocator settings",
        }
    }
}

/// The Python that runs the anchors: `RECTIFY_PYTHON`, the activated virtual environment's, or
/// `python3`.
pub fn python() -> String {
    std::env::var("RECTIFY_PYTHON")
        .or_else(|_| std::env::var("VIRTUAL_ENV").map(|v| format!("{v}/bin/python")))
        .unwrap_or_else(|_| "python3".into())
}

/// Runs `python [prefix…] script args…` with `allocator`; returns the JSON of its last line.
pub fn run(prefix: &[&Path], script: &Path, args: &[&str], allocator: Allocator) -> serde_json::Value {
    let mut cmd = Command::new(python());
    cmd.args(prefix).arg(script).args(args);
    match allocator {
        Allocator::GlibcDefault => cmd.env_remove("GLIBC_TUNABLES"),
        Allocator::KeepFreed => cmd.env("GLIBC_TUNABLES", KEEP_FREED_TUNABLES),
    };
    let out = cmd.output().unwrap_or_else(|e| panic!("{}: {e}", python()));
    assert!(out.status.success(), "anchor {} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("the anchor prints a line")).expect("the anchor prints JSON")
}

/// The median of `xs` (the upper one of an even count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
