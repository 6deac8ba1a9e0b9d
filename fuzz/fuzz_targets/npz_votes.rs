//! Any bytes as ReaL's `real_raters.npz` (zip members, npy headers, the streamed vote tensor).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fuzz_target!(|data: &[u8]| {
    let path = rectify_fuzz::scratch("npz", data);
    let _ = rectify_study::import::real_raters(&path);
});
