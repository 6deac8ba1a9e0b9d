//! Simulated raters that drive the real HTTP API, one thread each (for `rectify study
//! simulate`, tests and load tests).
//!
//! Each rater asks `/api/r/{token}/next`, answers with the oracle's answer (changed to a
//! different valid answer with probability `noise`), and stops when no item is left. A request
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
    /// The server sent an item the simulation was not given.
    #[error("unknown item {0:?} (pass every item of the study)")]
    UnknownItem(String),
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

/// How long a rater keeps retrying a request that fails in transport.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Runs one simulated rater per token against `base_url` (`http://127.0.0.1:8080`) until no
/// item is left for any of them. `items` are the study's items (the oracle needs them);
/// `noise` is the probability of a wrong answer; `seed` makes the noise reproducible.
pub fn simulate<F>(
    base_url: &str,
    tokens: &[String],
    items: &[Item],
    oracle: F,
    noise: f64,
    seed: u64,
) -> Result<SimReport, SimError>
where
    F: Fn(&Item) -> Answer + Sync,
{
    let base = base_url.trim_end_matches('/');
    let by_key: HashMap<&str, &Item> = items.iter().map(|i| (i.key.as_str(), i)).collect();
    let results: Vec<Result<SimReport, SimError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let (by_key, oracle) = (&by_key, &oracle);
                let rng = Rng(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                scope.spawn(move || rater(base, token, i, by_key, oracle, noise, rng))
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

fn rater<F: Fn(&Item) -> Answer>(
    base: &str,
    token: &str,
    index: usize,
    items: &HashMap<&str, &Item>,
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
    for round in 0..2 * items.len() + 2 {
        let next = request(&agent, &next_url, None, &mut report)?;
        let Some(key) = next["item"]["key"].as_str() else { break };
        let item = items.get(key).ok_or_else(|| SimError::UnknownItem(key.to_string()))?;
        let mut answer = oracle(item);
        if rng.uniform() < noise {
            answer = perturb(&item.question, &answer, &mut rng);
        }
        let body = json!({ "item": key, "answer": answer, "request_id": format!("sim-{index}-{round}") });
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
