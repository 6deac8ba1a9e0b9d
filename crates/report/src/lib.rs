//! Bias analysis and the audit report (Stock & Cisse, ECCV 2018, §3.4; issue #7).
//!
//! * [`stats`]: Wilson intervals and Fisher's exact test;
//! * [`bias`]: attributes (CSV, ImageNet-X), their prevalence in prototypes vs criticisms, and
//!   the stored [`bias::BiasFile`];
//! * [`report`]: the audit report — [`report::build`] reads run directories into a
//!   [`report::Report`] (`report.json`), [`report::render`] makes the self-contained HTML page,
//!   [`report::write`] stores both.

pub mod bias;
mod error;
pub mod files;
pub mod report;
pub mod stats;

pub use bias::BiasFile;
pub use error::ReportError;
