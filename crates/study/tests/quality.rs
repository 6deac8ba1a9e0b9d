//! Quality-control items (issue #13 §3) on hand-made runs: attention checks and gold items of
//! the assignment design, and how results.json scores raters on them.

use rectify_study::designs::{attention_checks, gold_assignment, relevance_top1, EvalImage, ATTENTION_INSTRUCTION};
use rectify_study::results::{results, Aggregation};
use rectify_study::{Answer, AssignOption, ClassRef, Design, ImageRef, Item, Question, Vote};

fn images() -> Vec<EvalImage> {
    (0..8)
        .map(|i| EvalImage {
            image_id: i,
            file: format!("{i}.jpg"),
            path: format!("/d/{i}.jpg"),
            label: Some(i % 4),
            // Images 0–3 are right, 4–7 wrong.
            top5: if i < 4 { vec![i % 4, 9, 10, 11, 12] } else { vec![(i + 1) % 4, 9, 10, 11, 12] },
            real: None,
        })
        .collect()
}

fn vote(item: &str, rater: &str, answer: Answer) -> Vote {
    Vote { item: item.into(), rater: rater.into(), answer, seconds: None, source: "test".into() }
}

#[test]
fn attention_checks_ask_to_answer_no_about_a_plainly_right_class() {
    let imgs = images();
    let checks = attention_checks(&imgs, Design::RelevanceTop1, 2);
    assert_eq!(checks.len(), 2);
    for c in &checks {
        let Question::Relevance { class, .. } = &c.question else { panic!("a yes / no question") };
        let img = imgs.iter().find(|i| Some(i.image_id) == c.image_id).unwrap();
        assert_eq!(Some(class.class), img.label, "the true class of the image");
        assert_eq!(img.top5[0], class.class, "which the model got right");
        assert_eq!(class.gloss, ATTENTION_INSTRUCTION);
        assert_eq!(c.gold, Some(Answer::No));
        assert_eq!(c.variant.as_deref(), Some("attention"));
    }
    assert!(attention_checks(&imgs, Design::RelevanceTop1, 10).len() == 4, "only the correctly classified");
    // A rater who answers yes to everything fails both; a careful one passes; neither check
    // is data.
    let mut items = relevance_top1(&imgs);
    let data = items.len();
    items.extend(checks.clone());
    let mut votes = Vec::new();
    for c in &checks {
        votes.push(vote(&c.key, "careless", Answer::Yes));
        votes.push(vote(&c.key, "careful", Answer::No));
    }
    for i in &items[..data] {
        votes.push(vote(&i.key, "careless", Answer::Yes));
    }
    let r = serde_json::to_value(results(&imgs, &items, &votes, &Aggregation { bootstrap: 10, ..Default::default() }))
        .unwrap();
    let g = &r["designs"]["gold"];
    assert_eq!(g["attention_checks"], 2);
    assert_eq!(g["raters"]["careless"]["attention_passed"], 0);
    assert_eq!(g["raters"]["careless"]["attention_checks"], 2);
    assert_eq!(g["raters"]["careful"]["attention_passed"], 2);
    assert_eq!(r["designs"]["relevance-top1"]["items"], data as u64);
}

#[test]
fn assignment_gold_items_show_the_target_among_the_right_class_examples() {
    let option = |c: i64| AssignOption {
        class: ClassRef { class: c, name: format!("c{c}"), gloss: String::new() },
        images: (0..6).map(|k| ImageRef { path: format!("/d/{c}-{k}.jpg") }).collect(),
    };
    let items: Vec<Item> = (0..3)
        .map(|k| Item {
            key: format!("assignment/mmd/6p/{k}"),
            design: Design::Assignment,
            variant: Some("mmd/6p".into()),
            arm: None,
            image_id: Some(100 + k),
            question: Question::Assignment {
                target: ImageRef { path: format!("/d/target-{k}.jpg") },
                options: (0..6).map(option).collect(),
            },
            gold: None,
            truth: Some(Answer::Option(k as usize * 2)),
        })
        .collect();
    let gold = gold_assignment(&items, 5);
    assert_eq!(gold.len(), 5, "cycling through the 3 items");
    let keys: std::collections::HashSet<&str> = gold.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys.len(), 5, "distinct keys");
    for g in &gold {
        let (Question::Assignment { target, options }, Some(Answer::Option(right))) = (&g.question, &g.gold) else {
            panic!("an assignment gold item")
        };
        assert!(options[*right].images.contains(target), "the easy target is an example of the right class");
        assert_eq!(g.variant.as_deref(), Some("gold"));
    }
    // Gold assignment items are not counted in Table 3.
    let mut all = items.clone();
    all.extend(gold.clone());
    let votes: Vec<Vote> = gold.iter().map(|g| vote(&g.key, "r", Answer::Option(0))).collect();
    let r =
        serde_json::to_value(results(&[], &all, &votes, &Aggregation { bootstrap: 10, ..Default::default() })).unwrap();
    assert_eq!(r["designs"]["assignment"]["answers"], 0);
    assert!(r["designs"]["gold"]["raters"]["r"]["gold_answers"].as_u64().unwrap() == 5);
}
