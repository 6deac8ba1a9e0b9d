//! What decoding an untrusted image may cost, process-wide.
//!
//! * **Pixels.** Like Pillow, an image whose header declares more than
//!   `2 × Image.MAX_IMAGE_PIXELS` pixels is refused before any pixel is decoded (Pillow raises
//!   `DecompressionBombError` there; `MAX_IMAGE_PIXELS` = 1024 · 1024 · 1024 / 4 / 3 = 89,478,485,
//!   so the limit is 178,956,970 pixels, a 13,377 × 13,377 image).
//! * **Memory.** Every decode first estimates, from the header alone, the memory it will use
//!   (the file's bytes, the decoder's planes and coefficients, the RGB image, an EXIF rotation),
//!   and reserves it from one budget shared by every thread of the process. A decode waits until
//!   its reservation fits; one that could never fit is refused. So a folder of decompression
//!   bombs decoded by many workers stays within the budget, however the workers interleave.
//!
//! [`set_decode_limits`] changes both for the whole process (the CLI's `--max-image-pixels` and
//! `--decode-memory`); tests may call it too.

use std::sync::{Condvar, Mutex, MutexGuard};

use super::PreprocessError;

/// Pillow's `Image.MAX_IMAGE_PIXELS`: it warns above this many pixels.
pub const PILLOW_MAX_IMAGE_PIXELS: u64 = 1024 * 1024 * 1024 / 4 / 3;

/// The default pixel limit: Pillow's decompression-bomb error threshold, twice
/// [`PILLOW_MAX_IMAGE_PIXELS`].
pub const DEFAULT_MAX_PIXELS: u64 = 2 * PILLOW_MAX_IMAGE_PIXELS;

/// The default decoding memory budget shared by all decoding threads: 1 GiB.
pub const DEFAULT_DECODE_MEMORY: u64 = 1 << 30;

/// Bounds on decoding, for the whole process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most pixels (width × height) an image may declare; `u64::MAX` for no limit.
    pub max_pixels: u64,
    /// Bytes that all decodes in flight may use together.
    pub memory: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_pixels: DEFAULT_MAX_PIXELS, memory: DEFAULT_DECODE_MEMORY }
    }
}

struct Budget {
    limits: DecodeLimits,
    used: u64,
    peak: u64,
}

static BUDGET: Mutex<Budget> = Mutex::new(Budget {
    limits: DecodeLimits { max_pixels: DEFAULT_MAX_PIXELS, memory: DEFAULT_DECODE_MEMORY },
    used: 0,
    peak: 0,
});
static RELEASED: Condvar = Condvar::new();

fn budget() -> MutexGuard<'static, Budget> {
    // A thread that panicked while holding the lock left the counter consistent (no code between
    // lock and unlock can panic), so a poisoned lock is still usable.
    BUDGET.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets the limits for every decode that starts from now on.
pub fn set_decode_limits(limits: DecodeLimits) {
    budget().limits = limits;
    RELEASED.notify_all();
}

/// The limits in force.
pub fn decode_limits() -> DecodeLimits {
    budget().limits
}

/// The most memory decodes have held together since the process started (or since
/// [`reset_decode_memory_peak`]), as estimated by their reservations.
pub fn decode_memory_peak() -> u64 {
    budget().peak
}

/// Restarts [`decode_memory_peak`] from what decodes hold now.
pub fn reset_decode_memory_peak() {
    let mut b = budget();
    b.peak = b.used;
}

/// Bytes reserved for one decode; given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut b = budget();
        b.used = b.used.saturating_sub(self.bytes);
        drop(b);
        RELEASED.notify_all();
    }
}

/// Reserves `bytes` for decoding a `width × height` image, waiting while other decodes hold the
/// budget; refuses at once what could never fit.
pub(crate) fn reserve(bytes: u64, width: u32, height: u32) -> Result<Reservation, PreprocessError> {
    let mut b = budget();
    loop {
        let memory = b.limits.memory;
        if bytes > memory {
            return Err(PreprocessError::OverBudget { width, height, needed: bytes, budget: memory });
        }
        if b.used.saturating_add(bytes) <= memory {
            b.used += bytes;
            b.peak = b.peak.max(b.used);
            return Ok(Reservation { bytes });
        }
        b = RELEASED.wait(b).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
}

/// Refuses a header that declares more pixels than the limit.
pub(crate) fn check_pixels(width: u32, height: u32) -> Result<(), PreprocessError> {
    let limit = decode_limits().max_pixels;
    if u64::from(width) * u64::from(height) > limit {
        return Err(PreprocessError::TooLarge { width, height, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pillows_threshold() {
        assert_eq!(PILLOW_MAX_IMAGE_PIXELS, 89_478_485);
        assert_eq!(DEFAULT_MAX_PIXELS, 178_956_970);
    }
}
