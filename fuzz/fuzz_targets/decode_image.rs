//! Any bytes as an image file: our libjpeg-turbo port, the `image` crate's PNG, WebP, BMP, GIF and
//! TIFF decoders, the resize and the crop. Pixels are limited to 4 Mpx (the bound keeps an input's
//! decode well under a second; the pixel limit itself is tested at its default elsewhere).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rectify_data::preprocess::{set_decode_limits, DecodeLimits, Preprocess};

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fuzz_target!(|data: &[u8]| {
    set_decode_limits(DecodeLimits { max_pixels: 1 << 22, memory: 256 << 20 });
    if let Ok(crop) = Preprocess::default().from_bytes(data) {
        assert_eq!(crop.len(), 224 * 224 * 3);
    }
});
