//! Benchmark goals that fail (issue #28 §3): a benchmark states each goal the README gives with
//! [`Goals::check`], which prints the figure, the goal and the verdict; [`Goals::finish`] exits
//! with status 1 when any goal was missed, so `make bench` cannot report a miss as a pass.
//!
//! When `RECTIFY_BENCH_GOALS` names a file, each verdict is also appended to it as one
//! tab-separated line (`bench`, `what`, `figure`, `goal`, `met`|`MISSED`), from which
//! `scripts/bench.sh` prints its closing table.

use std::io::Write;

/// How a figure is compared with its goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// figure ≥ goal (a speed-up).
    AtLeast,
    /// figure ≤ goal (a time ratio, a latency).
    AtMost,
    /// figure < goal (a budget).
    Below,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::AtLeast => ">=",
            Cmp::AtMost => "<=",
            Cmp::Below => "<",
        }
    }

    fn holds(self, figure: f64, goal: f64) -> bool {
        match self {
            Cmp::AtLeast => figure >= goal,
            Cmp::AtMost => figure <= goal,
            Cmp::Below => figure < goal,
        }
    }
}

/// The goals one benchmark checked.
#[derive(Debug)]
pub struct Goals {
    bench: String,
    missed: Vec<String>,
}

impl Goals {
    /// Goals of benchmark `bench` (the name in the closing table).
    pub fn new(bench: &str) -> Goals {
        Goals { bench: bench.to_string(), missed: Vec::new() }
    }

    /// Checks `figure` (in `unit`) against `goal`, prints the verdict line and records it; returns
    /// whether it was met. A figure that is not a number (NaN) misses every goal.
    pub fn check(&mut self, what: &str, figure: f64, cmp: Cmp, goal: f64, unit: &str) -> bool {
        let met = figure.is_finite() && cmp.holds(figure, goal);
        let shown = |x: f64| if x.abs() >= 100.0 { format!("{x:.0}{unit}") } else { format!("{x:.3}{unit}") };
        let (figure_s, goal_s) = (shown(figure), format!("{} {}", cmp.symbol(), shown(goal)));
        let verdict = if met { "met" } else { "MISSED" };
        println!("goal {}: {what}: {figure_s} (goal {goal_s}): {verdict}", self.bench);
        if let Ok(path) = std::env::var("RECTIFY_BENCH_GOALS") {
            let line = format!("{}\t{what}\t{figure_s}\t{goal_s}\t{verdict}\n", self.bench);
            let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
            if let Err(e) = file.and_then(|mut f| f.write_all(line.as_bytes())) {
                eprintln!("goals: cannot append to {path}: {e}");
            }
        }
        if !met {
            self.missed.push(format!("{what}: {figure_s} (goal {goal_s})"));
        }
        met
    }

    /// Ends the benchmark: exit status 1, naming each missed goal, when any was missed.
    pub fn finish(self) {
        if !self.missed.is_empty() {
            eprintln!("{}: {} goal(s) missed: {}", self.bench, self.missed.len(), self.missed.join("; "));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_and_nan() {
        assert!(Cmp::AtLeast.holds(1.2, 1.2) && !Cmp::AtLeast.holds(1.19, 1.2));
        assert!(Cmp::AtMost.holds(0.5, 0.5) && !Cmp::AtMost.holds(0.51, 0.5));
        assert!(Cmp::Below.holds(119.9, 120.0) && !Cmp::Below.holds(120.0, 120.0));
        let mut g = Goals::new("test");
        assert!(!g.check("nan", f64::NAN, Cmp::AtMost, 1.0, "x"));
        assert!(g.check("ok", 0.4, Cmp::AtMost, 0.5, "x"));
        assert_eq!(g.missed.len(), 1);
    }
}
