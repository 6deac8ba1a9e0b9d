//! The audit report of hand-made run directories (issue #7): every shown number equals
//! report.json, missing stages say "not run yet" with their command, nothing is loaded from
//! outside the page.

mod common;

use std::path::PathBuf;

use common::*;
use rectify_report::report::{build, build_with, render, write, Options, Section};
use rectify_report::ReportError;
use rectify_testkit::report::shown_values;
use serde_json::Value;

/// A full run and an eval-only run, side by side in one parent directory.
fn two_runs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (full, bare) = (tmp.path().join("a-resnet101"), tmp.path().join("b-bare"));
    full_run(&full);
    eval_summary(&bare, 0.75);
    (tmp, full, bare)
}

#[test]
fn every_shown_number_equals_report_json() {
    let (tmp, _, _) = two_runs();
    let report = build(&[tmp.path().to_path_buf()]).unwrap();
    assert_eq!(report.runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a-resnet101", "b-bare"]);
    let out = tmp.path().join("out");
    let (json_path, html_path) = write(&report, &out).unwrap();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    assert_eq!(json, serde_json::to_value(&report).unwrap(), "report.json is the report");
    let html = std::fs::read_to_string(html_path).unwrap();
    assert_eq!(html, render(&report));
    let n = check_values(&html, &json);
    assert!(n > 150, "only {n} values shown");
    assert!(!html.contains('⚠'), "a pointer that does not resolve");
}

#[test]
fn hand_checked_numbers() {
    let (tmp, full, _) = two_runs();
    let report = build(&[full, tmp.path().join("b-bare")]).unwrap();
    let html = render(&report);
    let shown = shown_values(&html);
    let at = |ptr: &str| {
        shown.iter().find(|(p, _, _)| p == ptr).map(|(_, _, t)| t.clone()).unwrap_or_else(|| panic!("{ptr} not shown"))
    };
    // Table 1: eval accuracy, and the study's top-1 error 2/4 rectified to 1/4.
    assert_eq!(
        (at("/table1/0/top1"), at("/table1/1/top1"), at("/table1/0/real_top1")),
        ("50.00 %".into(), "75.00 %".into(), "66.67 %".into())
    );
    let r = &report.rectified[0];
    assert_eq!(
        (r.design.as_str(), r.error, r.rectified_error, r.errors, r.rectified),
        ("relevance-top1", Some(0.5), Some(0.25), 2, 1)
    );
    assert_eq!((at("/rectified/0/error"), at("/rectified/0/rectified_error")), ("50.00 %".into(), "25.00 %".into()));
    assert_eq!(report.histograms[0].counts, [0, 0, 1, 0, 0, 1]);
    assert_eq!(at("/studies/0/rule"), "k-of-n 4/5");
    // Table 2: one of two rated whole images, one unrated; one of two explanations.
    let whole = report.table2.iter().find(|t| t.arm == "ifgsm/whole").unwrap();
    assert_eq!((whole.items, whole.rated, whole.unrated, whole.yes_rate), (3, 2, 1, Some(0.5)));
    assert_eq!(report.table2.iter().find(|t| t.arm == "ifgsm/explanation").unwrap().yes_rate, Some(0.5));
    // Table 3: raters at 100 % and 50 %: 75 % ± 35.36 % (sample std).
    let t3 = &report.table3[0];
    assert_eq!((t3.condition.as_str(), t3.raters, t3.answers), ("mmd-class/6p", 2, 4));
    assert_eq!((at("/table3/0/success_mean"), at("/table3/0/success_std")), ("75.00 %".into(), "35.36 %".into()));
    // Attack curve with a null step, explanation numbers, escaped names.
    assert_eq!(report.attacks[0].accuracy_per_step, [Some(0.5), Some(0.25), None, Some(0.0)]);
    assert_eq!(at("/attacks/0/accuracy_per_step/2"), "—");
    assert_eq!(at("/explanations/0/path_beats_random"), "50.00 %");
    assert!(html.contains("canoe &amp; paddle") && html.contains("grocery &lt;store&gt;"));
    // Bias: scipy.stats.fisher_exact([[7, 2], [2, 8]]) → 0.023014137565221155.
    assert_eq!(at("/bias/0/rows/0/fisher_p"), "0.023");
    assert_eq!((at("/bias/0/rows/0/prototypes/k"), at("/bias/0/rows/0/prototypes/p")), ("7".into(), "77.78 %".into()));
    assert_eq!(report.bias[0].file, "bias/basketball--dark_skin.json");
    // Provenance, escaped.
    assert_eq!(at("/runs/0/provenance/preprocessing"), "Resize(256), CenterCrop(224) <exact>");
    let stages: Vec<&str> = report.runs[0].stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(stages, ["eval", "attack", "explain", "criticize"]);
}

#[test]
fn images_are_embedded_and_galleries_capped() {
    let (_tmp, full, _) = two_runs();
    let report = build(&[full]).unwrap();
    let html = render(&report);
    check_self_contained(&html);
    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4zwAE/xkgFAAb8gP91pbyKwAAAABJRU5ErkJggg==";
    // python3 -c "import base64; print(base64.b64encode(PNG).decode())" for the 2×2 PNG.
    assert_eq!(html.matches(png).count(), 2 + 1 + 1, "two attention images, one overlay, one gallery");
    assert!(html.contains("(image <span data-ptr=\"/explanations/0/examples/1/overlay/file\" data-fmt=\"text\">explain/lime-quickshift/img2.JPEG.overlay.png</span> missing)"));
    let g = &report.galleries[0];
    assert_eq!((g.groups_total, g.groups.len(), g.more), (15, 12, 3));
    assert_eq!(g.groups[0].image.file, "criticize/mmd-class/galleries/0_class_0.png");
    assert!(g.groups[1].image.png.is_empty());

    let few = build_with(
        &[report.runs[0].dir.clone().into()],
        &Options { max_examples: 1, max_groups: 2, ..Options::default() },
    )
    .unwrap();
    assert_eq!((few.explanations[0].examples.len(), few.explanations[0].more, few.galleries[0].more), (1, 1, 13));
    assert!(render(&few).contains("more explained images"));
}

#[test]
fn missing_stages_say_not_run_yet_with_the_command() {
    let (_tmp, full, bare) = two_runs();
    let report = build(&[full, bare.clone()]).unwrap();
    assert!(report.runs[0].missing.is_empty(), "{:?}", report.runs[0].missing);
    let sections: Vec<Section> = report.runs[1].missing.iter().map(|m| m.section).collect();
    assert_eq!(
        sections,
        [
            Section::Attacks,
            Section::Explanations,
            Section::Galleries,
            Section::Table1,
            Section::Histograms,
            Section::Table2,
            Section::Table3,
            Section::Bias
        ]
    );
    let html = render(&report);
    let d = bare.display();
    for cmd in [
        format!("rectify attack --run {d}"),
        format!("rectify explain --run {d}"),
        format!("rectify criticize --run {d} --method mmd"),
        format!("rectify study results --run {d}"),
        format!("rectify bias --run {d} --group GROUP --attribute ATTRIBUTE"),
    ] {
        assert!(html.contains(&cmd), "{cmd} not shown");
    }
    assert_eq!(html.matches("<strong>Not run yet</strong>").count(), 8);
    assert_eq!(html.matches("<pre><code><span data-ptr=\"/runs/1/missing/").count(), 8, "each command in a code block");
    check_self_contained(&html);

    // A run without eval: provenance and Table 1 both point at `rectify eval`.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("only-attack");
    write_json(
        &run.join("attack/a/summary.json"),
        &serde_json::json!({"n": 1, "accuracy_per_step": [1.0, 0.0], "flipped": 1, "steps_to_flip_histogram": [0, 1],
                            "provenance": common::provenance("rectify attack --run RUN")}),
    );
    put(&run.join("rectify.db"), b"");
    let report = build(&[run]).unwrap();
    assert_eq!(report.runs[0].missing[0].section, Section::Provenance);
    let html = render(&report);
    assert_eq!(html.matches("rectify eval --images IMAGES_DIR").count(), 2, "in Provenance and Table 1");
    assert!(check_values(&html, &serde_json::to_value(&report).unwrap()) > 20);
}

#[test]
fn bad_inputs_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(build(&[]), Err(ReportError::NoRuns)));
    let err = build(&[tmp.path().to_path_buf()]).unwrap_err();
    assert!(matches!(err, ReportError::NotARun(_)), "{err}");
    let run = tmp.path().join("r");
    eval_summary(&run, 0.5);
    put(&run.join("attack/x/summary.json"), b"{\"n\": 1");
    let err = build(&[run]).unwrap_err().to_string();
    assert!(err.contains("attack/x/summary.json"), "{err}");
}
