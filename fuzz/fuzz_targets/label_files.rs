//! Any bytes as a label file (`file,label` CSV or `file label` lines) for a folder of three images,
//! and as ReaL labels (`real.json` or `{file: [labels]}`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rectify_data::dataset::Dataset;
use rectify_data::real::RealLabels;

#[global_allocator]
static ALLOC: rectify_fuzz::Budget = rectify_fuzz::Budget;

fn images() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rectify-fuzz-{}-images", std::process::id()));
        std::fs::create_dir_all(dir.join("n01440764")).unwrap();
        for f in ["a.jpg", "b.png", "n01440764/c.JPEG"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let path = rectify_fuzz::scratch("labels", data);
    if let Ok(ds) = Dataset::open(images(), Some(&path)) {
        assert_eq!(ds.samples.len(), 3);
    }
    let _ = RealLabels::read(&path);
});
