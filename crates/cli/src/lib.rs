//! `rectify`: audit an image classifier beyond top-1 accuracy.
//!
//! The command line as a library: [`main`] parses flags and dispatches to `commands/`, each of
//! which calls into `rectify_pipeline`. The `rectify` binary and the Python package's `rectify`
//! command are both this function; the Python API calls it in-process with its own
//! [`Progress`](rectify_pipeline::Progress) sink ([`with_progress`]).

pub mod commands;
mod decode_args;
mod sink;

pub use sink::{progress, with_progress};

use clap::{Parser, Subcommand};

/// Audit image classifiers beyond top-1 accuracy (Stock & Cisse, "ConvNets and ImageNet Beyond
/// Accuracy", ECCV 2018).
#[derive(Debug, Parser)]
#[command(name = "rectify", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    decode: decode_args::DecodeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate a classifier on a folder of images: top-1/top-5, ReaL accuracy, stored predictions.
    Eval(Box<commands::eval::EvalArgs>),
    /// Combine shards: `eval --shard` runs into a new run (--out), stage shards into their run (--into).
    Merge(commands::merge::MergeArgs),
    /// Adversarial attacks (FGSM, iterative FGSM, PGD) on an eval run, with every step's prediction.
    Attack(Box<commands::attack::AttackArgs>),
    /// LIME explanations on superpixels, images with attention, explanation paths.
    Explain(Box<commands::explain::ExplainArgs>),
    /// Prototypes and criticisms per class: MMD-critic, adversarial, probability or random.
    Criticize(Box<commands::criticize::CriticizeArgs>),
    /// Counterfactual pairs: predictions and explanation paths of two images side by side.
    Pairs(Box<commands::pairs::PairsArgs>),
    /// Rating studies: designs, server, invites, simulated raters, imports, rectified errors.
    Study(Box<commands::study::StudyArgs>),
    /// The audit report: one self-contained HTML page and report.json.
    Report(Box<commands::report::ReportArgs>),
    /// Prevalence of an attribute in a group, its prototypes and its criticisms.
    Bias(Box<commands::report::BiasArgs>),
    /// The whole audit with the paper's settings: eval → attack → explain → criticize → report.
    Audit(Box<commands::audit::AuditArgs>),
}

/// Runs one command.
pub fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Eval(args) => commands::eval::run(*args),
        Command::Merge(args) => commands::merge::run(args),
        Command::Attack(args) => commands::attack::run(*args),
        Command::Explain(args) => commands::explain::run(*args),
        Command::Criticize(args) => commands::criticize::run(*args),
        Command::Pairs(args) => commands::pairs::run(*args),
        Command::Audit(args) => commands::audit::run(*args),
        Command::Study(args) => commands::study::run(*args),
        Command::Report(args) => commands::report::run(*args),
        Command::Bias(args) => commands::report::bias(*args),
    }
}

/// The command line `args` (without the program name) run to the end: `Ok` after a command
/// succeeded or clap printed help or the version, `Err` with the message the binary prints after
/// `rectify: error: ` (clap's own errors rendered as clap renders them).
pub fn run(args: impl IntoIterator<Item = String>) -> Result<(), Failure> {
    let cli = match Cli::try_parse_from(std::iter::once("rectify".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version: printed, not a failure.
            let _ = e.print();
            return Ok(());
        }
        Err(e) => return Err(Failure::Usage(e.render().to_string())),
    };
    cli.decode.apply();
    dispatch(cli.command).map_err(|err| {
        // A closed pipe (`rectify … | head`) is not an error worth reporting.
        if err
            .chain()
            .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
        {
            Failure::BrokenPipe
        } else {
            Failure::Error(format!("{err:#}"))
        }
    })
}

/// Why [`run`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Flags clap refused: its message, usage included (exit status 2).
    Usage(String),
    /// A command failed: the message after `rectify: error: ` (exit status 2).
    Error(String),
    /// Standard output was closed by its reader (exit status 0).
    BrokenPipe,
}

/// The binary: [`run`] on the process's arguments, the error printed, the exit status returned.
pub fn main(args: impl IntoIterator<Item = String>) -> i32 {
    // Before any tensor: freed activations stay in the heap (see rectify_model::memory). A
    // process-wide allocator setting, so only for a process that is this command alone (the
    // binary, the Python package's `rectify` command), never for the Python API's callers.
    rectify_model::memory::keep_freed_memory();
    match run(args) {
        Ok(()) | Err(Failure::BrokenPipe) => 0,
        Err(Failure::Usage(msg)) => {
            eprint!("{msg}");
            2
        }
        Err(Failure::Error(msg)) => {
            eprintln!("rectify: error: {msg}");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;
    use rectify_report::report::{missing::command, Section};

    /// Every command line the report's "not run yet" notes give a newcomer parses with this CLI
    /// (comments after `#` aside; the alternative shown as a comment is checked too).
    #[test]
    fn the_reports_commands_parse() {
        let mut checked = 0;
        for section in Section::ALL {
            for line in command(section, "runs/x").lines() {
                let line = line.trim().trim_start_matches("# or, instead of serving: ");
                let line = line.split(" #").next().unwrap_or("").trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                assert!(line.starts_with("rectify "), "{section:?}: {line}");
                if let Err(e) = Cli::try_parse_from(line.split_whitespace()) {
                    panic!("{section:?}: `{line}` does not parse: {e}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 20, "{checked} command lines");
    }

    /// clap's own consistency checks (no flag defined twice by flattened groups, such as the
    /// preprocessing flags eval, audit and pairs share), which it runs only in debug builds.
    #[test]
    fn flags_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
