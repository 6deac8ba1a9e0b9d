//! The one export of a study's votes, for `rectify study export` and the dashboard's download:
//!
//! * JSONL: one [`Vote`] per line (`{"item", "rater", "answer", "seconds", "source"}`), which
//!   `rectify study import --format jsonl` reads back;
//! * CSV: `item,design,variant,arm,rater,answer,seconds,source`, answers as [`answer_text`]
//!   (`yes`, `no`, `maybe`, `classes:3;7`, `option:2`), fields quoted where needed (RFC 4180).

use std::collections::HashMap;

use crate::model::{Answer, Item, Vote};

/// An answer as one CSV field: `yes`, `no`, `maybe`, `classes:3;7`, `option:2`.
pub fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Yes => "yes".to_string(),
        Answer::No => "no".to_string(),
        Answer::Maybe => "maybe".to_string(),
        Answer::Classes(cs) => {
            format!("classes:{}", cs.iter().map(i64::to_string).collect::<Vec<_>>().join(";"))
        }
        Answer::Option(i) => format!("option:{i}"),
    }
}

/// The votes as JSONL.
pub fn votes_jsonl(votes: &[Vote]) -> String {
    let mut out = String::new();
    for v in votes {
        // A Vote is strings, numbers and enums: serialising it cannot fail.
        out.push_str(&serde_json::to_string(v).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The votes as CSV, with each item's design, variant and arm from `items`.
pub fn votes_csv(items: &[Item], votes: &[Vote]) -> Vec<u8> {
    let items: HashMap<&str, &Item> = items.iter().map(|i| (i.key.as_str(), i)).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |fields: [&str; 8]| {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(fields);
    };
    row(["item", "design", "variant", "arm", "rater", "answer", "seconds", "source"]);
    for v in votes {
        let item = items.get(v.item.as_str());
        row([
            v.item.as_str(),
            item.map_or("", |i| i.design.name()),
            item.and_then(|i| i.variant.as_deref()).unwrap_or(""),
            item.and_then(|i| i.arm.as_deref()).unwrap_or(""),
            v.rater.as_str(),
            &answer_text(&v.answer),
            &v.seconds.map(|s| s.to_string()).unwrap_or_default(),
            v.source.as_str(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}
