//! `rectify study plan`: what a relevance study will cost before anyone is paid (issue #30 §4).
//!
//! From the run's mistakes and the study's settings: the items to rate (all mistakes, or a sample
//! by `--sample` / `--precision`), the answers asking everyone N times takes, the answers expected
//! with stopping once the rule has decided (and the items drawn to get all N), the cost and the
//! participant-hours, and the interval expected on the rectified error.
//!
//! The expectation per item comes from the study's own votes when it holds items with N votes
//! (a pilot, or imported votes): the exact mean over all orders of those votes
//! ([`rectify_study::stopping::replay`]), and the pilot's share of accepted mistakes. Without
//! one it comes from the paper: 58.3 % of ResNet-101's mistakes accepted (22.69 % → 9.47 %), and
//! raters who agree with an item's verdict 90 % of the time (an assumption the plan states).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rectify_study::sampling::{size_for_precision, PAPER_ACCEPTANCE, Z95};
use rectify_study::stopping::{replay, Stopping};
use rectify_study::{Answer, Design};
use serde::{Deserialize, Serialize};

use crate::votes::{eval_images, StudyTarget};

/// How raters are assumed to agree with an item's verdict when the study has no votes yet.
pub const ASSUMED_AGREEMENT: f64 = 0.9;

/// `rectify study plan`'s settings.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PlanSettings {
    /// The design to plan (relevance-top1; relevance-top5 plans its items the same way).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value = "relevance-top1"))]
    pub design: Design,
    /// Answers per item (N).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 5))]
    pub answers: usize,
    /// The rule stopping uses (`k-of-n:K/N` or `majority`); default the paper's 4 of 5.
    #[cfg_attr(feature = "clap", arg(long, default_value = "k-of-n:4/5"))]
    pub rule: rectify_study::RuleSpec,
    /// The share of items that get all N answers (1: no stopping, the paper's protocol).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.1))]
    pub full_fraction: f64,
    /// Rate a random sample of this many mistakes.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "precision"))]
    pub sample: Option<usize>,
    /// Rate the smallest sample whose 95 % interval is at most this many points on each side.
    #[cfg_attr(feature = "clap", arg(long))]
    pub precision: Option<f64>,
    /// What one answer costs (USD), participant pay and fees together.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.05))]
    pub price_per_answer: f64,
    /// Seconds one answer takes a participant.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10.0))]
    pub seconds_per_answer: f64,
    /// Writes the plan here as JSON.
    #[cfg_attr(feature = "clap", arg(long))]
    pub json: Option<PathBuf>,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings {
            design: Design::RelevanceTop1,
            answers: 5,
            rule: rectify_study::RuleSpec::KOfN { k: 4, n: 5 },
            full_fraction: 0.1,
            sample: None,
            precision: None,
            price_per_answer: 0.05,
            seconds_per_answer: 10.0,
            json: None,
        }
    }
}

/// The plan (`--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The design planned.
    pub design: String,
    /// Labelled images of the run.
    pub labelled: usize,
    /// M: the run's top-1 mistakes.
    pub mistakes: usize,
    /// Items to rate: M, or the sample.
    pub items: usize,
    /// N.
    pub answers_per_item: usize,
    /// items × N: asking everyone about every item.
    pub answers_full: usize,
    /// The answers expected with stopping (and the full fraction).
    pub answers_expected: f64,
    /// Expected answers per item that stops once decided.
    pub answers_per_stopped_item: f64,
    /// The share of mistakes people are expected to call relevant.
    pub accepted_share: f64,
    /// Where the expectations come from, in words.
    pub basis: String,
    /// Items of the study's own votes the expectation rests on (0: the paper's).
    pub pilot_items: usize,
    /// USD per answer.
    pub price_per_answer: f64,
    /// answers_full × price.
    pub cost_full: f64,
    /// answers_expected × price.
    pub cost_expected: f64,
    /// Participant-hours expected.
    pub participant_hours: f64,
    /// The expected half-width of the 95 % interval on the rectified error (points; 0 when every
    /// mistake is rated).
    pub interval_points: f64,
}

/// Plans the study (see the module docs); writes `settings.json` when set.
pub async fn plan(target: &StudyTarget, s: &PlanSettings) -> Result<Plan> {
    if !matches!(s.design, Design::RelevanceTop1 | Design::RelevanceTop5) {
        bail!("--design {}: plans are made for the relevance designs", s.design.name());
    }
    if !(0.0..=1.0).contains(&s.full_fraction) {
        bail!("--full-fraction {} lies in [0, 1]", s.full_fraction);
    }
    if !(s.price_per_answer >= 0.0 && s.seconds_per_answer >= 0.0) {
        bail!("--price-per-answer and --seconds-per-answer are at least 0");
    }
    let rule = s.rule.resolve(s.answers);
    if rule.needs() != s.answers {
        bail!("--rule {} decides on {} answers but --answers is {}", s.rule, rule.needs(), s.answers);
    }
    let stopping = Stopping::for_rule(rule, s.full_fraction, 0)
        .with_context(|| format!("--rule {}: stopping needs k-of-n or majority", s.rule))?;
    let images = eval_images(&target.run)?;
    let labelled = images.iter().filter(|i| i.label.is_some()).count();
    let mistakes = images.iter().filter(|i| i.top1_wrong()).count();

    // A pilot: the study's own items of the design with N counted votes.
    let (mut pilot, mut accepted) = (Vec::new(), 0usize);
    if target.database_url.is_some() || target.run.join("rectify.db").exists() {
        let db = target.open().await?;
        if db.study(&target.study).await?.is_some() {
            let mut by_item: std::collections::HashMap<String, Vec<Answer>> = std::collections::HashMap::new();
            for v in db.counted_votes(&target.study).await? {
                by_item.entry(v.item).or_default().push(v.answer);
            }
            for item in db.items(&target.study).await? {
                if item.design != s.design || !Stopping::applies_to(&item) {
                    continue;
                }
                let votes = by_item.get(&item.key).map(Vec::as_slice).unwrap_or(&[]);
                if let Some(r) = replay(&stopping, &item.question, votes) {
                    pilot.push(r.expected_answers);
                    accepted += usize::from(r.verdict);
                }
            }
        }
    }
    let pilot = (!pilot.is_empty())
        .then(|| (pilot.iter().sum::<f64>() / pilot.len() as f64, accepted as f64 / pilot.len() as f64, pilot.len()));
    let out = compute(labelled, mistakes, s, &stopping, pilot)?;
    if let Some(path) = &s.json {
        crate::outputs::write_json(path, &out)?;
    }
    // The dashboard shows the answers and cost so far against the latest plan.
    if target.database_url.is_some() || target.run.join("rectify.db").exists() {
        let db = target.open().await?;
        if db.study(&target.study).await?.is_some() {
            let summary = rectify_study::db::decided::PlanSummary {
                items: out.items,
                answers_full: out.answers_full,
                answers_expected: out.answers_expected,
                price_per_answer: out.price_per_answer,
                cost_expected: out.cost_expected,
                basis: out.basis.clone(),
            };
            db.put_plan(&target.study, &summary).await?;
        }
    }
    Ok(out)
}

/// The plan for `labelled` images with `mistakes`, under `s` and `stopping`; `pilot` is the
/// study's own (expected answers per stopped item, accepted share, items) when it has votes.
pub fn compute(
    labelled: usize,
    mistakes: usize,
    s: &PlanSettings,
    stopping: &Stopping,
    pilot: Option<(f64, f64, usize)>,
) -> Result<Plan> {
    let (per_item, share, basis) = match pilot {
        None => {
            let a = PAPER_ACCEPTANCE;
            let e = a * serial(stopping, ASSUMED_AGREEMENT) + (1.0 - a) * serial(stopping, 1.0 - ASSUMED_AGREEMENT);
            let basis = format!(
            "the paper's acceptance ({:.1} % of ResNet-101's mistakes called relevant) and raters agreeing with an \
             item's verdict {:.0} % of the time: no votes in this study yet",
            a * 100.0,
            ASSUMED_AGREEMENT * 100.0
        );
            (e, a, basis)
        }
        Some((per_item, share, count)) => {
            let basis = format!(
                "this study's own votes: {count} items with {} votes each (expected answers exact over every order)",
                s.answers
            );
            (per_item, share, basis)
        }
    };
    let items = match (s.sample, s.precision) {
        (Some(m), _) => m.min(mistakes),
        (None, Some(p)) if p > 0.0 && p.is_finite() => size_for_precision(labelled, mistakes, p, share),
        (None, Some(p)) => bail!("--precision {p}: a positive number of points"),
        (None, None) => mistakes,
    };
    let n = s.answers as f64;
    let answers_full = items * s.answers;
    let per_stopped = if s.full_fraction >= 1.0 { n } else { per_item };
    let answers_expected = items as f64 * (s.full_fraction * n + (1.0 - s.full_fraction) * per_stopped);
    let interval = if items < mistakes && items > 0 && labelled > 0 {
        let big_m = mistakes as f64;
        let fpc = (big_m - items as f64) / (big_m - 1.0);
        Z95 * (share * (1.0 - share) / items as f64 * fpc).sqrt() * big_m / labelled as f64 * 100.0
    } else {
        0.0
    };
    let out = Plan {
        design: s.design.name().into(),
        labelled,
        mistakes,
        items,
        answers_per_item: s.answers,
        answers_full,
        answers_expected,
        answers_per_stopped_item: per_stopped,
        accepted_share: share,
        basis,
        pilot_items: pilot.map_or(0, |p| p.2),
        price_per_answer: s.price_per_answer,
        cost_full: answers_full as f64 * s.price_per_answer,
        cost_expected: answers_expected * s.price_per_answer,
        participant_hours: answers_expected * s.seconds_per_answer / 3600.0,
        interval_points: interval,
    };
    Ok(out)
}

/// The expected answers, one at a time, on an item whose answers are yes with probability `q`.
fn serial(s: &Stopping, q: f64) -> f64 {
    // Σ over every sequence of n answers of its probability × the answers asked.
    let n = s.n;
    let question = rectify_study::Question::Relevance {
        image: rectify_study::ImageRef { path: String::new() },
        class: rectify_study::ClassRef { class: 0, name: String::new(), gloss: String::new() },
    };
    let mut total = 0.0;
    for bits in 0u32..(1 << n) {
        let answers: Vec<Answer> =
            (0..n).map(|i| if bits & (1 << i) != 0 { Answer::Yes } else { Answer::No }).collect();
        let yes = bits.count_ones() as i32;
        let p = q.powi(yes) * (1.0 - q).powi(n as i32 - yes);
        let asked = (1..=n).find(|&t| s.decision(&question, &answers[..t]).is_some()).unwrap_or(n);
        total += p * asked as f64;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's worked example: the paper's ResNet-101 study (11,345 mistakes of 50,000
    /// images, 5 answers each: 56,725) planned at ±0.5 points with stopping. The figures were
    /// computed separately in plain Python (itertools over the 2⁵ answer sequences, the sample
    /// size formula with math.ceil): 1,645 items; 3.4055 answers per stopped item; 5,864.4
    /// answers expected; $293.22 at $0.05 an answer; 16.3 participant-hours at 10 s.
    #[test]
    fn the_papers_resnet_study_planned() {
        let s = PlanSettings { precision: Some(0.5), ..PlanSettings::default() };
        let stopping = Stopping { k: 4, n: 5, full_fraction: 0.1, seed: 0 };
        let p = compute(50_000, 11_345, &s, &stopping, None).unwrap();
        assert_eq!((p.items, p.answers_full), (1_645, 8_225));
        assert!((p.answers_per_stopped_item - 3.405_515_381_225_21).abs() < 1e-9, "{}", p.answers_per_stopped_item);
        assert!((p.answers_expected - 5_864.365_521_903_92).abs() < 1e-6, "{}", p.answers_expected);
        assert!((p.cost_expected - 293.218_276_095_196).abs() < 1e-6);
        assert!((p.participant_hours - 16.289_904_227_51).abs() < 1e-6);
        assert!(p.interval_points <= 0.5 && p.interval_points > 0.49, "{}", p.interval_points);
        assert!(p.basis.contains("the paper's acceptance"));
        // Then: every mistake, 5 answers each.
        let then = PlanSettings { full_fraction: 1.0, ..PlanSettings::default() };
        let p = compute(50_000, 11_345, &then, &Stopping { full_fraction: 1.0, ..stopping }, None).unwrap();
        assert_eq!((p.items, p.answers_expected), (11_345, 56_725.0));
        assert!((p.cost_expected - 2_836.25).abs() < 1e-9 && (p.participant_hours - 157.569_444_444).abs() < 1e-6);
    }

    #[test]
    fn serial_expectations_by_hand() {
        let s = Stopping { k: 4, n: 5, full_fraction: 0.0, seed: 0 };
        assert!((serial(&s, 0.0) - 2.0).abs() < 1e-12);
        assert!((serial(&s, 1.0) - 4.0).abs() < 1e-12);
        assert!((serial(&s, 0.5) - 3.5).abs() < 1e-12, "{}", serial(&s, 0.5));
    }
}
