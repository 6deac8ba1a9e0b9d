//! The report's figures: positive-answer histograms (bars), accuracy per attack step and
//! explanation paths (lines), explained images and prototype/criticism galleries (embedded
//! PNGs). Every number goes through [`Ctx`].

use super::base64::png_uri;
use super::html::{esc, notes, table, Ctx, Fmt};
use super::model::{Image, Report, Section};
use super::svg::{bars, lines, Series};

fn run_name(ctx: &Ctx, run: usize) -> String {
    ctx.show(format!("/runs/{run}/name"), Fmt::Text)
}

/// An embedded PNG, or a note that its file is missing (`ptr` points at the [`Image`]).
fn img(ctx: &Ctx, image: &Image, ptr: &str, alt: &str) -> String {
    if image.png.is_empty() {
        return format!("<p class=\"note\">(image {} missing)</p>", ctx.show(format!("{ptr}/file"), Fmt::Text));
    }
    format!("<img src=\"{}\" alt=\"{}\">", png_uri(&image.png), esc(alt))
}

/// Section 3: questions by number of yes answers, per relevance design.
pub fn histograms(ctx: &Ctx, report: &Report) -> String {
    let mut s = String::new();
    for (i, h) in report.histograms.iter().enumerate() {
        let values: Vec<_> =
            (0..h.counts.len()).map(|b| ctx.at(format!("/histograms/{i}/counts/{b}"), Fmt::Int)).collect();
        let ticks: Vec<String> = (0..h.counts.len()).map(|b| b.to_string()).collect();
        s.push_str(&format!(
            "<figure>{}<figcaption>{} — {}: questions by number of raters answering “relevant”.</figcaption></figure>\n",
            bars(&values, &ticks, "yes answers", &h.design),
            run_name(ctx, h.run),
            ctx.show(format!("/histograms/{i}/design"), Fmt::Text)
        ));
    }
    s + &notes(ctx, report, &[Section::Histograms])
}

/// Calibration: ECE per run and each run's reliability diagram.
pub fn calibration(ctx: &Ctx, report: &Report) -> String {
    if report.calibration.is_empty() {
        return "<p class=\"note\">No run has predictions yet (<code>rectify eval</code> writes <code>predictions.csv</code>).</p>\n".into();
    }
    let rows: Vec<Vec<String>> = (0..report.calibration.len())
        .map(|i| {
            let q = |k: &str, f| ctx.show(format!("/calibration/{i}/{k}"), f);
            vec![
                run_name(ctx, report.calibration[i].run),
                q("n", Fmt::Int),
                q("accuracy", Fmt::Pct),
                q("mean_confidence", Fmt::Pct),
                q("ece", Fmt::Pct),
                q("bins", Fmt::Int),
            ]
        })
        .collect();
    let mut s = String::from(
        "<p>Expected calibration error (Guo et al. 2017): the labelled images are put in equal-width bins by the \
         probability of their top class, and the gaps between each bin's accuracy and its mean probability are \
         averaged, weighted by the bin's size. A calibrated model's bars reach the diagonal.</p>\n",
    );
    s.push_str(&table(&["Run", "Labelled images", "Top-1 accuracy", "Mean top-1 probability", "ECE", "Bins"], &rows));
    for (i, row) in report.calibration.iter().enumerate() {
        let acc: Vec<_> = (0..row.bin_accuracy.len())
            .map(|m| ctx.at(format!("/calibration/{i}/bin_accuracy/{m}"), Fmt::Pct))
            .collect();
        let conf: Vec<_> = (0..row.bin_confidence.len())
            .map(|m| ctx.at(format!("/calibration/{i}/bin_confidence/{m}"), Fmt::Pct))
            .collect();
        s.push_str(&format!(
            "<figure>{}<figcaption>{}: reliability diagram, ECE {}.</figcaption></figure>\n",
            super::svg::reliability(&acc, &conf, "reliability diagram"),
            run_name(ctx, row.run),
            ctx.show(format!("/calibration/{i}/ece"), Fmt::Pct)
        ));
    }
    s
}

/// Section 4: accuracy after each attack step.
pub fn attacks(ctx: &Ctx, report: &Report) -> String {
    let mut s = String::new();
    for (i, a) in report.attacks.iter().enumerate() {
        let p = format!("/attacks/{i}");
        let points =
            (0..a.accuracy_per_step.len()).map(|k| ctx.at(format!("{p}/accuracy_per_step/{k}"), Fmt::Pct)).collect();
        let chart = lines(&[Series { name: a.name.clone(), points }], "attack step", &a.name);
        s.push_str(&format!(
            "<figure>{chart}<figcaption>{} — {}: accuracy before the attack (step 0) and after each step, {} images.</figcaption></figure>\n",
            run_name(ctx, a.run),
            ctx.show(format!("{p}/name"), Fmt::Text),
            ctx.show(format!("{p}/n"), Fmt::Int),
        ));
    }
    let rows: Vec<Vec<String>> = (0..report.attacks.len())
        .map(|i| {
            let q = |k: &str, f| ctx.show(format!("/attacks/{i}/{k}"), f);
            let last = report.attacks[i].accuracy_per_step.len().saturating_sub(1);
            vec![
                run_name(ctx, report.attacks[i].run),
                q("name", Fmt::Text),
                q("n", Fmt::Int),
                q("accuracy_per_step/0", Fmt::Pct),
                q(&format!("accuracy_per_step/{last}"), Fmt::Pct),
                q("quantized_accuracy", Fmt::Pct),
                q("flipped", Fmt::Int),
            ]
        })
        .collect();
    if !rows.is_empty() {
        s.push_str(&table(
            &["Run", "Attack", "Images", "Accuracy before", "After the last step", "After 8-bit PNG", "Flipped"],
            &rows,
        ));
    }
    s + &notes(ctx, report, &[Section::Attacks])
}

/// Section 6: explained images, their attention and their path vs a random path.
pub fn explanations(ctx: &Ctx, report: &Report) -> String {
    let mut s = String::new();
    for (i, e) in report.explanations.iter().enumerate() {
        let p = format!("/explanations/{i}");
        let q = |k: &str, f| ctx.show(format!("{p}/{k}"), f);
        s.push_str(&format!(
            "<h3>{} — {}</h3>\n<p>{} images explained; the explanation path beats the random path for {} of them (mean AUC {} vs {}).</p>\n",
            run_name(ctx, e.run),
            q("name", Fmt::Text),
            q("n", Fmt::Int),
            q("path_beats_random", Fmt::Pct),
            q("auc_path_mean", Fmt::Fixed(3)),
            q("auc_random_mean", Fmt::Fixed(3)),
        ));
        for (j, x) in e.examples.iter().enumerate() {
            let xp = format!("{p}/examples/{j}");
            let series = |key: &str, name: &str, n: usize| Series {
                name: name.into(),
                points: (0..n).map(|k| ctx.at(format!("{xp}/{key}/{k}"), Fmt::Pct)).collect(),
            };
            let chart = lines(
                &[
                    series("path", "explanation path", x.path.len()),
                    series("random_path", "random path", x.random_path.len()),
                ],
                "segments shown",
                &x.file,
            );
            let xq = |k: &str, f| ctx.show(format!("{xp}/{k}"), f);
            s.push_str(&format!(
                "<div class=\"example\" data-run=\"{}\" data-class=\"{}\">\n<figure>{}<figcaption>Attention</figcaption></figure>\n<figure>{}<figcaption>Overlay</figcaption></figure>\n<figure>{chart}<figcaption>{}: “{}” with probability {}; probability as the top segments are shown in order (AUC {}) vs in random order (AUC {}).</figcaption></figure>\n</div>\n",
                e.run,
                x.true_label.map_or(x.label.to_string(), |t| format!("{} {t}", x.label)),
                img(ctx, &x.attention, &format!("{xp}/attention"), "attention"),
                img(ctx, &x.overlay, &format!("{xp}/overlay"), "overlay"),
                xq("file", Fmt::Text),
                xq("label_name", Fmt::Text),
                xq("probability", Fmt::Pct),
                xq("auc_path", Fmt::Fixed(3)),
                xq("auc_random", Fmt::Fixed(3)),
            ));
        }
        if e.more > 0 {
            s.push_str(&format!(
                "<p class=\"note\">{} more explained images in the run directory. The ones shown are spread from the most faithful explanation (largest gap between the two areas) to the least.</p>\n",
                q("more", Fmt::Int)
            ));
        }
    }
    s + &notes(ctx, report, &[Section::Explanations])
}

/// Section 7: prototypes and criticisms per selector.
pub fn galleries(ctx: &Ctx, report: &Report) -> String {
    let mut s = String::new();
    for (i, g) in report.galleries.iter().enumerate() {
        let p = format!("/galleries/{i}");
        let q = |k: &str, f| ctx.show(format!("{p}/{k}"), f);
        s.push_str(&format!(
            "<h3>{} — {} (selector {})</h3>\n<p>{} groups; prototypes above, criticisms below.</p>\n",
            run_name(ctx, g.run),
            q("name", Fmt::Text),
            q("method", Fmt::Text),
            q("groups_total", Fmt::Int),
        ));
        for (j, grp) in g.groups.iter().enumerate() {
            let gp = format!("{p}/groups/{j}");
            let gq = |k: &str, f| ctx.show(format!("{gp}/{k}"), f);
            let files = |key: &str, n: usize| {
                (0..n).map(|k| ctx.show(format!("{gp}/{key}/{k}"), Fmt::Text)).collect::<Vec<_>>().join(", ")
            };
            s.push_str(&format!(
                "<figure data-run=\"{}\" data-class=\"{}\">{}<figcaption>{}: {} images, {} prototypes, {} criticisms.<details><summary>Files</summary>Prototypes: {}<br>Criticisms: {}</details></figcaption></figure>\n",
                g.run,
                esc(&grp.group),
                img(ctx, &grp.image, &format!("{gp}/image"), &grp.group),
                gq("group", Fmt::Text),
                gq("size", Fmt::Int),
                gq("prototypes", Fmt::Int),
                gq("criticisms", Fmt::Int),
                files("prototype_files", grp.prototype_files.len()),
                files("criticism_files", grp.criticism_files.len()),
            ));
        }
        if g.more > 0 {
            s.push_str(&format!(
                "<p class=\"note\">{} more groups (without picks, or beyond those shown) in <code>criticize/{}/</code>.</p>\n",
                q("more", Fmt::Int),
                q("name", Fmt::Text)
            ));
        }
    }
    s + &notes(ctx, report, &[Section::Galleries])
}
