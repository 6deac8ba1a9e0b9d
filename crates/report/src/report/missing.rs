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
        Section::Table1 | Section::Histograms => format!(
            "rectify study design --run {d} --design relevance-top1   # one question per misclassified image\n\
             rectify study serve  --run {d}    # prints an admin link; keep it running\n\
             rectify study invite --run {d} --count 5 --base-url PUBLIC_SERVER_URL   # invite links to send to raters\n\
             # or recruit strangers: serve with --platform prolific --per-participant 20 --completion-code CODE, and\n\
             rectify study recruit --platform prolific --base-url PUBLIC_SERVER_URL   # the URL to paste into Prolific (or --platform mturk)\n\
             # or, instead of serving: rectify study import --run {d} --format real-raters real_raters.npz\n\
             rectify study results --run {d}"
        ),
        Section::Table2 => format!(
            "rectify study design --run {d} --design adversarial --attack ifgsm --explain adversarial\n\
             rectify study serve  --run {d}\n\
             rectify study invite --run {d} --count 5 --base-url PUBLIC_SERVER_URL\n\
             rectify study results --run {d}"
        ),
        Section::Table3 => format!(
            "rectify study design --run {d} --design assignment --criticize mmd-all,random-all\n\
             rectify study serve  --run {d}\n\
             rectify study invite --run {d} --count 5 --base-url PUBLIC_SERVER_URL\n\
             rectify study results --run {d}"
        ),
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
        Section::Table1 => "nobody has judged this run's mistakes yet. The rectified error needs people: each misclassified image is shown with the predicted class to 5 raters, who answer whether that class is in the picture, and a prediction 4 of 5 call relevant counts as correct. Add the relevance design to a study, serve it and send the invite links to raters — or open it to participants of Prolific or Mechanical Turk, who join through one study URL and get a batch each — (or import votes people already gave, such as ReaL's raw votes), then aggregate the votes",
        Section::Histograms => "no relevance votes yet: the histogram counts, per misclassified image, how many of its 5 raters called the predicted class relevant. It appears once the relevance study below has votes",
        Section::Attacks => "no attack (attack/<name>/summary.json)",
        Section::Table2 => "nobody has judged the adversarial images yet: raters are shown each adversarial image (whole, or only its LIME explanation) with the class the attack produced, and asked whether that class is in the picture. Add the adversarial design, serve it, invite raters, then aggregate",
        Section::Explanations => "no explanation (explain/<name>/)",
        Section::Galleries => "no selection of prototypes and criticisms (criticize/<name>/selection.json)",
        Section::Table3 => "nobody has done the assignment task yet: raters see 6 classes, each shown by prototypes (and criticisms), and assign a target image to one of them; the success rate per condition is Table 3. Add the assignment design with the criticize runs to compare, serve it, invite raters, then aggregate",
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
