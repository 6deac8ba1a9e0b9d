//! `rectify`: audit an image classifier beyond top-1 accuracy.
//!
//! This file only parses flags and dispatches; each command lives in `commands/`.

mod commands;
mod decode_args;

use clap::{Parser, Subcommand};

/// Audit image classifiers beyond top-1 accuracy (Stock & Cisse, "ConvNets and ImageNet Beyond
/// Accuracy", ECCV 2018).
#[derive(Debug, Parser)]
#[command(name = "rectify", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    decode: decode_args::DecodeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
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
fn dispatch(command: Command) -> anyhow::Result<()> {
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

fn main() {
    // Before any tensor: freed activations stay in the heap (see rectify_model::memory).
    rectify_model::memory::keep_freed_memory();
    let cli = Cli::parse();
    cli.decode.apply();
    let result = dispatch(cli.command);
    if let Err(err) = result {
        // A closed pipe (`rectify … | head`) is not an error worth reporting.
        if err
            .chain()
            .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
        {
            std::process::exit(0);
        }
        eprintln!("rectify: error: {err:#}");
        std::process::exit(2);
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
