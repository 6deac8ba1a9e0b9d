//! Progress of a study for the admin dashboard: items complete / partial / unstarted per
//! design (gold items apart, excluded participants' answers not counted), how many complete
//! relevance questions people call relevant so far, per-rater counts, median time on task,
//! gold accuracy and exclusions, participants from recruitment platforms, and Fleiss' κ
//! (Fleiss 1971, generalised to a varying number of ratings per item) over the items with at
//! least two answers. Under stopping (issue #30) an item is complete once decided, and called
//! relevant when decided yes.

use crate::db::error::DbError;
use crate::db::StudyDb;
use crate::Answer;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The study's progress.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// The study.
    pub study: String,
    /// N.
    pub answers_per_item: usize,
    /// Per design, by name.
    pub designs: Vec<DesignProgress>,
    /// Per rater, by id.
    pub raters: Vec<RaterStats>,
    /// Gold items (not in `designs`).
    pub gold_items: usize,
    /// Participants from recruitment platforms.
    pub participants: ParticipantCounts,
    /// The run's top-1 error and its rectified error so far ([`progress_for_run`]).
    pub rectified: Option<RectifiedSoFar>,
    /// The latest `rectify study plan`, to compare the answers so far with.
    pub plan: Option<crate::db::decided::PlanSummary>,
    /// Counted answers so far (every design; gold items apart).
    pub answers: usize,
    /// Keys of the complete relevance-top1 items called relevant.
    #[serde(skip)]
    pub relevant_keys: std::collections::HashSet<String>,
}

/// The run's rectified top-1 error from the decisions so far: a top-1 mistake counts as correct
/// once its question is complete and at least ⌈0.8 N⌉ counted answers call the predicted class
/// relevant; every other mistake — undecided ones included — still counts as an error, so the
/// figure only goes down as answers come in and ends at `study results`' 4-of-5 number.
#[derive(Debug, Clone, Serialize)]
pub struct RectifiedSoFar {
    /// Labelled images of the run.
    pub labelled: usize,
    /// Their top-1 mistakes.
    pub errors: usize,
    /// Mistakes rectified so far.
    pub rectified: usize,
    /// errors / labelled.
    pub top1_error: f64,
    /// (errors − rectified) / labelled.
    pub rectified_top1_error: f64,
}

/// Participants from recruitment platforms so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParticipantCounts {
    /// Joined.
    pub joined: usize,
    /// Completed their (latest) batch.
    pub completed: usize,
    /// Excluded by quality control.
    pub excluded: usize,
}

/// One design's progress.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DesignProgress {
    /// The design's name.
    pub design: String,
    /// Items.
    pub items: usize,
    /// Items with at least N answers.
    pub complete: usize,
    /// Items with some answers, or an open lease, but fewer than N answers.
    pub partial: usize,
    /// Items nobody touched.
    pub unstarted: usize,
    /// Answers.
    pub answers: usize,
    /// Open leases.
    pub open_leases: usize,
    /// Fleiss' κ over items with ≥ 2 answers (`None` when undefined).
    pub fleiss_kappa: Option<f64>,
    /// Relevance designs: complete items whose class at least ⌈0.8 N⌉ counted answers call
    /// relevant (the paper's 4 of 5) — the mistakes rectified so far.
    pub called_relevant: Option<usize>,
}

/// One rater's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct RaterStats {
    /// The rater's id.
    pub rater: String,
    /// Answers.
    pub answered: usize,
    /// Open leases (0 or 1 for server raters).
    pub open_leases: usize,
    /// Median time on task in seconds.
    pub median_seconds: Option<f64>,
    /// Where their votes come from (`server`, an importer …).
    pub source: String,
    /// Gold answers.
    pub gold_answers: usize,
    /// Share of gold answers that were right.
    pub gold_accuracy: Option<f64>,
    /// The platform they came from (`prolific`, `mturk`, `pid`), for participants.
    pub platform: Option<String>,
    /// Why they were excluded, if they were.
    pub excluded: Option<String>,
}

/// Computes the study's progress.
pub async fn progress(db: &StudyDb, study: &str) -> Result<Progress, DbError> {
    let n = db.answers_per_item(study).await? as usize;
    let items = db.items(study).await?;
    let rows = db.assignments(study).await?;
    let mut by_item: HashMap<&str, Vec<&crate::db::AssignmentRow>> = HashMap::new();
    for r in &rows {
        by_item.entry(r.item.as_str()).or_default().push(r);
    }
    let mut designs: BTreeMap<&str, DesignProgress> = BTreeMap::new();
    let mut answers_by_design: BTreeMap<&str, Vec<Vec<&Answer>>> = BTreeMap::new();
    let gold: HashMap<&str, &Answer> = items.iter().filter_map(|i| Some((i.key.as_str(), i.gold.as_ref()?))).collect();
    let need = ((n as f64) * 0.8).ceil() as usize;
    let stopping = db.stopping(study).await?;
    let mut relevant_keys = std::collections::HashSet::new();
    for item in items.iter().filter(|i| i.gold.is_none()) {
        let name = item.design.name();
        let d =
            designs.entry(name).or_insert_with(|| DesignProgress { design: name.to_string(), ..Default::default() });
        let its = by_item.get(item.key.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let answers: Vec<&Answer> = its.iter().filter(|r| !r.excluded).filter_map(|r| r.answer.as_ref()).collect();
        let leases = its.iter().filter(|r| r.state == "leased" && !r.excluded).count();
        d.items += 1;
        d.answers += answers.len();
        d.open_leases += leases;
        let relevance = matches!(item.question, crate::Question::Relevance { .. });
        if relevance {
            d.called_relevant.get_or_insert(0);
        }
        // Under stopping an item is complete once decided; otherwise with its N answers.
        let decided = stopping.map(|s| {
            let given: Vec<Answer> = answers.iter().map(|a| (*a).clone()).collect();
            s.state(item, &given).decided
        });
        let complete = match decided {
            Some(d) => d.is_some(),
            None => answers.len() >= n,
        };
        let called = match decided {
            Some(d) => d == Some(true),
            None => answers.iter().filter(|a| ***a == Answer::Yes).count() >= need,
        };
        if complete {
            d.complete += 1;
            if relevance && called {
                *d.called_relevant.get_or_insert(0) += 1;
                if item.design == crate::Design::RelevanceTop1 {
                    relevant_keys.insert(item.key.clone());
                }
            }
        } else if answers.is_empty() && leases == 0 {
            d.unstarted += 1;
        } else {
            d.partial += 1;
        }
        answers_by_design.entry(name).or_default().push(answers);
    }
    for (name, d) in designs.iter_mut() {
        d.fleiss_kappa = crate::aggregate::fleiss_kappa_of(&answers_by_design[name]);
    }
    let mut raters: BTreeMap<String, (usize, usize, Vec<f64>, String)> = BTreeMap::new();
    for id in db.raters(study).await? {
        raters.insert(id, (0, 0, Vec::new(), "server".to_string()));
    }
    for r in &rows {
        let e = raters.entry(r.rater.clone()).or_insert_with(|| (0, 0, Vec::new(), r.source.clone()));
        match r.state.as_str() {
            "answered" => e.0 += 1,
            "leased" => e.1 += 1,
            _ => {}
        }
        e.2.extend(r.seconds);
    }
    let mut gold_score: HashMap<&str, (usize, usize)> = HashMap::new();
    for r in rows.iter().filter(|r| r.state == "answered") {
        if let (Some(g), Some(a)) = (gold.get(r.item.as_str()), &r.answer) {
            let e = gold_score.entry(r.rater.as_str()).or_default();
            e.0 += usize::from(*g == a);
            e.1 += 1;
        }
    }
    let people = db.participants(study).await?;
    let by_rater: HashMap<&str, &crate::db::enroll::Participant> =
        people.iter().map(|p| (p.rater.as_str(), p)).collect();
    let raters = raters
        .into_iter()
        .map(|(rater, (answered, open_leases, mut secs, source))| {
            let (right, gold_answers) = gold_score.get(rater.as_str()).copied().unwrap_or((0, 0));
            let p = by_rater.get(rater.as_str());
            RaterStats {
                answered,
                open_leases,
                median_seconds: crate::aggregate::median(&mut secs),
                source,
                gold_answers,
                gold_accuracy: (gold_answers > 0).then(|| right as f64 / gold_answers as f64),
                platform: p.map(|p| p.platform.name().to_string()),
                excluded: p.and_then(|p| p.excluded_reason.clone()),
                rater,
            }
        })
        .collect();
    let participants = ParticipantCounts {
        joined: people.len(),
        completed: people.iter().filter(|p| p.completed_at.is_some()).count(),
        excluded: people.iter().filter(|p| p.excluded_at.is_some()).count(),
    };
    let designs: Vec<DesignProgress> = designs.into_values().collect();
    Ok(Progress {
        study: study.to_string(),
        answers_per_item: n,
        plan: db.plan(study).await?,
        answers: designs.iter().map(|d| d.answers).sum(),
        designs,
        raters,
        gold_items: gold.len(),
        participants,
        rectified: None,
        relevant_keys,
    })
}

/// [`progress`], with the rectified top-1 error so far of the run in `run_dir` (from its eval
/// in the run's store) when the study has relevance-top1 items.
pub async fn progress_for_run(db: &StudyDb, study: &str, run_dir: &std::path::Path) -> Result<Progress, DbError> {
    let mut p = progress(db, study).await?;
    if p.designs.iter().any(|d| d.design == "relevance-top1") {
        let dir = run_dir.to_path_buf();
        let read = tokio::task::spawn_blocking(move || run_mistakes(&dir)).await.ok().flatten();
        if let Some((labelled, mistakes)) = read {
            let rectified =
                mistakes.iter().filter(|(f, c)| p.relevant_keys.contains(&format!("relevance-top1/{f}/{c}"))).count();
            let rate = |x: usize| if labelled == 0 { f64::NAN } else { x as f64 / labelled as f64 };
            p.rectified = Some(RectifiedSoFar {
                labelled,
                errors: mistakes.len(),
                rectified,
                top1_error: rate(mistakes.len()),
                rectified_top1_error: rate(mistakes.len() - rectified),
            });
        }
    }
    Ok(p)
}

/// Labelled images and (file, predicted class) of the top-1 mistakes of the run's eval, from
/// its store (`None` when the run has none).
fn run_mistakes(run_dir: &std::path::Path) -> Option<(usize, Vec<(String, i64)>)> {
    let store = rectify_store::RunStore::open(run_dir).ok()?;
    let images = crate::designs::eval_images(&store).ok()?;
    let labelled = images.iter().filter(|i| i.label.is_some()).count();
    let mistakes = images.iter().filter(|i| i.top1_wrong()).map(|i| (i.file.clone(), i.top5[0])).collect();
    Some((labelled, mistakes))
}
