//! The error type of image loading and preprocessing.

use std::path::PathBuf;

/// Why an image could not be loaded or decoded.
///
/// Decoding never panics on bad input: truncated or corrupt files, files that are not images and
/// unsupported formats all come back as [`PreprocessError::Decode`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreprocessError {
    /// The file could not be read.
    #[error("cannot read image {path}")]
    Io {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a decodable image: truncated, corrupt, not an image, or a format or
    /// feature the decoders do not support.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// The format that was detected (`"JPEG image"`, …) or `"unknown format"`.
        what: String,
        /// The decoder's message.
        message: String,
    },
    /// The image declares more pixels than the limit (a guard against decompression bombs, as
    /// Pillow's `MAX_IMAGE_PIXELS`; see [`super::limits`]); nothing was decoded.
    #[error(
        "image is {width}×{height} px, over the limit of {limit} pixels (a guard against decompression bombs, \
         as in Pillow; raise it with --max-image-pixels)"
    )]
    TooLarge {
        /// Width from the file header.
        width: u32,
        /// Height from the file header.
        height: u32,
        /// The limit, in pixels.
        limit: u64,
    },
    /// Decoding the image would need more memory than the whole decoding budget (see
    /// [`super::limits`]); nothing was decoded.
    #[error(
        "decoding this {width}×{height} px image needs about {} MiB, more than the decoding memory budget of {} MiB \
         (raise it with --decode-memory)",
        .needed.div_ceil(1 << 20),
        .budget >> 20
    )]
    OverBudget {
        /// Width from the file header.
        width: u32,
        /// Height from the file header.
        height: u32,
        /// Bytes the decode would reserve (file and decoding).
        needed: u64,
        /// The budget, in bytes.
        budget: u64,
    },
    /// The header declares a zero width or height.
    #[error("image is empty ({width}×{height} px)")]
    Empty {
        /// Width from the file header.
        width: u32,
        /// Height from the file header.
        height: u32,
    },
    /// An error while decoding a file, with the file's path; `source` is the underlying
    /// [`Decode`](Self::Decode), [`TooLarge`](Self::TooLarge) or [`Empty`](Self::Empty).
    #[error("image {path}")]
    File {
        /// The file that failed.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<PreprocessError>,
    },
}

impl PreprocessError {
    /// The underlying error, looking through [`File`](Self::File) wrappers.
    pub fn root(&self) -> &PreprocessError {
        match self {
            PreprocessError::File { source, .. } => source.root(),
            other => other,
        }
    }

    /// Wraps an error from decoding `path`'s bytes with the path (I/O errors already carry it).
    pub(crate) fn in_file(self, path: PathBuf) -> Self {
        match self {
            e @ (PreprocessError::Io { .. } | PreprocessError::File { .. }) => e,
            e => PreprocessError::File { path, source: Box::new(e) },
        }
    }
}
