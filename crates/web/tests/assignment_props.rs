//! Property test (issue #6): random interleavings of raters asking for items and answering
//! never give a rater the same item twice, never exceed N answers per item, never mix arms,
//! and once everyone is done every arm-free item has exactly N answers.

mod common;

use common::{arm_items, relevance_items, STUDY};
use proptest::prelude::*;
use rectify_study::Answer;
use rectify_web::StudyDb;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy)]
enum Op {
    Next(usize),
    Answer(usize),
}

fn op(raters: usize) -> impl Strategy<Value = Op> {
    prop_oneof![(0..raters).prop_map(Op::Next), (0..raters).prop_map(Op::Answer)]
}

struct Raters {
    db: StudyDb,
    ids: Vec<String>,
    held: Vec<Option<String>>,
    answered: Vec<HashSet<String>>,
    arm: Vec<Option<String>>,
}

impl Raters {
    /// Rater `r` asks for an item (`next`) or answers the one they hold (asking first if they
    /// hold none); false when no item was left for them.
    async fn step(&mut self, r: usize, next: bool) -> Result<bool, TestCaseError> {
        if next || self.held[r].is_none() {
            let Some(got) = self.db.next_item(STUDY, &self.ids[r]).await.unwrap() else {
                prop_assert!(self.held[r].is_none(), "an open lease vanished");
                return Ok(false);
            };
            let key = got.item.key.clone();
            if let Some(h) = &self.held[r] {
                prop_assert_eq!(h, &key, "a rater holding a lease got another item");
            }
            prop_assert!(!self.answered[r].contains(&key), "rater {} got {} twice", r, key);
            if let Some(a) = &got.item.arm {
                prop_assert!(self.arm[r].get_or_insert_with(|| a.clone()) == a, "rater {} got both arms", r);
            }
            self.held[r] = Some(key);
        }
        if !next {
            let key = self.held[r].take().unwrap();
            let done = self.db.answer(STUDY, &self.ids[r], &key, &Answer::Yes, Some("p")).await.unwrap();
            prop_assert!(done.recorded);
            self.answered[r].insert(key);
        }
        Ok(true)
    }
}

async fn run(n: usize, plain: usize, armed: usize, raters: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut items = relevance_items(dir.path(), plain);
    items.extend(arm_items(dir.path(), armed));
    let db = StudyDb::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    db.put_study(STUDY, n, &items).await.unwrap();
    let mut sim = Raters {
        db: db.clone(),
        ids: (0..raters).map(|r| format!("rater{r}")).collect(),
        held: vec![None; raters],
        answered: vec![HashSet::new(); raters],
        arm: vec![None; raters],
    };
    for o in ops {
        match o {
            Op::Next(r) => sim.step(r, true).await?,
            Op::Answer(r) => sim.step(r, false).await?,
        };
    }
    // Everyone finishes: answer until no item is left for anybody.
    for r in 0..raters {
        while sim.step(r, false).await? {}
    }
    let mut per_item: HashMap<String, usize> = HashMap::new();
    for v in db.votes(STUDY).await.unwrap() {
        *per_item.entry(v.item).or_default() += 1;
    }
    for item in &items {
        let got = per_item.get(&item.key).copied().unwrap_or(0);
        prop_assert!(got <= n, "{} has {} > N = {} answers", item.key, got, n);
        if item.arm.is_none() {
            prop_assert_eq!(got, n.min(raters), "{} did not fill up", &item.key);
        }
    }
    db.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]
    #[test]
    fn assignment_never_repeats_and_stops_at_n(
        n in 1usize..4,
        plain in 0usize..6,
        armed in 0usize..5,
        raters in 1usize..5,
        ops in proptest::collection::vec(op(4), 0..40),
    ) {
        let ops: Vec<Op> = ops.into_iter().map(|o| match o {
            Op::Next(r) => Op::Next(r % raters),
            Op::Answer(r) => Op::Answer(r % raters),
        }).collect();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(n, plain, armed, raters, ops))?;
    }
}
