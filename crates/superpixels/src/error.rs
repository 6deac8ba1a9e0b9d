//! Why an image could not be segmented: a malformed [`Image`](crate::Image) or a parameter
//! outside the range the algorithm accepts (the ranges scikit-image enforces or needs).

/// Errors of [`Segmenter::segment`](crate::Segmenter::segment) and the [`Segmentation`](crate::Segmentation)
/// helpers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SuperpixelError {
    /// The pixel buffer does not hold `width × height × 3` bytes.
    #[error("image of {width}x{height} pixels needs {expected} RGB bytes, found {found}")]
    BufferSize {
        /// Image width in pixels.
        width: usize,
        /// Image height in pixels.
        height: usize,
        /// `width * height * 3`.
        expected: usize,
        /// Length of the buffer given.
        found: usize,
    },
    /// The image has no pixels.
    #[error("image of {width}x{height} pixels is empty")]
    Empty {
        /// Image width in pixels.
        width: usize,
        /// Image height in pixels.
        height: usize,
    },
    /// The image has more pixels than `u32` labels can index.
    #[error("image of {width}x{height} pixels is too large (more than 2^32 - 1 pixels)")]
    TooLarge {
        /// Image width in pixels.
        width: usize,
        /// Image height in pixels.
        height: usize,
    },
    /// A segmenter parameter is outside its valid range.
    #[error("{algorithm}: {name} = {value} is invalid, it must be {requirement}")]
    Parameter {
        /// `"quickshift"` or `"slic"`.
        algorithm: &'static str,
        /// The parameter's field name.
        name: &'static str,
        /// The value given (as `f64`, also for counts).
        value: f64,
        /// The accepted range, in words.
        requirement: &'static str,
    },
    /// A segmentation was applied to an image of another size.
    #[error("segmentation of {seg_width}x{seg_height} pixels applied to an image of {width}x{height}")]
    SizeMismatch {
        /// Width of the segmentation.
        seg_width: usize,
        /// Height of the segmentation.
        seg_height: usize,
        /// Width of the image.
        width: usize,
        /// Height of the image.
        height: usize,
    },
}

/// `Ok(())` when `ok`, else a [`SuperpixelError::Parameter`] for `algorithm`'s `name`.
pub(crate) fn check(
    ok: bool,
    algorithm: &'static str,
    name: &'static str,
    value: f64,
    requirement: &'static str,
) -> Result<(), SuperpixelError> {
    if ok {
        Ok(())
    } else {
        Err(SuperpixelError::Parameter { algorithm, name, value, requirement })
    }
}
