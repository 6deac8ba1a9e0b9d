//! Issue #12: decompression bombs and the decoding memory budget.
//!
//! * A header over the pixel limit (Pillow's decompression-bomb threshold, 178,956,970 px) is
//!   refused before anything is allocated; the limit can be changed.
//! * The memory a decode reserves (estimated from the header) is at least what it really
//!   allocates, for every format and layout of the preprocessing fixtures and for large images:
//!   measured here by a counting global allocator.
//! * Decodes on many threads share one budget: together they never reserve (nor allocate) more,
//!   and a decode that could never fit is refused with a message.
//! * A 127-byte JPEG declaring 13,000 × 13,000 px (under the pixel limit) decodes, like libjpeg,
//!   to a mostly grey image (its data runs out before its EOI marker), in bounded time and within
//!   its reservation.
//!
//! Its own binary without libtest's harness (Cargo.toml): the allocator counts the whole process.

#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::{ImageBuffer, ImageFormat, Rgb, RgbImage, Rgba};
use rectify_data::preprocess::limits::{decode_memory_peak, reset_decode_memory_peak};
use rectify_data::preprocess::{decode, decode_limits, set_decode_limits, DecodeLimits, Preprocess, PreprocessError};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics
// and never affect the returned pointers.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::SeqCst) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`; returns its result and the most bytes it had allocated at once beyond what was
/// allocated before.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst) - base)
}

fn encode(img: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7 + y) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8]))
}

/// A baseline JPEG whose frame header declares `w × h` (the scan data is that of an 8×8 image, so
/// the file ends long before the image does).
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut jpeg = encode(&image::DynamicImage::ImageRgb8(photo(8, 8)), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|win| win == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[(h >> 8) as u8, h as u8, (w >> 8) as u8, w as u8]);
    jpeg
}

const MIB: f64 = (1 << 20) as f64;

fn main() {
    let defaults = decode_limits();
    assert_eq!(defaults, DecodeLimits::default());
    let pre = Preprocess::default();

    // 1. The reservation covers what the decode allocates, format by format.
    let mut images: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(dir) = rectify_testkit::fixtures("preprocess") {
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        for case in manifest["cases"].as_array().unwrap().iter().filter(|c| c["error"] == false) {
            let file = case["file"].as_str().unwrap();
            images.push((file.to_string(), std::fs::read(dir.join(file)).unwrap()));
        }
        assert!(images.len() >= 30, "{} fixture images", images.len());
    }
    let big = image::DynamicImage::ImageRgb8(photo(3000, 2000));
    images.push(("3000x2000.png".into(), encode(&big, ImageFormat::Png)));
    images.push(("3000x2000.jpg".into(), encode(&big, ImageFormat::Jpeg)));
    let rgba16: ImageBuffer<Rgba<u16>, Vec<u16>> =
        ImageBuffer::from_fn(1500, 1000, |x, y| Rgba([(x * 40) as u16, (y * 60) as u16, 9000, 65535]));
    images.push(("rgba16.png".into(), encode(&rgba16.into(), ImageFormat::Png)));
    images.push(("1500x1000.webp".into(), encode(&big.crop_imm(0, 0, 1500, 1000), ImageFormat::WebP)));
    images.push(("1500x1000.tiff".into(), encode(&big.crop_imm(0, 0, 1500, 1000), ImageFormat::Tiff)));
    for (name, bytes) in &images {
        reset_decode_memory_peak();
        let (crop, allocated) = measured(|| pre.from_bytes(bytes));
        crop.unwrap_or_else(|e| panic!("{name}: {e}"));
        let reserved = decode_memory_peak() as usize;
        println!("{name}: allocated {:.2} MiB, reserved {:.2} MiB", allocated as f64 / MIB, reserved as f64 / MIB);
        assert!(allocated <= reserved, "{name}: allocated {allocated} bytes, reserved only {reserved}");
    }

    // 2. Over the pixel limit: refused from the header, before anything sizeable is allocated.
    let bomb = jpeg_declaring(20_000, 20_000);
    let start = Instant::now();
    let (err, allocated) = measured(|| decode(&bomb).map(|_| ()).unwrap_err());
    assert!(matches!(err, PreprocessError::TooLarge { width: 20_000, height: 20_000, limit: 178_956_970 }), "{err}");
    assert!(err.to_string().contains("decompression bombs"), "{err}");
    assert!(allocated < 1 << 20 && start.elapsed().as_secs_f64() < 0.1, "{allocated} bytes, {:?}", start.elapsed());
    // The limit is a setting.
    set_decode_limits(DecodeLimits { max_pixels: 1000, ..defaults });
    let small = encode(&image::DynamicImage::ImageRgb8(photo(100, 100)), ImageFormat::Png);
    assert!(matches!(decode(&small), Err(PreprocessError::TooLarge { limit: 1000, .. })));
    set_decode_limits(defaults);
    assert!(decode(&small).is_ok());

    // 3. Under the pixel limit, 169 Mpx declared in a few hundred bytes: decoded (grey where the
    //    data ran out, as libjpeg does) within its reservation and in bounded time.
    let bomb = jpeg_declaring(13_000, 13_000);
    reset_decode_memory_peak();
    let start = Instant::now();
    let (crop, allocated) = measured(|| pre.from_bytes(&bomb).map(|c| c.len()));
    let took = start.elapsed();
    println!(
        "13000x13000 bomb ({} bytes): {crop:?} in {took:?}, allocated {:.0} MiB, reserved {:.0} MiB",
        bomb.len(),
        allocated as f64 / MIB,
        decode_memory_peak() as f64 / MIB
    );
    assert!(allocated as u64 <= decode_memory_peak() && decode_memory_peak() <= defaults.memory);
    assert!(took.as_secs_f64() < 10.0, "{took:?}");

    // 4. Many threads share one budget; what could never fit is refused.
    let budget = 64u64 << 20;
    set_decode_limits(DecodeLimits { memory: budget, ..defaults });
    let png = encode(&image::DynamicImage::ImageRgb8(photo(2000, 2000)), ImageFormat::Png);
    reset_decode_memory_peak();
    let (results, allocated) = measured(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..3).map(|_| pre.from_bytes(&png).map(|c| c.len())).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect::<Vec<_>>()
        })
    });
    println!(
        "8 threads × 3 decodes of 2000x2000 PNG: reserved at most {:.1} MiB together, allocated at most {:.1} MiB (budget {} MiB)",
        decode_memory_peak() as f64 / MIB,
        allocated as f64 / MIB,
        budget >> 20
    );
    assert!(results.iter().all(|r| matches!(r, Ok(n) if *n == 224 * 224 * 3)), "{results:?}");
    assert!(decode_memory_peak() <= budget);
    // The threads' own stacks and result vectors come on top of the decodes.
    assert!((allocated as u64) <= budget + (1 << 20), "{allocated} bytes allocated");
    let huge = encode(&image::DynamicImage::ImageRgb8(photo(5000, 5000)), ImageFormat::Png);
    let err = decode(&huge).map(|_| ()).unwrap_err();
    assert!(matches!(err, PreprocessError::OverBudget { width: 5000, height: 5000, .. }), "{err}");
    assert!(err.to_string().contains("--decode-memory"), "{err}");
    set_decode_limits(defaults);
    assert!(decode(&huge).is_ok());
    println!("decode limits: ok");
}
