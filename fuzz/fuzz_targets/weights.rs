//! Any bytes as a checkpoint: torch.save zip archives and legacy streams (the zip reader, the
//! pickle VM, tensor views), and safetensors files.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = rectify_weights::StateDict::from_bytes(data) {
        for (_, t) in sd.iter() {
            assert_eq!(t.as_bytes().len(), t.numel() * t.dtype.size_in_bytes());
        }
    }
});
