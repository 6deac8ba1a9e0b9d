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
use rectify_report::report::{build, build_with, write, Options};
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
    let _one = one_browser();
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

/// The browser tests share the 2 cores; one at a time, so the 50k report's load time is measured
/// on a page that has the machine to itself (but for whatever else the machine runs).
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_browser() -> std::sync::MutexGuard<'static, ()> {
    ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner())
}

/// The rows of the sortable table named `name` as shown: (run, original index, cell texts),
/// visible only.
fn shown_rows(b: &rectify_testkit::browser::Browser, name: &str) -> Vec<Value> {
    let v = b.js(&format!(
        "return [...document.querySelectorAll('table.sortable[data-name=\"{name}\"] tbody tr')].filter(r => !r.hidden)\
         .map(r => [r.dataset.run, +r.dataset.i, [...r.cells].map(c => c.textContent.trim())]);"
    ));
    v.as_array().unwrap().clone()
}

/// ImageNet-X-style factors for the synthetic images `img_00000.JPEG` …: three factors, so the
/// report has a factors table.
fn synthetic_factors(path: &Path, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            serde_json::json!({"file_name": format!("img_{i:05}.JPEG"), "class": 0, "pose": i % 2,
                "background": u8::from(i % 3 == 0), "color": u8::from(i % 5 == 0)})
            .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n")).unwrap();
}

/// Sorts the table `name` by its numeric column `col` up and down by mouse (values in order, `—`
/// last, ties stable, every row kept), then filters it by keyboard with the text of a cell of
/// column `text_col` (the rows shown are exactly those whose text holds it), then clears the filter.
fn sort_and_filter(b: &rectify_testkit::browser::Browser, name: &str, col: usize, text_col: usize) -> usize {
    let table = format!("table.sortable[data-name=\"{name}\"]");
    let all = shown_rows(b, name);
    assert!(all.len() >= 2, "{name}: {} rows", all.len());
    let button = format!("{table} th:nth-child({}) button.sort", col + 1);
    b.click(&button);
    assert_sorted(&shown_rows(b, name), col, true, &format!("{name}, column {col} ascending"));
    b.click(&button);
    let sorted = shown_rows(b, name);
    assert_sorted(&sorted, col, false, &format!("{name}, column {col} descending"));
    let mut ids: Vec<u64> = sorted.iter().map(|r| r[1].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..all.len() as u64).collect::<Vec<_>>(), "{name}: sorting keeps every row");

    let needle = all[all.len() / 2][2][text_col].as_str().unwrap().to_lowercase();
    let raw = b.js(&format!("return [...document.querySelectorAll('{table} tbody tr')].map(r => r.textContent);"));
    let want = raw.as_array().unwrap().iter().filter(|t| t.as_str().unwrap().to_lowercase().contains(&needle)).count();
    b.click(&format!("div.controls:has(+ {table}) input.filter"));
    b.keys(&needle.chars().map(|c| c.to_string()).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>());
    let filtered = shown_rows(b, name);
    assert_eq!(filtered.len(), want, "{name}: rows matching {needle:?}");
    assert!(want >= 1, "{name}: no row matches {needle:?}");
    for r in &filtered {
        let text: String = r[2].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect::<Vec<_>>().join(" ");
        assert!(text.to_lowercase().contains(&needle), "{name}: {text:?} shown for {needle:?}");
    }
    b.js(&format!(
        "const i = document.querySelector('div.controls:has(+ {table}) input.filter'); i.value = ''; \
         i.dispatchEvent(new Event('input')); return 1;"
    ));
    assert_eq!(shown_rows(b, name).len(), all.len(), "{name}: the filter cleared");
    all.len()
}

/// The number a cell shows ("12.50 %" → 12.5), `None` for "—".
fn cell_number(t: &str) -> Option<f64> {
    (t != "—").then(|| t.trim_end_matches(" %").parse().unwrap_or_else(|_| panic!("{t:?} is not a number")))
}

/// Rows sorted by column `col`: values in order (`—` last), ties in their original order.
fn assert_sorted(rows: &[Value], col: usize, ascending: bool, what: &str) {
    let keys: Vec<(Option<f64>, u64)> =
        rows.iter().map(|r| (cell_number(r[2][col].as_str().unwrap()), r[1].as_u64().unwrap())).collect();
    for w in keys.windows(2) {
        let ((a, ia), (b, ib)) = (w[0], w[1]);
        let ok = match (a, b) {
            (Some(x), Some(y)) if x == y => ia < ib,
            (Some(x), Some(y)) => (x < y) == ascending,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => ia < ib,
        };
        assert!(ok, "{what}: {:?} before {:?}", w[0], w[1]);
    }
}

/// Issue #17 in a real browser at 1280×800 (ChromeDriver): two runs over the same 600 images.
/// By mouse and by keyboard: sorting and filtering each of the four sortable tables (per class,
/// class differences, confusions, ImageNet-X factors: values in order, `—` last, ties stable,
/// rows kept, the rows shown exactly those matching), the gallery's filters (every tile shown has the outcome asked for, and
/// as many as report.json counts), its pages and order, the class view, the run switch; every
/// value shown (including those the script renders) equals report.json; no console error and
/// no request. `RECTIFY_REPORT_OUT=<dir>` keeps screenshots of the sections.
#[test]
fn sorting_filtering_and_the_class_view_work_by_mouse_and_keyboard() {
    use rectify_testkit::browser::{Browser, DOWN, ENTER, SPACE};
    let _one = one_browser();
    let Some(b) = Browser::start(1280, 800) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    synthetic_run(&tmp.path().join("runs/resnet"), &images, 600, 30, 1);
    synthetic_run(&tmp.path().join("runs/vit"), &images, 600, 30, 2);
    let factors = tmp.path().join("factors.jsonl");
    synthetic_factors(&factors, 600);
    let opts = Options { imagenet_x: Some(factors), ..Options::default() };
    let report = build_with(&[tmp.path().join("runs")], &opts).unwrap();
    assert!(!report.class_differences.is_empty() && !report.confusions.is_empty() && !report.factors.is_empty());
    let (json, html) = write(&report, &tmp.path().join("out")).unwrap();
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    check_self_contained(&std::fs::read_to_string(&html).unwrap());
    assert_eq!(report.mistakes.len(), 2);
    assert!(report.mistakes.iter().all(|m| m.thumbnails == m.count.min(600) && m.thumbnails_failed == 0));
    let shots = std::env::var_os("RECTIFY_REPORT_OUT").map(PathBuf::from);
    let shot = |name: &str| {
        if let Some(d) = &shots {
            std::fs::create_dir_all(d).unwrap();
            b.screenshot(&d.join(format!("{name}.png")));
        }
    };
    b.go(&format!("file://{}", html.canonicalize().unwrap().display()));
    b.wait("the script", "return document.documentElement.classList.contains('js');");
    shot("top");

    // Each of the four sortable tables, by mouse (sort) and keyboard (filter).
    assert_eq!(sort_and_filter(&b, "classes", 4, 2), report.classes.len(), "every class row is shown");
    assert_eq!(sort_and_filter(&b, "class differences", 6, 2), report.class_differences.len());
    assert_eq!(sort_and_filter(&b, "confusions", 3, 2), report.confusions.len());
    assert_eq!(sort_and_filter(&b, "factors", 5, 1), report.factors.len());
    // Sorting the per-class table by top-1 error again, for what follows.
    b.click("#classes th:nth-child(5) button.sort");
    assert_sorted(&shown_rows(&b, "classes"), 4, true, "top-1 error ascending");
    shot("classes");

    // Filtering by keyboard, then sorting by keyboard.
    let name = report.classes[3].name.clone();
    b.click("#classes input.filter");
    b.keys(&name.chars().map(|c| c.to_string()).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>());
    let filtered = shown_rows(&b, "classes");
    let want = report.classes.iter().filter(|c| c.name.to_lowercase().contains(&name.to_lowercase())).count();
    assert_eq!(filtered.len(), want, "rows matching {name:?}");
    assert!(filtered.iter().all(|r| r[2][2].as_str().unwrap().to_lowercase().contains(&name.to_lowercase())));
    b.tab_to("Rectified error");
    b.keys(&[ENTER]);
    assert_eq!(
        b.js("return document.querySelector('#classes th:nth-child(7)').getAttribute('aria-sort');"),
        "ascending"
    );
    assert_sorted(&shown_rows(&b, "classes"), 6, true, "rectified error ascending (keyboard)");
    b.js("const i = document.querySelector('#classes input.filter'); i.value = ''; i.dispatchEvent(new Event('input')); return 1;");

    // The gallery: filters by mouse and keyboard, pages, order.
    let tiles = |m: usize| {
        b.js(&format!(
            "return [...document.querySelectorAll('.tiles[data-mistakes=\"{m}\"] figure')].map(f => f.dataset.outcome);"
        ))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
    };
    let m0 = &report.mistakes[0];
    assert_eq!(tiles(0).len(), 120.min(m0.count as usize), "a page of tiles");
    b.click("label[for=mf-0-rectified]");
    let t = tiles(0);
    assert!(t.iter().all(|o| o == "rectified") && t.len() == (m0.rectified as usize).min(120), "{t:?}");
    b.keys(&[DOWN]);
    let t = tiles(0);
    assert!(t.iter().all(|o| o == "error") && t.len() == (m0.confirmed as usize).min(120), "confirmed errors: {t:?}");
    if m0.confirmed > 120 {
        b.tab_to("Show");
        b.keys(&[SPACE]);
        assert_eq!(tiles(0).len(), (m0.confirmed as usize).min(240), "a second page");
    }
    b.keys(&[DOWN]);
    let t = tiles(0);
    assert!(t.iter().all(|o| o == "unrated" || o == "not-asked"), "undecided: {t:?}");
    assert_eq!(t.len(), (m0.undecided as usize).min(120));
    b.click("label[for=mf-0-all]");
    assert_eq!(tiles(0).len(), 120.min(m0.count as usize));
    let agreement = "return [...document.querySelectorAll('.tiles[data-mistakes=\"0\"] figure')].filter(f => f.dataset.outcome === 'rectified' || f.dataset.outcome === 'error').map(f => { const s = f.querySelectorAll('.agree span'); return +s[0].textContent / +s[1].textContent; });";
    let first = b.js(agreement);
    let a: Vec<f64> = first.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(a.windows(2).all(|w| w[0] >= w[1]), "most agreement first: {a:?}");
    b.js("const s = document.querySelector('select.order'); s.focus(); return 1;");
    b.keys(&[DOWN]);
    let a: Vec<f64> = b.js(agreement).as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(a.windows(2).all(|w| w[0] <= w[1]) && a.first() < a.last(), "least agreement first: {a:?}");
    b.js("document.getElementById('mistakes').scrollIntoView(); return 1;");
    shot("mistakes");

    // The class view, by mouse.
    let class = &report.classes[0];
    b.click(&format!("#classes a.class-link[data-link-run=\"0\"][data-class=\"{}\"]", class.class));
    let heading =
        b.wait("the class view", "const h = document.querySelector('#class-view-body h3'); return h && h.textContent;");
    assert!(heading.as_str().unwrap().starts_with(&class.name), "{heading}");
    let truths = b.js("return [...document.querySelectorAll('#class-view-body .tiles')[0].querySelectorAll('.truth')].map(t => t.textContent);");
    let want = report.mistakes[0].items.iter().filter(|x| x.label == class.class).count();
    assert_eq!(truths.as_array().unwrap().len(), want, "the class's mistakes");
    assert!(truths.as_array().unwrap().iter().all(|t| t == &Value::String(class.name.clone())));
    assert_eq!(b.js("return document.activeElement.tagName;"), "H3", "focus moves to the class view");
    shot("class-view");

    // The run switch.
    b.js("const s = document.getElementById('run-switch'); s.value = '1'; s.dispatchEvent(new Event('change')); return 1;");
    let rows = shown_rows(&b, "classes");
    assert!(!rows.is_empty() && rows.iter().all(|r| r[0] == "1"), "only the second run's classes");
    assert_eq!(b.js("return document.querySelector('.mistakes[data-run=\"0\"]').hidden;"), true);

    // Every value on the page now, the script's included, is report.json's.
    let dom = b.js("return document.documentElement.outerHTML;");
    let n = check_values(dom.as_str().unwrap(), &value);
    assert!(n > 1000, "{n} values");
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_eq!(b.js("return performance.getEntriesByType('resource').length;"), 0, "requests");
}

/// Without scripts the report stays readable: every row of the four sortable tables (per class,
/// class differences, confusions, factors), the first page of tiles, the note saying where the
/// rest are; no sort buttons (the scripts are switched off through the DevTools protocol, as a
/// browser with JavaScript disabled runs none).
#[test]
fn the_report_is_readable_with_scripts_disabled() {
    use rectify_testkit::browser::Browser;
    let _one = one_browser();
    let Some(b) = Browser::start(1280, 800) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    synthetic_run(&tmp.path().join("runs/a"), &images, 600, 30, 1);
    synthetic_run(&tmp.path().join("runs/b"), &images, 600, 30, 2);
    let factors = tmp.path().join("factors.jsonl");
    synthetic_factors(&factors, 600);
    let opts = Options { imagenet_x: Some(factors), ..Options::default() };
    let report = build_with(&[tmp.path().join("runs")], &opts).unwrap();
    let (_, html) = write(&report, &tmp.path().join("out")).unwrap();
    b.cdp("Emulation.setScriptExecutionDisabled", serde_json::json!({ "value": true }));
    b.go(&format!("file://{}", html.canonicalize().unwrap().display()));
    let dom = b.dom();
    assert!(!dom.contains("class=\"sort\"") && !dom.contains("class=\"js\""), "the script did not run");
    let rows_of = |name: &str| {
        let start =
            dom.find(&format!("<table class=\"sortable\" data-name=\"{name}\">")).unwrap_or_else(|| panic!("{name}"));
        let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
        table.split("<tbody>").nth(1).unwrap().matches("<tr ").count()
    };
    for (name, want) in [
        ("classes", report.classes.len()),
        ("class differences", report.class_differences.len()),
        ("confusions", report.confusions.len()),
        ("factors", report.factors.len()),
    ] {
        assert!(want > 0, "{name}: the fixture has rows");
        assert_eq!(rows_of(name), want, "{name}: every row without scripts");
    }
    let tiles: usize = ["rectified", "error", "unrated", "not-asked"]
        .iter()
        .map(|o| dom.matches(&format!("data-outcome=\"{o}\"")).count())
        .sum();
    assert_eq!(tiles, 240, "the first page of tiles of each run");
    assert!(dom.contains(&format!("{} more in <code>report.json</code>", report.mistakes[0].count - 120)));
    assert!(b.console_errors().is_empty());
    b.cdp("Emulation.setScriptExecutionDisabled", serde_json::json!({ "value": false }));
    b.go("about:blank");
    b.go(&format!("file://{}", html.canonicalize().unwrap().display()));
    b.wait("the script", "return document.documentElement.classList.contains('js');");
    assert!(b.dom().contains("class=\"sort\""), "with scripts the tables are enhanced");
}

/// Issue #17: a report of 50,000 images (1,000 classes, 600 thumbnails) opens in Chromium in
/// under 1.5 s: from navigation to the load event with the script done (the page's own clock,
/// which must have recorded both events), printed. Measured 0.39–0.42 s on the idle 2-core
/// machine and 0.75 s while a CI build shared its cores; the other browser tests of this file
/// wait meanwhile (`one_browser`).
#[test]
fn a_report_of_50k_images_opens_in_under_1_5_s() {
    use rectify_testkit::browser::Browser;
    let _one = one_browser();
    let Some(b) = Browser::start(1280, 800) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let t = Instant::now();
    synthetic_run(&run, &tmp.path().join("images"), 50_000, 1000, 3);
    let made = t.elapsed();
    let t = Instant::now();
    let report = build(std::slice::from_ref(&run)).unwrap();
    let (json, html) = write(&report, &tmp.path().join("out")).unwrap();
    let built = t.elapsed();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    b.go("about:blank");
    b.go(&format!("file://{}", html.canonicalize().unwrap().display()));
    b.wait("the script", "return document.documentElement.classList.contains('js');");
    // The load event has happened (its end is recorded), so the figure is a measurement.
    let ms = b.wait(
        "the load event",
        "const n = performance.getEntriesByType('navigation')[0]; \
         return n && n.loadEventEnd > 0 && [n.domContentLoadedEventEnd, n.loadEventEnd];",
    );
    let (dcl, load) = (ms[0].as_f64().unwrap(), ms[1].as_f64().unwrap());
    assert!(dcl > 0.0 && dcl <= load, "DOMContentLoaded {dcl} ms, load {load} ms");
    println!(
        "50k-image report: run made in {:.1} s, report built in {:.1} s ({} mistakes, {} thumbnails; report.html {:.1} MB, report.json {:.1} MB); \
         in Chromium: DOMContentLoaded {dcl:.0} ms, load {load:.0} ms",
        made.as_secs_f64(),
        built.as_secs_f64(),
        report.mistakes[0].count,
        report.mistakes[0].thumbnails,
        size(&html),
        size(&json)
    );
    assert_eq!(b.js("return document.querySelectorAll('#classes tbody tr').length;"), 1000);
    assert!(load < 1500.0, "the report took {load:.0} ms to open");
    assert!(b.console_errors().is_empty());
}
