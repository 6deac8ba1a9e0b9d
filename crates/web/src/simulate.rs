//! Simulated raters that drive the real HTTP API, one thread each (for `rectify study
//! simulate`, tests and load tests).
//!
//! Each rater asks `/api/r/{token}/next`, answers with the oracle's answer (changed to a
//! different valid answer with probability `noise`), and stops when no item is left. The server
//! sends an item only under an opaque lease id, so a simulated rater recognises it as a person
//! would, by what it is shown: the question (class, classes, attribute, options) and the bytes of
//! its image, matched against the study's items and their image files under the run directory. A request
//! that fails in transport (server restarting) is retried with the same `request_id`, so an
//! acknowledged answer is never counted twice.

use rectify_study::{Answer, Item, Question};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What went wrong in a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The server answered with an unexpected status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The request URL.
        url: String,
        /// Its status.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The server could not be reached, even after retrying.
    #[error("{url}: {message}")]
    Transport {
        /// The request URL.
        url: String,
        /// The last error.
        message: String,
    },
    /// The study was full when the participant came: they return the task (no completion).
    #[error("{0}: the study is full")]
    Full(String),
    /// The server sent an item the simulation was not given.
    #[error("unknown item {0:?} (pass every item of the study and the run directory its images are in)")]
    UnknownItem(String),
}

/// The study's items as a rater recognises them: by the question shown (image URLs aside) and
/// the bytes of the (first) image.
struct Recognise<'a> {
    by_look: HashMap<(String, u64), &'a Item>,
}

impl<'a> Recognise<'a> {
    fn new(items: &'a [Item], run_dir: &std::path::Path) -> Recognise<'a> {
        let mut by_look = HashMap::new();
        for item in items {
            let path = std::path::Path::new(crate::enrollment::first_image(&item.question));
            let path = if path.is_absolute() { path.to_path_buf() } else { run_dir.join(path) };
            let bytes = std::fs::read(&path).unwrap_or_default();
            let look = crate::rater::question_view(&item.question, "").to_string();
            by_look.entry((look, fnv_bytes(&bytes))).or_insert(item);
        }
        Recognise { by_look }
    }

    /// The item behind a `/next` answer, fetching its first image with `agent`.
    fn item(&self, agent: &ureq::Agent, base: &str, view: &Value, sim: &mut SimReport) -> Result<&'a Item, SimError> {
        let question = &view["question"];
        let first = question["image"].as_str().or(question["target"].as_str()).unwrap_or("").to_string();
        let url = format!("{base}{first}");
        let t = Instant::now();
        let mut r =
            agent.get(&url).call().map_err(|e| SimError::Transport { url: url.clone(), message: e.to_string() })?;
        sim.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if r.status().as_u16() != 200 {
            return Err(SimError::Status { url, status: r.status().as_u16(), body: String::new() });
        }
        let bytes = r
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .map_err(|e| SimError::Transport { url: url.clone(), message: e.to_string() })?;
        let look = strip_urls(question.clone()).to_string();
        self.by_look.get(&(look.clone(), fnv_bytes(&bytes))).copied().ok_or(SimError::UnknownItem(look))
    }
}

/// A question view with every image URL cut to its last segment (`/0`, `/1`, …), as
/// `question_view(q, "")` writes them.
fn strip_urls(v: Value) -> Value {
    match v {
        Value::String(s) if s.starts_with("/api/r/") => {
            Value::String(format!("/{}", s.rsplit('/').next().unwrap_or("")))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(strip_urls).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, strip_urls(v))).collect()),
        other => other,
    }
}

/// FNV-1a of bytes.
fn fnv_bytes(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3))
}

/// The platform id of simulated participant `i`, in the platform's documented form: Prolific's
/// 24 hexadecimal digits, MTurk's `A` + capitals and digits, a panel's lower-case letters and digits.
pub fn participant_id(flow: &Flow, prefix: &str, i: usize) -> String {
    let alnum: String = prefix.chars().filter(char::is_ascii_alphanumeric).collect();
    match flow {
        Flow::Prolific => format!("{:016x}{i:08x}", fnv(prefix)),
        Flow::Mturk { .. } => format!("A{}{i}", alnum.to_ascii_uppercase()),
        Flow::Pid => format!("{}{i}", alnum.to_ascii_lowercase()),
    }
}

/// What the simulated raters did.
#[derive(Debug, Clone, Default)]
pub struct SimReport {
    /// Answers recorded (acknowledged with `recorded: true`).
    pub answers: usize,
    /// Answers per rater, in token order.
    pub per_rater: Vec<usize>,
    /// Answers refused with 409 (an expired lease).
    pub conflicts: usize,
    /// Requests retried after a transport error.
    pub retries: usize,
    /// Latency of every request, in milliseconds.
    pub latencies_ms: Vec<f64>,
    /// Every answer the server acknowledged (a 200, whether it recorded it then or had it from
    /// an earlier try): (rater, by index in `tokens`; item key; answer).
    pub acknowledged: Vec<(usize, String, Answer)>,
}

impl SimReport {
    /// The `q`-quantile (0–1) of the request latencies, in milliseconds.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        let mut l = self.latencies_ms.clone();
        l.sort_by(f64::total_cmp);
        let last = l.len().checked_sub(1)?;
        Some(l[((last as f64) * q.clamp(0.0, 1.0)).round() as usize])
    }
}

/// What simulated participants from a recruitment platform did ([`simulate_participants`]).
#[derive(Debug, Clone, Default)]
pub struct ParticipantsReport {
    /// The answers, conflicts, retries and latencies, as for invited raters; `per_rater` and
    /// `acknowledged` index participants in order.
    pub answers: SimReport,
    /// Each participant's id on the platform, in order.
    pub ids: Vec<String>,
    /// Each participant's Prolific session (or MTurk assignment, upper-cased), in order.
    pub sessions: Vec<String>,
    /// The completion code each participant was shown (`None`: they got no completion).
    pub codes: Vec<Option<String>>,
    /// Where each participant was sent at the end (Prolific's URL, a panel's, or MTurk's
    /// `…/mturk/externalSubmit`).
    pub completions: Vec<Option<String>>,
    /// MTurk previews requested (which must lease nothing).
    pub previews: usize,
    /// Times a participant re-joined (the server they used went away, or they came back).
    pub rejoins: usize,
}

/// A recruitment flow for [`simulate_participants`].
#[derive(Debug, Clone)]
pub enum Flow {
    /// `/prolific?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`.
    Prolific,
    /// `/mturk?…`: a preview first, then the accepted assignment, then the form POST to
    /// `turkSubmitTo/mturk/externalSubmit` (which the caller serves, e.g. with
    /// [`mturk_submit_server`]).
    Mturk {
        /// `turkSubmitTo`.
        submit_to: String,
    },
    /// `/join?pid=…`.
    Pid,
}

/// Runs `participants` simulated participants through a platform's entry route, against any
/// of `bases` (participant `i` starts on `bases[i % len]` and moves to the next one when theirs
/// stops answering, re-joining with the same id and session, as behind a load balancer): join,
/// consent, answer until the batch ends, complete. Ids are [`participant_id`]`(flow, prefix, i)`;
/// `run_dir` is where the items' image paths lead (see the module docs).
#[allow(clippy::too_many_arguments)]
pub fn simulate_participants<F>(
    bases: &[String],
    flow: &Flow,
    prefix: &str,
    participants: usize,
    items: &[Item],
    run_dir: &std::path::Path,
    oracle: F,
    noise: f64,
    seed: u64,
) -> Result<ParticipantsReport, SimError>
where
    F: Fn(&Item) -> Answer + Sync,
{
    let bases: Vec<String> = bases.iter().map(|b| b.trim_end_matches('/').to_string()).collect();
    let known = Recognise::new(items, run_dir);
    let results: Vec<Result<Participant, SimError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..participants)
            .map(|i| {
                let (known, oracle, bases) = (&known, &oracle, &bases);
                let rng = Rng(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let id = participant_id(flow, prefix, i);
                let session = format!("{:016x}{i:08x}", fnv(&format!("{prefix}/session")));
                scope.spawn(move || participant(bases, flow, id, session, i, known, oracle, noise, rng))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("simulated participant panicked")).collect()
    });
    let mut report = ParticipantsReport::default();
    for r in results {
        let p = r?;
        report.answers.answers += p.sim.answers;
        report.answers.per_rater.push(p.sim.answers);
        report.answers.conflicts += p.sim.conflicts;
        report.answers.retries += p.sim.retries;
        report.answers.latencies_ms.extend(p.sim.latencies_ms);
        report.answers.acknowledged.extend(p.sim.acknowledged);
        report.ids.push(p.id);
        report.sessions.push(p.session);
        report.codes.push(p.code);
        report.completions.push(p.completion);
        report.previews += p.previews;
        report.rejoins += p.rejoins;
    }
    Ok(report)
}

struct Participant {
    id: String,
    session: String,
    sim: SimReport,
    code: Option<String>,
    completion: Option<String>,
    previews: usize,
    rejoins: usize,
}

fn agent(redirects: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(if redirects { 10 } else { 0 })
        .timeout_global(Some(Duration::from_secs(60)))
        .build();
    ureq::Agent::new_with_config(config)
}

/// The entry URL of `flow` for participant `id` with Prolific session / MTurk assignment
/// `session` (`preview`: MTurk before accepting).
fn entry_url(base: &str, flow: &Flow, id: &str, session: &str, preview: bool) -> String {
    let enc = crate::enrollment::percent_encode;
    match flow {
        Flow::Prolific => {
            format!("{base}/prolific?PROLIFIC_PID={id}&STUDY_ID={:024x}&SESSION_ID={session}", 0x5117)
        }
        Flow::Mturk { submit_to } => {
            let assignment =
                if preview { crate::enrollment::MTURK_PREVIEW.to_string() } else { session.to_ascii_uppercase() };
            let worker = if preview { String::new() } else { format!("&workerId={id}") };
            format!("{base}/mturk?assignmentId={assignment}&hitId=HIT1{worker}&turkSubmitTo={}", enc(submit_to))
        }
        Flow::Pid => format!("{base}/join?pid={id}"),
    }
}

/// Joins through the entry route: the rater token from the `303` to `/r/{token}`. A panel's
/// browser keeps the cookie the join sets (`cookie`), as a browser would, and sends it back.
fn join(
    agent: &ureq::Agent,
    url: &str,
    cookie: &mut Option<String>,
    report: &mut SimReport,
) -> Result<String, SimError> {
    let t = Instant::now();
    let mut request = agent.get(url);
    if let Some(c) = cookie.as_deref() {
        request = request.header("Cookie", c);
    }
    let mut response =
        request.call().map_err(|e| SimError::Transport { url: url.to_string(), message: e.to_string() })?;
    report.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
    let status = response.status().as_u16();
    if let Some(set) = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
        *cookie = set.split(';').next().map(str::to_string);
    }
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    match (status, location.as_deref().and_then(|l| l.strip_prefix("/r/"))) {
        (303, Some(token)) => Ok(token.to_string()),
        (200, None) => {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            if body.contains("This study is full") {
                Err(SimError::Full(url.to_string()))
            } else {
                Err(SimError::Status { url: url.to_string(), status, body })
            }
        }
        _ => Err(SimError::Status {
            url: url.to_string(),
            status,
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn participant<F: Fn(&Item) -> Answer>(
    bases: &[String],
    flow: &Flow,
    id: String,
    session: String,
    index: usize,
    known: &Recognise<'_>,
    oracle: &F,
    noise: f64,
    rng: Rng,
) -> Result<Participant, SimError> {
    let agent = agent(false);
    let session = match flow {
        Flow::Mturk { .. } => session.to_ascii_uppercase(),
        _ => session,
    };
    let mut me = Participant {
        id,
        session: session.clone(),
        sim: SimReport::default(),
        code: None,
        completion: None,
        previews: 0,
        rejoins: 0,
    };
    let mut server = index % bases.len();
    let start = Instant::now();
    let mut cookie = None;
    if let Flow::Mturk { .. } = flow {
        let url = entry_url(&bases[server], flow, &me.id, &session, true);
        let mut r =
            agent.get(&url).call().map_err(|e| SimError::Transport { url: url.clone(), message: e.to_string() })?;
        if r.status().as_u16() != 200 {
            let body = r.body_mut().read_to_string().unwrap_or_default();
            return Err(SimError::Status { url, status: r.status().as_u16(), body });
        }
        me.previews += 1;
    }
    // Each pass joins (or re-joins) on one server and works until done or the server fails.
    'rejoin: loop {
        let base = bases[server].clone();
        let failover = |e: SimError, server: &mut usize, me: &mut Participant| -> Result<(), SimError> {
            if matches!(e, SimError::Transport { .. }) && start.elapsed() < RETRY_FOR {
                *server = (*server + 1) % bases.len();
                me.rejoins += 1;
                me.sim.retries += 1;
                std::thread::sleep(Duration::from_millis(50));
                Ok(())
            } else {
                Err(e)
            }
        };
        let token = match join(&agent, &entry_url(&base, flow, &me.id, &session, false), &mut cookie, &mut me.sim) {
            Ok(t) => t,
            // A full study: the participant returns the task, with no completion.
            Err(SimError::Full(_)) => return Ok(me),
            Err(e) => {
                failover(e, &mut server, &mut me)?;
                continue 'rejoin;
            }
        };
        let api = format!("{base}/api/r/{token}");
        let once = |agent: &ureq::Agent, url: &str, body: Option<&Value>, sim: &mut SimReport| {
            request_once(agent, url, body, sim)
        };
        if let Err(e) = once(&agent, &format!("{api}/consent"), Some(&json!({})), &mut me.sim) {
            failover(e, &mut server, &mut me)?;
            continue 'rejoin;
        }
        for round in 0..2 * known.by_look.len() + 2 {
            let next = match once(&agent, &format!("{api}/next"), None, &mut me.sim) {
                Ok(v) => v,
                Err(e) => {
                    failover(e, &mut server, &mut me)?;
                    continue 'rejoin;
                }
            };
            let Some(lease) = next["item"]["id"].as_str().map(str::to_string) else { break };
            let item = match known.item(&agent, &base, &next["item"], &mut me.sim) {
                Ok(item) => item,
                Err(e @ SimError::Transport { .. }) => {
                    failover(e, &mut server, &mut me)?;
                    continue 'rejoin;
                }
                Err(e) => return Err(e),
            };
            let key = item.key.as_str();
            // Noise seeded by (participant, item): a retry after a failover gives the same answer.
            let mut rng = Rng(rng.0 ^ fnv(key));
            let mut answer = oracle(item);
            if rng.uniform() < noise {
                answer = perturb(&item.question, &answer, &mut rng);
            }
            // The request id is the item's: a retry on another server after a failover is
            // recognised as the same answer.
            let body = json!({ "item": lease, "answer": answer, "request_id": format!("{}-{round}", me.id) });
            match once(&agent, &format!("{api}/answer"), Some(&body), &mut me.sim) {
                Ok(v) => {
                    me.sim.answers += usize::from(v["recorded"].as_bool() == Some(true));
                    me.sim.acknowledged.push((index, key.to_string(), answer));
                }
                Err(SimError::Status { status: 409, .. }) => me.sim.conflicts += 1,
                Err(e) => {
                    failover(e, &mut server, &mut me)?;
                    continue 'rejoin;
                }
            }
        }
        let done = match once(&agent, &format!("{api}/complete"), Some(&json!({})), &mut me.sim) {
            Ok(v) => v,
            // Nothing answered (excluded at once, or the study filled up): no code, as it should be.
            Err(SimError::Status { status: 409, ref body, .. }) if body.contains("nothing to complete") => {
                return Ok(me);
            }
            Err(e) => {
                failover(e, &mut server, &mut me)?;
                continue 'rejoin;
            }
        };
        me.code = done["code"].as_str().map(str::to_string);
        me.completion = done["redirect"].as_str().or(done["mturk_submit"]["action"].as_str()).map(str::to_string);
        if let (Some(action), Some(assignment)) =
            (done["mturk_submit"]["action"].as_str(), done["mturk_submit"]["assignment_id"].as_str())
        {
            let form = format!(
                "assignmentId={}&completion={}",
                crate::enrollment::percent_encode(assignment),
                crate::enrollment::percent_encode(me.code.as_deref().unwrap_or(""))
            );
            let r = agent
                .post(action)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(form.as_bytes())
                .map_err(|e| SimError::Transport { url: action.to_string(), message: e.to_string() })?;
            if !r.status().is_success() {
                return Err(SimError::Status {
                    url: action.to_string(),
                    status: r.status().as_u16(),
                    body: String::new(),
                });
            }
        }
        return Ok(me);
    }
}

/// One GET (or POST `body`) returning the JSON of a 200; a transport error is returned, not
/// retried (the caller fails over).
fn request_once(
    agent: &ureq::Agent,
    url: &str,
    body: Option<&Value>,
    report: &mut SimReport,
) -> Result<Value, SimError> {
    let t = Instant::now();
    let sent = match body {
        Some(b) => agent.post(url).send_json(b),
        None => agent.get(url).call(),
    };
    let mut response = sent.map_err(|e| SimError::Transport { url: url.to_string(), message: e.to_string() })?;
    report.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if status != 200 {
        return Err(SimError::Status { url: url.to_string(), status, body: text });
    }
    serde_json::from_str(&text).map_err(|e| SimError::Transport { url: url.to_string(), message: e.to_string() })
}

/// A stand-in for the recruitment platform's side, on `127.0.0.1`, for tests and dry runs:
/// * `POST /mturk/externalSubmit` records the form posted (the body,
///   `application/x-www-form-urlencoded`) and answers 200, as MTurk's endpoint would;
/// * `GET /hit?src=URL` is a page that frames `URL` (percent-encoded) in an iframe, as MTurk's
///   worker site frames an ExternalQuestion;
/// * any other `GET` answers a small page and records its path (a completion URL).
///
/// Returns its origin and what it received (form bodies, and `GET path` lines). The thread
/// serves until the process ends.
pub fn mturk_submit_server() -> std::io::Result<(String, std::sync::Arc<std::sync::Mutex<Vec<String>>>)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let origin = format!("http://{}", listener.local_addr()?);
    let forms = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let got = forms.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let got = got.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.trim().eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0).min(1 << 16);
                        }
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let mut parts = first.split_whitespace();
                let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
                let record = |s: String| got.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                let (status, page) = match (method, path) {
                    ("POST", "/mturk/externalSubmit") => {
                        record(String::from_utf8_lossy(&body).into_owned());
                        (
                            "200 OK",
                            "<!doctype html><title>Submitted</title><p id=\"submitted\">HIT submitted.</p>".to_string(),
                        )
                    }
                    ("GET", p) if p.starts_with("/hit?src=") => {
                        let src = percent_decode(&p["/hit?src=".len()..]);
                        let src = src.replace('&', "&amp;").replace('"', "&quot;");
                        (
                            "200 OK",
                            format!(
                                "<!doctype html><title>HIT</title><body style=\"margin:0\">\
                                 <iframe id=\"hit\" src=\"{src}\" style=\"border:0;width:100%;height:100vh\"></iframe></body>"
                            ),
                        )
                    }
                    // A control page for the browser tests' checks (another origin, a foreign image,
                    // a script error, light grey text): each check must catch it.
                    ("GET", p) if p.starts_with("/control?img=") => {
                        let img = percent_decode(&p["/control?img=".len()..]);
                        let img = img.replace('&', "&amp;").replace('"', "&quot;");
                        (
                            "200 OK",
                            format!(
                                "<!doctype html><title>Control</title><p id=\"x\" style=\"color:#aaa\">light grey</p>\
                                 <img src=\"{img}\"><script>notDefined();</script>"
                            ),
                        )
                    }
                    ("GET", p) => {
                        record(format!("GET {p}"));
                        (
                            "200 OK",
                            "<!doctype html><title>Done</title><p id=\"done\">Back on the platform.</p>".to_string(),
                        )
                    }
                    _ => ("404 Not Found", String::new()),
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            });
        }
    });
    Ok((origin, forms))
}

/// Decodes `%XX` escapes (and `+` as a space).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How long a rater keeps retrying a request that fails in transport.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Runs one simulated rater per token against `base_url` (`http://127.0.0.1:8080`) until no
/// item is left for any of them. `items` are the study's items (the oracle needs them);
/// `noise` is the probability of a wrong answer; `seed` makes the noise reproducible.
pub fn simulate<F>(
    base_url: &str,
    tokens: &[String],
    items: &[Item],
    run_dir: &std::path::Path,
    oracle: F,
    noise: f64,
    seed: u64,
) -> Result<SimReport, SimError>
where
    F: Fn(&Item) -> Answer + Sync,
{
    let base = base_url.trim_end_matches('/');
    let known = Recognise::new(items, run_dir);
    let results: Vec<Result<SimReport, SimError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let (known, oracle) = (&known, &oracle);
                let rng = Rng(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let n = items.len();
                scope.spawn(move || rater(base, token, i, n, known, oracle, noise, rng))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("simulated rater panicked")).collect()
    });
    let mut report = SimReport::default();
    for r in results {
        let r = r?;
        report.answers += r.answers;
        report.per_rater.push(r.answers);
        report.conflicts += r.conflicts;
        report.retries += r.retries;
        report.latencies_ms.extend(r.latencies_ms);
        report.acknowledged.extend(r.acknowledged);
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn rater<F: Fn(&Item) -> Answer>(
    base: &str,
    token: &str,
    index: usize,
    n_items: usize,
    known: &Recognise<'_>,
    oracle: &F,
    noise: f64,
    mut rng: Rng,
) -> Result<SimReport, SimError> {
    let config =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build();
    let agent = ureq::Agent::new_with_config(config);
    let mut report = SimReport::default();
    let next_url = format!("{base}/api/r/{token}/next");
    let answer_url = format!("{base}/api/r/{token}/answer");
    // A server bug must not make a rater loop forever: at most two rounds over the items.
    for round in 0..2 * n_items + 2 {
        let next = request(&agent, &next_url, None, &mut report)?;
        let Some(lease) = next["item"]["id"].as_str().map(str::to_string) else { break };
        let item = known.item(&agent, base, &next["item"], &mut report)?;
        let key = item.key.as_str();
        let mut answer = oracle(item);
        if rng.uniform() < noise {
            answer = perturb(&item.question, &answer, &mut rng);
        }
        let body = json!({ "item": lease, "answer": answer, "request_id": format!("sim-{index}-{round}") });
        match request(&agent, &answer_url, Some(&body), &mut report) {
            Ok(v) => {
                report.answers += usize::from(v["recorded"].as_bool() == Some(true));
                report.acknowledged.push((index, key.to_string(), answer));
            }
            Err(SimError::Status { status: 409, .. }) => report.conflicts += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// GET (or POST `body`) returning the JSON of a 200, retrying transport errors.
fn request(agent: &ureq::Agent, url: &str, body: Option<&Value>, report: &mut SimReport) -> Result<Value, SimError> {
    let start = Instant::now();
    loop {
        let t = Instant::now();
        let sent = match body {
            Some(b) => agent.post(url).send_json(b),
            None => agent.get(url).call(),
        };
        match sent {
            Ok(mut response) => {
                report.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                if status != 200 {
                    return Err(SimError::Status { url: url.to_string(), status, body: text });
                }
                return serde_json::from_str(&text)
                    .map_err(|e| SimError::Transport { url: url.to_string(), message: e.to_string() });
            }
            Err(e) if start.elapsed() < RETRY_FOR => {
                let _ = e;
                report.retries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(SimError::Transport { url: url.to_string(), message: e.to_string() }),
        }
    }
}

/// A different valid answer to the question.
fn perturb(question: &Question, answer: &Answer, rng: &mut Rng) -> Answer {
    match (question, answer) {
        (_, Answer::Yes) => Answer::No,
        (_, Answer::No | Answer::Maybe) => Answer::Yes,
        (Question::MultiRelevance { classes, .. }, Answer::Classes(ticked)) if !classes.is_empty() => {
            let flip = classes[rng.below(classes.len())].class;
            let mut out: Vec<i64> = ticked.iter().copied().filter(|c| *c != flip).collect();
            if out.len() == ticked.len() {
                out.push(flip);
            }
            Answer::Classes(out)
        }
        (Question::Assignment { options, .. }, Answer::Option(i)) if options.len() > 1 => {
            Answer::Option((i + 1 + rng.below(options.len() - 1)) % options.len())
        }
        (_, other) => other.clone(),
    }
}

/// FNV-1a of a string.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// SplitMix64 (Steele, Lea & Flood 2014): small, seeded, good enough for noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
