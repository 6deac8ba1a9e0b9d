//! Properties of the aggregation on random hand-made studies (issue #6).

use proptest::prelude::*;
use rectify_study::aggregate::{decide, Rule};
use rectify_study::designs::{relevance_top1, shared_items, EvalImage};
use rectify_study::results::{for_run, results, sharing, Aggregation, ResultsFile};
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
        let typed = results(&images, &items, &votes, &Aggregation { bootstrap: 50, ..Default::default() });
        let r = serde_json::to_value(&typed).unwrap();
        // results.json's codec is lossless: read back and written again, the same JSON.
        let back: ResultsFile = serde_json::from_value(r.clone()).unwrap();
        prop_assert_eq!(&serde_json::to_value(&back).unwrap(), &r);
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

    /// Issue #13 §4: a study shared by two models' runs (same files, their own image ids and
    /// predictions) gives each model exactly what a study of its own with the same votes on
    /// the same (image, class) questions gives it, and asks each distinct question once.
    #[test]
    fn a_shared_study_gives_each_model_its_own_results(
        preds in prop::collection::vec((0i64..4, 0i64..4, 0i64..4), 1..30),
        votes in prop::collection::vec((0usize..60, 0u8..3, 0u8..6), 0..300),
    ) {
        let run = |model: usize, offset: i64| -> Vec<EvalImage> {
            preds
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let pred = if model == 0 { p.1 } else { p.2 };
                    EvalImage {
                        image_id: offset + i as i64,
                        file: format!("d/{i}.jpg"),
                        path: format!("d/{i}.jpg"),
                        label: Some(p.0),
                        top5: vec![pred, (pred + 1) % 4, (pred + 2) % 4, (pred + 3) % 4, 9],
                        real: None,
                    }
                })
                .collect()
        };
        let (a, b) = (run(0, 0), run(1, 1000));
        let own = [relevance_top1(&a), relevance_top1(&b)];
        let shared = shared_items(&a, vec![own[0].clone(), own[1].clone()]);
        let keys: std::collections::BTreeSet<&str> =
            own.iter().flatten().map(|i| i.key.as_str()).collect();
        prop_assert_eq!(shared.len(), keys.len(), "each distinct question once");
        let all: Vec<&str> = keys.into_iter().collect();
        let votes: Vec<Vote> = if all.is_empty() {
            Vec::new()
        } else {
            votes
                .iter()
                .map(|&(q, a, r)| Vote {
                    item: all[q % all.len()].to_string(),
                    rater: format!("r{r}"),
                    answer: answer(a),
                    seconds: None,
                    source: "test".into(),
                })
                .collect()
        };
        // One vote per rater and item, as the store keeps them.
        let mut seen = std::collections::HashSet::new();
        let votes: Vec<Vote> = votes.into_iter().filter(|v| seen.insert((v.item.clone(), v.rater.clone()))).collect();
        let agg = Aggregation { bootstrap: 50, ..Default::default() };
        for (model, images) in [&a, &b].into_iter().enumerate() {
            let alone = serde_json::to_value(results(images, &own[model], &votes, &agg)).unwrap();
            let together =
                serde_json::to_value(results(images, &for_run(images, &shared, model == 0), &votes, &agg)).unwrap();
            let (x, y) = (&alone["designs"]["relevance-top1"], &together["designs"]["relevance-top1"]);
            prop_assert_eq!(x, y, "model {}", model);
        }
        let s = sharing(&[("a".into(), &a[..]), ("b".into(), &b[..])], 5);
        prop_assert_eq!(s.questions_shared, shared.len());
        prop_assert_eq!(s.questions_separate, own[0].len() + own[1].len());
    }
}
