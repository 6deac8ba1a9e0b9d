//! The report in headless Chromium (issue #7 acceptance): no console errors and no network
//! request. Chromium's net log and console are checked on a control page first, so a change in
//! their format cannot make the test pass silently. Skipped with a message when no Chromium is
//! installed, unless `RECTIFY_REQUIRE_BROWSER=1`.
//!
//! `RECTIFY_REPORT_RUN=<run dir>` also checks the report of that run (e.g. a val-1300 run);
//! `RECTIFY_REPORT_OUT=<dir>` keeps the pages (`<dir>/report.html`, `<dir>/fixture/report.html`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rectify_report::report::{build, write};
use serde_json::Value;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(p.into());
    }
    let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n))).find(|p| p.is_file())
}

/// What Chromium did with a page.
struct Visit {
    /// Console lines (`CONSOLE` in its log).
    console: Vec<String>,
    /// URLs of requests the page made (not Chromium's own background requests).
    requests: Vec<String>,
    /// The DOM after load.
    dom: String,
}

fn visit(browser: &Path, page: &Path, work: &Path) -> Visit {
    let netlog = work.join(format!("{}.netlog.json", page.file_name().unwrap().to_string_lossy()));
    let profile = work.join("profile");
    let mut child = Command::new(browser)
        .args(["--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--disable-default-apps", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    // Read both pipes on threads so a full pipe cannot stall Chromium.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(90) {
            child.kill().ok();
            panic!("chromium did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (dom, stderr) = (t_out.join().unwrap(), t_err.join().unwrap());
    let console =
        stderr.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).map(str::to_string).collect();
    Visit { console, requests: page_requests(&netlog), dom }
}

/// URLs of `URL_REQUEST_START_JOB` events with an initiator (requests a page made; Chromium's
/// own requests say `"initiator": "not an origin"`).
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("reading the net log");
    // Chromium may leave the events array unterminated when it exits.
    let log: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("parsing the net log");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_i64().expect("event type ids");
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"].as_i64() == Some(start_job))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

fn browser_or_skip() -> Option<PathBuf> {
    let b = chromium();
    if b.is_none() {
        assert!(
            std::env::var("RECTIFY_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "RECTIFY_REQUIRE_BROWSER=1 but no chromium found"
        );
        eprintln!("skipped: no chromium on PATH (set CHROMIUM=/path/to/chromium, or install it)");
    }
    b
}

/// The checker sees console errors and page requests (a control page has both).
fn check_the_checker(browser: &Path, work: &Path) {
    let control = work.join("control.html");
    put(
        &control,
        b"<!DOCTYPE html><p>control</p><img src=\"http://rectify.invalid/x.png\"><script>notDefined();</script>",
    );
    let v = visit(browser, &control, work);
    assert!(
        v.requests.iter().any(|u| u.starts_with("http://rectify.invalid/")),
        "net log check is blind: {:?}",
        v.requests
    );
    assert!(v.console.iter().any(|l| l.contains("Uncaught")), "console check is blind: {:?}", v.console);
}

fn check_report(browser: &Path, html: &Path, work: &Path) {
    let v = visit(browser, html, work);
    assert!(v.console.is_empty(), "console output: {:#?}", v.console);
    assert!(v.requests.is_empty(), "network requests: {:#?}", v.requests);
    assert!(
        v.dom.contains("Audit report") && v.dom.contains("</svg>"),
        "page did not load: {}",
        &v.dom[..v.dom.len().min(300)]
    );
}

#[test]
fn the_report_opens_in_headless_chromium_without_errors_or_requests() {
    let Some(browser) = browser_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    check_the_checker(&browser, tmp.path());
    let (full, bare) = (tmp.path().join("runs/full"), tmp.path().join("runs/bare"));
    full_run(&full);
    eval_summary(&bare, 0.75);
    let report = build(&[tmp.path().join("runs")]).unwrap();
    // RECTIFY_REPORT_OUT keeps the pages to look at.
    let keep = std::env::var_os("RECTIFY_REPORT_OUT").map(PathBuf::from);
    let (_, html) = write(&report, &keep.as_ref().map_or(tmp.path().join("out"), |k| k.join("fixture"))).unwrap();
    check_report(&browser, &html, tmp.path());

    if let Some(run) = std::env::var_os("RECTIFY_REPORT_RUN") {
        let report = build(&[PathBuf::from(run)]).unwrap();
        let out = keep.unwrap_or(tmp.path().join("real"));
        let (json, html) = write(&report, &out).unwrap();
        let value: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        let page = std::fs::read_to_string(&html).unwrap();
        check_self_contained(&page);
        let n = check_values(&page, &value);
        eprintln!("{}: {n} values checked", html.display());
        check_report(&browser, &html, tmp.path());
    }
}
