//! Issue #6, end to end in a real browser: `rectify study serve` on loopback, a rater opens an
//! invite link in headless Chromium (driven through ChromeDriver's W3C WebDriver API), answers 5
//! items with the keyboard (y / n), and the answers are in the database (checked through
//! `rectify study export`). Skipped without chromium + chromedriver unless
//! `RECTIFY_REQUIRE_BROWSER=1` (set by .ci/run, which installs them).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rectify_testkit::browser::*;
use serde_json::Value;

/// The elements whose text a rater reads on an item page.
const TEXTS: &str = "[...document.querySelectorAll('button, kbd, #q, #q *, #progress, p, h1, h2, label')]\
    .filter(e => e.offsetParent !== null && e.textContent.trim() !== '')";

/// WCAG 2 AA: a contrast of at least 4.5:1 for every text element shown.
fn assert_readable(b: &Browser, what: &str) {
    let n = b.js(&format!("return {TEXTS}.length;")).as_u64().unwrap();
    assert!(n >= 4, "{what}: only {n} text elements found");
    for i in 0..n {
        let ratio = b.contrast(&format!("{TEXTS}[{i}]"));
        if ratio < 4.5 {
            let text =
                b.js(&format!("const e = {TEXTS}[{i}]; return e.tagName + ' ' + e.textContent.trim().slice(0, 40);"));
            panic!("{what}: {text} has a contrast of {ratio:.2}:1 (AA asks 4.5:1)");
        }
    }
}

/// The checks can fail: a control page served from one origin (the platform stand-in) that loads
/// an image from another (the study server) and throws is caught by the foreign-request check and
/// the console check, and its grey-on-white text by the contrast check (so a change in the
/// browser's reporting cannot make them pass silently).
fn check_the_checks(b: &Browser, other_origin: &str, base: &str) {
    let page = format!(
        "{other_origin}/control?img={}",
        rectify_web::enrollment::percent_encode(&format!("{base}/control.png"))
    );
    b.go(&page);
    b.wait("the control image", "const i = document.querySelector('img'); return i && i.complete;");
    let foreign = b.foreign_requests();
    assert!(foreign.iter().any(|u| u.ends_with("/control.png")), "the foreign-request check is blind: {foreign:?}");
    assert!(!b.console_errors().is_empty(), "the console check is blind");
    let ratio = b.contrast("document.getElementById('x')");
    assert!(ratio < 4.5 && ratio > 2.0, "the contrast check is blind: #aaa on white is {ratio:.2}:1, not 2.32:1");
}

/// Through the Prolific route on a phone-sized window (390×844): instructions from the
/// researcher's Markdown and consent, the practice item with feedback, "k of K", completion
/// code and the redirect to the completion URL — by keyboard, with no overflow, no console
/// error and no request elsewhere; the answers are stored before the redirect.
#[test]
fn a_prolific_participant_on_a_phone_completes_by_keyboard() {
    let Some(b) = Browser::start(390, 844) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "50");
    rectify_ok(&["study", "design", "--run", s(&run), "--design", "relevance-top1"]);
    let (platform, seen) = rectify_web::mturk_submit_server().unwrap();
    let md = tmp.path().join("instructions.md");
    std::fs::write(&md, "# How to answer\n\nSay **yes** when the class is in the image.\n\nBy starting you consent.\n")
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Kill(
        Command::new(env!("CARGO_BIN_EXE_rectify"))
            .args(["study", "serve", "--run", s(&run), "--addr", &format!("127.0.0.1:{port}")])
            .args(["--platform", "prolific", "--per-participant", "3", "--completion-code", "PH0NE1"])
            .args(["--completion-url", &format!("{platform}/prolific-done?cc={{code}}"), "--instructions", s(&md)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the server", Duration::from_secs(30), || ureq::get(&base).call().ok());
    check_the_checks(&b, &platform, &base);
    b.go(&format!("{base}/prolific?PROLIFIC_PID=5f1e0000aaaa00000000aaaa&STUDY_ID=5f0000000000000000000517&SESSION_ID=5f00000000000000000005e1"));
    b.wait("the instructions", "const h = document.querySelector('.instructions h1'); return h && h.textContent;");
    b.check_page("consent");
    b.tab_to("I agree");
    b.keys(&[ENTER]);
    b.wait("the practice item", "return document.querySelector('#progress').textContent === 'practice';");
    // Readable: every text of the item page (the question, the buttons, their key hints) has a
    // contrast of at least 4.5:1 with what it is drawn on (WCAG 2 AA for normal text).
    assert_readable(&b, "the practice item");
    b.check_page("practice");
    b.keys(&["n"]);
    let feedback = b.wait("feedback", "const f = document.querySelector('.feedback'); return f && f.textContent;");
    assert!(feedback.as_str().unwrap().starts_with("Not quite."), "{feedback}");
    b.keys(&[ENTER]);
    for i in 1..=3 {
        b.wait("an item", &format!("return document.querySelector('#progress').textContent === '{i} of 3' && !!document.querySelector('#q');"));
        b.check_page("an item");
        b.keys(&[if i % 2 == 0 { "n" } else { "y" }]);
        if i < 3 {
            b.wait("saved", &format!("return document.querySelector('#progress').textContent === '{i} of 3 answered' || document.querySelector('#progress').textContent === '{} of 3';", i + 1));
        }
    }
    let code = b.wait(
        "the completion code",
        "const c = document.querySelector('#completion-code'); return c && c.textContent;",
    );
    assert_eq!(code, "PH0NE1");
    b.check_page("completion");
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    // Every answer is stored by the time the code shows; then the page goes to the platform.
    let export = tmp.path().join("votes.jsonl");
    rectify_ok(&["study", "export", "--run", s(&run), "--format", "jsonl", "--out", s(&export)]);
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 3);
    b.wait("the redirect", "return location.pathname === '/prolific-done' && location.search;");
    assert!(seen.lock().unwrap().contains(&"GET /prolific-done?cc=PH0NE1".to_string()));
}

/// An MTurk worker at 1280×800, inside the HIT's iframe as MTurk's site shows an
/// ExternalQuestion (served here by a local stand-in on another origin): the preview leases
/// nothing; after accepting, consent, practice, the batch, and the form POST to
/// `turkSubmitTo/mturk/externalSubmit` with the assignment id and completion code.
#[test]
fn an_mturk_worker_previews_accepts_and_submits_inside_the_frame() {
    let Some(b) = Browser::start(1280, 800) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "50");
    rectify_ok(&["study", "design", "--run", s(&run), "--design", "relevance-top1"]);
    let (turk, forms) = rectify_web::mturk_submit_server().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Kill(
        Command::new(env!("CARGO_BIN_EXE_rectify"))
            .args(["study", "serve", "--run", s(&run), "--addr", &format!("127.0.0.1:{port}")])
            .args(["--platform", "mturk", "--per-participant", "2", "--mturk-origin", &turk])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the server", Duration::from_secs(30), || ureq::get(&base).call().ok());
    let enc = rectify_web::enrollment::percent_encode;
    let hit = |assignment: &str, worker: &str| {
        let src = format!("{base}/mturk?assignmentId={assignment}&hitId=HIT7{worker}&turkSubmitTo={}", enc(&turk));
        format!("{turk}/hit?src={}", enc(&src))
    };
    b.go(&hit("ASSIGNMENT_ID_NOT_AVAILABLE", ""));
    b.frame(Some("#hit"));
    b.wait("the preview", "return document.body && document.body.textContent.includes('Accept the HIT');");
    b.check_page("preview");
    b.frame(None);
    b.go(&hit("ASG1", "&workerId=AWCHROME"));
    b.frame(Some("#hit"));
    b.wait("consent", "return !!document.querySelector('.instructions');");
    b.tab_to("I agree");
    b.keys(&[ENTER]);
    b.wait("the practice item", "return document.querySelector('#progress').textContent === 'practice';");
    b.keys(&["y"]);
    let feedback = b.wait("feedback", "const f = document.querySelector('.feedback'); return f && f.textContent;");
    assert!(feedback.as_str().unwrap().starts_with("Right."), "{feedback}");
    b.keys(&[ENTER]);
    for i in 1..=2 {
        b.wait("an item", &format!("return document.querySelector('#progress').textContent === '{i} of 2' && !!document.querySelector('#q');"));
        // Images large enough to judge on a desktop.
        let w = b.js("return document.querySelector('img.target').getBoundingClientRect().width;");
        assert!(w.as_f64().unwrap() >= 448.0, "image {w} px wide");
        b.check_page("an item");
        b.keys(&["y"]);
        if i < 2 {
            b.wait("saved", "return document.querySelector('#progress').textContent.startsWith('2 of 2') || document.querySelector('#progress').textContent === '1 of 2 answered';");
        }
    }
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    wait_until("the HIT submission", Duration::from_secs(20), || {
        forms.lock().unwrap().iter().find(|f| f.starts_with("assignmentId=ASG1&completion=")).cloned()
    });
    let export = tmp.path().join("votes.jsonl");
    rectify_ok(&["study", "export", "--run", s(&run), "--format", "jsonl", "--out", s(&export)]);
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 2);
}

#[test]
fn a_rater_answers_five_items_by_keyboard() {
    let Some(b) = Browser::start(1280, 800) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    eval_sample(&run, "50");
    rectify_ok(&["study", "design", "--run", s(&run), "--design", "relevance-top1"]);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Kill(
        Command::new(env!("CARGO_BIN_EXE_rectify"))
            .args(["study", "serve", "--run", s(&run), "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the server", Duration::from_secs(30), || ureq::get(&base).call().ok());
    let out = rectify_ok(&["study", "invite", "--run", s(&run), "--count", "1", "--base-url", &base]);
    let link = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(link.starts_with(&format!("{base}/r/")), "{link}");

    let script = |code: &str| b.js(code);
    let opened = std::time::Instant::now();
    b.go(&link);
    for i in 0..5 {
        // Wait for the i-th item to be shown, then answer it with a key.
        wait_until("an item", Duration::from_secs(20), || {
            let v = script("const b = document.querySelector('#item'); return b && b.getAttribute('aria-busy') !== 'true' && document.querySelector('#progress').textContent;");
            v.as_str().filter(|t| t.starts_with(&format!("{i} answered"))).map(str::to_string)
        });
        // The rater looks at each item for at least 0.2 s before answering.
        std::thread::sleep(Duration::from_millis(200));
        let key = if i % 2 == 0 { "y" } else { "n" };
        b.keys(&[key]);
    }
    wait_until("the fifth answer", Duration::from_secs(20), || {
        script("return document.querySelector('#progress').textContent;")
            .as_str()
            .filter(|t| t.starts_with("5 answered"))
            .map(str::to_string)
    });
    let elapsed = opened.elapsed().as_secs_f64();
    assert!(b.console_errors().is_empty(), "console errors");
    drop(b);

    // The answers are in the database, with the keys pressed and server-side times.
    let export = tmp.path().join("votes.jsonl");
    rectify_ok(&["study", "export", "--run", s(&run), "--format", "jsonl", "--out", s(&export)]);
    let votes: Vec<Value> =
        std::fs::read_to_string(&export).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(votes.len(), 5, "{votes:?}");
    let yes = votes.iter().filter(|v| v["answer"]["kind"] == "yes").count();
    assert_eq!(yes, 3, "y, n, y, n, y");
    assert!(votes.iter().all(|v| v["source"] == "server"));
    // Time on task is measured by the server, from showing an item to its answer: at least the
    // 0.2 s the test waited, and together no more than the session lasted.
    let seconds: Vec<f64> = votes.iter().map(|v| v["seconds"].as_f64().expect("server-side time")).collect();
    assert!(seconds.iter().all(|&t| t >= 0.2), "{seconds:?}");
    assert!(seconds.iter().sum::<f64>() <= elapsed, "{seconds:?} within {elapsed} s");
    let items: std::collections::HashSet<&str> = votes.iter().map(|v| v["item"].as_str().unwrap()).collect();
    assert_eq!(items.len(), 5, "five different items");
}
