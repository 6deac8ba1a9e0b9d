//! Stopping once the rule has decided (issue #30): under the paper's 4-of-5 rule an item is
//! decided after 4 yes, or after 2 answers that are not yes, whatever the other answers would
//! have been. The study server stops asking about a decided item; [`replay`] says what stopping
//! would have used on votes a study already holds.
//!
//! * `relevance-top1` (one class): with `y` yes and `m` answers that are not yes ("maybe" is
//!   not yes) of at most `n`, the item is decided yes at `y ≥ k`, no at `m ≥ n − k + 1`.
//! * `relevance-top5` (five classes, the ticked ones are yes): decided yes once some class has
//!   `k` ticks (a top-5 mistake is rectified when any class is relevant), no once every class has
//!   `n − k + 1` answers without its tick.
//!
//! Either way the decision on the answers so far equals the decision on the first `n` answers,
//! whatever they are (answers only add to `y` and `m`), so stopping never changes a verdict.
//! A seeded fraction of items ([`Stopping::is_full`]) still gets all `n` answers, so that Fig. 2's
//! histogram, Fleiss' κ and rater agreement stay estimable from that subset.

use serde::{Deserialize, Serialize};

use crate::aggregate::Rule;
use crate::model::{Answer, Design, Item, Question};

/// How a study stops asking: the rule's `k` of `n`, and the items that get all `n` answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stopping {
    /// Yes answers that decide yes.
    pub k: usize,
    /// Answers an item gets at most.
    pub n: usize,
    /// The share of items (drawn with `seed`) that still get all `n` answers.
    pub full_fraction: f64,
    /// Draws the items that get all `n` answers.
    pub seed: u64,
}

/// Where an item stands under [`Stopping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemState {
    /// `Some(verdict)` once no further answer can change it (for an item that gets all `n`
    /// answers: once it has them).
    pub decided: Option<bool>,
    /// The fewest further answers that could decide it (0 once decided): while fewer leases than
    /// this are open, another answer is needed whatever they say.
    pub to_decide: usize,
}

impl Stopping {
    /// Stopping under `rule` (`k-of-n`, or `majority`: `k = ⌊n/2⌋ + 1`); `None` for a rule that
    /// weighs raters (Dawid–Skene), which has no point at which more answers cannot matter.
    pub fn for_rule(rule: Rule, full_fraction: f64, seed: u64) -> Option<Stopping> {
        let (k, n) = match rule {
            Rule::KOfN { k, n } => (k, n),
            Rule::Majority { n } => (n / 2 + 1, n),
            Rule::DawidSkene { .. } => return None,
        };
        Some(Stopping { k, n, full_fraction: full_fraction.clamp(0.0, 1.0), seed })
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), String> {
        if self.n == 0 || self.k == 0 || self.k > self.n {
            return Err(format!("stopping needs 1 ≤ k ≤ n (k {}, n {})", self.k, self.n));
        }
        if !(0.0..=1.0).contains(&self.full_fraction) {
            return Err(format!("--full-fraction {} lies in [0, 1]", self.full_fraction));
        }
        Ok(())
    }

    /// Whether the item `key` gets all `n` answers: a draw per key from the seed, below
    /// `full_fraction` (1: every item, the paper's protocol; 0: none).
    pub fn is_full(&self, key: &str) -> bool {
        if self.full_fraction >= 1.0 {
            return true;
        }
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        let mut rng = rectify_data::rng::SplitMix64::new(self.seed, h as i64);
        (rng.below(1 << 53) as f64 / (1u64 << 53) as f64) < self.full_fraction
    }

    /// Whether stopping applies to the item: a data item of a relevance design.
    pub fn applies_to(item: &Item) -> bool {
        item.gold.is_none()
            && matches!(item.design, Design::RelevanceTop1 | Design::RelevanceTop5)
            && matches!(item.question, Question::Relevance { .. } | Question::MultiRelevance { .. })
    }

    /// The item's state after `answers` (counted ones, in any order).
    pub fn state(&self, item: &Item, answers: &[Answer]) -> ItemState {
        let n = self.n;
        let left = n.saturating_sub(answers.len());
        if !Stopping::applies_to(item) || self.is_full(&item.key) {
            return ItemState { decided: (left == 0).then(|| self.verdict(&item.question, answers)), to_decide: left };
        }
        match self.decision(&item.question, answers) {
            Some(v) => ItemState { decided: Some(v), to_decide: 0 },
            None => ItemState { decided: None, to_decide: self.fewest_to_decide(&item.question, answers).min(left) },
        }
    }

    /// The decision the answers already force, if any (at most the first `n` count).
    pub fn decision(&self, question: &Question, answers: &[Answer]) -> Option<bool> {
        let answers = &answers[..answers.len().min(self.n)];
        let no_needed = self.n - self.k + 1;
        match question {
            Question::MultiRelevance { classes, .. } => {
                let ticks = class_ticks(classes.iter().map(|c| c.class), answers);
                if ticks.iter().any(|&t| t >= self.k) {
                    Some(true)
                } else if ticks.iter().all(|&t| answers.len() - t >= no_needed) {
                    Some(false)
                } else {
                    None
                }
            }
            _ => self.decision_yes_no(answers),
        }
    }

    /// [`Stopping::decision`] for one yes / no question (the answers that are not yes count as no).
    pub fn decision_yes_no(&self, answers: &[Answer]) -> Option<bool> {
        let answers = &answers[..answers.len().min(self.n)];
        let yes = answers.iter().filter(|a| **a == Answer::Yes).count();
        if yes >= self.k {
            Some(true)
        } else if answers.len() - yes > self.n - self.k {
            Some(false)
        } else {
            None
        }
    }

    /// The verdict on a complete set of answers (its first `n`): `k` yes (any class, for top-5).
    pub fn verdict(&self, question: &Question, answers: &[Answer]) -> bool {
        let answers = &answers[..answers.len().min(self.n)];
        match question {
            Question::MultiRelevance { classes, .. } => {
                class_ticks(classes.iter().map(|c| c.class), answers).iter().any(|&t| t >= self.k)
            }
            _ => answers.iter().filter(|a| **a == Answer::Yes).count() >= self.k,
        }
    }

    /// The fewest further answers that could decide the item: all yes (one class ticked by all),
    /// or all not yes (nothing ticked).
    fn fewest_to_decide(&self, question: &Question, answers: &[Answer]) -> usize {
        let no_needed = self.n - self.k + 1;
        match question {
            Question::MultiRelevance { classes, .. } => {
                let ticks = class_ticks(classes.iter().map(|c| c.class), answers);
                let to_yes = ticks.iter().map(|&t| self.k.saturating_sub(t)).min().unwrap_or(self.k);
                let to_no = ticks.iter().map(|&t| no_needed.saturating_sub(answers.len() - t)).max().unwrap_or(0);
                to_yes.min(to_no)
            }
            _ => {
                let yes = answers.iter().filter(|a| **a == Answer::Yes).count();
                self.k.saturating_sub(yes).min(no_needed.saturating_sub(answers.len() - yes))
            }
        }
    }
}

/// Per class (in `classes`' order), how many of `answers` tick it.
fn class_ticks(classes: impl Iterator<Item = i64>, answers: &[Answer]) -> Vec<usize> {
    classes.map(|c| answers.iter().filter(|a| matches!(a, Answer::Classes(t) if t.contains(&c))).count()).collect()
}

/// What stopping does to one item's `n` answers, over every order in which they could arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    /// The expected number of answers asked before the item is decided, over all `n!` orders
    /// (exact).
    pub expected_answers: f64,
    /// The verdict on all `n` answers.
    pub verdict: bool,
    /// Whether the verdict at the moment of stopping equals it in every order.
    pub same_verdict: bool,
}

/// Replays an item's first `n` answers under `stopping` (as an item that does not get all `n`):
/// the expected number of answers asked, over all orders, and whether the verdict could change.
///
/// Exact, by subsets: whether the item is decided depends only on the set of answers seen, and
/// once decided it stays decided, so the answers asked exceed `t` exactly when the first `t`
/// answers are an undecided set, and every set of `t` of the `n` answers is the first `t` in the
/// same share `1 / C(n, t)` of the orders: E(answers) = Σₜ (undecided sets of size t) / C(n, t).
/// `None` when the item has fewer than `n` answers or more than 20 (2²⁰ subsets).
pub fn replay(stopping: &Stopping, question: &Question, answers: &[Answer]) -> Option<Replayed> {
    let n = stopping.n;
    if answers.len() < n || n > 20 {
        return None;
    }
    let answers = &answers[..n];
    let verdict = stopping.verdict(question, answers);
    let mut undecided = vec![0u64; n + 1];
    let mut same = true;
    let mut subset = Vec::with_capacity(n);
    for mask in 0u32..(1u32 << n) {
        subset.clear();
        subset.extend((0..n).filter(|i| mask & (1 << i) != 0).map(|i| answers[i].clone()));
        match stopping.decision(question, &subset) {
            None => undecided[subset.len()] += 1,
            Some(v) => same &= v == verdict,
        }
    }
    let expected = (0..n).map(|t| undecided[t] as f64 / binomial(n, t)).sum();
    Some(Replayed { expected_answers: expected, verdict, same_verdict: same })
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClassRef, ImageRef};

    fn q() -> Question {
        Question::Relevance {
            image: ImageRef { path: "x.png".into() },
            class: ClassRef { class: 1, name: "one".into(), gloss: String::new() },
        }
    }

    /// Every order enumerated, against the subset formula.
    fn by_orders(s: &Stopping, answers: &[Answer]) -> f64 {
        fn perms(v: &mut Vec<usize>, k: usize, out: &mut Vec<Vec<usize>>) {
            if k == v.len() {
                out.push(v.clone());
                return;
            }
            for i in k..v.len() {
                v.swap(k, i);
                perms(v, k + 1, out);
                v.swap(k, i);
            }
        }
        let mut all = Vec::new();
        perms(&mut (0..answers.len()).collect(), 0, &mut all);
        let total: usize = all
            .iter()
            .map(|p| {
                (1..=answers.len())
                    .find(|&t| {
                        s.decision(&q(), &p[..t].iter().map(|&i| answers[i].clone()).collect::<Vec<_>>()).is_some()
                    })
                    .unwrap()
            })
            .sum();
        total as f64 / all.len() as f64
    }

    #[test]
    fn four_of_five_stops_when_decided() {
        let s = Stopping { k: 4, n: 5, full_fraction: 0.0, seed: 0 };
        use Answer::{Maybe, No, Yes};
        assert_eq!(s.decision(&q(), &[No, Maybe]), Some(false), "two answers that are not yes");
        assert_eq!(s.decision(&q(), &[Yes, Yes, Yes, Yes]), Some(true));
        assert_eq!(s.decision(&q(), &[Yes, Yes, Yes, No]), None);
        for votes in [
            vec![Yes, Yes, Yes, Yes, Yes],
            vec![Yes, Yes, Yes, Yes, No],
            vec![Yes, Yes, Yes, No, No],
            vec![No, No, No, No, No],
            vec![Yes, Maybe, Yes, Yes, No],
        ] {
            let r = replay(&s, &q(), &votes).unwrap();
            assert!((r.expected_answers - by_orders(&s, &votes)).abs() < 1e-12, "{votes:?}");
            assert!(r.same_verdict);
        }
        // All no: decided after 2 in every order.
        assert_eq!(replay(&s, &q(), &[No, No, No, No, No]).unwrap().expected_answers, 2.0);
        assert_eq!(replay(&s, &q(), &[Yes, Yes, Yes, Yes, Yes]).unwrap().expected_answers, 4.0);
    }

    #[test]
    fn full_fraction_draws_about_its_share() {
        let s = Stopping { k: 4, n: 5, full_fraction: 0.1, seed: 3 };
        let full = (0..10_000).filter(|i| s.is_full(&format!("relevance-top1/f{i}.JPEG/{}", i % 1000))).count();
        assert!((900..1100).contains(&full), "{full} of 10,000");
        assert!(Stopping { full_fraction: 1.0, ..s }.is_full("x"));
        assert!(!Stopping { full_fraction: 0.0, ..s }.is_full("x"));
    }
}
