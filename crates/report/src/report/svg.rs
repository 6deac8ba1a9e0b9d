//! Tiny inline SVG plots: a bar chart (histograms) and a line chart (accuracy per attack step,
//! explanation paths). Values arrive as [`Shown`] so every number drawn as text or tooltip
//! carries its JSON pointer; axis ticks are furniture (`class="tick"`).

use super::html::{esc, Shown};

const W: f64 = 440.0;
const H: f64 = 220.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 36.0;

fn open(w: f64, h: f64, label: &str) -> String {
    format!(
        r#"<svg width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" role="img" aria-label="{}">"#,
        esc(label)
    )
}

/// A bar chart: one bar per value, `ticks[i]` under bar i, the value's text above it, the
/// y axis from 0 to the largest value; `x_label` names the axis.
pub fn bars(values: &[Shown], ticks: &[String], x_label: &str, label: &str) -> String {
    let w = (LEFT + RIGHT + 34.0 * values.len() as f64).max(220.0);
    let (pw, ph) = (w - LEFT - RIGHT, H - TOP - BOTTOM);
    let max = values.iter().filter_map(|v| v.value).fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let slot = pw / values.len().max(1) as f64;
    let mut s = open(w, H, label);
    s.push_str(&format!(r#"<path class="axis" d="M{LEFT} {TOP}V{:.1}H{:.1}"/>"#, TOP + ph, LEFT + pw));
    for (i, v) in values.iter().enumerate() {
        let x = LEFT + slot * i as f64;
        let h = v.value.unwrap_or(0.0) / max * ph;
        let y = TOP + ph - h;
        s.push_str(&format!(
            r#"<rect class="bar" x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}"/>"#,
            x + slot * 0.15,
            slot * 0.7
        ));
        s.push_str(&v.svg_text(x + slot / 2.0, y - 4.0, r#"text-anchor="middle""#));
        if let Some(t) = ticks.get(i) {
            s.push_str(&format!(
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + slot / 2.0,
                TOP + ph + 14.0,
                esc(t)
            ));
        }
    }
    s.push_str(&format!(
        r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></svg>"#,
        LEFT + pw / 2.0,
        H - 6.0,
        esc(x_label)
    ));
    s
}

/// One line of a line chart.
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// Its points, x = 0, 1, …; `None` values break the line.
    pub points: Vec<Shown>,
}

/// A line chart of shares (y from 0 to 1, drawn as 0–100 %) against the point index.
pub fn lines(series: &[Series], x_label: &str, label: &str) -> String {
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let n = series.iter().map(|s| s.points.len()).max().unwrap_or(0);
    let dx = pw / (n.max(2) - 1) as f64;
    let xy = |i: usize, v: f64| (LEFT + dx * i as f64, TOP + ph * (1.0 - v.clamp(0.0, 1.0)));
    let mut s = open(W, H, label);
    s.push_str(&format!(r#"<path class="axis" d="M{LEFT} {TOP}V{:.1}H{:.1}"/>"#, TOP + ph, LEFT + pw));
    for (tick, v) in [("0 %", 0.0), ("50 %", 0.5), ("100 %", 1.0)] {
        let (_, y) = xy(0, v);
        s.push_str(&format!(
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{tick}</text>"#,
            LEFT - 4.0,
            y + 4.0
        ));
    }
    if n > 0 {
        for (i, anchor) in [(0, "start"), (n - 1, "end")] {
            s.push_str(&format!(
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{i}</text>"#,
                xy(i, 0.0).0,
                TOP + ph + 14.0
            ));
        }
    }
    for (k, ser) in series.iter().enumerate() {
        let mut d = String::new();
        let mut pen_up = true;
        for (i, p) in ser.points.iter().enumerate() {
            match p.value {
                Some(v) => {
                    let (x, y) = xy(i, v);
                    d.push_str(&format!("{}{x:.1} {y:.1}", if pen_up { "M" } else { "L" }));
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        s.push_str(&format!(r#"<path class="s{}" d="{d}"/>"#, k % 4));
        for (i, p) in ser.points.iter().enumerate() {
            let (x, y) = xy(i, p.value.unwrap_or(0.0));
            let shown = if p.value.is_some() { "" } else { r#" opacity="0""# };
            s.push_str(&format!(
                r#"<circle class="d{}" cx="{x:.1}" cy="{y:.1}" r="2.5"{shown}>{}</circle>"#,
                k % 4,
                p.svg_title()
            ));
        }
        let ly = TOP - 8.0;
        let lx = LEFT + 8.0 + 150.0 * k as f64;
        s.push_str(&format!(
            r#"<path class="s{}" d="M{lx:.1} {ly:.1}h18"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            k % 4,
            lx + 22.0,
            ly + 4.0,
            esc(&ser.name)
        ));
    }
    s.push_str(&format!(
        r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></svg>"#,
        LEFT + pw / 2.0,
        H - 6.0,
        esc(x_label)
    ));
    s
}

/// A reliability diagram: per confidence bin (equal width over [0, 1]) a bar up to the bin's
/// accuracy, a tick at its mean confidence, and the diagonal a calibrated model follows. Empty
/// bins draw nothing; every bar and tick carries its value as a tooltip.
pub fn reliability(accuracy: &[Shown], confidence: &[Shown], label: &str) -> String {
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let bins = accuracy.len().max(1) as f64;
    let x = |v: f64| LEFT + pw * v.clamp(0.0, 1.0);
    let y = |v: f64| TOP + ph * (1.0 - v.clamp(0.0, 1.0));
    let mut s = open(W, H, label);
    s.push_str(&format!(r#"<path class="axis" d="M{LEFT} {TOP}V{:.1}H{:.1}"/>"#, TOP + ph, LEFT + pw));
    s.push_str(&format!(
        r#"<path class="s1" stroke-dasharray="4 3" d="M{:.1} {:.1}L{:.1} {:.1}"/>"#,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    ));
    for (tick, v) in [("0", 0.0), ("0.5", 0.5), ("1", 1.0)] {
        s.push_str(&format!(
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{tick}</text>"#,
            LEFT - 4.0,
            y(v) + 4.0
        ));
        s.push_str(&format!(
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{tick}</text>"#,
            x(v),
            TOP + ph + 14.0
        ));
    }
    for (m, (acc, conf)) in accuracy.iter().zip(confidence).enumerate() {
        let (lo, width) = (x(m as f64 / bins), pw / bins);
        if let Some(a) = acc.value {
            s.push_str(&format!(
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}">{}</rect>"#,
                lo + 1.0,
                y(a),
                width - 2.0,
                y(0.0) - y(a),
                acc.svg_title()
            ));
        }
        if let Some(c) = conf.value {
            s.push_str(&format!(
                r#"<path class="s0" d="M{:.1} {:.1}h{:.1}">{}</path>"#,
                lo + 1.0,
                y(c),
                width - 2.0,
                conf.svg_title()
            ));
        }
    }
    s.push_str(&format!(
        r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">confidence (top-1 probability); bars: accuracy, lines: mean confidence</text></svg>"#,
        LEFT + pw / 2.0,
        H - 6.0
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::Fmt;

    fn shown(ptr: &str, v: Option<f64>) -> Shown {
        Shown { ptr: ptr.into(), fmt: Fmt::Int, value: v, text: v.map_or("—".into(), |x| x.to_string()) }
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = bars(&[shown("/a/0", Some(2.0)), shown("/a/1", Some(4.0))], &["0".into(), "1".into()], "yes", "h");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Plot height 162: the larger bar fills it, the other is half.
        assert!(svg.contains(r#"height="162.0""#) && svg.contains(r#"height="81.0""#), "{svg}");
        assert!(svg.contains(r#"data-ptr="/a/1""#));
    }

    #[test]
    fn a_missing_point_breaks_the_line() {
        let pts = vec![shown("/p/0", Some(1.0)), shown("/p/1", None), shown("/p/2", Some(0.0))];
        let svg = lines(&[Series { name: "path".into(), points: pts }], "segments", "l");
        assert_eq!(svg.matches("<circle").count(), 3);
        let d = svg.split(r#"class="s0" d=""#).nth(1).unwrap();
        assert_eq!(d.matches('M').count(), 2, "two separate segments: {d}");
    }
}
