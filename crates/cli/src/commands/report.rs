//! `rectify report` (the audit report: one self-contained HTML page and `report.json`) and
//! `rectify bias` (attribute prevalence in a group's prototypes vs criticisms), issue #7.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use rectify_data::attributes::{imagenet_x, Attributes};
use rectify_data::imagenet;
use rectify_report::BiasFile;
use rectify_store::artifacts::SelectionFile;
use rectify_store::RunStore;

/// `rectify report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories (one per model), or a folder of them; repeat for several.
    #[arg(long, required = true)]
    run: Vec<PathBuf>,
    /// Output folder for report.html and report.json (default: RUN_DIR/report).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Explained images shown per explain run.
    #[arg(long, default_value_t = 4)]
    examples: usize,
    /// Gallery groups shown per selector.
    #[arg(long, default_value_t = 12)]
    groups: usize,
}

/// Runs `rectify report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let opts = rectify_report::report::Options { max_examples: args.examples, max_groups: args.groups };
    let report = rectify_report::report::build_with(&args.run, &opts)?;
    let out = args.out.unwrap_or_else(|| args.run[0].join("report"));
    let (json, html) = rectify_report::report::write(&report, &out)?;
    println!("{}\n{}", html.display(), json.display());
    Ok(())
}

/// `rectify bias`.
#[derive(Debug, Args)]
pub struct BiasArgs {
    /// The run directory (with criticize runs).
    #[arg(long)]
    run: PathBuf,
    /// The group: a class index, a class name (`basketball`), or `all`.
    #[arg(long)]
    group: String,
    /// The attribute (a CSV attribute, or an ImageNet-X factor such as `pose`).
    #[arg(long)]
    attribute: String,
    /// Attributes from a CSV `file,attribute,value`.
    #[arg(long, conflicts_with = "imagenet_x")]
    attributes: Option<PathBuf>,
    /// Attributes from ImageNet-X (`imagenet_x_val_multi_factor.jsonl.gz`).
    #[arg(long, conflicts_with = "from_study")]
    imagenet_x: Option<PathBuf>,
    /// Attributes from the answers to the `attribute` study design (`rectify study design
    /// --design attribute --attribute A`), decided per image by --rule.
    #[arg(long, conflicts_with = "attributes")]
    from_study: bool,
    /// The study (with --from-study).
    #[arg(long, default_value = "main")]
    study: String,
    /// How answers decide an image's attribute (with --from-study).
    #[arg(long, default_value = "majority")]
    rule: rectify_study::RuleSpec,
}

/// Attributes decided from the `attribute` design's answers.
fn study_attributes(args: &BiasArgs) -> Result<Attributes> {
    let url = format!("sqlite://{}?mode=rwc", args.run.join("rectify.db").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (info, items, votes) = rt.block_on(async {
        let db = rectify_web::StudyDb::connect(&url).await?;
        let info = db.study(&args.study).await?;
        anyhow::Ok((info, db.items(&args.study).await?, db.votes(&args.study).await?))
    })?;
    let info = info.with_context(|| format!("no study {:?} in this run", args.study))?;
    let rule = args.rule.resolve(info.answers_per_item);
    let files: std::collections::HashMap<&str, &str> = items
        .iter()
        .filter_map(|i| match &i.question {
            rectify_study::Question::Attribute { image, attribute } if *attribute == args.attribute => {
                Some((i.key.as_str(), image.path.as_str()))
            }
            _ => None,
        })
        .collect();
    if files.is_empty() {
        bail!("study {:?} has no `attribute` item for {:?}", args.study, args.attribute);
    }
    let mut answers: std::collections::HashMap<&str, Vec<(String, rectify_study::Answer)>> =
        files.keys().map(|k| (*k, Vec::new())).collect();
    for v in &votes {
        if let Some(list) = answers.get_mut(v.item.as_str()) {
            list.push((v.rater.clone(), v.answer.clone()));
        }
    }
    let mut attrs = Attributes::default();
    for (key, d) in rectify_study::aggregate::decide(rule, &answers) {
        attrs.set(files[key], &args.attribute, d.yes);
    }
    Ok(attrs)
}

/// Runs `rectify bias`.
pub fn bias(args: BiasArgs) -> Result<()> {
    let (attrs, source): (Attributes, String) = match (&args.attributes, &args.imagenet_x) {
        (Some(csv), _) => (Attributes::from_csv(csv)?, csv.display().to_string()),
        (None, Some(x)) => (imagenet_x(x)?, "imagenet-x".into()),
        (None, None) if args.from_study => (study_attributes(&args)?, format!("study {} ({})", args.study, args.rule)),
        (None, None) => bail!("give the attributes: --attributes FILE.csv, --imagenet-x FILE or --from-study"),
    };
    let store = RunStore::open(&args.run)?;
    let (eval, _) = store.run("eval", None)?;
    let images: BTreeMap<i64, rectify_store::ImageRow> = store.images()?.into_iter().map(|i| (i.id, i)).collect();
    let evaluated: Vec<&rectify_store::ImageRow> =
        store.predictions(eval, false)?.iter().filter_map(|p| images.get(&p.image_id)).collect();
    // The group's images, and how its name appears in selections.
    let class: Option<i64> = if args.group == "all" {
        None
    } else {
        Some(match args.group.parse::<i64>() {
            Ok(c) if (0..1000).contains(&c) => c,
            _ => imagenet::classes()
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&args.group))
                .map(|c| c.index as i64)
                .with_context(|| {
                    format!("--group {:?} is neither `all`, a class index nor a class name", args.group)
                })?,
        })
    };
    let group_files: Vec<String> =
        evaluated.iter().filter(|i| class.is_none_or(|c| i.label == Some(c))).map(|i| i.file.clone()).collect();
    if group_files.is_empty() {
        bail!("no evaluated image in group {:?}", args.group);
    }
    let matches = |g: &str| match class {
        None => g == "all",
        Some(c) => g == c.to_string() || g.starts_with(&format!("{c} ")),
    };
    let mut picks: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let dir = args.run.join("criticize");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{}: run `rectify criticize` first", dir.display()))? {
        let path = entry?.path().join("selection.json");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let sel: SelectionFile = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        let name =
            path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for g in sel.groups.into_iter().filter(|g| matches(&g.group)) {
            picks.insert(name.clone(), (g.prototype_files, g.criticism_files));
        }
    }
    if picks.is_empty() {
        bail!("no criticize run has a group {:?} (criticize with --per class, or --per all for `all`)", args.group);
    }
    let group_name = match class {
        Some(c) => format!("{c} {}", imagenet::classes()[c as usize].name),
        None => "all".into(),
    };
    let file = BiasFile::compute(&attrs, &source, &group_name, &args.attribute, &group_files, &picks);
    let path = file.write(&args.run)?;
    let pct = |p: &rectify_report::stats::Proportion| {
        if p.n == 0 {
            "-".to_string()
        } else {
            format!("{}/{} ({:.0} %)", p.k, p.n, 100.0 * p.p)
        }
    };
    println!("{:?} in {group_name} (source {source}): whole group {}", args.attribute, pct(&file.rows[0].group));
    for r in &file.rows {
        println!(
            "  {:<24} prototypes {:<16} criticisms {:<16} Fisher p = {:.4}",
            r.selector,
            pct(&r.prototypes),
            pct(&r.criticisms),
            r.fisher_p
        );
    }
    println!("-> {}", path.display());
    Ok(())
}
