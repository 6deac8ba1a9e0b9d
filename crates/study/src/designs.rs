//! The designs of issue #6, generated from a run's stored results.
//!
//! | design | items | question |
//! |---|---|---|
//! | `relevance-top1` | every top-1-misclassified image | "Is *predicted class* relevant?" |
//! | `relevance-top5` | top-1- or top-5-misclassified images | "Tick every relevant class" (top 5) |
//! | `adversarial` | adversarial images, arms `whole` / `explanation` | "Is *adversarial class* relevant?" |
//! | `assignment` | 6 classes × 6 images + a target, per selector × composition | "Which class?" |
//! | `attribute` | images of a group | "Does this image show *A*?" |
//!
//! Imported votes (ReaL raters, cleanlab) become items of the first two designs whose votes
//! are those cast for the run's predicted classes ([`import_relevance`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rectify_data::imagenet;
use rectify_data::rng::SplitMix64;
use rectify_store::RunStore;

use crate::import::{by_pair, PairVote};
use crate::model::{Answer, AssignOption, ClassRef, Design, ImageRef, Item, Question, Vote};
use crate::StudyError;

/// One evaluated image of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalImage {
    /// Id in the run.
    pub image_id: i64,
    /// Path relative to the images root, as in predictions.csv.
    pub file: String,
    /// Where the server reads it.
    pub path: String,
    /// True label.
    pub label: Option<i64>,
    /// The model's top 5, best first.
    pub top5: Vec<i64>,
    /// ReaL labels, when given.
    pub real: Option<Vec<i64>>,
}

impl EvalImage {
    /// Top-1 wrong (labelled images only).
    pub fn top1_wrong(&self) -> bool {
        self.label.is_some_and(|l| self.top5.first() != Some(&l))
    }

    /// Top-5 wrong (labelled images only).
    pub fn top5_wrong(&self) -> bool {
        self.label.is_some_and(|l| !self.top5.contains(&l))
    }

    /// The file name without folders.
    pub fn base_name(&self) -> &str {
        Path::new(&self.file).file_name().and_then(|n| n.to_str()).unwrap_or(&self.file)
    }
}

/// The evaluated images of the run's eval, in predictions order.
pub fn eval_images(store: &RunStore) -> Result<Vec<EvalImage>, StudyError> {
    let (eval, prov) = store.run("eval", None)?;
    let root = PathBuf::from(prov.params["images"].as_str().unwrap_or("."));
    let images: HashMap<i64, rectify_store::ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    Ok(store
        .predictions(eval, false)?
        .into_iter()
        .filter_map(|p| {
            let img = images.get(&p.image_id)?;
            Some(EvalImage {
                image_id: p.image_id,
                file: img.file.clone(),
                path: root.join(&img.file).to_string_lossy().into_owned(),
                label: img.label,
                top5: p.top5,
                real: img.real_labels.clone(),
            })
        })
        .collect())
}

/// An ImageNet class as raters see it: short name, and the WordNet lemmas as the gloss.
pub fn class_ref(class: i64) -> ClassRef {
    match imagenet::classes().get(class as usize) {
        Some(c) => ClassRef { class, name: c.name.clone(), gloss: c.words.to_string() },
        None => ClassRef { class, name: format!("class {class}"), gloss: String::new() },
    }
}

fn relevance_item(design: Design, variant: Option<&str>, img: &EvalImage, class: i64) -> Item {
    let key = match variant {
        Some(v) => format!("{}/{v}/{}/{class}", design.name(), img.file),
        None => format!("{}/{}/{class}", design.name(), img.file),
    };
    Item {
        key,
        design,
        variant: variant.map(str::to_string),
        arm: None,
        image_id: Some(img.image_id),
        question: Question::Relevance { image: ImageRef { path: img.path.clone() }, class: class_ref(class) },
        gold: None,
        truth: None,
    }
}

/// The image file of a relevance question (`relevance-top1/<file>/<class>`,
/// `relevance-top5/<variant>/<file>[/<class>]`), which ties it to the same image in every run of
/// a study shared by several models; `None` for other designs and for gold items.
pub fn relevance_file(item: &Item) -> Option<&str> {
    if item.gold.is_some() {
        return None;
    }
    let rest = item.key.strip_prefix(item.design.name())?.strip_prefix('/')?;
    let rest = match (&item.variant, item.design) {
        (Some(v), _) => rest.strip_prefix(v.as_str())?.strip_prefix('/')?,
        (None, _) => rest,
    };
    match &item.question {
        Question::Relevance { class, .. } => rest.strip_suffix(&format!("/{}", class.class)),
        Question::MultiRelevance { .. } => Some(rest),
        _ => None,
    }
}

/// The relevance items of one study shared by several models' runs: `per_run[0]` is the host
/// run's (the study's run), the others follow. Questions are deduplicated by key — the same
/// (image, class) asked once, whichever models predicted it — and every item points at the
/// host run's image of that file (`None` when the host did not evaluate it).
pub fn shared_items(host: &[EvalImage], per_run: Vec<Vec<Item>>) -> Vec<Item> {
    let ids: HashMap<&str, i64> = host.iter().map(|i| (i.file.as_str(), i.image_id)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (n, items) in per_run.into_iter().enumerate() {
        for mut item in items {
            if !seen.insert(item.key.clone()) {
                continue;
            }
            if n > 0 {
                item.image_id = relevance_file(&item).and_then(|f| ids.get(f).copied());
            }
            out.push(item);
        }
    }
    out
}

/// The first class of ImageNet-1k's second top-level group: classes 0–397 are animals
/// (WordNet `animal.n.01`, from `n01440764` tench to `n02655020` puffer), 398–999 everything
/// else (artifacts, food, plants, fungi, geological formations, people's activities).
pub const FIRST_NON_ANIMAL: i64 = 398;

/// Gold items for a relevance design: `count` questions with a known answer, from correctly
/// classified images in run order, alternating
/// * **yes** — the image's true class, which the model also predicted;
/// * **no** — a class from the other top-level group (an animal for an object, an object for an
///   animal; see [`FIRST_NON_ANIMAL`]) that is neither among the model's top 5 nor among the
///   image's ReaL labels, so that the "no" is not a multi-object image's second label.
///
/// Keys are `gold/<design>/<file>/<class>`, variant `gold`; they are never counted as data.
pub fn gold_relevance(images: &[EvalImage], design: Design, count: usize) -> Vec<Item> {
    let correct = images.iter().filter(|i| i.label.is_some() && i.top5.first() == i.label.as_ref());
    let mut out = Vec::with_capacity(count);
    for (n, img) in correct.enumerate() {
        if out.len() == count {
            break;
        }
        let label = img.label.unwrap_or(0);
        let (class, answer) = if n % 2 == 0 {
            (label, Answer::Yes)
        } else {
            let (lo, hi) = if label < FIRST_NON_ANIMAL { (FIRST_NON_ANIMAL, 1000) } else { (0, FIRST_NON_ANIMAL) };
            let span = hi - lo;
            let excluded = |c: i64| img.top5.contains(&c) || img.real.as_ref().is_some_and(|r| r.contains(&c));
            let start = (img.image_id.wrapping_mul(7919) + label).rem_euclid(span);
            match (0..span).map(|d| lo + (start + d) % span).find(|&c| !excluded(c)) {
                Some(c) => (c, Answer::No),
                None => continue,
            }
        };
        let mut item = relevance_item(design, Some("gold"), img, class);
        item.key = format!("gold/{}/{}/{class}", design.name(), img.file);
        item.gold = Some(answer);
        out.push(item);
    }
    out
}

/// Attention checks for a yes / no design: `count` instructed-response questions. Each shows a
/// correctly classified image with its true class — a class that plainly fits, so a rater who
/// answers without reading says yes — and the instruction, where the class's gloss usually is,
/// to answer **no** whatever the image shows. Images are taken from the end of the run (gold
/// items take them from the start). Keys `attention/<design>/<file>`, variant `attention`;
/// like gold items they check raters and are never counted as data.
pub fn attention_checks(images: &[EvalImage], design: Design, count: usize) -> Vec<Item> {
    images
        .iter()
        .rev()
        .filter(|i| i.label.is_some() && i.top5.first() == i.label.as_ref())
        .take(count)
        .map(|img| {
            let class = img.label.unwrap_or(0);
            let mut item = relevance_item(design, Some("attention"), img, class);
            item.key = format!("attention/{}/{}", design.name(), img.file);
            if let Question::Relevance { class, .. } = &mut item.question {
                class.gloss = ATTENTION_INSTRUCTION.to_string();
            }
            item.gold = Some(Answer::No);
            item
        })
        .collect()
}

/// What an attention check asks the rater to do.
pub const ATTENTION_INSTRUCTION: &str =
    "Attention check: to show that you read the questions, answer No to this one, whatever the image shows.";

/// Gold items for an `assignment` design: `count` of its items (in order, cycling through
/// them) with an easy target — one of the very images shown as examples of the right class —
/// whose answer is therefore known. Keys `gold/<item key>`, variant `gold`.
pub fn gold_assignment(items: &[Item], count: usize) -> Vec<Item> {
    let candidates: Vec<&Item> = items.iter().filter(|i| i.design == Design::Assignment && i.gold.is_none()).collect();
    let mut out = Vec::new();
    for (n, item) in candidates.iter().cycle().take(count.min(candidates.len() * 6)).enumerate() {
        let (Question::Assignment { options, .. }, Some(Answer::Option(right))) = (&item.question, &item.truth) else {
            continue;
        };
        let examples = &options[*right].images;
        let Some(easy) = examples.get((n / candidates.len().max(1)) % examples.len().max(1)) else { continue };
        let key = format!("gold/{}/{}", item.key, n / candidates.len().max(1));
        out.push(Item {
            key,
            variant: Some("gold".into()),
            question: Question::Assignment { target: easy.clone(), options: options.clone() },
            gold: Some(Answer::Option(*right)),
            truth: Some(Answer::Option(*right)),
            image_id: None,
            ..(*item).clone()
        });
        if out.len() == count {
            break;
        }
    }
    out
}

/// `relevance-top1`: every top-1-misclassified image with its predicted class.
pub fn relevance_top1(images: &[EvalImage]) -> Vec<Item> {
    images
        .iter()
        .filter(|i| i.top1_wrong())
        .map(|i| relevance_item(Design::RelevanceTop1, None, i, i.top5[0]))
        .collect()
}

/// Which images a `relevance-top5` study rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top5Variant {
    /// Every top-1-misclassified image.
    Top1Misclassified,
    /// Only images whose label is not in the top 5.
    Top5Misclassified,
}

impl Top5Variant {
    /// `top1-misclassified` / `top5-misclassified`.
    pub fn name(self) -> &'static str {
        match self {
            Top5Variant::Top1Misclassified => "top1-misclassified",
            Top5Variant::Top5Misclassified => "top5-misclassified",
        }
    }

    fn wants(self, img: &EvalImage) -> bool {
        match self {
            Top5Variant::Top1Misclassified => img.top1_wrong(),
            Top5Variant::Top5Misclassified => img.top5_wrong(),
        }
    }
}

/// `relevance-top5`: the image with the model's top 5; the rater ticks every relevant class.
pub fn relevance_top5(images: &[EvalImage], variant: Top5Variant) -> Vec<Item> {
    images
        .iter()
        .filter(|i| variant.wants(i))
        .map(|img| Item {
            key: format!("relevance-top5/{}/{}", variant.name(), img.file),
            design: Design::RelevanceTop5,
            variant: Some(variant.name().into()),
            arm: None,
            image_id: Some(img.image_id),
            question: Question::MultiRelevance {
                image: ImageRef { path: img.path.clone() },
                classes: img.top5.iter().map(|&c| class_ref(c)).collect(),
            },
            gold: None,
            truth: None,
        })
        .collect()
}

/// Items and votes from imported (image, label) votes: `relevance-top1` items for the
/// top-1-misclassified images with the votes cast for their predicted class, and
/// `relevance-top5` items (variant `top1-misclassified`, one per top-5 class) with the votes
/// cast for each class. Items without any vote are kept: they count as unrated.
pub fn import_relevance(images: &[EvalImage], votes: &[PairVote], source: &str) -> (Vec<Item>, Vec<Vote>) {
    let pairs = by_pair(votes);
    let mut items = Vec::new();
    let mut out = Vec::new();
    let mut add = |item: Item, img: &EvalImage, class: i64| {
        for v in pairs.get(&(img.base_name(), class)).into_iter().flatten() {
            out.push(Vote {
                item: item.key.clone(),
                rater: v.rater.clone(),
                answer: v.answer.clone(),
                seconds: v.seconds,
                source: source.to_string(),
            });
        }
        items.push(item);
    };
    for img in images.iter().filter(|i| i.top1_wrong()) {
        add(relevance_item(Design::RelevanceTop1, None, img, img.top5[0]), img, img.top5[0]);
        for &c in &img.top5 {
            add(relevance_item(Design::RelevanceTop5, Some("top1-misclassified"), img, c), img, c);
        }
    }
    (items, out)
}

/// `adversarial`: the attack run's adversarial images (saved with `--save-images`) that changed
/// the prediction, asking about the adversarial class. Arm `whole` shows the adversarial image;
/// arm `explanation` shows its LIME attention image from `explain` (an explain run made with
/// `--attack`), for the images that run explained.
pub fn adversarial(
    store: &RunStore,
    images: &[EvalImage],
    attack: Option<&str>,
    explain: Option<&str>,
) -> Result<Vec<Item>, StudyError> {
    let (attack_run, attack_prov) = store.run("attack", attack)?;
    let attack_name = attack
        .map(str::to_string)
        .or_else(|| attack_prov.params.get("name").and_then(|v| v.as_str()).map(str::to_string))
        .unwrap_or_else(|| "attack".into());
    let by_id: HashMap<i64, &EvalImage> = images.iter().map(|i| (i.image_id, i)).collect();
    let dir = store.dir();
    let attention: HashMap<i64, String> = match explain {
        Some(name) => {
            let (run, _) = store.run("explain", Some(name))?;
            store
                .explanations(run)?
                .into_iter()
                .map(|e| {
                    let png = e.json.trim_end_matches(".json").to_string() + ".attention.png";
                    (e.image_id, dir.join(png).to_string_lossy().into_owned())
                })
                .collect()
        }
        None => HashMap::new(),
    };
    let mut items = Vec::new();
    for row in store.attacks(attack_run)? {
        let (Some(png), Some(last), Some(img)) = (&row.image, row.steps.last(), by_id.get(&row.image_id)) else {
            continue;
        };
        let clean = row.steps.first().map(|s| s.top1);
        if clean == Some(last.top1) {
            continue; // the attack did not change the prediction
        }
        let class = last.top1;
        let arm = |arm: &str, path: String| Item {
            key: format!("adversarial/{attack_name}/{arm}/{}/{class}", img.file),
            design: Design::Adversarial,
            variant: Some(attack_name.clone()),
            arm: Some(arm.into()),
            image_id: Some(img.image_id),
            question: Question::Relevance { image: ImageRef { path }, class: class_ref(class) },
            gold: None,
            truth: None,
        };
        items.push(arm("whole", dir.join(png).to_string_lossy().into_owned()));
        if let Some(att) = attention.get(&row.image_id) {
            items.push(arm("explanation", att.clone()));
        }
    }
    Ok(items)
}

/// `assignment` items for one criticize run: `count` items per composition (6 prototypes, or 3
/// prototypes + 3 criticisms), each showing 6 classes with enough picks; the target is an image
/// of one of them that is not shown. Variant `<criticize run>/<6p|3p3c>`, truth = the option.
pub fn assignment(
    store: &RunStore,
    images: &[EvalImage],
    criticize: &str,
    count: usize,
    seed: u64,
) -> Result<Vec<Item>, StudyError> {
    let (run, _) = store.run("criticize", Some(criticize))?;
    let by_id: HashMap<i64, &EvalImage> = images.iter().map(|i| (i.image_id, i)).collect();
    let mut groups: HashMap<String, (Vec<i64>, Vec<i64>)> = HashMap::new();
    for r in store.criticisms(run)? {
        let g = groups.entry(r.group.clone()).or_default();
        if r.prototype {
            g.0.push(r.image_id)
        } else {
            g.1.push(r.image_id)
        }
    }
    // Members of each group by class (the group is a class when `--per class`).
    let mut items = Vec::new();
    for (composition, protos, crits) in [("6p", 6, 0), ("3p3c", 3, 3)] {
        let mut eligible: Vec<(&String, Vec<i64>, i64)> = groups
            .iter()
            .filter(|(_, (p, c))| p.len() >= protos && c.len() >= crits)
            .filter_map(|(name, (p, c))| {
                let shown: Vec<i64> = p[..protos].iter().chain(&c[..crits]).copied().collect();
                let class = by_id.get(&shown[0])?.label?;
                Some((name, shown, class))
            })
            .collect();
        eligible.sort_by(|a, b| a.0.cmp(b.0));
        if eligible.len() < 6 {
            continue;
        }
        let mut rng = SplitMix64::new(seed, if composition == "6p" { 1 } else { 2 });
        for k in 0..count {
            // 6 distinct groups, then a target of the first that is not shown.
            let mut idx: Vec<usize> = (0..eligible.len()).collect();
            for i in 0..6 {
                let j = i + rng.below((idx.len() - i) as u64) as usize;
                idx.swap(i, j);
            }
            let chosen: Vec<usize> = idx[..6].to_vec();
            let answer = rng.below(6) as usize;
            let (_, shown, class) = &eligible[chosen[answer]];
            let candidates: Vec<&EvalImage> =
                images.iter().filter(|i| i.label == Some(*class) && !shown.contains(&i.image_id)).collect();
            let Some(target) = candidates.get(rng.below(candidates.len().max(1) as u64) as usize) else { continue };
            let options = chosen
                .iter()
                .map(|&g| {
                    let (_, shown, class) = &eligible[g];
                    AssignOption {
                        class: class_ref(*class),
                        images: shown
                            .iter()
                            .filter_map(|id| by_id.get(id))
                            .map(|i| ImageRef { path: i.path.clone() })
                            .collect(),
                    }
                })
                .collect();
            items.push(Item {
                key: format!("assignment/{criticize}/{composition}/{k}"),
                design: Design::Assignment,
                variant: Some(format!("{criticize}/{composition}")),
                arm: None,
                image_id: Some(target.image_id),
                question: Question::Assignment { target: ImageRef { path: target.path.clone() }, options },
                gold: None,
                truth: Some(Answer::Option(answer)),
            });
        }
    }
    Ok(items)
}

/// `attribute`: "does this image show `attribute`?" for the given images.
pub fn attribute(images: &[EvalImage], attribute: &str) -> Vec<Item> {
    images
        .iter()
        .map(|img| Item {
            key: format!("attribute/{attribute}/{}", img.file),
            design: Design::Attribute,
            variant: Some(attribute.to_string()),
            arm: None,
            image_id: Some(img.image_id),
            question: Question::Attribute { image: ImageRef { path: img.path.clone() }, attribute: attribute.into() },
            gold: None,
            truth: None,
        })
        .collect()
}
