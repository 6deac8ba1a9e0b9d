//! Issue #6, end to end in a real browser: `rectify study serve` on loopback, a rater opens an
//! invite link in headless Chromium (driven through ChromeDriver's W3C WebDriver API), answers 5
//! items with the keyboard (y / n), and the answers are in the database (checked through
//! `rectify study export`). Skipped without chromium + chromedriver unless
//! `RECTIFY_REQUIRE_BROWSER=1` (set by .ci/run, which installs them).

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).is_file())
}

fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One W3C WebDriver command.
fn wd(method: &str, url: &str, body: Option<Value>) -> Value {
    let resp = match (method, body) {
        ("GET", _) => ureq::get(url).call(),
        ("DELETE", _) => ureq::delete(url).call(),
        (_, Some(b)) => ureq::post(url).send_json(&b),
        (_, None) => ureq::post(url).send_json(json!({})),
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    resp.body_mut().read_json::<Value>().expect("WebDriver JSON")["value"].clone()
}

#[test]
fn a_rater_answers_five_items_by_keyboard() {
    let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
        assert!(
            std::env::var("RECTIFY_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "chromium and chromedriver are required (RECTIFY_REQUIRE_BROWSER=1)"
        );
        eprintln!("skipped: chromium / chromedriver not installed");
        return;
    };
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

    let dport = free_port();
    let _driver = Kill(
        Command::new(driver)
            .arg(format!("--port={dport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let wd_url = format!("http://127.0.0.1:{dport}");
    wait_until("chromedriver", Duration::from_secs(30), || {
        ureq::get(&format!("{wd_url}/status"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok().filter(|v| v["value"]["ready"] == true))
    });
    let session = wd(
        "POST",
        &format!("{wd_url}/session"),
        Some(json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}
        }}})),
    );
    let sid = session["sessionId"].as_str().expect("a session").to_string();
    let s_url = format!("{wd_url}/session/{sid}");
    let script = |code: &str| wd("POST", &format!("{s_url}/execute/sync"), Some(json!({"script": code, "args": []})));
    let opened = std::time::Instant::now();
    wd("POST", &format!("{s_url}/url"), Some(json!({"url": link})));
    for i in 0..5 {
        // Wait for the i-th item to be shown, then answer it with a key.
        wait_until("an item", Duration::from_secs(20), || {
            let v = script("const b = document.querySelector('#item'); return b && b.getAttribute('aria-busy') !== 'true' && document.querySelector('#progress').textContent;");
            v.as_str().filter(|t| t.starts_with(&format!("{i} answered"))).map(str::to_string)
        });
        // The rater looks at each item for at least 0.2 s before answering.
        std::thread::sleep(Duration::from_millis(200));
        let key = if i % 2 == 0 { "y" } else { "n" };
        wd(
            "POST",
            &format!("{s_url}/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
            ]}]})),
        );
    }
    wait_until("the fifth answer", Duration::from_secs(20), || {
        script("return document.querySelector('#progress').textContent;")
            .as_str()
            .filter(|t| t.starts_with("5 answered"))
            .map(str::to_string)
    });
    let elapsed = opened.elapsed().as_secs_f64();
    let _ = wd("DELETE", &s_url, None);

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
