//! The mistakes gallery (the paper's Fig. 3, issue #17) and the class view: every top-1
//! mistake with its thumbnail, the predicted class in red and the label in black, and how many
//! raters called the predicted class relevant; sorted by that agreement.
//!
//! The page stays readable without scripts: the first [`STATIC_TILES`] tiles of each run are
//! plain HTML. With scripts, `report.js` renders the rest from the JSON beside them (lazily, a
//! page at a time), filters them to rectified / confirmed errors / undecided, reverses the order,
//! and fills the class view when a class name is clicked.

use serde_json::json;

use super::base64::encode;
use super::html::{esc, Ctx, Fmt};
use super::model::{Mistake, Report};

/// Tiles written as HTML per run (the rest are rendered by the script, a page of this many at
/// a time).
pub const STATIC_TILES: usize = 120;

/// The inline script: sortable and filterable tables, the run switch, the gallery's filters and
/// pages, the class view. No framework and no request.
pub const SCRIPT: &str = include_str!("report.js");

fn outcome_text(m: &Mistake) -> &'static str {
    match m.outcome.as_str() {
        "rectified" | "error" => "",
        "unrated" => "asked, too few answers",
        "not-asked" => "not asked",
        _ => "no relevance study",
    }
}

/// One tile; `report.js` builds the same markup (keep the two in step).
fn tile(ctx: &Ctx, report: &Report, m: usize, i: usize) -> String {
    let set = &report.mistakes[m];
    let item = &set.items[i];
    let p = format!("/mistakes/{m}/items/{i}");
    let q = |k: &str, f| ctx.show(format!("{p}/{k}"), f);
    let picture = match report.thumbnails.get(&(set.run, item.file.clone())) {
        Some(jpeg) => format!(
            "<img src=\"data:image/jpeg;base64,{}\" alt=\"{}\" title=\"{}\">",
            encode(jpeg),
            esc(&item.file),
            esc(&item.file)
        ),
        None => format!("<div class=\"noimg\">{}</div>", q("file", Fmt::Text)),
    };
    let agreement = match item.outcome.as_str() {
        "rectified" | "error" => format!("{} of {} said relevant", q("yes", Fmt::Int), q("votes", Fmt::Int)),
        _ => esc(outcome_text(item)),
    };
    format!(
        "<figure class=\"tile o-{}\" data-outcome=\"{}\">{picture}<figcaption><span class=\"pred\">{}</span><span class=\"truth\">{}</span><span class=\"agree\">{agreement}</span></figcaption></figure>",
        esc(&item.outcome),
        esc(&item.outcome),
        q("class_name", Fmt::Text),
        q("label_name", Fmt::Text),
    )
}

/// The gallery's data for the script: the items as arrays and the thumbnails by index (empty
/// for the static tiles' thumbnails, which the script takes from their `<img>`).
fn data(report: &Report, m: usize) -> String {
    let set = &report.mistakes[m];
    let mut thumbs = Vec::new();
    let items: Vec<serde_json::Value> = set
        .items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let t = report.thumbnails.get(&(set.run, x.file.clone())).map(|j| {
                thumbs.push(if i < STATIC_TILES { String::new() } else { encode(j) });
                thumbs.len() - 1
            });
            json!([x.file, x.label, x.label_name, x.class, x.class_name, x.yes, x.votes, x.outcome, t])
        })
        .collect();
    let doc = json!({"run": set.run, "k": set.k, "n": set.n, "items": items, "thumbs": thumbs});
    // No `<` or `>` in the script element: `</script` or `<!--` in a file name cannot end it
    // early or change how the parser reads it.
    doc.to_string().replace('<', "\\u003c").replace('>', "\\u003e")
}

/// The mistakes section.
pub fn mistakes(ctx: &Ctx, report: &Report) -> String {
    if report.mistakes.is_empty() {
        return "<p class=\"note\">No run has labelled predictions yet.</p>\n".into();
    }
    let mut s = String::from(
        "<p>Every top-1 mistake on a labelled image: the predicted class in <span class=\"pred\">red</span>, the \
         label in black, and how many raters called the predicted class relevant (the paper's Fig. 3). Sorted by \
         that agreement: the mistakes people forgive come first. Pictures are thumbnails of the evaluated images.</p>\n",
    );
    for (m, set) in report.mistakes.iter().enumerate() {
        let p = format!("/mistakes/{m}");
        let q = |k: &str, f| ctx.show(format!("{p}/{k}"), f);
        let rule = match (set.k, set.n) {
            (Some(_), Some(_)) => {
                format!(" (at least {} of {} raters said relevant)", q("k", Fmt::Int), q("n", Fmt::Int))
            }
            _ => String::new(),
        };
        s.push_str(&format!(
            "<div class=\"mistakes\" data-run=\"{}\">\n<h3>{}</h3>\n<p>{} mistakes: {} rectified{rule}, {} confirmed errors, {} undecided. {} thumbnails embedded.</p>\n",
            set.run,
            ctx.show(format!("/runs/{}/name", set.run), Fmt::Text),
            q("count", Fmt::Int),
            q("rectified", Fmt::Int),
            q("confirmed", Fmt::Int),
            q("undecided", Fmt::Int),
            q("thumbnails", Fmt::Int),
        ));
        if set.thumbnails_failed > 0 {
            s.push_str(&format!(
                "<p class=\"note\">{} images could not be read for thumbnails; the first: {}.</p>\n",
                q("thumbnails_failed", Fmt::Int),
                q("thumbnail_failure", Fmt::Text)
            ));
        }
        s.push_str(&format!("<div class=\"tiles\" data-mistakes=\"{m}\">"));
        for i in 0..set.items.len().min(STATIC_TILES) {
            s.push_str(&tile(ctx, report, m, i));
        }
        s.push_str("</div>\n");
        if set.items.len() > STATIC_TILES {
            s.push_str(&format!(
                "<p class=\"note static-only\">{} more in <code>report.json</code> (<code>{p}/items</code>); with scripts enabled the gallery pages through all of them.</p>\n",
                set.items.len() - STATIC_TILES
            ));
        }
        s.push_str(&format!(
            "<script type=\"application/json\" class=\"mistakes-data\" data-mistakes=\"{m}\">{}</script>\n</div>\n",
            data(report, m)
        ));
    }
    s
}

/// The class view: filled by the script when a class name is clicked.
pub fn class_view() -> String {
    "<div id=\"class-view-body\"><p class=\"note\">With scripts enabled, click a class name in the per-class table or \
     the confusions to see its mistakes, the mistakes predicting it, its prototypes and criticisms, and its \
     explanations here.</p></div>\n"
        .into()
}
