//! From votes to decisions: the k-of-n rule of Stock & Cisse (a prediction counts as correct
//! when at least 4 of 5 people call its class relevant), the majority, and Dawid & Skene's EM
//! (1979), which weighs raters by their estimated reliability; plus Fleiss' κ and bootstrap
//! intervals.

use std::collections::{BTreeMap, HashMap};

use rectify_data::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::model::Answer;

/// How votes on one yes/no question become a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Rule {
    /// Relevant when at least `k` of the first `n` answers say yes; fewer than `n`: unrated.
    KOfN {
        /// Yes answers needed.
        k: usize,
        /// Answers needed.
        n: usize,
    },
    /// Relevant when more than half of the answers say yes (at least `n` answers).
    Majority {
        /// Answers needed.
        n: usize,
    },
    /// Dawid–Skene posterior above ½ (at least `n` answers).
    DawidSkene {
        /// Answers needed.
        n: usize,
    },
}

impl Default for Rule {
    fn default() -> Self {
        Rule::KOfN { k: 4, n: 5 }
    }
}

impl Rule {
    /// Parses `k-of-n:4/5`, `majority[:5]` or `dawid-skene[:5]`; `n` defaults to `answers`.
    pub fn parse(s: &str, answers: usize) -> Result<Rule, crate::StudyError> {
        Ok(s.parse::<RuleSpec>()?.resolve(answers))
    }

    /// Answers a question needs before it is decided.
    pub fn needs(self) -> usize {
        match self {
            Rule::KOfN { n, .. } | Rule::Majority { n } | Rule::DawidSkene { n } => n.max(1),
        }
    }
}

/// `--rule`: a [`Rule`] as written, `k-of-n:K/N`, `majority[:N]` or `dawid-skene[:N]`, parsed once;
/// an `N` left out is the study's answers per item, filled in by [`RuleSpec::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSpec {
    /// `k-of-n:K/N`.
    KOfN {
        /// Yes answers needed.
        k: usize,
        /// Answers needed.
        n: usize,
    },
    /// `majority[:N]`.
    Majority(Option<usize>),
    /// `dawid-skene[:N]`.
    DawidSkene(Option<usize>),
}

impl std::str::FromStr for RuleSpec {
    type Err = crate::StudyError;

    fn from_str(s: &str) -> Result<RuleSpec, crate::StudyError> {
        let bad = |why: String| crate::StudyError::Rule { rule: s.to_string(), why };
        let (name, arg) = s.split_once(':').map_or((s, None), |(a, b)| (a, Some(b)));
        let n = |arg: Option<&str>| -> Result<Option<usize>, crate::StudyError> {
            arg.map(|a| a.parse().map_err(|_| bad(format!("{a:?} is not a count")))).transpose()
        };
        Ok(match name {
            "k-of-n" => {
                let (k, n) = arg
                    .and_then(|a| a.split_once('/'))
                    .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
                    .ok_or_else(|| bad("write k-of-n:K/N, e.g. k-of-n:4/5".into()))?;
                if k == 0 || k > n {
                    return Err(bad("need 1 ≤ K ≤ N".into()));
                }
                RuleSpec::KOfN { k, n }
            }
            "majority" => RuleSpec::Majority(n(arg)?),
            "dawid-skene" => RuleSpec::DawidSkene(n(arg)?),
            _ => return Err(bad("unknown rule (k-of-n:K/N, majority, dawid-skene)".into())),
        })
    }
}

impl std::fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSpec::KOfN { k, n } => write!(f, "k-of-n:{k}/{n}"),
            RuleSpec::Majority(None) => write!(f, "majority"),
            RuleSpec::Majority(Some(n)) => write!(f, "majority:{n}"),
            RuleSpec::DawidSkene(None) => write!(f, "dawid-skene"),
            RuleSpec::DawidSkene(Some(n)) => write!(f, "dawid-skene:{n}"),
        }
    }
}

impl RuleSpec {
    /// The rule, with `answers` for an `N` left out.
    pub fn resolve(self, answers: usize) -> Rule {
        match self {
            RuleSpec::KOfN { k, n } => Rule::KOfN { k, n },
            RuleSpec::Majority(n) => Rule::Majority { n: n.unwrap_or(answers) },
            RuleSpec::DawidSkene(n) => Rule::DawidSkene { n: n.unwrap_or(answers) },
        }
    }
}

/// The decision on one question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Decided yes.
    pub yes: bool,
    /// Yes answers among those counted.
    pub yes_votes: usize,
    /// Answers counted.
    pub votes: usize,
    /// Dawid–Skene's posterior of yes (other rules: the fraction of yes).
    pub posterior: f64,
}

/// Decides every question with at least `rule.needs()` answers; the others are left out
/// (unrated). `answers[q]` = (rater, answer) in the order they were cast.
pub fn decide<K: Clone + Eq + std::hash::Hash + Ord>(
    rule: Rule,
    answers: &HashMap<K, Vec<(String, Answer)>>,
) -> BTreeMap<K, Decision> {
    let need = rule.needs();
    let rated: BTreeMap<K, &Vec<(String, Answer)>> =
        answers.iter().filter(|(_, v)| v.len() >= need).map(|(k, v)| (k.clone(), v)).collect();
    let posterior = match rule {
        Rule::DawidSkene { .. } => Some(dawid_skene(&rated)),
        _ => None,
    };
    rated
        .into_iter()
        .map(|(key, votes)| {
            let counted: &[(String, Answer)] = match rule {
                Rule::KOfN { n, .. } => &votes[..n],
                _ => votes,
            };
            let yes_votes = counted.iter().filter(|(_, a)| *a == Answer::Yes).count();
            let frac = yes_votes as f64 / counted.len() as f64;
            let (yes, post) = match rule {
                Rule::KOfN { k, .. } => (yes_votes >= k, frac),
                Rule::Majority { .. } => (2 * yes_votes > counted.len(), frac),
                Rule::DawidSkene { .. } => {
                    let p = posterior.as_ref().expect("computed")[&key];
                    (p > 0.5, p)
                }
            };
            (key, Decision { yes, yes_votes, votes: counted.len(), posterior: post })
        })
        .collect()
}

fn category(a: &Answer) -> usize {
    match a {
        Answer::Yes => 0,
        Answer::Maybe => 1,
        _ => 2,
    }
}

/// Dawid & Skene's EM for binary truths and yes / maybe / no answers: per rater a 2×3
/// confusion matrix, initialised from the fraction of yes, 100 iterations at most.
fn dawid_skene<K: Clone + Eq + std::hash::Hash + Ord>(
    questions: &BTreeMap<K, &Vec<(String, Answer)>>,
) -> HashMap<K, f64> {
    let mut raters: HashMap<&str, usize> = HashMap::new();
    for votes in questions.values() {
        for (r, _) in votes.iter() {
            let next = raters.len();
            raters.entry(r.as_str()).or_insert(next);
        }
    }
    let keys: Vec<&K> = questions.keys().collect();
    let obs: Vec<Vec<(usize, usize)>> =
        questions.values().map(|v| v.iter().map(|(r, a)| (raters[r.as_str()], category(a))).collect()).collect();
    // T[i] = P(truth = yes).
    let mut t: Vec<f64> =
        obs.iter().map(|o| o.iter().filter(|(_, c)| *c == 0).count() as f64 / o.len().max(1) as f64).collect();
    let smooth = 0.01;
    for _ in 0..100 {
        let prior = (t.iter().sum::<f64>() / t.len().max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
        let mut conf = vec![[[smooth; 3]; 2]; raters.len()];
        for (i, o) in obs.iter().enumerate() {
            for &(r, c) in o {
                conf[r][0][c] += t[i];
                conf[r][1][c] += 1.0 - t[i];
            }
        }
        for m in &mut conf {
            for row in m.iter_mut() {
                let s: f64 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= s);
            }
        }
        let mut change: f64 = 0.0;
        for (i, o) in obs.iter().enumerate() {
            let (mut ly, mut ln) = (prior.ln(), (1.0 - prior).ln());
            for &(r, c) in o {
                ly += conf[r][0][c].ln();
                ln += conf[r][1][c].ln();
            }
            let p = 1.0 / (1.0 + (ln - ly).exp());
            change = change.max((p - t[i]).abs());
            t[i] = p;
        }
        if change < 1e-9 {
            break;
        }
    }
    keys.into_iter().cloned().zip(t).collect()
}

/// Fleiss' κ: `counts[q][c]` = raters who put question q in category c. Questions may have
/// different numbers of answers (Fleiss 1971, generalised: each question's agreement over its
/// own n_q(n_q − 1) pairs, the category shares over all answers); questions with fewer than 2
/// answers are left out. `None` with fewer than 2 such questions, or no disagreement possible.
/// The one Fleiss' κ of rectify: results.json's and the study dashboard's. The value does not
/// depend on the order of the questions, to the bit.
pub fn fleiss_kappa(counts: &[Vec<usize>]) -> Option<f64> {
    let counts: Vec<&Vec<usize>> = counts.iter().filter(|c| c.iter().sum::<usize>() >= 2).collect();
    if counts.len() < 2 {
        return None;
    }
    let cats = counts.iter().map(|c| c.len()).max().unwrap_or(0);
    let total = counts.iter().map(|c| c.iter().sum::<usize>()).sum::<usize>() as f64;
    let p_j: Vec<f64> = (0..cats)
        .map(|j| counts.iter().map(|c| c.get(j).copied().unwrap_or(0)).sum::<usize>() as f64 / total)
        .collect();
    // P̄ = mean over questions of (Σ_c x² − n) / (n (n − 1)): summed exactly in integers per
    // number of answers n, then over the distinct n in order, so that the result does not
    // depend on the order of the questions (callers iterate hash maps).
    let mut by_n: BTreeMap<usize, usize> = BTreeMap::new();
    for c in &counts {
        let n = c.iter().sum::<usize>();
        *by_n.entry(n).or_default() += c.iter().map(|&x| x * x).sum::<usize>() - n;
    }
    let p_bar = by_n.iter().map(|(&n, &agree)| agree as f64 / (n * (n - 1)) as f64).sum::<f64>() / counts.len() as f64;
    let p_e: f64 = p_j.iter().map(|p| p * p).sum();
    if (1.0 - p_e).abs() < 1e-12 {
        return None;
    }
    Some((p_bar - p_e) / (1.0 - p_e))
}

/// [`fleiss_kappa`] of answers of any comparable kind, one list per question (categories are
/// the distinct answers).
pub fn fleiss_kappa_of<A: PartialEq>(questions: &[Vec<A>]) -> Option<f64> {
    let mut categories: Vec<&A> = Vec::new();
    let counts: Vec<Vec<usize>> = questions
        .iter()
        .map(|answers| {
            let mut c: Vec<usize> = Vec::new();
            for a in answers {
                let j = categories.iter().position(|x| *x == a).unwrap_or_else(|| {
                    categories.push(a);
                    categories.len() - 1
                });
                if c.len() <= j {
                    c.resize(j + 1, 0);
                }
                c[j] += 1;
            }
            c
        })
        .collect();
    fleiss_kappa(&counts)
}

/// Fleiss' κ of yes / maybe / no answers, over questions with at least `n` answers (the first
/// `n` counted).
pub fn kappa_of<K>(answers: &HashMap<K, Vec<(String, Answer)>>, n: usize) -> Option<f64> {
    let counts: Vec<Vec<usize>> = answers
        .values()
        .filter(|v| v.len() >= n)
        .map(|v| {
            let mut c = vec![0; 3];
            v[..n].iter().for_each(|(_, a)| c[category(a)] += 1);
            c
        })
        .collect();
    fleiss_kappa(&counts)
}

/// Cohen's κ of two raters over the questions both answered: `pairs` = (first rater's category,
/// second's), categories `0..cats`. `None` when undefined (no pair, or chance agreement 1).
pub fn cohen_kappa(pairs: &[(usize, usize)], cats: usize) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let (mut a, mut b) = (vec![0usize; cats], vec![0usize; cats]);
    let mut same = 0usize;
    for &(x, y) in pairs {
        a[x] += 1;
        b[y] += 1;
        same += usize::from(x == y);
    }
    let p_o = same as f64 / n;
    let p_e: f64 = a.iter().zip(&b).map(|(&x, &y)| (x as f64 / n) * (y as f64 / n)).sum();
    if (1.0 - p_e).abs() < 1e-12 {
        return None;
    }
    Some((p_o - p_e) / (1.0 - p_e))
}

/// How each rater agrees with the others (yes / maybe / no answers, every answer counted):
/// * per rater, the share of their answers equal to the majority of the *other* raters on the
///   same question — questions with at least 2 other answers and a single most frequent one;
/// * per pair of raters with at least `min_overlap` questions in common, Cohen's κ.
///
/// `{"raters": {id: {"questions", "agreement_with_majority"}}, "median_agreement",
/// "pairs": [{"a", "b", "overlap", "cohen_kappa"}] (ids in order), "min_overlap",
/// "median_pair_kappa"}`.
pub fn rater_agreement<K: Eq + std::hash::Hash>(
    answers: &HashMap<K, Vec<(String, Answer)>>,
    min_overlap: usize,
) -> RaterAgreement {
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_rater: BTreeMap<&str, HashMap<usize, usize>> = BTreeMap::new();
    for (q, list) in answers.values().enumerate() {
        let mut counts = [0usize; 3];
        list.iter().for_each(|(_, a)| counts[category(a)] += 1);
        for (rater, a) in list {
            let c = category(a);
            by_rater.entry(rater.as_str()).or_default().insert(q, c);
            let mut others = counts;
            others[c] -= 1;
            let max = *others.iter().max().unwrap_or(&0);
            if others.iter().sum::<usize>() < 2 || others.iter().filter(|&&x| x == max).count() != 1 {
                continue;
            }
            let e = per.entry(rater.as_str()).or_default();
            e.0 += usize::from(others[c] == max);
            e.1 += 1;
        }
    }
    let mut rates: Vec<f64> = Vec::new();
    let raters: BTreeMap<String, RaterScore> = per
        .iter()
        .map(|(r, &(ok, n))| {
            let x = ok as f64 / n as f64;
            rates.push(x);
            (r.to_string(), RaterScore { questions: n, agreement_with_majority: x })
        })
        .collect();
    let ids: Vec<&&str> = by_rater.keys().collect();
    let mut pairs = Vec::new();
    let mut kappas = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let (qa, qb) = (&by_rater[**a], &by_rater[**b]);
            let common: Vec<(usize, usize)> = qa.iter().filter_map(|(q, &x)| Some((x, *qb.get(q)?))).collect();
            if common.len() < min_overlap.max(1) {
                continue;
            }
            let k = cohen_kappa(&common, 3);
            kappas.extend(k);
            pairs.push(PairKappa { a: a.to_string(), b: b.to_string(), overlap: common.len(), cohen_kappa: k });
        }
    }
    RaterAgreement {
        median_agreement: median(&mut rates),
        median_pair_kappa: median(&mut kappas),
        raters,
        min_overlap,
        pairs,
    }
}

/// [`rater_agreement`]'s result (`rater_agreement` in `results.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaterAgreement {
    /// Per rater.
    pub raters: BTreeMap<String, RaterScore>,
    /// The median over raters of their agreement with the majority.
    pub median_agreement: Option<f64>,
    /// Questions a pair shares before its κ is reported.
    pub min_overlap: usize,
    /// Pairs of raters with enough questions in common (ids in order).
    pub pairs: Vec<PairKappa>,
    /// The median over pairs of Cohen's κ.
    pub median_pair_kappa: Option<f64>,
}

/// One rater's agreement with the majority of the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaterScore {
    /// Questions counted (at least 2 other answers, a single most frequent one).
    pub questions: usize,
    /// The share of those where the rater answered as that majority.
    pub agreement_with_majority: f64,
}

/// Cohen's κ of one pair of raters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairKappa {
    /// The first rater.
    pub a: String,
    /// The second rater.
    pub b: String,
    /// Questions both answered.
    pub overlap: usize,
    /// κ (`None` when undefined: every answer the same).
    pub cohen_kappa: Option<f64>,
}

/// The median (the mean of the middle two for an even count); sorts `xs`. `None` when empty.
pub fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    Some(if xs.len() % 2 == 1 { xs[m] } else { (xs[m - 1] + xs[m]) / 2.0 })
}

/// 95 % percentile bootstrap intervals of the means of several 0/1 columns over the same rows
/// (rows resampled together), `b` resamples from `seed`. No row, or no resample: no interval (NaN).
pub fn bootstrap_means(rows: &[Vec<bool>], b: usize, seed: u64) -> Vec<[f64; 2]> {
    let cols = rows.first().map_or(0, Vec::len);
    if rows.is_empty() || b == 0 {
        return vec![[f64::NAN, f64::NAN]; cols];
    }
    let mut rng = SplitMix64::new(seed, 0);
    let mut means: Vec<Vec<f64>> = vec![Vec::with_capacity(b); cols];
    for _ in 0..b {
        let mut sums = vec![0usize; cols];
        for _ in 0..rows.len() {
            let r = &rows[rng.below(rows.len() as u64) as usize];
            for (s, &v) in sums.iter_mut().zip(r) {
                *s += usize::from(v);
            }
        }
        for (m, s) in means.iter_mut().zip(sums) {
            m.push(s as f64 / rows.len() as f64);
        }
    }
    means
        .into_iter()
        .map(|mut m| {
            m.sort_by(f64::total_cmp);
            let at = |q: f64| m[((q * (m.len() - 1) as f64).round() as usize).min(m.len() - 1)];
            [at(0.025), at(0.975)]
        })
        .collect()
}

#[cfg(test)]
mod tests {

    /// Fleiss (1971)-style check by hand: 2 items × 3 raters, answers (a,a,a) and (a,b,b).
    /// P1 = 1, P2 = (0 + 2)/6 = 1/3, P̄ = 2/3; p_a = 4/6, p_b = 2/6, Pe = 16/36 + 4/36 = 5/9;
    /// κ = (2/3 − 5/9) / (4/9) = 1/4. With a varying number of answers, (a,a,a) and (a,b):
    /// P1 = 1, P2 = 0, P̄ = 1/2; p_a = 4/5, p_b = 1/5, Pe = 17/25; κ = (1/2 − 17/25)/(8/25) = −9/16.
    #[test]
    fn fleiss_by_hand() {
        let k = fleiss_kappa_of(&[vec!["a", "a", "a"], vec!["a", "b", "b"]]).unwrap();
        assert!((k - 0.25).abs() < 1e-12, "{k}");
        let k = fleiss_kappa_of(&[vec!["a", "a", "a"], vec!["a", "b"]]).unwrap();
        assert!((k + 9.0 / 16.0).abs() < 1e-12, "{k}");
        assert_eq!(fleiss_kappa_of(&[vec!["a", "a"]]), None, "one question");
        assert_eq!(fleiss_kappa_of::<&str>(&[vec!["a"], vec!["b"]]), None, "no question with 2 answers");
    }

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    /// Cohen's κ on the example of Wikipedia's "Cohen's kappa" article: 50 proposals, both
    /// readers yes on 20, both no on 15, A yes / B no on 5, A no / B yes on 10: p_o = 0.7,
    /// p_e = 0.5, κ = 0.4.
    #[test]
    fn cohen_kappa_of_the_textbook_example() {
        let mut pairs = vec![(0, 0); 20];
        pairs.extend(vec![(2, 2); 15]);
        pairs.extend(vec![(0, 2); 5]);
        pairs.extend(vec![(2, 0); 10]);
        assert!((cohen_kappa(&pairs, 3).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(cohen_kappa(&[(0, 0), (0, 0)], 3), None, "both constant: undefined");
    }

    /// Agreement with the others' majority: three raters, one of whom always dissents.
    #[test]
    fn agreement_with_the_majority_of_the_others() {
        let q =
            |a: Answer, b: Answer, c: Answer| vec![("a".to_string(), a), ("b".to_string(), b), ("c".to_string(), c)];
        let mut answers = HashMap::new();
        for i in 0..10 {
            answers.insert(i, q(Answer::Yes, Answer::Yes, Answer::No));
        }
        let v = rater_agreement(&answers, 10);
        // a's others are (yes, no): a tie, never judged; likewise b; c's others say yes twice.
        assert_eq!(v.raters["c"], RaterScore { questions: 10, agreement_with_majority: 0.0 });
        assert!(!v.raters.contains_key("a"));
        assert_eq!(v.pairs.len(), 3);
        assert_eq!(v.pairs[0].cohen_kappa, None, "a and b always say yes: κ undefined");
    }
    use super::*;

    fn votes(spec: &str) -> Vec<(String, Answer)> {
        spec.chars()
            .enumerate()
            .map(|(i, c)| {
                let a = match c {
                    'y' => Answer::Yes,
                    'm' => Answer::Maybe,
                    _ => Answer::No,
                };
                (format!("r{i}"), a)
            })
            .collect()
    }

    #[test]
    fn k_of_n_by_hand() {
        let answers: HashMap<&str, _> = [
            ("a", votes("yyyyn")),  // 4 of 5: relevant
            ("b", votes("yyymn")),  // 3 of 5 (maybe is not yes): not
            ("c", votes("yyyy")),   // 4 answers: unrated
            ("d", votes("nyyyyy")), // first 5 count: 4 yes
        ]
        .into_iter()
        .collect();
        let d = decide(Rule::KOfN { k: 4, n: 5 }, &answers);
        assert_eq!(d.keys().copied().collect::<Vec<_>>(), vec!["a", "b", "d"]);
        assert!(d["a"].yes && !d["b"].yes && d["d"].yes);
        assert_eq!((d["b"].yes_votes, d["b"].votes), (3, 5));
        let m = decide(Rule::Majority { n: 5 }, &answers);
        assert!(m["b"].yes, "3 of 5 is a majority");
    }

    #[test]
    fn rules_parse() {
        assert_eq!(Rule::parse("k-of-n:4/5", 5).unwrap(), Rule::KOfN { k: 4, n: 5 });
        assert_eq!(Rule::parse("majority", 3).unwrap(), Rule::Majority { n: 3 });
        assert_eq!(Rule::parse("dawid-skene:5", 3).unwrap(), Rule::DawidSkene { n: 5 });
        assert!(Rule::parse("k-of-n:6/5", 5).is_err());
        assert!(Rule::parse("vote", 5).is_err());
        assert_eq!(
            Rule::parse("majority:x", 5).unwrap_err().to_string(),
            "--rule \"majority:x\": \"x\" is not a count"
        );
        for written in ["k-of-n:4/5", "majority", "majority:3", "dawid-skene", "dawid-skene:7"] {
            assert_eq!(written.parse::<RuleSpec>().unwrap().to_string(), written);
        }
    }

    #[test]
    fn fleiss_kappa_matches_the_wikipedia_example() {
        // Fleiss (1971) example from Wikipedia: 10 subjects, 14 raters, 5 categories; κ = 0.210.
        let table = [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ];
        let counts: Vec<Vec<usize>> = table.iter().map(|r| r.to_vec()).collect();
        let k = fleiss_kappa(&counts).unwrap();
        assert!((k - 0.20993).abs() < 1e-4, "{k}");
    }

    #[test]
    fn dawid_skene_discounts_a_contrarian() {
        // Raters r0–r3 agree with the truth; r4 always says the opposite; r5 is honest.
        let truth = [true, false, true, true, false, false, true, false];
        let answers: HashMap<usize, Vec<(String, Answer)>> = truth
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let v = (0..6)
                    .map(|r| {
                        let says = if r == 4 { !t } else { t };
                        (format!("r{r}"), if says { Answer::Yes } else { Answer::No })
                    })
                    .collect();
                (i, v)
            })
            .collect();
        let d = decide(Rule::DawidSkene { n: 5 }, &answers);
        for (i, &t) in truth.iter().enumerate() {
            assert_eq!(d[&i].yes, t, "question {i}");
            assert!(if t { d[&i].posterior > 0.99 } else { d[&i].posterior < 0.01 });
        }
    }

    #[test]
    fn bootstrap_brackets_the_mean() {
        let rows: Vec<Vec<bool>> = (0..200).map(|i| vec![i % 4 == 0, true]).collect();
        let ci = bootstrap_means(&rows, 1000, 1);
        assert!(ci[0][0] < 0.25 && 0.25 < ci[0][1], "{:?}", ci[0]);
        assert!(ci[0][1] - ci[0][0] < 0.15);
        assert_eq!(ci[1], [1.0, 1.0]);
        assert_eq!(bootstrap_means(&rows, 1000, 1), ci, "same seed, same interval");
    }
}
