//! `rectify_model::memory::keep_freed_memory` does what `rectify` relies on: a large block that is
//! freed stays in the process (and is reused by the next allocation) instead of going back to the
//! system. Measured by resident memory, before and after the call, on a 64 MiB block: larger than
//! glibc's largest dynamic mmap threshold (32 MiB), so with the defaults it is `mmap`ed and
//! `munmap`ed. Runs without libtest's harness (see Cargo.toml): one process, one thread.

use std::hint::black_box;

const BLOCK: usize = 64 << 20;

/// Resident memory of this process in bytes (`/proc/self/statm`, second field, in pages).
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("resident pages");
    pages * 4096
}

/// Allocates a block, touches every page, frees it; returns how much resident memory the free
/// gave back to the system.
fn released_by_free() -> usize {
    let block = black_box(vec![1u8; BLOCK]);
    let with_block = resident();
    drop(block);
    with_block.saturating_sub(resident())
}

fn main() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        println!("memory: glibc only; nothing to check here");
        return;
    }
    let mib = |b: usize| b as f64 / f64::from(1 << 20);
    let default = released_by_free();
    println!("glibc defaults: freeing a 64 MiB block returned {:.1} MiB to the system", mib(default));
    assert!(default >= BLOCK * 9 / 10, "with glibc's defaults the block goes back to the system");

    assert!(rectify_model::memory::keep_freed_memory(), "glibc accepts the settings");
    released_by_free(); // the heap grows to hold the block once
    let kept = released_by_free();
    println!("after keep_freed_memory: freeing it returned {:.1} MiB", mib(kept));
    assert!(kept < BLOCK / 64, "freed memory stays in the heap: {:.1} MiB went back", mib(kept));
}
