//! The checks every rectify report must pass, shared by the report crate's tests and the CLI's
//! (`rectify report`, `rectify audit`): each number shown carries the JSON pointer of its value in
//! `report.json` and is formatted from it as documented; the page loads nothing from anywhere.

use serde_json::Value;

/// `&lt;` … back to text.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The report's formatting, written again from its documentation (`html::Fmt`).
pub fn expected(v: &Value, fmt: &str) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            match fmt {
                "pct" => format!("{:.2} %", 100.0 * x),
                "int" => n.to_string(),
                "p" if x < 0.001 => format!("{x:.2e}"),
                "p" => format!("{x:.3}"),
                f if f.starts_with('f') => format!("{x:.*}", f[1..].parse::<usize>().unwrap()),
                other => panic!("unknown data-fmt {other}"),
            }
        }
        other => panic!("unexpected value {other}"),
    }
}

/// Every `data-ptr` element: (pointer, format, text).
pub fn shown_values(html: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for part in html.split("data-ptr=\"").skip(1) {
        let (ptr, rest) = part.split_once('"').unwrap();
        let fmt = rest.split("data-fmt=\"").nth(1).unwrap().split('"').next().unwrap();
        let text = rest.split_once('>').unwrap().1.split('<').next().unwrap();
        out.push((unescape(ptr), fmt.to_string(), unescape(text)));
    }
    out
}

/// Checks every shown value against `json`; returns how many there are.
pub fn check_values(html: &str, json: &Value) -> usize {
    let shown = shown_values(html);
    for (ptr, fmt, text) in &shown {
        let v = json.pointer(ptr).unwrap_or_else(|| panic!("{ptr} is shown but not in report.json"));
        assert_eq!(text, &expected(v, fmt), "value at {ptr} ({fmt})");
    }
    shown.len()
}

/// Checks the page loads nothing from anywhere: no URLs, external scripts, links, external
/// images, CSS imports; its scripts are inline (or JSON data), and its content security policy
/// forbids every request but `data:` images.
pub fn check_self_contained(html: &str) {
    for bad in ["http://", "https://", "<link", "@import", "url(", "<iframe", "<object", "<embed", "srcset"] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    for tag in html.split("<script").skip(1) {
        assert!(
            tag.starts_with('>') || tag.starts_with(" type=\"application/json\""),
            "a script that is not inline: <script{}",
            &tag[..tag.len().min(60)]
        );
    }
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:;"),
        "the page has no content security policy forbidding requests"
    );
    for src in html.split(" src=\"").skip(1) {
        assert!(
            src.starts_with("data:image/png;base64,") || src.starts_with("data:image/jpeg;base64,"),
            "an external src: {}",
            &src[..src.len().min(60)]
        );
    }
    for href in html.split("href=\"").skip(1) {
        assert!(href.starts_with('#'), "a link out of the page: {}", &href[..href.len().min(60)]);
    }
}
