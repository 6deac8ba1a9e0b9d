//! `rectify study`: rating studies (issue #6) — designs generated from a run, the rating server,
//! invites, simulated raters, importers of real human votes, and aggregation into rectified
//! errors. The study lives in the run's database (`RUN_DIR/rectify.db`, SQLite in WAL mode) or,
//! with `--database-url postgres://…`, in PostgreSQL through the same code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use rectify_data::real::RealLabels;
use rectify_study::{Answer, Item, Question};
use rectify_web::AppState;

use rectify_pipeline::describe;
use rectify_pipeline::recruit::{self, EnrollArgs, RecruitArgs};
use rectify_pipeline::votes::{self, eval_images, runtime, StudyTarget, VoteFormat};

/// `rectify study …`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    command: StudyCommand,
}

/// `study simulate --platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SimPlatform {
    Invite,
    Prolific,
    Mturk,
    Pid,
}

#[derive(Debug, Subcommand)]
enum StudyCommand {
    /// Adds the items of a design to the study.
    Design {
        #[command(flatten)]
        target: StudyTarget,
        #[command(flatten)]
        settings: votes::DesignSettings,
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
        /// The address participants and the admin reach the server at (behind a proxy); when it
        /// is https://…, every cookie the server sets is `Secure`. Default: http://ADDR.
        #[arg(long)]
        public_url: Option<String>,
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
        format: VoteFormat,
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
    /// What stopping once the rule has decided would have used on the votes the study holds:
    /// per item with N votes, the expected answers over every order they could arrive in
    /// (exact), and whether any order changes the verdict.
    Replay {
        #[command(flatten)]
        target: StudyTarget,
        #[command(flatten)]
        settings: rectify_pipeline::replay::ReplaySettings,
    },
    /// What a relevance study will cost before anyone is paid: the items, the answers with and
    /// without stopping, the cost, participant-hours and the interval expected (from the
    /// study's own votes when it has some, else from the paper's acceptance rate).
    Plan {
        #[command(flatten)]
        target: StudyTarget,
        #[command(flatten)]
        settings: rectify_pipeline::plan::PlanSettings,
    },
    /// Aggregates the votes: `RUN_DIR/study/results.json`.
    Results {
        #[command(flatten)]
        target: StudyTarget,
        #[command(flatten)]
        settings: votes::ResultsSettings,
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
    /// dashboard downloads it) or JSONL (one vote per line, which `import --format jsonl` reads),
    /// or the study's items as Label Studio tasks (`--format label-studio`; its export of the
    /// annotated tasks comes back with `import --format label-studio`).
    Export {
        #[command(flatten)]
        target: StudyTarget,
        /// csv, jsonl, or label-studio (the study's items as Label Studio tasks, with the labeling
        /// config written beside them as `OUT.label-config.xml`).
        #[arg(long, value_enum, default_value = "jsonl")]
        format: VoteFormat,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// label-studio: the address the images are served under (e.g. Label Studio's local
        /// files, `http://localhost:8080/data/local-files/?d=`); default their paths on disk.
        #[arg(long)]
        image_base: Option<String>,
    },
}

/// Runs `rectify study`.
pub fn run(args: StudyArgs) -> Result<()> {
    runtime()?.block_on(run_async(args))
}

async fn run_async(args: StudyArgs) -> Result<()> {
    match args.command {
        StudyCommand::Design { target, settings } => {
            let done = votes::design(&target, &settings).await?;
            let mut per: HashMap<&str, usize> = HashMap::new();
            done.items.iter().for_each(|i| *per.entry(i.design.name()).or_default() += 1);
            println!(
                "study {:?}: {} items added ({per:?}), {} answers each",
                target.study,
                done.items.len(),
                settings.answers
            );
            if let Some(s) = &done.sharing {
                println!("{}", describe::sharing(s));
            }
            if let Some(s) = done.sampling {
                println!(
                    "relevance-top1 rates a random sample of {} of the run's {} mistakes (seed {}); `study results` \
                     estimates the rectified error for all of them",
                    s.sample, s.population, s.seed
                );
            }
            match done.stopping {
                Some(s) => println!(
                    "stops asking an item once decided ({} yes, or {} answers that are not yes, of {}); \
                     {:.0} % of the items, drawn with seed {}, get all {} answers (--full-fraction)",
                    s.k,
                    s.n - s.k + 1,
                    s.n,
                    s.full_fraction * 100.0,
                    s.seed,
                    s.n
                ),
                None if matches!(
                    settings.design,
                    rectify_study::Design::RelevanceTop1 | rectify_study::Design::RelevanceTop5
                ) =>
                {
                    println!("asks every item {} times (the paper's protocol)", settings.answers)
                }
                None => {}
            }
            Ok(())
        }
        StudyCommand::Invite { target, count, base_url } => {
            let db = target.open().await?;
            if db.study(&target.study).await?.is_none() {
                bail!("no study {:?} in this run: add items with `rectify study design` first", target.study);
            }
            for token in db.create_invites(&target.study, count).await? {
                println!("{}/r/{token}", base_url.trim_end_matches('/'));
            }
            Ok(())
        }
        StudyCommand::AdminLink { target, base_url } => {
            let db = target.open().await?;
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
        StudyCommand::Serve { target, addr, public_url, enroll } => {
            let db = target.open().await?;
            if db.study(&target.study).await?.is_none() {
                bail!("no study {:?} in this run: add items with `rectify study design` first", target.study);
            }
            let images = if enroll.platforms.is_empty() { Vec::new() } else { eval_images(&target.run)? };
            let gold: Vec<Item> = db.items(&target.study).await?.into_iter().filter(|i| i.gold.is_some()).collect();
            if let Some(e) = enroll.enrollment(&images, &gold)? {
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
            let roots = votes::image_roots(&target.run)?;
            let public = public_url.unwrap_or_else(|| format!("http://{addr}"));
            if !(public.starts_with("https://") || public.starts_with("http://")) {
                bail!("--public-url {public:?} must start with https:// (or http://)");
            }
            let state = AppState::with_image_roots(db, target.run.clone(), target.study.clone(), roots)
                .with_public_url(&public);
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
            let db = target.open().await?;
            let items = db.items(&target.study).await?;
            if items.is_empty() {
                bail!("no items in study {:?}: add some with `rectify study design`", target.study);
            }
            let files: HashMap<i64, String> =
                eval_images(&target.run)?.into_iter().map(|i| (i.image_id, i.base_name().to_string())).collect();
            let attributes = votes::attribute_oracle(&items, &files, attributes.as_deref(), imagenet_x.as_deref())?;
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
            // What the simulation opens (a platform, MTurk's stand-in origin, a completion code)
            // is put back as it was when it ends, whatever the outcome: the real study's
            // enrollment is never changed for good.
            let before = db.enrollment(&target.study).await?;
            let mut restore = false;
            if let (Some(flow), None) = (&flow, &url) {
                restore = true;
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
            let outcome: Result<()> = async {
                let tokens = if flow.is_none() { db.create_invites(&target.study, raters).await? } else { Vec::new() };
                let (base, server) = match url {
                    Some(u) => (u, None),
                    None => {
                        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                        let addr = listener.local_addr()?;
                        let roots = votes::image_roots(&target.run)?;
                        let state = AppState::with_image_roots(db.clone(), target.run.clone(), target.study.clone(), roots);
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
                    let sim_run = target.run.clone();
                    let report = tokio::task::spawn_blocking(move || {
                        rectify_web::simulate_participants(
                            &bases,
                            &flow,
                            &prefix,
                            participants,
                            &sim_items,
                            &sim_run,
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
                    let sim_run = target.run.clone();
                    tokio::task::spawn_blocking(move || {
                        (rectify_web::simulate::simulate(&base, &tokens, &sim_items, &sim_run, oracle, noise, seed), sim_items)
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
            .await;
            if restore {
                match before {
                    Some(e) => db.put_enrollment(&target.study, &e).await?,
                    None => db.delete_enrollment(&target.study).await?,
                }
            }
            outcome
        }
        StudyCommand::Import { target, format, file, answers, model_runs: others } => {
            let done = votes::import(&target, format, &file, answers, &others).await?;
            println!("{}", describe::imported(&done, &file));
            Ok(())
        }
        StudyCommand::Payments { target, format, out } => {
            let db = target.open().await?;
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
        StudyCommand::Plan { target, settings } => {
            let p = rectify_pipeline::plan::plan(&target, &settings).await?;
            println!("{}", describe::plan(&p));
            if let Some(path) = &settings.json {
                println!("-> {}", path.display());
            }
            Ok(())
        }
        StudyCommand::Replay { target, settings } => {
            let r = rectify_pipeline::replay::replay(&target, &settings).await?;
            println!("{}", describe::replay(&r));
            if let Some(path) = &settings.json {
                println!("-> {}", path.display());
            }
            Ok(())
        }
        StudyCommand::Results { target, settings } => {
            let done = votes::results(&target, &settings).await?;
            println!("{}", describe::results(&done, &target.run));
            Ok(())
        }
        StudyCommand::Export { target, format, out, image_base } => {
            let db = target.open().await?;
            let votes = db.votes(&target.study).await?;
            let text = match format {
                VoteFormat::Jsonl => rectify_study::export::votes_jsonl(&votes).into_bytes(),
                VoteFormat::Csv => rectify_study::export::votes_csv(&db.items(&target.study).await?, &votes),
                VoteFormat::LabelStudio => {
                    // The items as tasks, and the labeling config beside them.
                    let items = db.items(&target.study).await?;
                    let url = |path: &str| {
                        let p = std::path::Path::new(path);
                        let abs = if p.is_absolute() { p.to_path_buf() } else { target.run.join(p) };
                        match &image_base {
                            Some(base) => format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/')),
                            None => abs.display().to_string(),
                        }
                    };
                    let tasks = rectify_study::labelstudio::tasks(&items, url).map_err(anyhow::Error::msg)?;
                    let config = out.with_extension("label-config.xml");
                    rectify_pipeline::outputs::write_atomically(&config, |w| {
                        Ok(w.write_all(rectify_study::labelstudio::LABEL_CONFIG.as_bytes())?)
                    })?;
                    let n = tasks.as_array().map_or(0, Vec::len);
                    rectify_pipeline::outputs::write_atomically(&out, |w| {
                        Ok(serde_json::to_writer_pretty(w, &tasks)?)
                    })?;
                    println!("{n} tasks -> {} (labeling config: {})", out.display(), config.display());
                    return Ok(());
                }
                _ => bail!("--format csv, jsonl or label-studio"),
            };
            rectify_pipeline::outputs::write_atomically(&out, |w| Ok(w.write_all(&text)?))?;
            println!("{} votes -> {}", votes.len(), out.display());
            Ok(())
        }
    }
}
