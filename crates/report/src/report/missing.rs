//! "Not run yet": for each section, what a run lacks and the command that makes it.

use super::model::{Missing, Section};

/// `dir` quoted for a POSIX shell when it needs it.
fn shell(dir: &str) -> String {
    if !dir.is_empty() && dir.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c)) {
        dir.to_string()
    } else {
        format!("'{}'", dir.replace('\'', r"'\''"))
    }
}

/// The command that produces `section`'s data in run directory `dir`.
pub fn command(section: Section, dir: &str) -> String {
    let d = shell(dir);
    match section {
        Section::Provenance => format!("rectify eval --images IMAGES_DIR --labels LABELS.csv --out {d}"),
        Section::Table1 | Section::Histograms | Section::Table2 | Section::Table3 => {
            format!("rectify study results --run {d}")
        }
        Section::Attacks => format!("rectify attack --run {d}"),
        Section::Explanations => format!("rectify explain --run {d}"),
        Section::Galleries => format!("rectify criticize --run {d} --method mmd"),
        Section::Bias => format!("rectify bias --run {d} --group GROUP --attribute ATTRIBUTE"),
    }
}

/// What `section` lacks in words, when the whole stage is missing.
fn what(section: Section) -> &'static str {
    match section {
        Section::Provenance => "no evaluation (summary.json)",
        Section::Table1 => "no study results (study/results.json with a relevance design): collect or import votes on the relevance-top1 design, then aggregate them",
        Section::Histograms => "no relevance design in study/results.json: collect or import relevance votes, then aggregate them",
        Section::Attacks => "no attack (attack/<name>/summary.json)",
        Section::Table2 => "no adversarial design in study/results.json: collect votes on the adversarial design, then aggregate them",
        Section::Explanations => "no explanation (explain/<name>/)",
        Section::Galleries => "no selection of prototypes and criticisms (criticize/<name>/selection.json)",
        Section::Table3 => "no assignment design in study/results.json: collect votes on the assignment design, then aggregate them",
        Section::Bias => "no bias table (bias/*.json)",
    }
}

/// The note for `section` missing in run directory `dir`.
pub fn missing(section: Section, dir: &str) -> Missing {
    Missing { section, what: what(section).to_string(), command: command(section, dir) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_odd_directories() {
        assert_eq!(command(Section::Attacks, "runs/r101"), "rectify attack --run runs/r101");
        assert_eq!(command(Section::Explanations, "my run's"), r"rectify explain --run 'my run'\''s'");
        assert!(missing(Section::Table3, "r").what.contains("assignment"));
    }
}
