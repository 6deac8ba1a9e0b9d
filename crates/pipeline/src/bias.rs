//! `rectify bias`: the prevalence of one attribute in a group of images, in each selector's
//! prototypes and in its criticisms (Stock & Cisse §3.4), from the picks the criticize runs
//! stored. Attributes come from a CSV, ImageNet-X or the answers to the `attribute` study design.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use rectify_data::attributes::{imagenet_x, Attributes};
use rectify_data::imagenet;
use rectify_report::BiasFile;
use rectify_store::{ImageRow, RunStore};
use rectify_study::{Answer, Question, RuleSpec};

use crate::votes::{runtime, StudyTarget};

/// What `rectify bias` tabulates.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct BiasSettings {
    /// The run directory (with criticize runs).
    #[cfg_attr(feature = "clap", arg(long))]
    pub run: PathBuf,
    /// The group: a class index, a class name (`basketball`), or `all`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub group: String,
    /// The attribute (a CSV attribute, or an ImageNet-X factor such as `pose`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub attribute: String,
    /// Attributes from a CSV `file,attribute,value`.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "imagenet_x"))]
    pub attributes: Option<PathBuf>,
    /// Attributes from ImageNet-X (`imagenet_x_val_multi_factor.jsonl.gz`).
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "from_study"))]
    pub imagenet_x: Option<PathBuf>,
    /// Attributes from the answers to the `attribute` study design (`rectify study design
    /// --design attribute --attribute A`), decided per image by --rule.
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "attributes"))]
    pub from_study: bool,
    /// The study (with --from-study).
    #[cfg_attr(feature = "clap", arg(long, default_value = "main"))]
    pub study: String,
    /// How answers decide an image's attribute (with --from-study).
    #[cfg_attr(feature = "clap", arg(long, default_value = "majority"))]
    pub rule: RuleSpec,
}

/// What [`run`] wrote.
#[derive(Debug, Clone)]
pub struct Biased {
    /// The table.
    pub file: BiasFile,
    /// `RUN_DIR/bias/<group>--<attribute>.json`.
    pub path: PathBuf,
    /// The group as shown (`430 basketball`, `all`).
    pub group: String,
    /// Where the attributes came from.
    pub source: String,
}

/// Attributes decided from the `attribute` design's answers.
fn study_attributes(s: &BiasSettings) -> Result<Attributes> {
    let target = StudyTarget { study: s.study.clone(), ..StudyTarget::of_run(&s.run) };
    let (info, items, votes) = runtime()?.block_on(async {
        let db = target.open().await?;
        let info = db.study(&s.study).await?;
        anyhow::Ok((info, db.items(&s.study).await?, db.votes(&s.study).await?))
    })?;
    let info = info.with_context(|| format!("no study {:?} in this run", s.study))?;
    let rule = s.rule.resolve(info.answers_per_item);
    let files: HashMap<&str, &str> = items
        .iter()
        .filter_map(|i| match &i.question {
            Question::Attribute { image, attribute } if *attribute == s.attribute => {
                Some((i.key.as_str(), image.path.as_str()))
            }
            _ => None,
        })
        .collect();
    if files.is_empty() {
        bail!("study {:?} has no `attribute` item for {:?}", s.study, s.attribute);
    }
    let mut answers: HashMap<&str, Vec<(String, Answer)>> = files.keys().map(|k| (*k, Vec::new())).collect();
    for v in &votes {
        if let Some(list) = answers.get_mut(v.item.as_str()) {
            list.push((v.rater.clone(), v.answer.clone()));
        }
    }
    let mut attrs = Attributes::default();
    for (key, d) in rectify_study::aggregate::decide(rule, &answers) {
        attrs.set(files[key], &s.attribute, d.yes);
    }
    Ok(attrs)
}

/// Tabulates the attribute over the group and every criticize run's picks in it, and writes the
/// table to `RUN_DIR/bias/`.
pub fn run(s: &BiasSettings) -> Result<Biased> {
    let (attrs, source): (Attributes, String) = match (&s.attributes, &s.imagenet_x) {
        (Some(csv), _) => (Attributes::from_csv(csv)?, csv.display().to_string()),
        (None, Some(x)) => (imagenet_x(x)?, "imagenet-x".into()),
        (None, None) if s.from_study => (study_attributes(s)?, format!("study {} ({})", s.study, s.rule)),
        (None, None) => bail!("give the attributes: --attributes FILE.csv, --imagenet-x FILE or --from-study"),
    };
    let store = RunStore::open(&s.run)?;
    let (eval, _) = store.run("eval", None)?;
    let images: BTreeMap<i64, ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    let evaluated: Vec<&ImageRow> =
        store.predictions(eval, false)?.iter().filter_map(|p| images.get(&p.image_id)).collect();
    // The group's images, and how its name appears in the picks.
    let class: Option<i64> = if s.group == "all" {
        None
    } else {
        Some(match s.group.parse::<i64>() {
            Ok(c) if (0..1000).contains(&c) => c,
            _ => imagenet::classes()
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&s.group))
                .map(|c| c.index as i64)
                .with_context(|| format!("--group {:?} is neither `all`, a class index nor a class name", s.group))?,
        })
    };
    let group_files: Vec<String> =
        evaluated.iter().filter(|i| class.is_none_or(|c| i.label == Some(c))).map(|i| i.file.clone()).collect();
    if group_files.is_empty() {
        bail!("no evaluated image in group {:?}", s.group);
    }
    let matches = |g: &str| match class {
        None => g == "all",
        Some(c) => g == c.to_string() || g.starts_with(&format!("{c} ")),
    };
    // Per criticize run: the group's prototypes and criticisms, as the store keeps them (in rank
    // order, the order of selection.json).
    let mut picks: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let criticize = store.finished_runs("criticize")?;
    if criticize.is_empty() {
        bail!("{}: no criticize run; run `rectify criticize` first", s.run.display());
    }
    for (run, name) in criticize {
        let mut found = false;
        let (mut prototypes, mut criticisms) = (Vec::new(), Vec::new());
        for row in store.criticisms(run)?.into_iter().filter(|r| matches(&r.group)) {
            found = true;
            let file = images.get(&row.image_id).map(|i| i.file.clone()).with_context(|| {
                format!("criticize run {name:?} picked image {} that the run does not hold", row.image_id)
            })?;
            if row.prototype {
                prototypes.push(file)
            } else {
                criticisms.push(file)
            }
        }
        if found {
            picks.insert(name, (prototypes, criticisms));
        }
    }
    if picks.is_empty() {
        bail!("no criticize run has a group {:?} (criticize with --per class, or --per all for `all`)", s.group);
    }
    let group = match class {
        Some(c) => format!("{c} {}", imagenet::classes()[c as usize].name),
        None => "all".into(),
    };
    let file = BiasFile::compute(&attrs, &source, &group, &s.attribute, &group_files, &picks);
    let path = file.write(&s.run)?;
    Ok(Biased { file, path, group, source })
}
