//! HTML building blocks: escaping, the page shell (inline CSS and one inline script, a content
//! security policy that forbids any request), and [`Ctx::show`], the one way a number reaches
//! the page.
//!
//! Every value shown is looked up by its JSON pointer in the serialised report and written as
//! `<span data-ptr="/table1/0/top1" data-fmt="pct">79.69 %</span>`, so a test can check each
//! shown value against `report.json` ([`format()`] is the formatting it must reproduce).

use serde_json::Value;

use super::model::{Report, Section};

/// How a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    /// A share as a percentage with two decimals: `0.7969` → `79.69 %`.
    Pct,
    /// A number with this many decimals.
    Fixed(usize),
    /// An integer.
    Int,
    /// A p-value: three decimals, or `2.30e-5` below 0.001.
    P,
    /// A string as is.
    Text,
}

impl Fmt {
    /// The `data-fmt` name: `pct`, `f3`, `int`, `p`, `text`.
    pub fn name(self) -> String {
        match self {
            Fmt::Pct => "pct".into(),
            Fmt::Fixed(d) => format!("f{d}"),
            Fmt::Int => "int".into(),
            Fmt::P => "p".into(),
            Fmt::Text => "text".into(),
        }
    }
}

/// `v` written as `fmt` says (`—` for null).
pub fn format(v: &Value, fmt: Fmt) -> String {
    match (v, fmt) {
        (Value::Null, _) => "—".into(),
        (Value::Bool(b), _) => if *b { "yes" } else { "no" }.into(),
        (Value::String(s), _) => s.clone(),
        (Value::Number(n), Fmt::Int) => {
            n.as_i64().map_or_else(|| format!("{:.0}", n.as_f64().unwrap_or(0.0)), |i| i.to_string())
        }
        (Value::Number(n), f) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            match f {
                Fmt::Pct => format!("{:.2} %", x * 100.0),
                Fmt::Fixed(d) => format!("{x:.d$}"),
                Fmt::P if x < 1e-3 => format!("{x:.2e}"),
                Fmt::P => format!("{x:.3}"),
                Fmt::Int | Fmt::Text => n.to_string(),
            }
        }
        (other, _) => other.to_string(),
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value of the report, ready to be written.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Its JSON pointer.
    pub ptr: String,
    /// Its format.
    pub fmt: Fmt,
    /// The value as a number, when it is one.
    pub value: Option<f64>,
    /// The formatted text (not escaped).
    pub text: String,
}

impl Shown {
    fn attrs(&self) -> String {
        format!(r#"data-ptr="{}" data-fmt="{}""#, esc(&self.ptr), self.fmt.name())
    }

    /// `<span data-ptr … >text</span>`.
    pub fn span(&self) -> String {
        format!("<span {}>{}</span>", self.attrs(), esc(&self.text))
    }

    /// An SVG `<text>` at (x, y) with extra attributes.
    pub fn svg_text(&self, x: f64, y: f64, extra: &str) -> String {
        format!(r#"<text x="{x:.1}" y="{y:.1}" {extra} {}>{}</text>"#, self.attrs(), esc(&self.text))
    }

    /// An SVG `<title>` (a tooltip).
    pub fn svg_title(&self) -> String {
        format!("<title {}>{}</title>", self.attrs(), esc(&self.text))
    }
}

/// The report as JSON, for looking values up by pointer.
pub struct Ctx {
    json: Value,
}

impl Ctx {
    /// Serialises `report` once.
    pub fn new(report: &Report) -> Self {
        Ctx { json: serde_json::to_value(report).unwrap_or(Value::Null) }
    }

    /// The value at `ptr` (a missing pointer shows as `⚠ <ptr>`, which the tests catch).
    pub fn at(&self, ptr: impl Into<String>, fmt: Fmt) -> Shown {
        let ptr = ptr.into();
        match self.json.pointer(&ptr) {
            Some(v) => Shown { value: v.as_f64(), text: format(v, fmt), ptr, fmt },
            None => Shown { value: None, text: format!("⚠ {ptr}"), ptr, fmt },
        }
    }

    /// `<span data-ptr=…>` of the value at `ptr`.
    pub fn show(&self, ptr: impl Into<String>, fmt: Fmt) -> String {
        self.at(ptr, fmt).span()
    }

    /// `value [lo, hi]` for a value and its interval object at `ci` (`{lo, hi}`).
    pub fn with_ci(&self, ptr: &str, ci: &str) -> String {
        format!(
            "{} <span class=\"ci\">[{}, {}]</span>",
            self.show(ptr, Fmt::Pct),
            self.show(format!("{ci}/lo"), Fmt::Pct),
            self.show(format!("{ci}/hi"), Fmt::Pct)
        )
    }
}

/// A "not run yet" note for run `run`'s missing entry `m` (pointers into `/runs`).
pub fn not_run(ctx: &Ctx, run: usize, m: usize) -> String {
    let p = format!("/runs/{run}/missing/{m}");
    format!(
        "<div class=\"missing\"><strong>Not run yet</strong> for {}: {}. Run:<pre><code>{}</code></pre></div>\n",
        ctx.show(format!("/runs/{run}/name"), Fmt::Text),
        ctx.show(format!("{p}/what"), Fmt::Text),
        ctx.show(format!("{p}/command"), Fmt::Text),
    )
}

/// A table the script makes sortable and filterable (`name` names it in the filter box): rows
/// of (attributes of the `<tr>`, ready HTML cells). Without scripts it is a plain table.
pub fn sortable(name: &str, head: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut s = format!("<table class=\"sortable\" data-name=\"{}\">\n<thead><tr>", esc(name));
    for h in head {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (attrs, r) in rows {
        s.push_str(&format!("<tr {attrs}>"));
        for c in r {
            s.push_str(&format!("<td>{c}</td>"));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// A link that opens class `class` of run `run` in the class view (with scripts).
pub fn class_link(run: usize, class: i64, text: &str) -> String {
    format!("<a class=\"class-link\" href=\"#class-view\" data-link-run=\"{run}\" data-class=\"{class}\">{text}</a>")
}

/// A table: header cells (escaped here; none for a key–value table) and rows of ready HTML
/// cells.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n");
    if !head.is_empty() {
        s.push_str("<thead><tr>");
        for h in head {
            s.push_str(&format!("<th>{}</th>", esc(h)));
        }
        s.push_str("</tr></thead>\n");
    }
    s.push_str("<tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{c}</td>"));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

const CSS: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d1d1f}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
td span[data-fmt=pct]{white-space:nowrap}th{background:#f4f4f6}td span[data-fmt=pct],td span[data-fmt=int],td span[data-fmt^=f],td span[data-fmt=p]{font-variant-numeric:tabular-nums}
.ci{color:#666;font-size:.9em}.missing{background:#fff8e5;border-left:4px solid #e0a800;padding:.4em .8em;margin:.6em 0}
pre{background:#f6f8fa;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
figure{display:inline-block;margin:.5em;vertical-align:top}figcaption{font-size:.85em;color:#444;max-width:460px}
img{max-width:100%;image-rendering:auto;border:1px solid #ddd}
svg{font:11px sans-serif;background:#fff}svg .bar{fill:#4e79a7}svg .axis{stroke:#888;fill:none}
svg .s0{stroke:#e15759;fill:none;stroke-width:2}svg .s1{stroke:#4e79a7;fill:none;stroke-width:2;stroke-dasharray:4 3}
svg .s2{stroke:#59a14f;fill:none;stroke-width:2}svg .s3{stroke:#b07aa1;fill:none;stroke-width:2}
svg circle{stroke:none}svg .d0{fill:#e15759}svg .d1{fill:#4e79a7}svg .d2{fill:#59a14f}svg .d3{fill:#b07aa1}
nav ol{columns:2}.note{color:#555}.warn{background:#fdecea;border-left:4px solid #c62828;padding:.4em .8em}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:.6em 0}.tile{margin:0;width:124px;display:block}
.tile img,.tile .noimg{width:112px;height:112px;object-fit:contain;background:#f4f4f6;display:block;overflow:hidden;font-size:.7em;word-break:break-all}
.tile figcaption{font-size:.8em;line-height:1.25;max-width:124px}.tile figcaption>span{display:block}
.pred{color:#c62828;font-weight:600}.truth{color:#1d1d1f}.agree{color:#555}.tile.o-rectified img{outline:3px solid #59a14f}
.thumb{width:56px;height:56px;object-fit:cover;margin-right:4px;vertical-align:middle}
.controls{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin:.5em 0}.controls .count{color:#555;font-size:.9em}
th button.sort{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;text-align:left;color:inherit}
th[aria-sort=ascending] button.sort::after{content:' \\25B2'}th[aria-sort=descending] button.sort::after{content:' \\25BC'}
button.more{margin:.4em 0}input.filter{min-width:16em}:focus-visible{outline:2px solid #1565c0;outline-offset:2px}
";

/// The content security policy: nothing is fetched (images are `data:` URIs; style and script
/// are inline), so the page makes no request even if its content were tampered with.
pub const CSP: &str =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// The whole page around `body`, with `script` inline at its end.
pub fn page(title: &str, body: &str, script: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}<script>\n{script}</script>\n</body>\n</html>\n",
        esc(title)
    )
}

/// "Not run yet" notes of every run for the given sections.
pub fn notes(ctx: &Ctx, report: &Report, sections: &[Section]) -> String {
    let mut s = String::new();
    for (r, run) in report.runs.iter().enumerate() {
        for (m, missing) in run.missing.iter().enumerate() {
            if sections.contains(&missing.section) {
                s.push_str(&not_run(ctx, r, m));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats() {
        assert_eq!(format(&json!(0.796_94), Fmt::Pct), "79.69 %");
        assert_eq!(format(&json!(0.5), Fmt::Fixed(3)), "0.500");
        assert_eq!(format(&json!(12), Fmt::Int), "12");
        assert_eq!(format(&json!(0.000_023), Fmt::P), "2.30e-5");
        assert_eq!(format(&json!(0.023_014), Fmt::P), "0.023");
        assert_eq!(format(&Value::Null, Fmt::Pct), "—");
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn a_missing_pointer_is_visible() {
        let ctx = Ctx::new(&Report::default());
        assert_eq!(ctx.show("/generator", Fmt::Text), r#"<span data-ptr="/generator" data-fmt="text"></span>"#);
        assert!(ctx.show("/table1/0/top1", Fmt::Pct).contains("⚠ /table1/0/top1"));
    }
}
