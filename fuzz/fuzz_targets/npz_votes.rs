//! Any bytes as ReaL's `real_raters.npz` (zip members, npy headers, the streamed vote tensor).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fuzz_target!(|data: &[u8]| {
    // In memory: a scratch file per input made the run spend half its time in the kernel.
    let _ = rectify_study::import::real_raters_from(std::io::Cursor::new(data), "fuzz.npz".as_ref());
});
