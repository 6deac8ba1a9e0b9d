//! One module per subcommand.

pub mod attack;
pub mod eval;
pub mod merge;
