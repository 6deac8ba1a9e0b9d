//! Issue #6: ReaL's raw votes imported for MobileNetV2's val-1300 mistakes give the rectified
//! errors that numpy computes from the same npz (`scripts/fixtures/study.py`), and a few images
//! are checked vote by vote.

use std::collections::HashMap;

use rectify_study::aggregate::Rule;
use rectify_study::designs::{import_relevance, EvalImage};
use rectify_study::import::real_raters;
use rectify_study::results::{results, Aggregation};
use rectify_study::{Answer, Design};

/// torchvision's predictions (`reference/mobilenet_v2_top5_val1300.csv`) as eval images.
fn reference_images() -> Option<Vec<EvalImage>> {
    let csv =
        std::fs::read_to_string(rectify_testkit::shared_file("reference/mobilenet_v2_top5_val1300.csv")?).unwrap();
    Some(
        csv.lines()
            .skip(1)
            .enumerate()
            .map(|(i, line)| {
                let f: Vec<&str> = line.split(',').collect();
                EvalImage {
                    image_id: i as i64,
                    file: f[0].to_string(),
                    path: f[0].to_string(),
                    label: Some(f[1].parse().unwrap()),
                    top5: f[2].split(' ').map(|c| c.parse().unwrap()).collect(),
                    real: None,
                }
            })
            .collect(),
    )
}

#[test]
fn rectified_errors_equal_numpys() {
    let Some(images) = reference_images() else { return };
    let Some(fx) = rectify_testkit::fixtures("study") else { return };
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx.join("real_val1300.json")).expect("study fixture")).unwrap();
    let votes = real_raters(&rectify_testkit::shared_file("data/labels/real_raters.npz").unwrap()).unwrap();
    assert_eq!(votes.len() as u64, expected["votes"].as_u64().unwrap(), "every vote of every rater");
    let raters: std::collections::HashSet<&str> = votes.iter().map(|v| v.rater.as_str()).collect();
    assert_eq!(raters.len() as u64, expected["raters"].as_u64().unwrap());

    let (items, item_votes) = import_relevance(&images, &votes, "real-raters");
    let agg = Aggregation { rule: Rule::KOfN { k: 4, n: 5 }, ..Default::default() };
    let res = serde_json::to_value(results(&images, &items, &item_votes, &agg)).unwrap();
    for (design, key, err) in [("relevance-top1", "top1", "top1_error"), ("relevance-top5", "top5", "top5_error")] {
        let got = &res["designs"][design];
        let want = &expected[key];
        let rect = format!("rectified_{err}");
        println!(
            "{design}: error {} -> rectified {} (rated {}, unrated {}), kappa {}",
            got[err], got[&rect], got["rated"], got["unrated"], got["fleiss_kappa"]
        );
        assert_eq!(got["n"], want["n"]);
        assert_eq!(got["errors"], want["errors"], "{design}");
        assert_eq!(got["rectified"], want["rescued"], "{design}");
        assert_eq!(got["rated"], want["rated"], "{design}");
        assert_eq!(got["unrated"], want["unrated"], "{design}");
        assert_eq!(got["histogram"], want["histogram"], "{design}");
        let close =
            |a: &serde_json::Value, b: &serde_json::Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-12;
        assert!(close(&got[err], &want["error"]));
        assert!(close(&got[&rect], &want["rectified_error"]));
        // Fleiss' kappa of the no / maybe / yes votes, as numpy computes it from the npz.
        let kappa = got["fleiss_kappa"].as_f64().unwrap();
        assert!((kappa - want["fleiss_kappa"].as_f64().unwrap()).abs() < 1e-12, "{design}: kappa {kappa}");
        // The 95 % bootstrap interval (2,000 resamples, seeded) against numpy's own bootstrap with
        // 20,000 resamples of another generator. They can only agree up to Monte Carlo error: the
        // 2.5 % and 97.5 % quantiles of 2,000 resamples have a standard error of about 0.06
        // points here (sqrt(q(1-q)/B) / density), and both are on the grid of 1/1300 = 0.077
        // points; measured (2026-12-07), both ends of both intervals (top-1 and top-5) are equal to
        // numpy's, on that grid. The bound is 0.3 points.
        let ci: Vec<f64> = got["ci"][&rect].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let np: Vec<f64> = want["ci_rectified"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        println!("{design}: 95 % CI {ci:?}, numpy {np:?}");
        assert!(ci.iter().zip(&np).all(|(a, b)| (a - b).abs() <= 0.003), "{design}: CI {ci:?} vs numpy {np:?}");
    }

    // A few images by hand: the votes attached to the top-1 item are the npz's for (file, pred).
    let by_item: HashMap<&str, Vec<&Answer>> = item_votes.iter().fold(HashMap::new(), |mut m, v| {
        m.entry(v.item.as_str()).or_default().push(&v.answer);
        m
    });
    let examples = expected["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 8, "eight images checked vote by vote");
    for ex in examples {
        let key = format!("relevance-top1/{}/{}", ex["file"].as_str().unwrap(), ex["pred"]);
        let item = items.iter().find(|i| i.key == key).expect("an item per top-1 miss");
        assert_eq!(item.design, Design::RelevanceTop1);
        let got = by_item.get(key.as_str()).cloned().unwrap_or_default();
        let count = |a: &Answer| got.iter().filter(|x| **x == a).count() as u64;
        let want: Vec<u64> = ex["yes_maybe_no"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(vec![count(&Answer::Yes), count(&Answer::Maybe), count(&Answer::No)], want, "{key}");
    }
}

#[test]
fn cleanlab_votes_agree_with_the_val1300_csv() {
    let Some(json) = rectify_testkit::shared_file("data/labels/cleanlab_imagenet_mturk.json") else { return };
    let votes = rectify_study::import::cleanlab_mturk(&json).unwrap();
    let pairs = rectify_study::import::by_pair(&votes);
    let csv = std::fs::read_to_string(rectify_testkit::shared_file("data/imagenet-val-1300.csv").unwrap()).unwrap();
    let (mut checked, mut in_study) = (0, 0);
    for line in csv.lines().skip(1) {
        // file,label,wnid,name,real_labels,cleanlab_mturk_given,cleanlab_mturk_guessed,cleanlab_guessed_label,…
        let f: Vec<&str> = line.split(',').collect();
        in_study += usize::from(!f[5].is_empty());
        let (Ok(given), Ok(guessed), Ok(guess)) = (f[5].parse::<usize>(), f[6].parse::<usize>(), f[7].parse::<i64>())
        else {
            continue;
        };
        let label: i64 = f[1].parse().unwrap();
        let yes = |l: i64| pairs.get(&(f[0], l)).map_or(0, |v| v.iter().filter(|p| p.answer == Answer::Yes).count());
        // The CSV counts workers who chose the given label alone and the guess alone; a "both"
        // worker says yes to each, so both labels get the same surplus over the CSV.
        if guess != label {
            let both = yes(label) - given;
            assert_eq!(yes(guess), guessed + both, "{}: guessed label", f[0]);
        } else {
            assert!(yes(label) >= given);
        }
        assert_eq!(pairs[&(f[0], label)].len(), 5, "5 workers");
        checked += 1;
    }
    println!("cleanlab: {} votes, {checked} of the {in_study} val-1300 images in its study checked", votes.len());
    assert!(in_study > 0);
    assert_eq!(checked, in_study, "every val-1300 image of cleanlab's study agrees with the CSV");
}

/// Issue #30: stopping never changes a verdict. ReaL's votes on val-1300, each item's votes
/// shuffled (seeded) and cut where the 4-of-5 rule has decided — what a study that stops would
/// have collected — aggregate under stopping to the same rectified errors (top-1 and top-5), the
/// same rated / unrated counts and the same per-question outcomes as all the votes; the
/// histogram and κ come from the items drawn to get all 5 answers, whose votes are kept whole.
#[test]
fn stopped_votes_give_the_verdicts_of_all_votes() {
    use rectify_study::stopping::Stopping;
    let images = reference_images().expect("../shared: torchvision's val-1300 predictions");
    let votes = real_raters(&rectify_testkit::shared_file("data/labels/real_raters.npz").unwrap()).unwrap();
    let (items, all) = import_relevance(&images, &votes, "real-raters");
    let stopping = Stopping { k: 4, n: 5, full_fraction: 0.1, seed: 5 };
    let mut by_item: HashMap<&str, Vec<&rectify_study::Vote>> = HashMap::new();
    for v in &all {
        by_item.entry(v.item.as_str()).or_default().push(v);
    }
    let mut rng = rectify_data::rng::SplitMix64::new(9, 0);
    let mut kept = Vec::new();
    for item in &items {
        let Some(vs) = by_item.get(item.key.as_str()) else { continue };
        let mut vs: Vec<&rectify_study::Vote> = vs.clone();
        for i in (1..vs.len()).rev() {
            vs.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let cut = if stopping.is_full(&item.key) {
            vs.len()
        } else {
            let answers: Vec<Answer> = vs.iter().map(|v| v.answer.clone()).collect();
            (1..=vs.len()).find(|&t| stopping.decision(&item.question, &answers[..t]).is_some()).unwrap_or(vs.len())
        };
        kept.extend(vs[..cut].iter().map(|v| (*v).clone()));
    }
    assert!(kept.len() * 10 < all.len() * 7, "stopping keeps {} of {} votes", kept.len(), all.len());
    let whole = results(&images, &items, &all, &Aggregation::default());
    let stopped = results(&images, &items, &kept, &Aggregation { stopping: Some(stopping), ..Default::default() });
    let (w, s) = (serde_json::to_value(&whole).unwrap(), serde_json::to_value(&stopped).unwrap());
    for (design, rect) in [("relevance-top1", "rectified_top1_error"), ("relevance-top5", "rectified_top5_error")] {
        let (w, s) = (&w["designs"][design], &s["designs"][design]);
        for k in ["rectified", "rated", "unrated", "errors", rect] {
            assert_eq!(w[k], s[k], "{design}: {k}");
        }
        let st = &s["stopping"];
        println!(
            "{design}: {} votes kept of {} asked of everyone; {} decided early, figures from {} full items",
            st["answers"], st["answers_without_stopping"], st["decided_early"], st["full_items"]
        );
        assert!(st["full_items"].as_u64().unwrap() > 0 && st["decided_early"].as_u64().unwrap() > 0);
        let h: u64 = s["histogram"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum();
        assert!(h > 0 && h <= st["full_items"].as_u64().unwrap() * 5, "the histogram is the full subset's: {h}");
    }
    let outcomes = |r: &serde_json::Value| -> Vec<(String, String)> {
        let qs = r["designs"]["relevance-top1"]["questions"].as_array().unwrap().clone();
        qs.iter().map(|q| (q["file"].to_string(), q["outcome"].to_string())).collect()
    };
    assert_eq!(outcomes(&w), outcomes(&s), "every question's outcome (rectified, error, unrated)");
}

/// Issue #30 §2: rating a sample. From ReaL's votes on val-1300, 1,000 seeded samples of 100 of
/// the 219 rated top-1 mistakes: the 95 % finite-population-corrected interval contains the
/// rectified error of all of them in 93–97 % of the samples. And `results` on a study of a
/// sample reports that estimate as its rectified error.
#[test]
fn sample_intervals_cover_the_all_items_rectified_error() {
    use rectify_study::sampling::{draw, estimate, Sampling};
    let images = reference_images().expect("../shared: torchvision's val-1300 predictions");
    let votes = real_raters(&rectify_testkit::shared_file("data/labels/real_raters.npz").unwrap()).unwrap();
    let (items, all) = import_relevance(&images, &votes, "real-raters");
    let full = results(&images, &items, &all, &Aggregation { bootstrap: 0, ..Default::default() });
    let full = serde_json::to_value(&full).unwrap();
    let d = &full["designs"]["relevance-top1"];
    let (n, errors) = (d["n"].as_u64().unwrap() as usize, d["errors"].as_u64().unwrap() as usize);
    let truth = d["rectified_top1_error"].as_f64().unwrap();
    let verdicts: Vec<bool> = d["questions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["outcome"] == "rectified" || q["outcome"] == "error")
        .map(|q| q["outcome"] == "rectified")
        .collect();
    assert_eq!(verdicts.len(), 219, "the rated mistakes");
    let (mut covered, mut widths) = (0, 0.0);
    for seed in 0..1000 {
        let sample: Vec<bool> = draw(verdicts.len(), 100, seed).into_iter().map(|i| verdicts[i]).collect();
        let e = estimate(n, errors, verdicts.len(), 100, &sample).unwrap();
        covered += usize::from(e.ci[0] <= truth && truth <= e.ci[1]);
        widths += e.half_width;
    }
    println!(
        "coverage of the 95 % interval: {covered} of 1,000 samples of 100 of 219 (mean half-width {:.2} points; all-items {:.2} %)",
        widths / 10.0,
        truth * 100.0
    );
    assert!((930..=970).contains(&covered), "{covered} of 1,000");

    // A study of a sample through `results`: its rectified error is the estimate.
    let top1: Vec<&rectify_study::Item> = items.iter().filter(|i| i.design == Design::RelevanceTop1).collect();
    let picked: std::collections::HashSet<usize> = draw(top1.len(), 80, 3).into_iter().collect();
    let sampled: Vec<rectify_study::Item> =
        top1.iter().enumerate().filter(|(i, _)| picked.contains(i)).map(|(_, it)| (*it).clone()).collect();
    let sampling = Sampling { population: top1.len(), sample: 80, seed: 3 };
    let agg = Aggregation { bootstrap: 0, sampling: Some(sampling), ..Default::default() };
    let got = serde_json::to_value(results(&images, &sampled, &all, &agg)).unwrap();
    let g = &got["designs"]["relevance-top1"];
    let rated: Vec<bool> = g["questions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["outcome"] == "rectified" || q["outcome"] == "error")
        .map(|q| q["outcome"] == "rectified")
        .collect();
    let want = estimate(n, errors, top1.len(), 80, &rated).unwrap();
    assert_eq!(g["estimate"]["rated"].as_u64().unwrap() as usize, rated.len());
    assert_eq!(g["rectified_top1_error"].as_f64().unwrap(), want.rectified_error);
    assert_eq!(g["ci"]["rectified_top1_error"][0].as_f64().unwrap(), want.ci[0]);
    assert_eq!(g["not_asked"].as_u64().unwrap() as usize, errors - 80, "the mistakes outside the sample");
}
