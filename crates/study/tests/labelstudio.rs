//! Issue #30 §5: Label Studio. Tasks rectify exports come back, annotated, as votes on their
//! items; a lab's own project's export (hand-made here in Label Studio's documented task format:
//! ids, timestamps, `completed_by` as a number or a user object, cancelled annotations, a
//! comment-only annotation) comes back as relevance votes on (image file, class).

use rectify_study::labelstudio::{read_export, tasks, Imported, LABEL_CONFIG};
use rectify_study::{Answer, ClassRef, Design, ImageRef, Item, Question};
use serde_json::json;

fn class(c: i64) -> ClassRef {
    ClassRef { class: c, name: format!("class {c}"), gloss: String::new() }
}

fn items() -> Vec<Item> {
    let one = |i: i64| Item {
        key: format!("relevance-top1/f{i}.JPEG/{i}"),
        design: Design::RelevanceTop1,
        variant: None,
        arm: None,
        image_id: Some(i),
        question: Question::Relevance { image: ImageRef { path: format!("img/f{i}.JPEG") }, class: class(i) },
        gold: None,
        truth: None,
    };
    let top5 = Item {
        key: "relevance-top5/f9.JPEG/3".into(),
        design: Design::RelevanceTop5,
        variant: Some("top1-misclassified".into()),
        arm: None,
        image_id: Some(9),
        question: Question::MultiRelevance {
            image: ImageRef { path: "img/f9.JPEG".into() },
            classes: vec![class(3), class(7)],
        },
        gold: None,
        truth: None,
    };
    vec![one(1), one(2), top5]
}

fn write(dir: &tempfile::TempDir, value: &serde_json::Value) -> std::path::PathBuf {
    let path = dir.path().join("export.json");
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

#[test]
fn exported_tasks_come_back_as_votes_on_their_items() {
    let items = items();
    let mut exported = tasks(&items, |p| format!("http://localhost:8080/data/local-files/?d={p}")).unwrap();
    assert!(LABEL_CONFIG.contains("$image") && LABEL_CONFIG.contains("$classes") && LABEL_CONFIG.contains("Yes"));
    let list = exported.as_array_mut().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["data"]["item"], "relevance-top1/f1.JPEG/1");
    assert_eq!(list[0]["data"]["image"], "http://localhost:8080/data/local-files/?d=img/f1.JPEG");
    assert_eq!(list[2]["data"]["classes"][1]["value"], "7 class 7");
    // Label Studio adds ids and the annotators' results; two annotators each, one cancelled.
    for (i, task) in list.iter_mut().enumerate() {
        let choice = |from: &str, picked: Vec<&str>| json!([{"id": "r1", "from_name": from, "to_name": "image", "type": "choices", "value": {"choices": picked}}]);
        let results = if i == 2 {
            vec![choice("classes", vec!["7 class 7"]), choice("classes", vec!["3 class 3", "7 class 7"])]
        } else {
            vec![choice("answer", vec!["Yes"]), choice("answer", vec!["No"])]
        };
        task["id"] = json!(100 + i);
        task["annotations"] = json!([
            {"id": 1, "completed_by": 11, "result": results[0], "was_cancelled": false, "lead_time": 4.5},
            {"id": 2, "completed_by": {"id": 12, "email": "b@lab.example"}, "result": results[1], "was_cancelled": false},
            {"id": 3, "completed_by": 13, "result": results[1], "was_cancelled": true},
        ]);
    }
    let dir = tempfile::tempdir().unwrap();
    let Imported::Items(votes) = read_export(&write(&dir, &exported)).unwrap() else { panic!("votes on items") };
    assert_eq!(votes.len(), 6, "two annotations per task, the cancelled one left out");
    assert_eq!((votes[0].item.as_str(), votes[0].rater.as_str()), ("relevance-top1/f1.JPEG/1", "label-studio/11"));
    assert_eq!((votes[0].answer.clone(), votes[0].seconds), (Answer::Yes, Some(4.5)));
    assert_eq!((votes[1].rater.as_str(), votes[1].answer.clone()), ("label-studio/12", Answer::No));
    assert_eq!(votes[5].answer, Answer::Classes(vec![3, 7]));
    assert!(votes.iter().all(|v| v.source == "label-studio"));
}

#[test]
fn a_labs_own_export_becomes_relevance_votes() {
    // Label Studio's documented task format, as a lab's own project exports it.
    let export = json!([
        {
            "id": 1, "created_at": "2021-03-09T21:52:49.513742Z", "updated_at": "2021-03-09T22:16:08.746926Z",
            "project": 83,
            "data": {"image": "/data/upload/83/ILSVRC2012_val_00000001.JPEG", "class": 65},
            "annotations": [
                {"id": "1001", "completed_by": 10, "was_cancelled": false, "ground_truth": false, "lead_time": 4.288,
                 "result_count": 0, "task": 1,
                 "result": [{"from_name": "relevant", "id": "Dx_aB91ISN", "to_name": "img", "type": "choices",
                             "value": {"choices": ["yes"]}}]},
                {"id": "1002", "completed_by": {"id": 11, "email": "a@lab.example"}, "was_cancelled": false,
                 "result": [{"from_name": "relevant", "id": "x", "to_name": "img", "type": "choices",
                             "value": {"choices": ["Maybe"]}}]},
                {"id": "1003", "completed_by": 12, "was_cancelled": false,
                 "result": [{"from_name": "note", "id": "y", "to_name": "img", "type": "textarea", "value": {"text": ["?"]}}]}
            ],
            "predictions": []
        },
        {
            "id": 2, "data": {"image": "s3://bucket/ILSVRC2012_val_00000002.JPEG?x=1", "class": "795"},
            "annotations": [{"completed_by": 10, "result": [{"type": "choices", "from_name": "relevant",
                             "value": {"choices": ["No"]}}]}]
        }
    ]);
    let dir = tempfile::tempdir().unwrap();
    let Imported::Pairs(votes) = read_export(&write(&dir, &export)).unwrap() else { panic!("pair votes") };
    let got: Vec<(&str, i64, &str, Answer)> =
        votes.iter().map(|v| (v.file.as_str(), v.label, v.rater.as_str(), v.answer.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("ILSVRC2012_val_00000001.JPEG", 65, "label-studio/10", Answer::Yes),
            ("ILSVRC2012_val_00000001.JPEG", 65, "label-studio/11", Answer::Maybe),
            ("ILSVRC2012_val_00000002.JPEG", 795, "label-studio/10", Answer::No),
        ],
        "the comment-only annotation is not a vote"
    );
}

#[test]
fn bad_exports_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (export, says) in [
        (json!({"not": "an array"}), "an array of tasks"),
        (json!([{"id": 5, "data": {"image": "a.JPEG"}}]), "data.class"),
        (json!([{"id": 6, "data": {"text": "x"}}]), "neither `item`"),
        (
            json!([{"id": 7, "data": {"image": "a.JPEG", "class": 1}, "annotations": [{"completed_by": 1,
                "result": [{"type": "choices", "value": {"choices": ["Yes", "No"]}}]}]}]),
            "2 choices",
        ),
        (
            json!([{"id": 8, "data": {"image": "a.JPEG", "class": 1}, "annotations": [{"completed_by": 1,
                "result": [{"type": "choices", "value": {"choices": ["Perhaps"]}}]}]}]),
            "expected Yes, No or Maybe",
        ),
        (json!([{"id": 9, "data": {"image": "a.JPEG", "class": 1}, "annotations": [{"result": []}]}]), "completed_by"),
    ] {
        let e = read_export(&write(&dir, &export)).unwrap_err().to_string();
        assert!(e.contains(says), "{e} (wanted {says:?})");
    }
    let assignment = Item {
        question: Question::Assignment { target: ImageRef { path: "t.png".into() }, options: vec![] },
        design: Design::Assignment,
        ..items()[0].clone()
    };
    assert!(tasks(&[assignment], |p| p.to_string()).unwrap_err().contains("assignment"));
}
