//! Decoding never panics, and damaged files are errors where PIL's are.
//!
//! `tests/data/` holds three tiny JPEGs written by Pillow 13 (baseline 4:2:2; Adobe CMYK with a
//! restart marker every 2 MCUs; progressive 4:2:0):
//! ```python
//! rng = np.random.default_rng(7); y, x = np.mgrid[0:20, 0:27]
//! a = np.stack([(x*9) % 256, (y*12) % 256, ((x+y)*5) % 256], -1).astype(np.uint8)
//! im = Image.fromarray(np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8))
//! im.save('progressive_27x20.jpg', quality=80, progressive=True)
//! im.convert('CMYK').save('cmyk_restart_27x20.jpg', quality=80, restart_marker_blocks=2)
//! im.save('baseline_422_27x20.jpg', quality=80, subsampling=1)
//! ```
//! Their full decodes are checked against PIL's `convert('RGB')` by hash (`crop_hash` of
//! `scripts/fixtures/preprocess.py`), then every truncation and a few thousand random byte
//! corruptions are decoded.

use rectify_data::preprocess::{decode, Preprocess, PreprocessError};

const FILES: [(&str, &[u8], &str); 3] = [
    ("baseline_422", include_bytes!("data/baseline_422_27x20.jpg"), "75efbe2c80f1daf3"),
    ("cmyk_restart", include_bytes!("data/cmyk_restart_27x20.jpg"), "6301d15c99818a14"),
    ("progressive", include_bytes!("data/progressive_27x20.jpg"), "3ce3226c7ab50186"),
];

#[test]
fn tiny_jpegs_decode_exactly_like_pil() {
    for (name, bytes, hash) in FILES {
        let img = decode(bytes).unwrap();
        assert_eq!(img.dimensions(), (27, 20), "{name}");
        assert_eq!(rectify_testkit::crop_hash(img.as_raw()), hash, "{name} differs from PIL's decode");
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (name, bytes, _) in FILES {
        for len in 0..bytes.len() {
            let result = decode(&bytes[..len]);
            assert!(
                matches!(result, Err(PreprocessError::Decode { .. })),
                "{name} cut to {len} bytes: {:?}",
                result.map(|img| img.dimensions())
            );
        }
    }
}

/// A small deterministic generator (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let pre = Preprocess::default();
    let mut rng = Lcg(2024);
    let (mut ok, mut failed) = (0, 0);
    for (_, bytes, _) in FILES {
        for _ in 0..1500 {
            let mut data = bytes.to_vec();
            for _ in 0..1 + rng.next() % 4 {
                let at = rng.next() % data.len();
                data[at] = rng.next() as u8;
            }
            match pre.from_bytes(&data) {
                Ok(crop) => {
                    assert_eq!(crop.len(), 224 * 224 * 3);
                    ok += 1;
                }
                Err(_) => failed += 1,
            }
        }
    }
    println!("corrupted JPEGs: {ok} decoded, {failed} rejected, none panicked");
}

#[test]
fn not_images_are_decode_errors() {
    let cases: [&[u8]; 6] =
        [b"", b"this is not an image\n", &[0xFF, 0xD8], &[0xFF, 0xD8, 0xFF, 0xD9], b"\x89PNG\r\n\x1a\n", &[0u8; 1000]];
    for bytes in cases {
        let err = decode(bytes).unwrap_err();
        assert!(matches!(err, PreprocessError::Decode { .. }), "{bytes:?}: {err:?}");
        println!("{:?}: {err}", String::from_utf8_lossy(&bytes[..bytes.len().min(8)]));
    }
}
