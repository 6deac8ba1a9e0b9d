//! Where a stage reports its progress: a sink the caller chooses, shaped like ripgrep's
//! `Sink` (`crates/searcher/src/sink.rs`: one required method, defaulted hooks). The binary
//! shows a bar with rate and ETA on a terminal and periodic log lines otherwise ([`Console`]);
//! tests and the Python package pass [`Silent`] or their own.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress sink. A stage calls [`begin`](Progress::begin) for each phase of work it counts,
/// [`inc`](Progress::inc) as items finish, [`message`](Progress::message) for notes and
/// per-item problems, and [`finish`](Progress::finish) at the end of the phase.
pub trait Progress {
    /// `n` more items of the phase are done.
    fn inc(&mut self, n: u64);
    /// A phase of `len` items named `label` starts.
    fn begin(&mut self, _label: &str, _len: u64) {}
    /// A line for the user: a warning, a per-item problem, what is about to run.
    fn message(&mut self, _msg: &str) {}
    /// The phase is over.
    fn finish(&mut self) {}
}

/// Drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn inc(&mut self, _: u64) {}
}

/// Standard error: a bar on a terminal, a line every 10 s (and at the end) otherwise.
pub struct Console {
    bar: ProgressBar,
    tty: bool,
    label: String,
    len: u64,
    done: u64,
    last_log: Instant,
    start: Instant,
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl Console {
    /// A sink on standard error, with no phase started.
    pub fn new() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            tty: std::io::stderr().is_terminal(),
            label: String::new(),
            len: 0,
            done: 0,
            last_log: Instant::now(),
            start: Instant::now(),
        }
    }
}

impl Progress for Console {
    fn begin(&mut self, label: &str, len: u64) {
        self.bar.finish_and_clear();
        self.bar = if self.tty { ProgressBar::new(len) } else { ProgressBar::hidden() };
        self.bar.set_style(
            ProgressStyle::with_template("{msg:>8} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        self.bar.set_message(label.to_string());
        (self.label, self.len, self.done) = (label.into(), len, 0);
        (self.last_log, self.start) = (Instant::now(), Instant::now());
    }

    fn inc(&mut self, n: u64) {
        self.done += n;
        self.bar.inc(n);
        if !self.tty && (self.last_log.elapsed() > Duration::from_secs(10) || self.done == self.len) {
            self.last_log = Instant::now();
            let rate = self.done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            eprintln!("rectify: {} {}/{} ({rate:.1}/s)", self.label, self.done, self.len);
        }
    }

    fn message(&mut self, msg: &str) {
        if self.tty && !self.bar.is_hidden() {
            self.bar.println(msg);
        } else {
            eprintln!("{msg}");
        }
    }

    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Counts into a phase's progress from a selector's "groups done so far" callback.
pub(crate) fn counter(progress: &mut dyn Progress) -> impl FnMut(usize) + '_ {
    let mut last = 0;
    move |done| {
        progress.inc((done - last) as u64);
        last = done;
    }
}
