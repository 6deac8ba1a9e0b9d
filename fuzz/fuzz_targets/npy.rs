//! Any bytes as an `.npy` file, read as each element type, and as a stream header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rectify_data::npy;

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fuzz_target!(|data: &[u8]| {
    let path = rectify_fuzz::scratch("npy", data);
    if let Ok(a) = npy::read_f32(&path) {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
    let _ = npy::read_f64(&path);
    let _ = npy::read_i64(&path);
    let _ = npy::read_u8(&path);
    let _ = npy::read_header(&mut &data[..]);
});
