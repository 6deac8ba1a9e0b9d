//! `rectify study`: rating studies (issue #6) — designs generated from a run, the rating server,
//! invites, simulated raters, importers of real human votes, and aggregation into rectified
//! errors. The study lives in the run's database (`RUN_DIR/rectify.db`, SQLite in WAL mode) or,
//! with `--database-url postgres://…`, in PostgreSQL through the same code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use rectify_data::real::RealLabels;
use rectify_store::RunStore;
use rectify_study::designs::{self, EvalImage, Top5Variant};
use rectify_study::import;
use rectify_study::results::{results, Aggregation};
use rectify_study::{Answer, Design, Item, Question, Rule, Vote};
use rectify_web::{AppState, StudyDb};

use crate::commands::recruit::{self, EnrollArgs, RecruitArgs};
use crate::outputs::write_json;

/// `rectify study …`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    command: StudyCommand,
}

/// Where the study lives.
#[derive(Debug, Clone, Args)]
pub struct StudyTarget {
    /// The run directory.
    #[arg(long)]
    run: PathBuf,
    /// The study's name (several studies can share a run).
    #[arg(long, default_value = "main")]
    study: String,
    /// A database other than the run's own SQLite file, e.g. `postgres://user@host/db`.
    #[arg(long, env = "RECTIFY_DATABASE_URL")]
    database_url: Option<String>,
}

impl StudyTarget {
    fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.run.join("rectify.db").display()))
    }
}

/// `--design`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DesignArg {
    /// Top-1-misclassified images with the predicted class: relevant? yes / no.
    RelevanceTop1,
    /// Images with the model's top 5: tick every relevant class.
    RelevanceTop5,
    /// Adversarial images with the adversarial class; arms whole image / LIME explanation.
    Adversarial,
    /// 6 classes × 6 images and a target: which class?
    Assignment,
    /// Does this image show the attribute?
    Attribute,
}

/// `study simulate --platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SimPlatform {
    Invite,
    Prolific,
    Mturk,
    Pid,
}

/// `--format` of imports and exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    /// ReaL's raw rater votes (`real_raters.npz`).
    RealRaters,
    /// cleanlab's MTurk votes (`cleanlab_imagenet_mturk.json`).
    CleanlabMturk,
    /// `file,label,rater,answer[,seconds]` rows (relevance of a class for an image).
    Csv,
    /// One vote per line: `{"item", "rater", "answer", "seconds", "source"}`.
    Jsonl,
}

#[derive(Debug, Subcommand)]
enum StudyCommand {
    /// Adds the items of a design to the study.
    Design {
        #[command(flatten)]
        target: StudyTarget,
        /// The design.
        #[arg(long, value_enum)]
        design: DesignArg,
        /// relevance-top5: which images (`top1-misclassified` or `top5-misclassified`).
        #[arg(long, default_value = "top1-misclassified")]
        variant: String,
        /// adversarial: the attack run (made with --save-images).
        #[arg(long)]
        attack: Option<String>,
        /// adversarial: an explain run of that attack's images (`explain --attack`), for the
        /// explanation arm.
        #[arg(long)]
        explain: Option<String>,
        /// assignment: criticize runs, comma-separated (one condition each × 6p / 3p3c).
        #[arg(long)]
        criticize: Option<String>,
        /// assignment: items per condition.
        #[arg(long, default_value_t = 20)]
        items: usize,
        /// attribute: the attribute asked about.
        #[arg(long)]
        attribute: Option<String>,
        /// attribute: only images of this class index.
        #[arg(long)]
        class: Option<i64>,
        /// Answers per item (N).
        #[arg(long, default_value_t = 5)]
        answers: usize,
        /// Seed (assignment items).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also add this many gold items (relevance designs): questions with a known answer,
        /// mixed into participants' batches at `serve --gold-rate` and never counted as data.
        #[arg(long, default_value_t = 0)]
        gold: usize,
        /// relevance-top1: also ask about the mistakes of another model's run (repeatable), in
        /// this one study: each (image, class) is asked once whichever models predicted it, and
        /// `study results --model-run` gives every model its rectified error from the shared
        /// votes (the paper's Table 1 has four models).
        #[arg(long = "model-run", value_name = "RUN_DIR")]
        model_runs: Vec<PathBuf>,
        /// Also add this many attention checks (yes / no designs): a correctly classified
        /// image with its true class and the instruction to answer No; checked like gold items.
        #[arg(long, default_value_t = 0)]
        attention: usize,
    },
    /// Prints invite links for new raters.
    Invite {
        #[command(flatten)]
        target: StudyTarget,
        /// Raters to invite.
        #[arg(long, default_value_t = 5)]
        count: usize,
        /// The server's public address, for the links.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Serves the rater UI and the admin dashboard.
    Serve {
        #[command(flatten)]
        target: StudyTarget,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[command(flatten)]
        enroll: EnrollArgs,
    },
    /// Prints what to paste into a recruitment platform for a server: Prolific's study URL with
    /// its placeholders, MTurk's ExternalQuestion XML (and the Masters qualification), or a
    /// panel's `?pid=` link.
    Recruit(RecruitArgs),
    /// Prints a new one-time link that signs a browser in to the admin dashboard (valid 15
    /// minutes, once), for a server that is already running.
    AdminLink {
        #[command(flatten)]
        target: StudyTarget,
        /// The server's public address, for the link.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Drives the real HTTP API with simulated raters (answers from ReaL labels, with noise).
    Simulate {
        #[command(flatten)]
        target: StudyTarget,
        /// Simulated raters (`--platform invite`).
        #[arg(long, default_value_t = 5)]
        raters: usize,
        /// How simulated people arrive: `invite` (pre-issued links), or through the entry route
        /// of `prolific`, `mturk` (preview, accept, the form POST to `turkSubmitTo`) or `pid`.
        #[arg(long, value_enum, default_value = "invite")]
        platform: SimPlatform,
        /// Simulated participants (`--platform prolific|mturk|pid`), one batch each.
        #[arg(long, default_value_t = 12)]
        participants: usize,
        /// Items per participant, when this command starts the server and the study has no
        /// enrollment settings yet (otherwise those of `study serve` apply).
        #[arg(long, default_value_t = 10)]
        per_participant: usize,
        /// ReaL labels (`real.json`): a class is relevant when it is among the image's labels.
        #[arg(long)]
        oracle: PathBuf,
        /// Answers to attribute questions, from a CSV `file,attribute,value` (needed when the
        /// study asks any).
        #[arg(long, conflicts_with = "imagenet_x")]
        attributes: Option<PathBuf>,
        /// Answers to attribute questions, from ImageNet-X (`imagenet_x_val_multi_factor.jsonl.gz`).
        #[arg(long)]
        imagenet_x: Option<PathBuf>,
        /// Probability of a wrong answer.
        #[arg(long, default_value_t = 0.1)]
        noise: f64,
        /// A running server (default: one started here on a free port for the simulation).
        #[arg(long)]
        url: Option<String>,
        /// Seed of the noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Imports real human votes as relevance-top1 / relevance-top5 items of the run.
    Import {
        #[command(flatten)]
        target: StudyTarget,
        /// The format.
        #[arg(long, value_enum)]
        format: FormatArg,
        /// The file.
        file: PathBuf,
        /// Answers per item (N).
        #[arg(long, default_value_t = 5)]
        answers: usize,
        /// Also import the votes on another model's mistakes (repeatable), into this one study
        /// (see `study design --model-run`).
        #[arg(long = "model-run", value_name = "RUN_DIR")]
        model_runs: Vec<PathBuf>,
    },
    /// Aggregates the votes: `RUN_DIR/study/results.json`.
    Results {
        #[command(flatten)]
        target: StudyTarget,
        /// `k-of-n:K/N`, `majority` or `dawid-skene`.
        #[arg(long, default_value = "k-of-n:4/5")]
        rule: String,
        /// Drop server votes faster than this many seconds.
        #[arg(long)]
        min_time: Option<f64>,
        /// Drop server votes slower than this many seconds.
        #[arg(long)]
        max_time: Option<f64>,
        /// Exclude raters whose accuracy on gold items is below this (after
        /// --min-gold-answers of them); participants the server excluded are always excluded.
        /// `results-all.json` keeps the results with every vote.
        #[arg(long)]
        min_gold_accuracy: Option<f64>,
        /// Gold answers a rater needs before --min-gold-accuracy judges them.
        #[arg(long, default_value_t = 2)]
        min_gold_answers: usize,
        /// Also the results of another model's run whose mistakes this study asks about
        /// (repeatable; see `study design --model-run`): written to that run's
        /// `study/results.json`, from the shared votes, with what sharing saved.
        #[arg(long = "model-run", value_name = "RUN_DIR")]
        model_runs: Vec<PathBuf>,
    },
    /// Per participant from a recruitment platform: completion code, answers, gold accuracy,
    /// time and a suggested approve/reject, as CSV for the platform's bulk tools (Prolific:
    /// paste the ids to approve, bonuses as `id,amount`; MTurk: the batch results upload with
    /// its Approve / Reject columns).
    Payments {
        #[command(flatten)]
        target: StudyTarget,
        /// prolific or mturk.
        #[arg(long, value_enum)]
        format: recruit::PaymentsFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Exports every vote as CSV (`item,design,variant,arm,rater,answer,seconds,source`, as the
    /// dashboard downloads it) or JSONL (one vote per line, which `import --format jsonl` reads).
    Export {
        #[command(flatten)]
        target: StudyTarget,
        /// csv or jsonl.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: FormatArg,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

async fn open(target: &StudyTarget) -> Result<StudyDb> {
    if !target.run.join("rectify.db").exists() {
        bail!("{}: no rectify.db here; run `rectify eval --out {}` first", target.run.display(), target.run.display());
    }
    StudyDb::connect(&target.url()).await.with_context(|| format!("opening the study database {}", target.url()))
}

fn eval_images(run: &Path) -> Result<Vec<EvalImage>> {
    let store = RunStore::open(run)?;
    Ok(designs::eval_images(&store)?)
}

/// The evaluated images of the other models' runs of a shared study, each checked to be a
/// run with an eval and not the study's own run.
fn model_runs(host: &Path, runs: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<EvalImage>)>> {
    let mut out: Vec<(PathBuf, Vec<EvalImage>)> = Vec::new();
    for run in runs {
        if !run.join("rectify.db").exists() {
            bail!(
                "--model-run {}: no rectify.db here; evaluate that model with `rectify eval --out {}` first",
                run.display(),
                run.display()
            );
        }
        let same = |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).is_some_and(|(a, b)| a == b);
        if same(run, host) || out.iter().any(|(r, _)| same(r, run)) {
            bail!("--model-run {}: given twice (the study's own run is --run)", run.display());
        }
        let images = eval_images(run).with_context(|| format!("--model-run {}", run.display()))?;
        out.push((run.clone(), images));
    }
    Ok(out)
}

/// `sharing` of results.json for the study's run and its model runs.
fn sharing(
    host: &Path,
    images: &[EvalImage],
    others: &[(PathBuf, Vec<EvalImage>)],
    answers: usize,
) -> serde_json::Value {
    let mut runs: Vec<(String, &[EvalImage])> = vec![(host.display().to_string(), images)];
    runs.extend(others.iter().map(|(r, i)| (r.display().to_string(), i.as_slice())));
    rectify_study::results::sharing(&runs, answers)
}

fn print_sharing(s: &serde_json::Value) {
    println!(
        "shared by {} models: {} distinct questions instead of {} in separate studies ({:.1} % fewer, {} answers saved)",
        s["runs"].as_array().map_or(0, Vec::len),
        s["questions_shared"],
        s["questions_separate"],
        100.0 * s["saving"].as_f64().unwrap_or(0.0),
        s["answers_saved"]
    );
}

/// Runs `rectify study`.
pub fn run(args: StudyArgs) -> Result<()> {
    runtime()?.block_on(run_async(args))
}

async fn run_async(args: StudyArgs) -> Result<()> {
    match args.command {
        StudyCommand::Design {
            target,
            design,
            variant,
            attack,
            explain,
            criticize,
            items,
            attribute,
            class,
            answers,
            seed,
            gold,
            model_runs: others,
            attention,
        } => {
            let images = eval_images(&target.run)?;
            if !others.is_empty() && design != DesignArg::RelevanceTop1 {
                bail!("--model-run: one study for several models is made for relevance-top1 (the paper's Table 1); import votes for the others with `study import --model-run`");
            }
            let others = model_runs(&target.run, &others)?;
            let store = RunStore::open(&target.run)?;
            let gold_items = match (gold, design) {
                (0, _) => Vec::new(),
                (n, DesignArg::RelevanceTop1) => designs::gold_relevance(&images, Design::RelevanceTop1, n),
                (n, DesignArg::RelevanceTop5) => designs::gold_relevance(&images, Design::RelevanceTop5, n),
                (_, DesignArg::Assignment) => Vec::new(), // made from the design's items below
                _ => bail!("--gold: gold items are made for the relevance and assignment designs"),
            };
            let attention_items = match (attention, design) {
                (0, _) => Vec::new(),
                (n, DesignArg::RelevanceTop1) => designs::attention_checks(&images, Design::RelevanceTop1, n),
                (n, DesignArg::RelevanceTop5) => designs::attention_checks(&images, Design::RelevanceTop5, n),
                (n, DesignArg::Adversarial) => designs::attention_checks(&images, Design::Adversarial, n),
                _ => bail!("--attention: attention checks are made for the yes / no designs (relevance, adversarial)"),
            };
            if attention_items.len() < attention {
                bail!(
                    "--attention {attention}: the run has only {} correctly classified images to make them from",
                    attention_items.len()
                );
            }
            let new: Vec<Item> = match design {
                DesignArg::RelevanceTop1 => {
                    let mut per_run = vec![designs::relevance_top1(&images)];
                    per_run.extend(others.iter().map(|(_, i)| designs::relevance_top1(i)));
                    designs::shared_items(&images, per_run)
                }
                DesignArg::RelevanceTop5 => {
                    let v = match variant.as_str() {
                        "top1-misclassified" => Top5Variant::Top1Misclassified,
                        "top5-misclassified" => Top5Variant::Top5Misclassified,
                        v => bail!("--variant {v:?}: top1-misclassified or top5-misclassified"),
                    };
                    designs::relevance_top5(&images, v)
                }
                DesignArg::Adversarial => designs::adversarial(&store, &images, attack.as_deref(), explain.as_deref())?,
                DesignArg::Assignment => {
                    let runs = criticize.context("--criticize NAME[,NAME…] names the criticize runs to compare")?;
                    let mut all = Vec::new();
                    for name in runs.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        all.extend(designs::assignment(&store, &images, name, items, seed)?);
                    }
                    all
                }
                DesignArg::Attribute => {
                    let a = attribute.context("--attribute names what to ask about")?;
                    let chosen: Vec<EvalImage> =
                        images.iter().filter(|i| class.is_none_or(|c| i.label == Some(c))).cloned().collect();
                    designs::attribute(&chosen, &a)
                }
            };
            if new.is_empty() {
                bail!("the design has no item in this run (no misclassified image, no saved adversarial image, or too few groups)");
            }
            let gold_items = if design == DesignArg::Assignment && gold > 0 {
                designs::gold_assignment(&new, gold)
            } else {
                gold_items
            };
            if gold_items.len() < gold {
                bail!(
                    "--gold {gold}: the run has only {} correctly classified images to make them from",
                    gold_items.len()
                );
            }
            let mut new = new;
            new.extend(gold_items);
            new.extend(attention_items);
            let db = open(&target).await?;
            db.put_study(&target.study, answers, &new).await?;
            let mut per: HashMap<&str, usize> = HashMap::new();
            new.iter().for_each(|i| *per.entry(i.design.name()).or_default() += 1);
            println!("study {:?}: {} items added ({per:?}), {answers} answers each", target.study, new.len());
            if !others.is_empty() {
                print_sharing(&sharing(&target.run, &images, &others, answers));
            }
            Ok(())
        }
        StudyCommand::Invite { target, count, base_url } => {
            let db = open(&target).await?;
            if db.study(&target.study).await?.is_none() {
                bail!("no study {:?} in this run: add items with `rectify study design` first", target.study);
            }
            for token in db.create_invites(&target.study, count).await? {
                println!("{}/r/{token}", base_url.trim_end_matches('/'));
            }
            Ok(())
        }
        StudyCommand::AdminLink { target, base_url } => {
            let db = open(&target).await?;
            if db.study(&target.study).await?.is_none() {
                bail!("no study {:?} in this run: add items with `rectify study design` first", target.study);
            }
            let login = db.create_admin_login(&target.study).await?;
            println!("{}/admin/login/{login}", base_url.trim_end_matches('/'));
            Ok(())
        }
        StudyCommand::Recruit(args) => {
            print!("{}", recruit::recruit(&args)?);
            Ok(())
        }
        StudyCommand::Serve { target, addr, enroll } => {
            let db = open(&target).await?;
            if db.study(&target.study).await?.is_none() {
                bail!("no study {:?} in this run: add items with `rectify study design` first", target.study);
            }
            let images = if enroll.platforms.is_empty() { Vec::new() } else { eval_images(&target.run)? };
            if let Some(e) = enroll.enrollment(&images)? {
                db.put_enrollment(&target.study, &e).await?;
                let names: Vec<&str> = e.platforms.iter().map(|p| p.name()).collect();
                eprintln!(
                    "rectify: open to {} participants, {} items each{}; `rectify study recruit --platform {} \
                     --base-url PUBLIC_URL` prints what to paste into the platform",
                    names.join(", "),
                    e.per_participant,
                    if e.exclude_studies.is_empty() {
                        String::new()
                    } else {
                        format!(", not to those of {}", e.exclude_studies.join(", "))
                    },
                    names[0]
                );
            } else if let Some(e) = db.enrollment(&target.study).await? {
                let names: Vec<&str> = e.platforms.iter().map(|p| p.name()).collect();
                eprintln!("rectify: enrollment stored earlier stays open: {}", names.join(", "));
            }
            let admin = match db.admin_token(&target.study).await? {
                Some(t) => t,
                None => db.rotate_admin_token(&target.study).await?,
            };
            let login = db.create_admin_login(&target.study).await?;
            eprintln!("rectify: study {:?} on http://{addr}", target.study);
            eprintln!(
                "rectify: admin dashboard (one-time sign-in link, valid 15 min): http://{addr}/admin/login/{login}"
            );
            eprintln!("rectify: admin API: Authorization: Bearer {admin}");
            eprintln!("rectify: another sign-in link: `rectify study admin-link --run {}`", target.run.display());
            eprintln!("rectify: invite raters with `rectify study invite --run {} --count N`", target.run.display());
            let state = AppState::new(db, target.run.clone(), target.study.clone());
            rectify_web::serve(state, addr, rectify_web::serve::ctrl_c())
                .await
                .with_context(|| format!("serving on {addr}"))
        }
        StudyCommand::Simulate {
            target,
            raters,
            platform,
            participants,
            per_participant,
            oracle,
            attributes,
            imagenet_x,
            noise,
            url,
            seed,
        } => {
            if !(0.0..=1.0).contains(&noise) || raters == 0 || participants == 0 || per_participant == 0 {
                bail!("--noise must lie in [0, 1] and --raters, --participants, --per-participant be at least 1");
            }
            let real = RealLabels::read(&oracle).with_context(|| format!("reading {}", oracle.display()))?;
            let db = open(&target).await?;
            let items = db.items(&target.study).await?;
            if items.is_empty() {
                bail!("no items in study {:?}: add some with `rectify study design`", target.study);
            }
            let files: HashMap<i64, String> =
                eval_images(&target.run)?.into_iter().map(|i| (i.image_id, i.base_name().to_string())).collect();
            let attributes = attribute_oracle(&items, &files, attributes.as_deref(), imagenet_x.as_deref())?;
            let flow = match platform {
                SimPlatform::Invite => None,
                SimPlatform::Prolific => Some(rectify_web::Flow::Prolific),
                SimPlatform::Pid => Some(rectify_web::Flow::Pid),
                SimPlatform::Mturk if url.is_some() => {
                    Some(rectify_web::Flow::Mturk { submit_to: "https://workersandbox.mturk.com".to_string() })
                }
                SimPlatform::Mturk => {
                    let (origin, _forms) = rectify_web::mturk_submit_server()?;
                    Some(rectify_web::Flow::Mturk { submit_to: origin })
                }
            };
            if let (Some(flow), None) = (&flow, &url) {
                let wanted = match flow {
                    rectify_web::Flow::Prolific => rectify_web::Platform::Prolific,
                    rectify_web::Flow::Mturk { .. } => rectify_web::Platform::Mturk,
                    rectify_web::Flow::Pid => rectify_web::Platform::Pid,
                };
                let mut e = match db.enrollment(&target.study).await? {
                    Some(e) => e,
                    None => rectify_web::Enrollment::new(vec![wanted], per_participant),
                };
                if !e.platforms.contains(&wanted) {
                    e.platforms.push(wanted);
                }
                if wanted == rectify_web::Platform::Prolific && e.completion_code.is_none() {
                    e.completion_code = Some("SIMULATED".to_string());
                }
                if let rectify_web::Flow::Mturk { submit_to } = flow {
                    e.mturk_origins.push(submit_to.clone());
                }
                db.put_enrollment(&target.study, &e).await?;
            }
            let tokens = if flow.is_none() { db.create_invites(&target.study, raters).await? } else { Vec::new() };
            let (base, server) = match url {
                Some(u) => (u, None),
                None => {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let addr = listener.local_addr()?;
                    let state = AppState::new(db.clone(), target.run.clone(), target.study.clone());
                    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                    let handle = tokio::spawn(rectify_web::serve::serve_on(state, listener, async {
                        let _ = rx.await;
                    }));
                    (format!("http://{addr}"), Some((tx, handle)))
                }
            };
            let oracle = move |item: &Item| -> Answer {
                // Simulated raters know the gold answers (the noise still applies).
                if let Some(g) = &item.gold {
                    return g.clone();
                }
                let labels = item.image_id.and_then(|id| files.get(&id)).and_then(|f| real.get(f)).unwrap_or(&[]);
                match &item.question {
                    Question::Relevance { class, .. } => {
                        if labels.contains(&class.class) {
                            Answer::Yes
                        } else {
                            Answer::No
                        }
                    }
                    Question::MultiRelevance { classes, .. } => {
                        Answer::Classes(classes.iter().map(|c| c.class).filter(|c| labels.contains(c)).collect())
                    }
                    Question::Assignment { .. } => item.truth.clone().unwrap_or(Answer::Option(0)),
                    Question::Attribute { attribute, .. } => {
                        // `attribute_oracle` has an answer for every attribute question.
                        let has = item.image_id.and_then(|id| attributes.get(&(id, attribute.clone())));
                        if has == Some(&true) {
                            Answer::Yes
                        } else {
                            Answer::No
                        }
                    }
                }
            };
            if let Some(flow) = flow {
                let bases = vec![base.clone()];
                let sim_items = items.clone();
                let prefix = format!("sim{seed}x");
                let report = tokio::task::spawn_blocking(move || {
                    rectify_web::simulate_participants(
                        &bases,
                        &flow,
                        &prefix,
                        participants,
                        &sim_items,
                        oracle,
                        noise,
                        seed,
                    )
                })
                .await??;
                if let Some((tx, handle)) = server {
                    let _ = tx.send(());
                    handle.await??;
                }
                let completed = report.codes.iter().filter(|c| c.is_some()).count();
                for (id, (code, to)) in report.ids.iter().zip(report.codes.iter().zip(&report.completions)) {
                    println!(
                        "{id}\t{}\tcode {}\t{}",
                        report.answers.per_rater[report.ids.iter().position(|i| i == id).unwrap_or(0)],
                        code.as_deref().unwrap_or("-"),
                        to.as_deref().unwrap_or("-")
                    );
                }
                println!(
                    "{completed} of {participants} simulated participants completed ({} answers, {} conflicts, {} \
                     re-joins, {} previews); latency p50 {:.1} ms, p99 {:.1} ms",
                    report.answers.answers,
                    report.answers.conflicts,
                    report.rejoins,
                    report.previews,
                    report.answers.latency_quantile(0.5).unwrap_or(f64::NAN),
                    report.answers.latency_quantile(0.99).unwrap_or(f64::NAN)
                );
                if completed < participants {
                    bail!("{} participants got no completion", participants - completed);
                }
                return Ok(());
            }
            let (report, items_for_sim) = {
                let base = base.clone();
                let sim_items = items.clone();
                tokio::task::spawn_blocking(move || {
                    (rectify_web::simulate::simulate(&base, &tokens, &sim_items, oracle, noise, seed), sim_items)
                })
                .await?
            };
            let report = report?;
            if let Some((tx, handle)) = server {
                let _ = tx.send(());
                handle.await??;
            }
            println!(
                "{} simulated raters answered {} times on {} items ({} conflicts, {} retries); latency p50 {:.1} ms, p99 {:.1} ms",
                raters,
                report.answers,
                items_for_sim.len(),
                report.conflicts,
                report.retries,
                report.latency_quantile(0.5).unwrap_or(f64::NAN),
                report.latency_quantile(0.99).unwrap_or(f64::NAN)
            );
            Ok(())
        }
        StudyCommand::Import { target, format, file, answers, model_runs: others } => {
            let images = eval_images(&target.run)?;
            let others = model_runs(&target.run, &others)?;
            if !others.is_empty() && format == FormatArg::Jsonl {
                bail!("--model-run: JSONL votes name their items already; import them without it");
            }
            let (source, pair_votes) = match format {
                FormatArg::RealRaters => ("real-raters", import::real_raters(&file)?),
                FormatArg::CleanlabMturk => ("cleanlab-mturk", import::cleanlab_mturk(&file)?),
                FormatArg::Csv => ("csv", import::pair_csv(&file)?),
                FormatArg::Jsonl => {
                    let votes = import::votes_jsonl(&file)?;
                    let db = open(&target).await?;
                    let known: std::collections::HashSet<String> =
                        db.items(&target.study).await?.into_iter().map(|i| i.key).collect();
                    if let Some(v) = votes.iter().find(|v| !known.contains(&v.item)) {
                        bail!("{}: vote for unknown item {:?}; add the design first", file.display(), v.item);
                    }
                    let put = db.put_votes(&target.study, &votes).await?;
                    println!(
                        "{} votes: {} new, {} replaced, {} unchanged",
                        votes.len(),
                        put.inserted,
                        put.replaced,
                        put.unchanged
                    );
                    return Ok(());
                }
            };
            let (items, votes) = {
                let (mut items, mut votes) = (Vec::new(), Vec::new());
                for run_images in std::iter::once(&images).chain(others.iter().map(|(_, i)| i)) {
                    let (i, v) = designs::import_relevance(run_images, &pair_votes, source);
                    items.push(i);
                    votes.extend(v);
                }
                let items = designs::shared_items(&images, items);
                let mut seen = std::collections::HashSet::new();
                votes.retain(|v| seen.insert((v.item.clone(), v.rater.clone())));
                (items, votes)
            };
            let db = open(&target).await?;
            db.put_study(&target.study, answers, &items).await?;
            let put = db.put_votes(&target.study, &votes).await?;
            let top1 = items.iter().filter(|i| i.design == Design::RelevanceTop1).count();
            let voted: std::collections::HashSet<&str> = votes.iter().map(|v| v.item.as_str()).collect();
            let top1_voted =
                items.iter().filter(|i| i.design == Design::RelevanceTop1 && voted.contains(i.key.as_str())).count();
            println!(
                "{}: {} votes read; {} relevance-top1 items ({top1_voted} with votes), {} relevance-top5 items; {} votes stored ({} new, {} replaced, {} unchanged)",
                file.display(),
                pair_votes.len(),
                top1,
                items.len() - top1,
                votes.len(),
                put.inserted,
                put.replaced,
                put.unchanged
            );
            if !others.is_empty() {
                print_sharing(&sharing(&target.run, &images, &others, answers));
            }
            Ok(())
        }
        StudyCommand::Payments { target, format, out } => {
            let db = open(&target).await?;
            let items = db.items(&target.study).await?;
            let votes = db.votes(&target.study).await?;
            let people = db.participants(&target.study).await?;
            let csv = recruit::payments_csv(format, &people, &items, &votes);
            match out {
                Some(path) => {
                    std::fs::write(&path, &csv).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("{} participants -> {}", people.len(), path.display());
                }
                None => print!("{csv}"),
            }
            Ok(())
        }
        StudyCommand::Results {
            target,
            rule,
            min_time,
            max_time,
            min_gold_accuracy,
            min_gold_answers,
            model_runs: others,
        } => {
            let db = open(&target).await?;
            let info =
                db.study(&target.study).await?.with_context(|| format!("no study {:?} in this run", target.study))?;
            let rule = Rule::parse(&rule, info.answers_per_item).map_err(|e| anyhow::anyhow!("--rule {e}"))?;
            let items = db.items(&target.study).await?;
            let all: Vec<Vote> = db.votes(&target.study).await?;
            let images = eval_images(&target.run)?;
            let agg = Aggregation { rule, min_time, max_time, ..Default::default() };
            // Exclusions: participants the server excluded (gold, time on task), and raters
            // below --min-gold-accuracy here; their votes stay stored and are reported without.
            let mut reasons: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
            for p in db.participants(&target.study).await? {
                if let Some(r) = p.excluded_reason {
                    reasons.insert(p.rater, r);
                }
            }
            if let Some(min) = min_gold_accuracy {
                for (rater, (right, n)) in gold_scores(&items, &all) {
                    let accuracy = right as f64 / n as f64;
                    if n >= min_gold_answers && accuracy < min {
                        reasons
                            .entry(rater)
                            .or_insert(format!("gold accuracy {accuracy:.2} < {min} ({right} of {n} right)"));
                    }
                }
            }
            let counted: Vec<Vote> = all.iter().filter(|v| !reasons.contains_key(&v.rater)).cloned().collect();
            let others = model_runs(&target.run, &others)?;
            let shared = (!others.is_empty()).then(|| sharing(&target.run, &images, &others, info.answers_per_item));
            let host_name = target.run.display().to_string();
            let runs = std::iter::once((target.run.clone(), images.clone(), true))
                .chain(others.iter().map(|(r, i)| (r.clone(), i.clone(), false)));
            for (run, images, host) in runs {
                let items = rectify_study::results::for_run(&images, &items, host);
                let dir = run.join("study");
                let mut everyone = results(&images, &items, &all, &agg);
                let mut res = results(&images, &items, &counted, &agg);
                for r in [&mut everyone, &mut res] {
                    r["study"] = serde_json::json!(target.study);
                    r["study_run"] = serde_json::json!(host_name);
                    r["version"] = serde_json::json!(env!("CARGO_PKG_VERSION"));
                    if let Some(s) = &shared {
                        r["sharing"] = s.clone();
                    }
                }
                everyone["exclusion"] = serde_json::json!({"applied": false});
                res["exclusion"] = serde_json::json!({
                    "applied": true,
                    "min_gold_accuracy": min_gold_accuracy,
                    "min_gold_answers": min_gold_answers,
                    "raters_excluded": reasons.len(),
                    "votes_excluded": all.len() - counted.len(),
                    "reasons": reasons,
                    "without_exclusion": "results-all.json",
                });
                write_json(&dir.join("results-all.json"), &everyone)?;
                let out = dir.join("results.json");
                write_json(&out, &res)?;
                if shared.is_some() {
                    println!("{}:", run.display());
                }
                print_results(&res);
                println!("-> {}", out.display());
            }
            if !reasons.is_empty() {
                println!(
                    "excluded {} raters ({} votes): their votes are kept but not counted; results with every vote: {}",
                    reasons.len(),
                    all.len() - counted.len(),
                    target.run.join("study/results-all.json").display()
                );
            }
            if let Some(s) = &shared {
                print_sharing(s);
            }
            Ok(())
        }
        StudyCommand::Export { target, format, out } => {
            let db = open(&target).await?;
            let votes = db.votes(&target.study).await?;
            let text = match format {
                FormatArg::Jsonl => rectify_study::export::votes_jsonl(&votes).into_bytes(),
                FormatArg::Csv => rectify_study::export::votes_csv(&db.items(&target.study).await?, &votes),
                _ => bail!("--format csv or jsonl"),
            };
            crate::outputs::write_atomically(&out, |w| Ok(w.write_all(&text)?))?;
            println!("{} votes -> {}", votes.len(), out.display());
            Ok(())
        }
    }
}

/// Per rater: (gold answers right, gold answers).
fn gold_scores(items: &[Item], votes: &[Vote]) -> std::collections::BTreeMap<String, (usize, usize)> {
    recruit::gold_scores(items, votes)
}

fn pct(v: &serde_json::Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{:.2} %", 100.0 * x))
}

fn print_results(res: &serde_json::Value) {
    let Some(designs) = res["designs"].as_object() else { return };
    for (name, d) in designs {
        if let Some(e) = d.get("top1_error") {
            println!(
                "{name}: top-1 error {} -> rectified {} (95 % CI {}–{}); {} misclassified, {} rated, {} unrated; ReaL top-1 accuracy {}",
                pct(e),
                pct(&d["rectified_top1_error"]),
                pct(&d["ci"]["rectified_top1_error"][0]),
                pct(&d["ci"]["rectified_top1_error"][1]),
                d["errors"],
                d["rated"],
                d["unrated"],
                pct(&d["real_top1_accuracy"]),
            );
        } else if let Some(e) = d.get("top5_error") {
            println!(
                "{name}: top-5 error {} -> rectified {} (95 % CI {}–{}); {} rated, {} unrated",
                pct(e),
                pct(&d["rectified_top5_error"]),
                pct(&d["ci"]["rectified_top5_error"][0]),
                pct(&d["ci"]["rectified_top5_error"][1]),
                d["rated"],
                d["unrated"],
            );
        } else {
            println!("{name}: {d}");
        }
    }
}

/// The simulated raters' answer to every attribute question of `items`: `(image, attribute)` →
/// whether the image has it, from `--attributes` or `--imagenet-x`. An error names the questions
/// that neither annotates, or asks for a source when the study asks attribute questions.
fn attribute_oracle(
    items: &[Item],
    files: &HashMap<i64, String>,
    csv: Option<&Path>,
    imagenet_x: Option<&Path>,
) -> Result<HashMap<(i64, String), bool>> {
    let asked: Vec<(i64, &str)> = items
        .iter()
        .filter_map(|item| match &item.question {
            Question::Attribute { attribute, .. } => Some((item.image_id.unwrap_or(-1), attribute.as_str())),
            _ => None,
        })
        .collect();
    if asked.is_empty() {
        return Ok(HashMap::new());
    }
    let known = match (csv, imagenet_x) {
        (Some(csv), _) => rectify_report::bias::Attributes::from_csv(csv),
        (None, Some(x)) => rectify_report::bias::imagenet_x(x),
        (None, None) => bail!(
            "the study asks {} attribute questions: give their answers with --attributes FILE.csv \
             (file,attribute,value) or --imagenet-x FILE",
            asked.len()
        ),
    }
    .map_err(anyhow::Error::msg)?;
    let mut answers = HashMap::new();
    let mut missing = Vec::new();
    for (id, attribute) in asked {
        let file = files.get(&id).map_or("?", String::as_str);
        match known.get(file, attribute) {
            Some(has) => {
                answers.insert((id, attribute.to_string()), has);
            }
            None => missing.push(format!("{file} / {attribute}")),
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} attribute questions have no answer in the attributes given, e.g. {}",
            missing.len(),
            missing[..missing.len().min(5)].join(", ")
        );
    }
    Ok(answers)
}
