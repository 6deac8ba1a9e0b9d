//! One module per subcommand.

pub mod attack;
pub mod criticize;
pub mod eval;
pub mod explain;
pub mod merge;
pub mod pairs;
