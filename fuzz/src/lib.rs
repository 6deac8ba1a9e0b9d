//! What every fuzz target shares: an allocator that turns an allocation over the budget into a
//! crash libFuzzer reports (the parsers must refuse such inputs before allocating), and a scratch
//! file for the parsers that read paths.

#![allow(unsafe_code)] // the budget allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most one input may allocate at once, in bytes (the decoders' own budgets are smaller).
pub const BUDGET: usize = 1 << 30;

/// Forwards to the system allocator, aborting when live allocations would exceed [`BUDGET`].
pub struct Budget;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter never changes
// the returned pointers, and going over the budget aborts before allocating.
unsafe impl GlobalAlloc for Budget {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if now > BUDGET {
            eprintln!("fuzz: allocation of {} bytes would take {now} bytes live, over the budget", layout.size());
            std::process::abort();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
            if now > BUDGET {
                eprintln!("fuzz: reallocation to {new_size} bytes would take {now} bytes live, over the budget");
                std::process::abort();
            }
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A scratch file of this process holding `bytes`, for parsers that read a path.
pub fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("rectify-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
