//! One module per subcommand.

pub mod attack;
pub mod audit;
pub mod criticize;
pub mod eval;
pub mod explain;
pub mod merge;
pub mod pairs;
pub mod recruit;
pub mod report;
pub mod study;
