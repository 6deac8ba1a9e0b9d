//! Studies shared by several models' runs: which questions concern a run, and what sharing saved.

use std::collections::HashMap;

use crate::designs::EvalImage;
use crate::model::{Design, Item, Question};

use super::relevance::wanted;
use super::schema::{SharedRun, Sharing};

/// The questions of a shared study that concern the run of `images`: its relevance items,
/// each pointed at this run's image of the same file (see [`crate::designs::relevance_file`]),
/// kept when one of their (image, class) pairs is one the run asks about — its top-1 mistakes
/// with the predicted class (`relevance-top1`), or with its top 5 (`relevance-top5`). Gold items
/// are kept; items of the other designs are kept for the study's own run (`host`) only, as they
/// were made from its attack, explain and criticize runs.
pub fn for_run(images: &[EvalImage], items: &[Item], host: bool) -> Vec<Item> {
    let by_file: HashMap<&str, &EvalImage> = images.iter().map(|i| (i.file.as_str(), i)).collect();
    items
        .iter()
        .filter_map(|item| {
            if item.gold.is_some() {
                return Some(item.clone());
            }
            if !matches!(item.design, Design::RelevanceTop1 | Design::RelevanceTop5) {
                return host.then(|| item.clone());
            }
            let img = by_file.get(crate::designs::relevance_file(item)?)?;
            let classes: Vec<i64> = match &item.question {
                Question::Relevance { class, .. } => vec![class.class],
                Question::MultiRelevance { classes, .. } => classes.iter().map(|c| c.class).collect(),
                _ => return None,
            };
            let top5 = item.design == Design::RelevanceTop5;
            classes.iter().any(|&c| wanted(img, c, top5)).then(|| Item { image_id: Some(img.image_id), ..item.clone() })
        })
        .collect()
}

/// What sharing one `relevance-top1` study between the runs of several models saves: each run
/// alone would ask one question per top-1 mistake (image, predicted class); the shared study
/// asks each distinct (image file, class) once. `runs` are (name, evaluated images), the
/// study's own run first.
pub fn sharing(runs: &[(String, &[EvalImage])], answers_per_item: usize) -> Sharing {
    let mut distinct = std::collections::HashSet::new();
    let mut separate = 0usize;
    let mut per = Vec::new();
    for (name, images) in runs {
        let mine: Vec<(&str, i64)> =
            images.iter().filter(|i| i.top1_wrong()).map(|i| (i.file.as_str(), i.top5[0])).collect();
        separate += mine.len();
        per.push(SharedRun { run: name.clone(), questions: mine.len() });
        distinct.extend(mine);
    }
    let shared = distinct.len();
    Sharing {
        design: "relevance-top1".into(),
        runs: per,
        questions_shared: shared,
        questions_separate: separate,
        answers_saved: (separate - shared) * answers_per_item,
        saving: if separate == 0 { 0.0 } else { 1.0 - shared as f64 / separate as f64 },
    }
}
