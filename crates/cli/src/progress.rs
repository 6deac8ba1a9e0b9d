//! Progress display: a bar with rate and ETA on a terminal, periodic log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of one stage over `len` items.
pub struct Progress {
    bar: ProgressBar,
    tty: bool,
    label: String,
    len: u64,
    done: u64,
    last_log: Instant,
    start: Instant,
}

impl Progress {
    /// Starts tracking `len` items of work named `label`.
    pub fn new(label: &str, len: u64) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{msg:>8} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        Self { bar, tty, label: label.into(), len, done: 0, last_log: Instant::now(), start: Instant::now() }
    }

    /// `n` more items are done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        self.bar.inc(n);
        if !self.tty && (self.last_log.elapsed() > Duration::from_secs(10) || self.done == self.len) {
            self.last_log = Instant::now();
            let rate = self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            eprintln!("rectify: {} {}/{} ({rate:.1}/s)", self.label, self.done, self.len);
        }
    }

    /// Prints a line without breaking the bar.
    pub fn println(&self, msg: &str) {
        if self.tty {
            self.bar.println(msg);
        } else {
            eprintln!("{msg}");
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
