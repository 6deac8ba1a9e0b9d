//! Headless Chromium driven through ChromeDriver's W3C WebDriver API, for tests of the pages
//! rectify serves or writes (the rater pages, the report). [`Browser::start`] skips (returns
//! `None`) without chromium + chromedriver on `PATH`, unless `RECTIFY_REQUIRE_BROWSER=1` (set by
//! `.ci/run`, which installs them).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A child process killed when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `name` on `PATH`.
pub fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| format!("{d}/{name}"))
        .find(|p| std::path::Path::new(p).is_file())
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
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
/// An error's message (a script's exception, a missing element) is in the panic.
pub fn wd(method: &str, url: &str, body: Option<Value>) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(b)) => agent.post(url).send_json(&b),
        (_, None) => agent.post(url).send_json(json!({})),
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status();
    let v = resp.body_mut().read_json::<Value>().expect("WebDriver JSON")["value"].clone();
    assert!(status.is_success(), "{method} {url}: {status}: {}", v["message"].as_str().unwrap_or(""));
    v
}

/// Tab (a WebDriver key value).
pub const TAB: &str = "\u{E004}";
/// Enter.
pub const ENTER: &str = "\u{E007}";
/// Space.
pub const SPACE: &str = "\u{E00D}";
/// Arrow down.
pub const DOWN: &str = "\u{E015}";

/// A headless Chromium session through ChromeDriver, with a window of `w`×`h` and the browser
/// console recorded.
pub struct Browser {
    url: String,
    _driver: Kill,
}

impl Browser {
    /// `None` (skip) without chromium + chromedriver, unless `RECTIFY_REQUIRE_BROWSER=1`.
    pub fn start(w: u32, h: u32) -> Option<Browser> {
        let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
            assert!(
                std::env::var("RECTIFY_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "chromium and chromedriver are required (RECTIFY_REQUIRE_BROWSER=1)"
            );
            eprintln!("skipped: chromium / chromedriver not installed");
            return None;
        };
        let dport = free_port();
        let driver = Kill(
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
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {"binary": chromium, "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--window-size={w},{h}")
                ]}
            }}})),
        );
        let sid = session["sessionId"].as_str().expect("a session").to_string();
        let b = Browser { url: format!("{wd_url}/session/{sid}"), _driver: driver };
        b.cmd("POST", "/window/rect", Some(json!({"width": w, "height": h})));
        Some(b)
    }

    /// One WebDriver command on this session (`path` after `/session/<id>`).
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        wd(method, &format!("{}{path}", self.url), body)
    }

    /// Navigates to `url` (returns once the page has loaded).
    pub fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `code` (a function body) in the page and returns its value.
    pub fn js(&self, code: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": code, "args": []})))
    }

    /// Presses keys (WebDriver key values, e.g. "y", "\u{E004}" for Tab, "\u{E007}" for Enter).
    pub fn keys(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        self.cmd("POST", "/actions", Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})));
    }

    /// Waits until `code` returns something truthy and returns it.
    pub fn wait(&self, what: &str, code: &str) -> Value {
        wait_until(what, Duration::from_secs(20), || {
            let v = self.js(code);
            (!v.is_null() && v != false && v != "").then_some(v)
        })
    }

    /// Switches into the iframe matching `css` (or back to the top with `None`).
    pub fn frame(&self, css: Option<&str>) {
        let id = match css {
            Some(css) => {
                let el = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})));
                json!({ "element-6066-11e4-a52e-4f735466cecf": el["element-6066-11e4-a52e-4f735466cecf"] })
            }
            None => Value::Null,
        };
        self.cmd("POST", "/frame", Some(json!({ "id": id })));
    }

    /// Messages the page logged at level SEVERE (console errors, failed loads, CSP violations).
    pub fn console_errors(&self) -> Vec<String> {
        let logs = self.cmd("POST", "/se/log", Some(json!({"type": "browser"})));
        logs.as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Layout checks on the page shown: no horizontal overflow, every request to this origin.
    pub fn check_page(&self, what: &str) {
        let over = self.js("return document.documentElement.scrollWidth - window.innerWidth;");
        assert!(over.as_i64().unwrap() <= 0, "{what}: horizontal overflow of {over} px");
        let foreign = self.foreign_requests();
        assert!(foreign.is_empty(), "{what}: requests to other origins: {foreign:?}");
    }

    /// The URLs of the resources the page loaded from another origin than its own (the
    /// browser's resource timing entries).
    pub fn foreign_requests(&self) -> Vec<String> {
        let v = self.js(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(u => !u.startsWith(location.origin));",
        );
        v.as_array().expect("a list").iter().map(|u| u.as_str().unwrap_or_default().to_string()).collect()
    }

    /// The WCAG 2 contrast ratio (1 to 21) of the text of the element `element` (a JavaScript
    /// expression) against the background it is drawn on: its own and its ancestors' background
    /// colours composited over white, as the page shows them. AA asks 4.5 for normal text.
    pub fn contrast(&self, element: &str) -> f64 {
        let v = self.js(&format!(
            "const e = {element}; const rgba = s => (s.match(/[\\d.]+/g) || []).map(Number); \
             const layers = []; \
             for (let n = e; n && n.nodeType === 1; n = n.parentElement) {{ \
               const b = rgba(getComputedStyle(n).backgroundColor); const a = b.length > 3 ? b[3] : 1; \
               if (a > 0) layers.push([b[0], b[1], b[2], a]); if (a >= 1) break; }} \
             let bg = [255, 255, 255]; \
             for (const [r, g, b, a] of layers.reverse()) bg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)]; \
             const c = rgba(getComputedStyle(e).color); const ca = c.length > 3 ? c[3] : 1; \
             const fg = [0, 1, 2].map(i => c[i] * ca + bg[i] * (1 - ca)); \
             return [fg, bg];"
        ));
        let channel = |x: f64| {
            let x = x / 255.0;
            if x <= 0.04045 {
                x / 12.92
            } else {
                ((x + 0.055) / 1.055).powf(2.4)
            }
        };
        let luminance = |c: &Value| {
            let c: Vec<f64> = c.as_array().expect("rgb").iter().map(|x| x.as_f64().expect("number")).collect();
            0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2])
        };
        let (a, b) = (luminance(&v[0]), luminance(&v[1]));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// Tabs until the focused element's text or label contains `label` (at most 80 presses): the
    /// control is reachable by keyboard.
    pub fn tab_to(&self, label: &str) {
        let code = format!(
            "const e = document.activeElement; return !!e && (e.textContent.includes({l}) || (e.getAttribute('aria-label') || '').includes({l}));",
            l = json!(label)
        );
        for _ in 0..80 {
            if self.js(&code) == true {
                return;
            }
            self.keys(&[TAB]);
        }
        panic!("{label:?} is not reachable with Tab");
    }

    /// A Chrome DevTools Protocol command (through ChromeDriver's `goog/cdp/execute`).
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd("POST", "/goog/cdp/execute", Some(json!({ "cmd": cmd, "params": params })))
    }

    /// The page's HTML as the browser holds it, read through the DevTools protocol (works with
    /// the page's scripts disabled).
    pub fn dom(&self) -> String {
        let root = self.cdp("DOM.getDocument", json!({ "depth": 0 }));
        let html = self.cdp("DOM.getOuterHTML", json!({ "nodeId": root["root"]["nodeId"] }));
        html["outerHTML"].as_str().expect("outerHTML").to_string()
    }

    /// The element matching `css` (a WebDriver element reference).
    pub fn element(&self, css: &str) -> Value {
        let el = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        el["element-6066-11e4-a52e-4f735466cecf"].clone()
    }

    /// Clicks the element matching `css` with the mouse (WebDriver's element click: scrolled into
    /// view, then a pointer press and release at its centre).
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        let id = id.as_str().unwrap_or_else(|| panic!("no element {css}"));
        self.cmd("POST", &format!("/element/{id}/click"), None);
    }

    /// Saves a PNG screenshot of the window.
    pub fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.cmd("GET", "/screenshot", None);
        std::fs::write(path, base64_decode(b64.as_str().expect("screenshot data"))).expect("writing the screenshot");
    }
}

/// Decodes standard base64 (padding and whitespace ignored).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut bits) = (Vec::with_capacity(s.len() * 3 / 4), 0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.url).call();
    }
}
