//! One module per subcommand.

pub mod attack;
pub mod eval;
pub mod explain;
pub mod merge;
