//! Hand-made run directories (no model needed) and the checks every report must pass.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use rectify_report::bias::Attributes;
use rectify_report::BiasFile;
use rectify_study::designs::{class_ref, relevance_top1, EvalImage};
use rectify_study::results::{results, Aggregation};
use rectify_study::{Answer, Design, ImageRef, Item, Question, Vote};
use serde_json::{json, Value};

/// A 2×2 RGB PNG (red, blue), made with Python's zlib and struct.
pub const PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0, 253, 212, 154,
    115, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 248, 207, 0, 4, 255, 25, 32, 20, 0, 27, 242, 3, 253, 214, 150, 242,
    43, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

pub fn put(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

pub fn write_json(path: &Path, v: &Value) {
    put(path, serde_json::to_string_pretty(v).unwrap().as_bytes());
}

pub fn provenance(command: &str) -> Value {
    json!({
        "model": {"arch": "resnet101", "weights": "bundled:resnet101.safetensors", "weights_sha256": "ab12cd34"},
        "preprocessing": "Resize(256), CenterCrop(224) <exact>",
        "params": {}, "seed": null, "device": "cpu", "version": "0.1.0", "command": command,
    })
}

/// `summary.json` of an eval of 4 labelled images (3 top-1 right … made up), with ReaL numbers.
pub fn eval_summary(dir: &Path, top1: f64) {
    write_json(
        &dir.join("summary.json"),
        &json!({
            "n": 4, "evaluated": 4, "failed": 0, "labeled": 4, "unlabeled": 0, "unlabeled_files": [],
            "top1": top1, "top5": 0.75, "real_n": 3, "real_top1": 2.0 / 3.0, "real_top5": 1.0, "errors": [],
            "skipped_non_images": 0, "skipped": [],
            "provenance": provenance(&format!("rectify eval --images imgs --out {}", dir.display())),
        }),
    );
}

fn vote(item: &str, rater: usize, answer: Answer) -> Vote {
    Vote { item: item.into(), rater: format!("r{rater}"), answer, seconds: Some(30.0), source: "test".into() }
}

fn yes_no(item: &str, yes: usize, no: usize) -> Vec<Vote> {
    (0..yes).map(|r| vote(item, r, Answer::Yes)).chain((yes..yes + no).map(|r| vote(item, r, Answer::No))).collect()
}

fn item(id: i64, key: &str, design: Design, variant: &str, arm: Option<&str>, truth: Option<Answer>) -> Item {
    Item {
        key: key.into(),
        design,
        variant: Some(variant.into()),
        arm: arm.map(str::to_string),
        image_id: Some(id),
        question: Question::Relevance { image: ImageRef { path: format!("{key}.png") }, class: class_ref(5) },
        gold: None,
        truth,
    }
}

/// `study/results.json` made by the study crate from hand-made votes:
/// * relevance-top1: images 1 and 2 of 4 misclassified; 5/5 raters call image 1's predicted
///   class relevant, 2/5 image 2's → top-1 error 50 %, rectified 25 %, histogram [0,0,1,0,0,1];
/// * adversarial (attack `ifgsm`): arm whole 1 of 2 rated relevant (a third item has 3 answers:
///   unrated), arm explanation 1 of 2;
/// * assignment `mmd-class/6p`: rater r0 2 of 2 right, r1 1 of 2 → 75 % ± 35.36 %.
pub fn study_results(dir: &Path) {
    let img = |id: i64, label: i64, top5: [i64; 5]| EvalImage {
        image_id: id,
        file: format!("img{id}.JPEG"),
        path: format!("imgs/img{id}.JPEG"),
        label: Some(label),
        top5: top5.to_vec(),
        real: None,
    };
    let images = [
        img(0, 1, [1, 2, 3, 4, 5]),
        img(1, 2, [3, 2, 4, 5, 6]),
        img(2, 4, [5, 6, 7, 8, 9]),
        img(3, 10, [10, 1, 2, 3, 4]),
    ];
    let mut items = relevance_top1(&images);
    assert_eq!(items.len(), 2);
    let mut votes = yes_no(&items[0].key, 5, 0);
    votes.extend(yes_no(&items[1].key, 2, 3));
    for (id, (key, arm, yes, no)) in [
        ("a", "whole", 4, 1),
        ("b", "whole", 0, 5),
        ("c", "whole", 1, 2),
        ("d", "explanation", 5, 0),
        ("e", "explanation", 1, 4),
    ]
    .into_iter()
    .enumerate()
    {
        items.push(item(id as i64, key, Design::Adversarial, "ifgsm", Some(arm), None));
        votes.extend(yes_no(key, yes, no));
    }
    for (id, key) in [(10, "as1"), (11, "as2")] {
        items.push(item(id, key, Design::Assignment, "mmd-class/6p", None, Some(Answer::Option(0))));
        votes.push(vote(key, 0, Answer::Option(0)));
    }
    votes.push(vote("as1", 1, Answer::Option(0)));
    votes.push(vote("as2", 1, Answer::Option(3)));
    let r = results(&images, &items, &votes, &Aggregation { bootstrap: 200, ..Aggregation::default() });
    write_json(&dir.join("study/results.json"), &serde_json::to_value(r).unwrap());
}

/// A full run: eval, an attack, an explanation (overlay PNG missing on purpose), a selection of
/// 14 groups with picks plus one without, study results and a bias table.
pub fn full_run(dir: &Path) {
    eval_summary(dir, 0.5);
    std::fs::write(
        dir.join("predictions.csv"),
        "file,label,top5,top5_probs\n\
         a.JPEG,1,1 2 3 4 5,0.900000 0.05 0.02 0.02 0.01\n\
         \"b,1.JPEG\",7,2 7 3 4 5,0.600000 0.3 0.05 0.03 0.02\n\
         c.JPEG,3,3 2 1 4 5,0.450000 0.3 0.2 0.03 0.02\n\
         d.JPEG,9,8 2 1 4 5,0.930000 0.03 0.02 0.01 0.01\n\
         unlabelled.JPEG,,8 2 1 4 5,0.500000 0.3 0.1 0.05 0.05\n",
    )
    .unwrap();
    write_json(
        &dir.join("attack/ifgsm-linf-0.001x10/summary.json"),
        &json!({"n": 4, "accuracy_per_step": [0.5, 0.25, null, 0.0], "flipped": 4,
                "steps_to_flip_histogram": [2, 2], "quantized_accuracy": 0.25,
                "provenance": provenance("rectify attack --run RUN --steps 3")}),
    );
    let e = dir.join("explain/lime-quickshift");
    write_json(
        &e.join("summary.json"),
        &json!({"n": 2, "path_beats_random": 0.5, "auc_path_mean": 0.61, "auc_random_mean": 0.4, "mean_r2": 0.3,
                "mean_segments": 3.0, "seconds": 1.5,
                "throughput": {"images": 2, "seconds_per_image": [0.7, 0.8], "seconds_per_image_median": 0.8},
                "provenance": provenance("rectify explain --run RUN --limit 2")}),
    );
    for (file, name) in [("img1.JPEG", "canoe & paddle"), ("img2.JPEG", "grocery <store>")] {
        write_json(
            &e.join(format!("{file}.json")),
            &json!({"file": file, "true_label": 2, "label": 3, "label_name": name, "probability": 0.9578,
                    "segments": 3, "weights": [0.5, -0.1, 0.2], "ranked": [0, 2, 1], "intercept": 0.1, "r2": 0.4,
                    "local_pred": 0.9, "path": [0.1, 0.5, 0.9, 0.95], "random_path": [0.1, 0.2, null, 0.95],
                    "auc_path": 0.7, "auc_random": 0.31, "seed": 0, "params": {}}),
        );
        put(&e.join(format!("{file}.attention.png")), &PNG);
    }
    put(&e.join("img1.JPEG.overlay.png"), &PNG);
    let mut groups: Vec<Value> = (0..14)
        .map(|g| {
            json!({"group": format!("{g} class/{g}"), "size": 10 + g, "prototypes": [1, 2], "criticisms": [3],
                   "prototype_files": ["a.JPEG", "b.JPEG"], "criticism_files": ["c.JPEG"],
                   "scores": {"prototypes": [0.1, 0.2], "criticisms": [0.3]}, "note": null})
        })
        .collect();
    groups.insert(
        0,
        json!({"group": "empty", "size": 1, "prototypes": [], "criticisms": [], "prototype_files": [],
               "criticism_files": [], "scores": {}, "note": "no eligible row"}),
    );
    let c = dir.join("criticize/mmd-class");
    write_json(
        &c.join("selection.json"),
        &json!({"method": "mmd", "groups": groups, "params": {}, "note": "image ids", "seconds": 0.5,
                "provenance": provenance("rectify criticize --run RUN")}),
    );
    put(&c.join("galleries/0_class_0.png"), &PNG);
    study_results(dir);
    // The basketball pattern of the paper in miniature: 7 of 9 prototypes, 2 of 10 criticisms.
    let files: Vec<String> = (0..30).map(|i| format!("img{i}.jpg")).collect();
    let mut attrs = Attributes::default();
    for (i, f) in files.iter().enumerate() {
        attrs.set(f, "dark skin", i < 7 || (9..11).contains(&i) || (19..25).contains(&i));
    }
    let picks: BTreeMap<String, (Vec<String>, Vec<String>)> =
        [("mmd-class".to_string(), (files[..9].to_vec(), files[9..19].to_vec()))].into();
    BiasFile::compute(&attrs, "attributes.csv", "basketball", "dark skin", &files, &picks).write(dir).unwrap();
}

#[allow(unused_imports)] // not every test binary checks a page
pub use rectify_testkit::report::{check_self_contained, check_values};

/// A made-up eval run of `n` labelled images over `classes` ImageNet classes (about 30 % top-1
/// mistakes, many of them between neighbouring classes), with a relevance-top1 study whose
/// questions cover the mistakes (rectified, confirmed, unrated, not asked), and `images` holding
/// the pictures (48 small JPEGs, hard-linked under every file name). `seed` varies the
/// predictions, so two runs over the same images differ.
pub fn synthetic_run(dir: &Path, images: &Path, n: usize, classes: usize, seed: u64) {
    std::fs::create_dir_all(dir.join("study")).unwrap();
    std::fs::write(dir.join("rectify.db"), b"").unwrap();
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    if !images.join("img_00000.JPEG").is_file() {
        std::fs::create_dir_all(images).unwrap();
        let sources: Vec<std::path::PathBuf> = (0..48u32)
            .map(|k| {
                let img = image::RgbImage::from_fn(160, 120, |x, y| {
                    image::Rgb([((x * 3 + k * 17) % 256) as u8, ((y * 2 + k * 29) % 256) as u8, (k * 5) as u8])
                });
                let p = images.join(format!("source_{k}.jpg"));
                img.save(&p).unwrap();
                p
            })
            .collect();
        for i in 0..n {
            std::fs::hard_link(&sources[i % 48], images.join(format!("img_{i:05}.JPEG"))).unwrap();
        }
    }
    let mut csv = String::from("file,label,top5,top5_probs\n");
    let mut questions = Vec::new();
    let (mut errors, mut rescued, mut rated, mut unrated, mut not_asked) = (0, 0, 0, 0, 0);
    for i in 0..n {
        let label = ((i * 7) % classes) as i64;
        let r = next();
        let pred = if r < 0.7 {
            label
        } else if r < 0.85 {
            (label + 1) % classes as i64
        } else {
            ((next() * 999.0) as i64 + label + 1) % 1000
        };
        let mut top5 = vec![pred];
        for k in 1..1000 {
            if top5.len() == 5 {
                break;
            }
            let c = (pred + k * 13) % 1000;
            if !top5.contains(&c) {
                top5.push(c);
            }
        }
        let file = format!("img_{i:05}.JPEG");
        let p = 0.2 + 0.8 * next();
        csv.push_str(&format!(
            "{file},{label},{},{p:.6} 0.01 0.01 0.01 0.01\n",
            top5.iter().map(i64::to_string).collect::<Vec<_>>().join(" ")
        ));
        if pred != label {
            errors += 1;
            let o = next();
            let (outcome, yes, votes) = if o < 0.3 {
                rescued += 1;
                ("rectified", 4 + (next() * 2.0) as u64, 5)
            } else if o < 0.75 {
                rated += 1;
                ("error", (next() * 4.0) as u64, 5)
            } else if o < 0.9 {
                unrated += 1;
                ("unrated", 0, 0)
            } else {
                not_asked += 1;
                ("not-asked", 0, 0)
            };
            questions.push(
                json!({"file": file, "label": label, "class": pred, "yes": yes, "votes": votes, "outcome": outcome}),
            );
        }
    }
    std::fs::write(dir.join("predictions.csv"), csv).unwrap();
    let mut prov = provenance(&format!("rectify eval --images {} --out {}", images.display(), dir.display()));
    prov["params"] = json!({"images": images.display().to_string()});
    write_json(
        &dir.join("summary.json"),
        &json!({
            "n": n, "evaluated": n, "failed": 0, "labeled": n, "unlabeled": 0, "unlabeled_files": [],
            "top1": 1.0 - errors as f64 / n as f64, "top5": 0.9, "real_n": null, "real_top1": null, "real_top5": null,
            "errors": [], "skipped_non_images": 0, "skipped": [], "provenance": prov,
        }),
    );
    let rated_all = rescued + rated;
    let top1 = json!({
        "top1_error": errors as f64 / n as f64, "rectified_top1_error": (errors - rescued) as f64 / n as f64,
        "ci": {"top1_error": [0.0, 1.0], "rectified_top1_error": [0.0, 1.0]},
        "real_top1_accuracy": null, "real_n": 0, "n": n, "errors": errors, "rectified": rescued,
        "asked": rated_all + unrated, "rated": rated_all, "unrated": unrated, "not_asked": not_asked,
        "histogram": [0, 0, 0, 0, 0, 0], "fleiss_kappa": null,
        "rater_agreement": {"raters": {}, "median_agreement": null, "min_overlap": 10, "pairs": [], "median_pair_kappa": null},
        "questions": questions, "items": errors, "items_complete": errors, "items_incomplete": 0,
    });
    write_json(
        &dir.join("study/results.json"),
        &json!({"rule": {"rule": "k-of-n", "k": 4, "n": 5},
                "time_filter": {"min_seconds": null, "max_seconds": null, "votes_dropped": 0},
                "votes": 5 * rated_all, "sources": {"csv": 5 * rated_all}, "designs": {"relevance-top1": top1}}),
    );
}
