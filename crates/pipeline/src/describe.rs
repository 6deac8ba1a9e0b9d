//! A stage's summary in the lines a person reads: what `rectify <stage>` prints on stdout and
//! what `rectify audit` reports after each stage (through [`crate::Progress::message`]).

use std::path::Path;

use rectify_store::artifacts::{layout, AttackSummary};
use rectify_study::results::{DesignResults, ResultsFile, Sharing};

use crate::bias::Biased;
use crate::criticize::CriticizeSummary;
use crate::explain::Explained;
use crate::outputs::Summary;
use crate::votes::{ImportSummary, ResultsSummary};

/// `0.1234` → `12.34%`; `None` → `n/a`.
fn percent(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{:.2}%", 100.0 * v))
}

/// `0.1234` → `12.34 %`; NaN (no image to count) → `-`.
fn pct(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{:.2} %", 100.0 * x)
    }
}

/// `rectify eval`'s summary of the run in `out`.
pub fn eval(s: &Summary, out: &Path) -> String {
    let mut lines = vec![
        format!("evaluated {} images ({} failed) -> {}", s.evaluated, s.failed, out.display()),
        format!("top-1 {}  top-5 {}  (over {} labelled)", percent(s.top1), percent(s.top5), s.labeled),
    ];
    if let Some(n) = s.real_n {
        lines.push(format!(
            "ReaL top-1 {}  ReaL top-5 {}  (over {n} with ReaL labels)",
            percent(s.real_top1),
            percent(s.real_top5)
        ));
    }
    if let Some(t) = &s.throughput {
        lines.push(format!("{:.1} images/s", t.images_per_s));
    }
    lines.join("\n")
}

/// `rectify attack`'s summary (`run`: the run directory).
pub fn attack(s: &AttackSummary, run: &Path) -> String {
    let acc: Vec<String> = s.accuracy_per_step.iter().map(|a| format!("{a:.3}")).collect();
    let dir = run.join(layout::attack_dir(&s.name));
    let mut lines = vec![
        format!("attack {}: {} images -> {}", s.name, s.n, dir.display()),
        format!("accuracy per step: {}", acc.join(" ")),
    ];
    if let Some(q) = s.quantized_accuracy {
        lines.push(format!("accuracy of the saved 8-bit images: {q:.3}"));
    }
    lines.join("\n")
}

/// `rectify explain`'s summary.
pub fn explain(done: &Explained) -> String {
    let n = done.summary.n;
    format!(
        "explained {n} images -> {}\nexplanation path above the random order's on {}/{n} images",
        done.dir.display(),
        done.path_beats_random
    )
}

/// `rectify criticize --run`'s summary.
pub fn picks(done: &CriticizeSummary) -> String {
    let groups = &done.selection.groups;
    let with_picks = groups.iter().filter(|g| !g.prototypes.is_empty() || !g.criticisms.is_empty()).count();
    format!(
        "{}: {} groups ({with_picks} with picks), {} prototypes, {} criticisms, {} galleries -> {}",
        done.selection.method,
        groups.len(),
        groups.iter().map(|g| g.prototypes.len()).sum::<usize>(),
        groups.iter().map(|g| g.criticisms.len()).sum::<usize>(),
        done.galleries,
        done.out.display()
    )
}

/// What sharing one study between several models' runs saved.
pub fn sharing(s: &Sharing) -> String {
    format!(
        "shared by {} models: {} distinct questions instead of {} in separate studies ({:.1} % fewer, {} answers saved)",
        s.runs.len(),
        s.questions_shared,
        s.questions_separate,
        100.0 * s.saving,
        s.answers_saved
    )
}

/// `rectify study import`'s summary of `file`.
pub fn imported(done: &ImportSummary, file: &Path) -> String {
    let put = &done.put;
    let mut lines = vec![match done.top1_items {
        None => format!("{} votes: {} new, {} replaced, {} unchanged", done.votes, put.inserted, put.replaced, put.unchanged),
        Some(top1) => format!(
            "{}: {} votes read; {} relevance-top1 items ({} with votes), {} relevance-top5 items; {} votes stored ({} new, {} replaced, {} unchanged)",
            file.display(),
            done.read,
            top1,
            done.top1_voted,
            done.top5_items,
            done.votes,
            put.inserted,
            put.replaced,
            put.unchanged
        ),
    }];
    lines.extend(done.sharing.as_ref().map(sharing));
    lines.join("\n")
}

/// One line per design of one `results.json`.
pub fn designs(res: &ResultsFile) -> String {
    let mut lines = Vec::new();
    for (name, d) in &res.designs {
        lines.push(match d {
            DesignResults::Top1 { result: r, .. } => format!(
                "{name}: top-1 error {} -> rectified {} (95 % CI {}–{}); {} misclassified, {} rated, {} unrated; ReaL top-1 accuracy {}",
                pct(r.top1_error),
                pct(r.rectified_top1_error),
                pct(r.ci.rectified_top1_error[0]),
                pct(r.ci.rectified_top1_error[1]),
                r.counts.errors,
                r.counts.rated,
                r.counts.unrated,
                pct(r.real_top1_accuracy),
            ),
            DesignResults::Top5 { result: r, .. } => format!(
                "{name}: top-5 error {} -> rectified {} (95 % CI {}–{}); {} rated, {} unrated",
                pct(r.top5_error),
                pct(r.rectified_top5_error),
                pct(r.ci.rectified_top5_error[0]),
                pct(r.ci.rectified_top5_error[1]),
                r.counts.rated,
                r.counts.unrated,
            ),
            other => format!("{name}: {}", serde_json::to_string(other).unwrap_or_default()),
        });
    }
    lines.join("\n")
}

/// `rectify study results`' summary (`run`: the study's run).
pub fn results(done: &ResultsSummary, run: &Path) -> String {
    let mut lines = Vec::new();
    for (dir, res) in &done.runs {
        if done.sharing.is_some() {
            lines.push(format!("{}:", dir.display()));
        }
        if !res.designs.is_empty() {
            lines.push(designs(res));
        }
        lines.push(format!("-> {}", dir.join("study/results.json").display()));
    }
    if !done.excluded.is_empty() {
        lines.push(format!(
            "excluded {} raters ({} votes): their votes are kept but not counted; results with every vote: {}",
            done.excluded.len(),
            done.votes_excluded,
            run.join("study/results-all.json").display()
        ));
    }
    lines.extend(done.sharing.as_ref().map(sharing));
    lines.join("\n")
}

/// `rectify bias`'s table.
pub fn bias(done: &Biased, attribute: &str) -> String {
    let pct = |p: &rectify_report::stats::Proportion| {
        if p.n == 0 {
            "-".to_string()
        } else {
            format!("{}/{} ({:.0} %)", p.k, p.n, 100.0 * p.p)
        }
    };
    let rows = &done.file.rows;
    let mut lines = vec![format!(
        "{attribute:?} in {} (source {}): whole group {}",
        done.group,
        done.source,
        rows.first().map_or("-".into(), |r| pct(&r.group))
    )];
    for r in rows {
        lines.push(format!(
            "  {:<24} prototypes {:<16} criticisms {:<16} Fisher p = {:.4}",
            r.selector,
            pct(&r.prototypes),
            pct(&r.criticisms),
            r.fisher_p
        ));
    }
    lines.push(format!("-> {}", done.path.display()));
    lines.join("\n")
}

/// `study replay`'s summary: answers with and without stopping, and the verdicts.
pub fn replay(r: &crate::replay::Replay) -> String {
    let mut out = format!(
        "{} items of {} with {} votes: {:.2} answers per item with stopping ({} yes or {} not yes of {}; {} of them \
         asked all {}) instead of {}: {:.1} of {} answers ({:.1} %); verdicts unchanged on {} of {}",
        r.items,
        r.design,
        r.n,
        r.answers_per_item,
        r.k,
        r.n - r.k + 1,
        r.n,
        r.full_items,
        r.n,
        r.n,
        r.answers_sequential,
        r.answers_full,
        r.share_of_full * 100.0,
        r.same_verdicts,
        r.items
    );
    if r.items_with_fewer_votes > 0 {
        out.push_str(&format!("\n{} items with fewer than {} votes left out", r.items_with_fewer_votes, r.n));
    }
    out
}

/// `study plan`'s summary.
pub fn plan(p: &crate::plan::Plan) -> String {
    let mut out = format!(
        "{}: {} mistakes of {} labelled images; {} items to rate{}",
        p.design,
        p.mistakes,
        p.labelled,
        p.items,
        if p.items < p.mistakes {
            format!(" (a random sample: 95 % interval about ±{:.2} points)", p.interval_points)
        } else {
            String::new()
        }
    );
    out.push_str(&format!(
        "\nanswers: {:.0} expected ({:.2} per item that stops once decided) instead of {} asking everyone {} times\n\
         cost: ${:.2} expected instead of ${:.2} at ${} an answer; {:.1} participant-hours\nfrom {}",
        p.answers_expected,
        p.answers_per_stopped_item,
        p.answers_full,
        p.answers_per_item,
        p.cost_expected,
        p.cost_full,
        p.price_per_answer,
        p.participant_hours,
        p.basis
    ));
    out
}
