//! Properties of the aggregation on random hand-made studies (issue #6).

use proptest::prelude::*;
use rectify_study::aggregate::{decide, Rule};
use rectify_study::designs::{relevance_top1, EvalImage};
use rectify_study::results::{results, Aggregation};
use rectify_study::{Answer, Vote};
use std::collections::HashMap;

fn answer(a: u8) -> Answer {
    match a % 3 {
        0 => Answer::Yes,
        1 => Answer::No,
        _ => Answer::Maybe,
    }
}

proptest! {
    #[test]
    fn k_of_n_counts_the_first_n(votes in prop::collection::vec(0u8..3, 0..9), k in 1usize..6) {
        let answers: HashMap<u8, Vec<(String, Answer)>> =
            [(0u8, votes.iter().enumerate().map(|(i, &a)| (format!("r{i}"), answer(a))).collect())].into();
        let d = decide(Rule::KOfN { k, n: 5 }, &answers);
        if votes.len() < 5 {
            prop_assert!(d.is_empty(), "fewer than 5 answers: unrated");
        } else {
            let yes = votes[..5].iter().filter(|&&a| a % 3 == 0).count();
            prop_assert_eq!(d[&0].yes, yes >= k);
            prop_assert_eq!(d[&0].yes_votes, yes);
        }
    }

    #[test]
    fn rectifying_never_adds_errors(
        preds in prop::collection::vec((0i64..4, 0i64..4), 1..40),
        votes in prop::collection::vec((0usize..40, 0u8..3), 0..200),
    ) {
        let images: Vec<EvalImage> = preds
            .iter()
            .enumerate()
            .map(|(i, &(label, pred))| EvalImage {
                image_id: i as i64,
                file: format!("{i}.jpg"),
                path: format!("{i}.jpg"),
                label: Some(label),
                top5: vec![pred, (pred + 1) % 4, (pred + 2) % 4, (pred + 3) % 4, 9],
                real: None,
            })
            .collect();
        let items = relevance_top1(&images);
        let votes: Vec<Vote> = votes
            .iter()
            .enumerate()
            .filter(|(_, (i, _))| !items.is_empty() && *i < 40)
            .map(|(n, &(i, a))| Vote {
                item: items[i % items.len().max(1)].key.clone(),
                rater: format!("r{n}"),
                answer: answer(a),
                seconds: None,
                source: "test".into(),
            })
            .collect();
        let r = results(&images, &items, &votes, &Aggregation { bootstrap: 50, ..Default::default() });
        if items.is_empty() {
            prop_assert!(r["designs"]["relevance-top1"].is_null());
        } else {
            let d = &r["designs"]["relevance-top1"];
            let (e, rect) = (d["top1_error"].as_f64().unwrap(), d["rectified_top1_error"].as_f64().unwrap());
            prop_assert!(rect <= e);
            prop_assert_eq!(d["errors"].as_u64().unwrap(), items.len() as u64);
            prop_assert_eq!(d["rated"].as_u64().unwrap() + d["unrated"].as_u64().unwrap(), items.len() as u64);
            let decided: u64 = d["histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum();
            prop_assert_eq!(decided, d["rated"].as_u64().unwrap());
            prop_assert_eq!(d["items_complete"].as_u64().unwrap(), decided);
        }
    }
}
