//! The rating-study server (issue #6).
