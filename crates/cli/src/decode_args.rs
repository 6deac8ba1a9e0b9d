//! Flags that bound image decoding for the whole process: Pillow's decompression-bomb pixel
//! limit and the memory budget the decoding threads share (`rectify_data::preprocess::limits`).
//! Given before or after the subcommand (`rectify --decode-memory 2GiB eval …`).

use clap::Args;
use rectify_data::preprocess::limits::{DEFAULT_DECODE_MEMORY, DEFAULT_MAX_PIXELS};
use rectify_data::preprocess::{set_decode_limits, DecodeLimits};

/// Decoding limits.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Refuse images whose header declares more pixels (width × height) than this, before
    /// decoding them: a guard against decompression bombs, at Pillow's threshold (twice
    /// `Image.MAX_IMAGE_PIXELS`). 0 means no limit.
    #[arg(long, global = true, env = "RECTIFY_MAX_IMAGE_PIXELS", default_value_t = DEFAULT_MAX_PIXELS,
          value_name = "PIXELS")]
    max_image_pixels: u64,
    /// Memory that all image decodes in flight may use together (e.g. 512MiB, 4GiB); a decode
    /// waits for its share, and an image that could never fit is a per-file error.
    #[arg(long, global = true, env = "RECTIFY_DECODE_MEMORY", default_value = "1GiB", value_parser = parse_size,
          value_name = "SIZE")]
    decode_memory: u64,
}

impl DecodeArgs {
    /// Applies the limits to the process.
    pub fn apply(&self) {
        let max_pixels = if self.max_image_pixels == 0 { u64::MAX } else { self.max_image_pixels };
        set_decode_limits(DecodeLimits { max_pixels, memory: self.decode_memory });
    }
}

/// A size in bytes: a number with an optional unit, `B`, `KB`/`MB`/`GB` (powers of 1000),
/// `KiB`/`MiB`/`GiB` (powers of 1024), or `K`/`M`/`G` (1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("{s:?}: expected a size such as 512MiB or 2GiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0f64.powi(4),
        other => return Err(format!("{s:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, KB, MB, GB)")),
    };
    let bytes = number * scale;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{s:?}: the size must be at least 1 byte"));
    }
    Ok(bytes as u64)
}

/// The default budget, for the help text's checks.
const _: () = assert!(DEFAULT_DECODE_MEMORY == 1 << 30);

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}
