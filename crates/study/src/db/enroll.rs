//! Open enrollment from recruitment platforms: the settings ([`Enrollment`]), and the database
//! side of joining, consent and completion.
//!
//! A participant arrives with the platform's id — Prolific's `PROLIFIC_PID`, MTurk's `workerId`,
//! or a panel's `pid` — and becomes a rater of the study: the first visit creates the rater,
//! a later visit under the same MTurk assignment, Prolific session or (panels) browser cookie
//! resumes them (a fresh page token each time, so the newest tab wins); any other visit with
//! their id is turned away ([`Refusal`]). A
//! participant answers at most `per_participant` items per batch and gets `max_batches`
//! batches (default 1): a finished participant who comes back sees their completion page again,
//! never a second batch. An id that took part in one of `exclude_studies` (on the same
//! database) is turned away before anything is created — the paper ran its two arms three days
//! apart so that no worker saw both.

use crate::db::error::DbError;
use crate::db::tokens::{hash_token, new_token, random_hex};
use crate::db::{now_ms, StudyDb};
use crate::{Answer, Question};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Where participants come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Prolific: `/prolific?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`.
    Prolific,
    /// Amazon Mechanical Turk, as an ExternalQuestion:
    /// `/mturk?assignmentId=…&hitId=…&workerId=…&turkSubmitTo=…`.
    Mturk,
    /// Any other panel (lab pools, SONA): `/join?pid=…`.
    Pid,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 3] = [Platform::Prolific, Platform::Mturk, Platform::Pid];

    /// Its name in URLs, the database and flags.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Prolific => "prolific",
            Platform::Mturk => "mturk",
            Platform::Pid => "pid",
        }
    }

    /// The platform of a name.
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Prolific's completion URL; `{code}` is replaced by the completion code.
pub const PROLIFIC_COMPLETION_URL: &str = "https://app.prolific.com/submissions/complete?cc={code}";

/// The origins MTurk frames ExternalQuestion pages from and whose `turkSubmitTo` is accepted:
/// the worker sites and the sandbox.
pub const MTURK_ORIGINS: [&str; 3] =
    ["https://www.mturk.com", "https://worker.mturk.com", "https://workersandbox.mturk.com"];

/// MTurk's preview mode: the worker has not accepted the HIT yet.
pub const MTURK_PREVIEW: &str = "ASSIGNMENT_ID_NOT_AVAILABLE";

/// How participants join a study, as `study serve` stores it for every server on the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The entry routes that are open.
    pub platforms: Vec<Platform>,
    /// K: items per batch.
    pub per_participant: usize,
    /// Batches one participant may do (default 1: never a second batch).
    #[serde(default = "one")]
    pub max_batches: usize,
    /// The completion code shown at the end (Prolific's, from its study page); without one,
    /// each participant gets their own random code.
    #[serde(default)]
    pub completion_code: Option<String>,
    /// Where a finished participant is sent; `{code}` and `{pid}` are replaced. Prolific's
    /// default is [`PROLIFIC_COMPLETION_URL`]; MTurk participants submit a form to
    /// `turkSubmitTo/mturk/externalSubmit` instead.
    #[serde(default)]
    pub completion_url: Option<String>,
    /// Studies (on this database) whose participants may not join this one.
    #[serde(default)]
    pub exclude_studies: Vec<String>,
    /// Instructions and consent, as HTML rendered from the researcher's Markdown.
    #[serde(default)]
    pub instructions_html: Option<String>,
    /// A practice item shown (with feedback) before the batch; not stored as data.
    #[serde(default)]
    pub practice: Option<Practice>,
    /// MTurk origins accepted (framing and `turkSubmitTo`); default [`MTURK_ORIGINS`].
    #[serde(default = "mturk_origins")]
    pub mturk_origins: Vec<String>,
    /// Gold items per data item mixed into each batch (0: none; the first comes first).
    #[serde(default)]
    pub gold_rate: f64,
    /// Participants whose gold accuracy falls below this (after `min_gold_answers` gold
    /// answers) are excluded: their answers stay stored but stop counting, their items reopen.
    #[serde(default)]
    pub min_gold_accuracy: Option<f64>,
    /// Gold answers needed before the accuracy rule applies.
    #[serde(default = "two")]
    pub min_gold_answers: usize,
    /// Participants whose median time on a data item is below this many seconds are excluded
    /// when they complete (too fast to have looked).
    #[serde(default)]
    pub min_median_seconds: Option<f64>,
    /// Seeds each participant's gold schedule (which places of their batch hold gold items, and
    /// in which order the gold items come), mixed with their rater id: never sent to anyone.
    #[serde(default)]
    pub seed: u64,
}

fn two() -> usize {
    2
}

fn one() -> usize {
    1
}

fn mturk_origins() -> Vec<String> {
    MTURK_ORIGINS.iter().map(|s| s.to_string()).collect()
}

impl Enrollment {
    /// Settings for `platforms` with batches of `per_participant` and the defaults.
    pub fn new(platforms: Vec<Platform>, per_participant: usize) -> Enrollment {
        Enrollment {
            platforms,
            per_participant,
            max_batches: 1,
            completion_code: None,
            completion_url: None,
            exclude_studies: Vec::new(),
            instructions_html: None,
            practice: None,
            mturk_origins: mturk_origins(),
            gold_rate: 0.0,
            min_gold_accuracy: None,
            min_gold_answers: 2,
            min_median_seconds: None,
            seed: 0,
        }
    }

    /// Checks the settings: a batch size, a completion code for Prolific, URLs that are http(s).
    pub fn check(&self) -> Result<(), DbError> {
        let bad = |why: String| Err(DbError::BadSettings(why));
        if self.platforms.is_empty() {
            return bad("no platform is open".into());
        }
        if self.per_participant == 0 || self.max_batches == 0 {
            return bad("--per-participant and --max-batches must be at least 1".into());
        }
        if self.platforms.contains(&Platform::Prolific) && self.completion_code.is_none() {
            return bad("Prolific needs --completion-code (the code on your Prolific study's page)".into());
        }
        if let Some(code) = &self.completion_code {
            if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return bad(format!("--completion-code {code:?}: 1 to 64 letters and digits"));
            }
        }
        if let Some(url) = &self.completion_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad(format!("--completion-url {url:?} must start with https:// or http://"));
            }
        }
        if !(0.0..=1.0).contains(&self.gold_rate) || self.min_gold_accuracy.is_some_and(|a| !(0.0..=1.0).contains(&a)) {
            return bad("--gold-rate and --min-gold-accuracy lie in [0, 1]".into());
        }
        if self.min_median_seconds.is_some_and(|t| t.is_nan() || t < 0.0) {
            return bad("--min-median-seconds must be at least 0".into());
        }
        for o in &self.mturk_origins {
            if origin(o).as_deref() != Some(o.as_str()) {
                return bad(format!("MTurk origin {o:?} must be scheme://host[:port] without a path"));
            }
        }
        Ok(())
    }

    /// Whether `submit_to` (MTurk's `turkSubmitTo`) is one of the accepted origins.
    pub fn accepts_submit_to(&self, submit_to: &str) -> bool {
        origin(submit_to).is_some_and(|o| self.mturk_origins.contains(&o))
    }
}

/// `scheme://host[:port]` of an http(s) URL with nothing after the host but an optional `/`.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The participant id a platform passes, checked against the platform's documented form and
/// normalised, so that one person cannot appear as two by changing case or adding characters:
/// * Prolific: `PROLIFIC_PID`, `STUDY_ID` and `SESSION_ID` are 24 hexadecimal digits (lower-cased);
/// * MTurk: `workerId` is `A` then letters and digits, `assignmentId` and `hitId` letters and
///   digits, at most 64 (MTurk's API patterns `^A[A-Z0-9]+$` and `^[A-Z0-9]+$`; upper-cased);
/// * a panel's `pid`: 1 to 64 letters, digits, `_` and `-` (lower-cased).
///
/// `Err` says what is wrong, in words for the participant.
pub fn normalise_id(platform: Platform, name: &str, value: &str) -> Result<String, String> {
    let bad = |form: &str| Err(format!("{name} is not a valid {} id ({form})", platform_title(platform)));
    match platform {
        Platform::Prolific => {
            if value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(value.to_ascii_lowercase())
            } else {
                bad("24 hexadecimal digits")
            }
        }
        Platform::Mturk => {
            let v = value.to_ascii_uppercase();
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && (name != "workerId" || (v.starts_with('A') && v.len() >= 2));
            if ok {
                Ok(v)
            } else if name == "workerId" {
                bad("A followed by letters and digits, at most 64")
            } else {
                bad("letters and digits, at most 64")
            }
        }
        Platform::Pid => {
            let ok = !value.is_empty()
                && value.len() <= 64
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if ok {
                Ok(value.to_ascii_lowercase())
            } else {
                bad("1 to 64 letters, digits, _ and -")
            }
        }
    }
}

fn platform_title(platform: Platform) -> &'static str {
    match platform {
        Platform::Prolific => "Prolific",
        Platform::Mturk => "MTurk",
        Platform::Pid => "participant",
    }
}

/// A practice item: a question with a known answer and the feedback to give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Practice {
    /// The question (its image is served to anyone at `/practice/image/0`).
    pub question: Question,
    /// The expected answer.
    pub answer: Answer,
    /// Feedback shown after the rater answers, e.g. why the answer is yes.
    pub explanation: String,
}

/// What the platform told us about a visit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visit {
    /// The participant's id on the platform.
    pub external_id: String,
    /// Prolific's `SESSION_ID`.
    pub session_id: Option<String>,
    /// Prolific's `STUDY_ID`.
    pub platform_study: Option<String>,
    /// MTurk's `assignmentId`.
    pub assignment_id: Option<String>,
    /// MTurk's `hitId`.
    pub hit_id: Option<String>,
    /// MTurk's `turkSubmitTo`.
    pub submit_to: Option<String>,
    /// A panel's `?pid=` visit: the secret in the cookie of the browser that started the batch.
    pub secret: Option<String>,
}

impl Visit {
    /// What binds a batch to the visit that started it: MTurk's assignment, Prolific's session
    /// (submission), or the hash of a panel browser's secret.
    fn binding(&self, platform: Platform) -> Option<String> {
        match platform {
            Platform::Mturk => self.assignment_id.clone(),
            Platform::Prolific => self.session_id.clone(),
            Platform::Pid => self.secret.as_deref().map(|s| format!("cookie:{}", hash_token(s))),
        }
    }
}

/// A participant, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    /// The rater they are.
    pub rater: String,
    /// Where they came from.
    pub platform: Platform,
    /// Their id there.
    pub external_id: String,
    /// Prolific's `SESSION_ID` (the latest).
    pub session_id: Option<String>,
    /// Prolific's `STUDY_ID`.
    pub platform_study: Option<String>,
    /// MTurk's `assignmentId` (the latest).
    pub assignment_id: Option<String>,
    /// MTurk's `hitId`.
    pub hit_id: Option<String>,
    /// MTurk's `turkSubmitTo`.
    pub submit_to: Option<String>,
    /// Batches started.
    pub batches: i64,
    /// Items they may answer in all (batches × K).
    pub item_cap: i64,
    /// When they consented (Unix ms).
    pub consented_at: Option<i64>,
    /// When they joined.
    pub created_at: i64,
    /// When they finished their latest batch.
    pub completed_at: Option<i64>,
    /// Their completion code, once finished.
    pub completion_code: Option<String>,
    /// When they were excluded (their answers stopped counting).
    pub excluded_at: Option<i64>,
    /// Why, in words.
    pub excluded_reason: Option<String>,
    /// What the current batch is bound to (MTurk assignment, Prolific session, `cookie:` + hash).
    pub bound_to: Option<String>,
    /// The binding under which the latest batch was completed: the only visit shown its code again.
    pub finished_by: Option<String>,
}

/// Why a visit was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The assignment (or Prolific session) belongs to another participant.
    OtherParticipant,
    /// The participant's unfinished batch was started under another assignment, session or
    /// browser, and only that one may resume it.
    OtherSession,
    /// A visit without the assignment or session the platform always passes.
    NoSession,
}

/// What a visit to an entry route led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// A new participant (or a new batch), with the page token.
    Started {
        /// The rater page's token.
        token: String,
        /// A panel visit without a secret: the new secret, for the browser's cookie.
        secret: Option<String>,
    },
    /// A returning participant mid-batch, with a fresh page token.
    Resumed {
        /// The rater page's token.
        token: String,
    },
    /// They finished every batch they may do (or came back under the binding that finished).
    Finished {
        /// Who.
        participant: Box<Participant>,
        /// Whether this visit is the one that finished (same assignment, session or browser):
        /// only then is the completion code shown again.
        show_code: bool,
    },
    /// They took part in an excluded study.
    Excluded {
        /// Which one.
        study: String,
    },
    /// Turned away: someone else's assignment or session, or another session's batch.
    Refused(Refusal),
    /// No item has room for a new participant: nothing was created; they should return the task.
    Full,
}

/// The end of a batch: what the completion page shows and where it sends the participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// The completion code.
    pub code: String,
    /// Where to send the participant (Prolific, a panel), if anywhere.
    pub redirect: Option<String>,
    /// MTurk: the form to POST (`assignmentId` and `completion` = the code).
    pub mturk_submit: Option<MturkSubmit>,
    /// Data items answered (gold items not counted).
    pub answered: i64,
}

/// The form an MTurk ExternalQuestion page posts when done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MturkSubmit {
    /// `turkSubmitTo` + `/mturk/externalSubmit`.
    pub action: String,
    /// The assignment.
    pub assignment_id: String,
}

const PARTICIPANT_COLUMNS: &str = "rater, platform, external_id, session_id, platform_study, assignment_id, hit_id, \
     submit_to, batches, item_cap, consented_at, created_at, completed_at, completion_code, excluded_at, \
     excluded_reason, bound_to, finished_by";

fn participant(row: &sqlx::any::AnyRow) -> Result<Participant, DbError> {
    let platform: String = row.try_get(1)?;
    Ok(Participant {
        rater: row.try_get(0)?,
        platform: Platform::parse(&platform).unwrap_or(Platform::Pid),
        external_id: row.try_get(2)?,
        session_id: row.try_get(3)?,
        platform_study: row.try_get(4)?,
        assignment_id: row.try_get(5)?,
        hit_id: row.try_get(6)?,
        submit_to: row.try_get(7)?,
        batches: row.try_get(8)?,
        item_cap: row.try_get(9)?,
        consented_at: row.try_get(10)?,
        created_at: row.try_get(11)?,
        completed_at: row.try_get(12)?,
        completion_code: row.try_get(13)?,
        excluded_at: row.try_get(14)?,
        excluded_reason: row.try_get(15)?,
        bound_to: row.try_get(16)?,
        finished_by: row.try_get(17)?,
    })
}

/// Fills `{code}` and `{pid}` (percent-encoded) in a completion URL.
pub fn fill_url(template: &str, code: &str, pid: &str) -> String {
    template.replace("{code}", &percent_encode(code)).replace("{pid}", &percent_encode(pid))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl StudyDb {
    /// Stores the study's enrollment settings (every server on the database reads them).
    /// The practice item, whose answer every participant is shown, may not be one of the study's
    /// gold items (same image): it would hand out a gold answer.
    pub async fn put_enrollment(&self, study: &str, enrollment: &Enrollment) -> Result<(), DbError> {
        self.answers_per_item(study).await?;
        enrollment.check()?;
        if let Some(practice) = &enrollment.practice {
            let shown = first_image(&practice.question);
            for item in self.items(study).await?.iter().filter(|i| i.gold.is_some()) {
                if first_image(&item.question) == shown {
                    return Err(DbError::BadSettings(format!(
                        "the practice item shows {shown}, the image of gold item {:?}: participants would be \
                         told a gold answer (pick another practice image)",
                        item.key
                    )));
                }
            }
        }
        sqlx::query(
            "INSERT INTO study_enrollment (study, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (study) DO UPDATE SET settings = $2, updated_at = $3",
        )
        .bind(study)
        .bind(serde_json::to_string(enrollment)?)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The study's enrollment settings, if open enrollment was set up.
    pub async fn enrollment(&self, study: &str) -> Result<Option<Enrollment>, DbError> {
        let row = sqlx::query("SELECT settings FROM study_enrollment WHERE study = $1")
            .bind(study)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>(0)?)?)).transpose()
    }

    /// The participant a rater is, if they came from a platform.
    pub async fn participant(&self, study: &str, rater: &str) -> Result<Option<Participant>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM study_participants WHERE study = $1 AND rater = $2"
        )))
        .bind(study)
        .bind(rater)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(participant).transpose()
    }

    /// Every participant of the study, by arrival.
    pub async fn participants(&self, study: &str) -> Result<Vec<Participant>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM study_participants WHERE study = $1 ORDER BY created_at, rater"
        )))
        .bind(study)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(participant).collect()
    }

    /// A visit from `platform` (see the module docs). Safe under concurrent visits of the same
    /// id, from any number of servers: the primary key (study, platform, id) decides who
    /// created the participant, and the loser resumes them.
    ///
    /// Identities hold: an MTurk assignment or Prolific session belongs to the first participant
    /// it came with (`study_bindings`); an unfinished batch is resumed only under the binding
    /// that started it (the same assignment, session, or — for a panel's `?pid=` — the browser
    /// holding the secret [`Joined::Started`] handed out); a finished participant's code is shown
    /// again only to the binding that finished. A new participant, or a new batch, is admitted
    /// only while some data item has room ([`Joined::Full`] otherwise, and nothing is created).
    pub async fn join(
        &self,
        study: &str,
        enrollment: &Enrollment,
        platform: Platform,
        visit: &Visit,
    ) -> Result<Joined, DbError> {
        let now = now_ms();
        let k = enrollment.per_participant as i64;
        let n = self.answers_per_item(study).await?;
        if platform != Platform::Pid && visit.binding(platform).is_none() {
            return Ok(Joined::Refused(Refusal::NoSession));
        }
        for _ in 0..3 {
            let mut tx = self.pool.begin().await?;
            if !self.postgres {
                // SQLite: write first, so that this transaction holds the write lock before it
                // reads (a read-then-write transaction cannot wait for the lock; it fails).
                sqlx::query("UPDATE study_studies SET name = name WHERE name = $1")
                    .bind(study)
                    .execute(&mut *tx)
                    .await?;
            } else {
                // PostgreSQL: one join of this study at a time, so that the binding check and the
                // insert of a new participant cannot interleave with another visit's.
                sqlx::query("SELECT name FROM study_studies WHERE name = $1 FOR UPDATE")
                    .bind(study)
                    .execute(&mut *tx)
                    .await?;
            }
            let mut binding = visit.binding(platform);
            if platform != Platform::Pid {
                let owner = sqlx::query(
                    "SELECT external_id FROM study_bindings WHERE study = $1 AND platform = $2 AND binding = $3",
                )
                .bind(study)
                .bind(platform.name())
                .bind(binding.clone())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(owner) = owner {
                    if owner.try_get::<String, _>(0)? != visit.external_id {
                        tx.rollback().await?;
                        return Ok(Joined::Refused(Refusal::OtherParticipant));
                    }
                }
            }
            let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM study_participants WHERE study = $1 AND platform = $2 AND external_id = $3"
            )))
            .bind(study)
            .bind(platform.name())
            .bind(visit.external_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let token = new_token()?;
            let mut secret = None;
            if platform == Platform::Pid && binding.is_none() {
                let s = new_token()?;
                binding = Some(format!("cookie:{}", hash_token(&s)));
                secret = Some(s);
            }
            let Some(row) = existing else {
                for other in &enrollment.exclude_studies {
                    let seen = sqlx::query(
                        "SELECT 1 FROM study_participants WHERE study = $1 AND platform = $2 AND external_id = $3",
                    )
                    .bind(other.as_str())
                    .bind(platform.name())
                    .bind(visit.external_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if seen.is_some() {
                        tx.rollback().await?;
                        return Ok(Joined::Excluded { study: other.clone() });
                    }
                }
                if !room_for_newcomer(&mut tx, study, n, now - self.lease_ms).await? {
                    tx.rollback().await?;
                    return Ok(Joined::Full);
                }
                let rater = format!("{}-{}", platform.name(), random_hex(6)?);
                sqlx::query("INSERT INTO study_raters (id, study, token_hash, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(rater.as_str())
                    .bind(study)
                    .bind(hash_token(&token))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let inserted = sqlx::query(
                    "INSERT INTO study_participants (study, platform, external_id, rater, session_id, platform_study, \
                     assignment_id, hit_id, submit_to, batches, item_cap, created_at, bound_to) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12) \
                     ON CONFLICT (study, platform, external_id) DO NOTHING",
                )
                .bind(study)
                .bind(platform.name())
                .bind(visit.external_id.as_str())
                .bind(rater.as_str())
                .bind(visit.session_id.clone())
                .bind(visit.platform_study.clone())
                .bind(visit.assignment_id.clone())
                .bind(visit.hit_id.clone())
                .bind(visit.submit_to.clone())
                .bind(k)
                .bind(now)
                .bind(binding.clone())
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 0 {
                    // Another visit of the same id won the race: resume theirs.
                    tx.rollback().await?;
                    continue;
                }
                bind(&mut tx, study, platform, binding.as_deref(), &visit.external_id, now).await?;
                tx.commit().await?;
                return Ok(Joined::Started { token, secret });
            };
            let p = participant(&row)?;
            let finished_here = p.finished_by.is_some() && p.finished_by == binding;
            if p.completed_at.is_some() {
                // A finished MTurk assignment or Prolific session is not a new batch; a panel's
                // browser may start its next one.
                let same_session_again = finished_here && platform != Platform::Pid;
                if p.batches >= enrollment.max_batches as i64 || same_session_again {
                    tx.rollback().await?;
                    return Ok(Joined::Finished { participant: Box::new(p), show_code: finished_here });
                }
                if !room_for_newcomer(&mut tx, study, n, now - self.lease_ms).await? {
                    tx.rollback().await?;
                    return Ok(Joined::Full);
                }
            } else if p.bound_to.is_some() && p.bound_to != binding {
                tx.rollback().await?;
                return Ok(Joined::Refused(Refusal::OtherSession));
            }
            let new_batch = p.completed_at.is_some();
            sqlx::query("UPDATE study_raters SET token_hash = $3 WHERE study = $1 AND id = $2")
                .bind(study)
                .bind(p.rater.as_str())
                .bind(hash_token(&token))
                .execute(&mut *tx)
                .await?;
            let (batches, cap) = if new_batch { (p.batches + 1, p.item_cap + k) } else { (p.batches, p.item_cap) };
            sqlx::query(
                "UPDATE study_participants SET session_id = COALESCE($4, session_id), \
                 assignment_id = COALESCE($5, assignment_id), hit_id = COALESCE($6, hit_id), \
                 submit_to = COALESCE($7, submit_to), batches = $8, item_cap = $9, \
                 completed_at = CASE WHEN $10 = 1 THEN NULL ELSE completed_at END, bound_to = $11 \
                 WHERE study = $1 AND platform = $2 AND external_id = $3",
            )
            .bind(study)
            .bind(platform.name())
            .bind(visit.external_id.as_str())
            .bind(visit.session_id.clone())
            .bind(visit.assignment_id.clone())
            .bind(visit.hit_id.clone())
            .bind(visit.submit_to.clone())
            .bind(batches)
            .bind(cap)
            .bind(i64::from(new_batch))
            .bind(binding.clone())
            .execute(&mut *tx)
            .await?;
            bind(&mut tx, study, platform, binding.as_deref(), &visit.external_id, now).await?;
            tx.commit().await?;
            return Ok(if new_batch { Joined::Started { token, secret } } else { Joined::Resumed { token } });
        }
        Err(DbError::Busy("joining: the same participant id kept changing".to_string()))
    }

    /// Records that the participant behind `rater` consented (the first time counts).
    pub async fn consent(&self, study: &str, rater: &str) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE study_participants SET consented_at = $3 WHERE study = $1 AND rater = $2 AND consented_at IS NULL",
        )
        .bind(study)
        .bind(rater)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends the participant's batch once every item of it is answered (or the study has none
    /// left for them) and returns the completion. Every answer was committed before it was
    /// acknowledged, so a completion is only ever shown for answers that are stored.
    ///
    /// Atomic and idempotent: the participant's row is locked before it is read, the code is
    /// drawn only when none is stored, and every call — concurrent ones included — returns the
    /// one stored code. A batch without a single data answer gets no code at all
    /// ([`DbError::NoAnswers`]): nobody is paid for nothing.
    pub async fn complete(&self, study: &str, enrollment: &Enrollment, rater: &str) -> Result<Completion, DbError> {
        let k = enrollment.per_participant as i64;
        let mut looked_for_more = false;
        loop {
            let mut tx = self.pool.begin().await?;
            crate::db::assign::lock_rater(self, &mut tx, study, rater).await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM study_participants WHERE study = $1 AND rater = $2"
            )))
            .bind(study)
            .bind(rater)
            .fetch_optional(&mut *tx)
            .await?;
            let p = participant(&row.ok_or_else(|| DbError::NotParticipant(rater.to_string()))?)?;
            let answered = crate::db::assign::data_answered_in(&mut tx, study, rater).await?;
            if let (Some(_), Some(code)) = (p.completed_at, &p.completion_code) {
                tx.commit().await?;
                return Ok(completion(enrollment, &p, code.clone(), answered));
            }
            if !looked_for_more && p.excluded_at.is_none() && answered < p.item_cap {
                let open: i64 = sqlx::query(
                    "SELECT COUNT(*) FROM study_assignments WHERE study = $1 AND rater = $2 AND state = 'leased'",
                )
                .bind(study)
                .bind(rater)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                tx.rollback().await?;
                // Items left for them? Asking leases one, which is what the page does next anyway.
                if open > 0 || self.next_item(study, rater).await?.is_some() {
                    return Err(DbError::BatchNotDone { answered, of: p.item_cap });
                }
                looked_for_more = true;
                continue;
            }
            if answered - (p.item_cap - k).max(0) <= 0 {
                tx.rollback().await?;
                return Err(DbError::NoAnswers);
            }
            if let (Some(min), None) = (enrollment.min_median_seconds, p.excluded_at) {
                let mut times: Vec<f64> = sqlx::query(
                    "SELECT a.seconds FROM study_assignments a JOIN study_items i ON i.study = a.study \
                     AND i.item_key = a.item_key WHERE a.study = $1 AND a.rater = $2 AND a.state = 'answered' \
                     AND i.gold = 0 AND a.seconds IS NOT NULL",
                )
                .bind(study)
                .bind(rater)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get::<f64, _>(0))
                .collect::<Result<_, _>>()?;
                if let Some(median) = crate::aggregate::median(&mut times) {
                    if median < min {
                        let reason = format!("too fast: median {median:.2} s per item < {min} s");
                        exclude(&mut tx, study, rater, &reason).await?;
                    }
                }
            }
            let code = match (&p.completion_code, &enrollment.completion_code) {
                (Some(c), _) => c.clone(),
                (None, Some(c)) => c.clone(),
                (None, None) => random_hex(5)?.to_uppercase(),
            };
            sqlx::query(
                "UPDATE study_participants SET completed_at = $3, completion_code = $4, finished_by = bound_to \
                 WHERE study = $1 AND rater = $2 AND completed_at IS NULL",
            )
            .bind(study)
            .bind(rater)
            .bind(now_ms())
            .bind(code.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(completion(enrollment, &p, code, answered));
        }
    }

    /// Removes the study's enrollment settings (entry routes close; participants stay stored).
    pub async fn delete_enrollment(&self, study: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM study_enrollment WHERE study = $1").bind(study).execute(&self.pool).await?;
        Ok(())
    }
}

/// The path of a question's image (the target, for an assignment).
pub fn first_image(question: &Question) -> &str {
    match question {
        Question::Relevance { image, .. }
        | Question::MultiRelevance { image, .. }
        | Question::Attribute { image, .. } => &image.path,
        Question::Assignment { target, .. } => &target.path,
    }
}

/// Records that `binding` (an MTurk assignment, a Prolific session) belongs to `external_id`;
/// the caller checked that it belongs to nobody else. Panel bindings (browser secrets) are not
/// recorded: they are the participant's own.
async fn bind(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    study: &str,
    platform: Platform,
    binding: Option<&str>,
    external_id: &str,
    now: i64,
) -> Result<(), DbError> {
    let (Some(binding), false) = (binding, platform == Platform::Pid) else { return Ok(()) };
    sqlx::query(
        "INSERT INTO study_bindings (study, platform, binding, external_id, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (study, platform, binding) DO NOTHING",
    )
    .bind(study)
    .bind(platform.name())
    .bind(binding)
    .bind(external_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether some data item has room for a rater who has seen none: fewer counted answers and
/// open leases (younger than `cutoff`) than N.
async fn room_for_newcomer(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    study: &str,
    n: i64,
    cutoff: i64,
) -> Result<bool, DbError> {
    let row = sqlx::query(
        "SELECT 1 FROM study_items i WHERE i.study = $1 AND i.gold = 0 AND \
         (SELECT COUNT(*) FROM study_assignments a WHERE a.study = i.study AND a.item_key = i.item_key \
          AND a.excluded = 0 AND (a.state = 'answered' OR (a.state = 'leased' AND a.lease_at > $2))) < $3 LIMIT 1",
    )
    .bind(study)
    .bind(cutoff)
    .bind(n)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// Marks the participant behind `rater` excluded (the first reason stays) and their answers
/// uncounted, so that their items reopen.
async fn exclude(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    study: &str,
    rater: &str,
    reason: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE study_participants SET excluded_at = $3, excluded_reason = $4 \
         WHERE study = $1 AND rater = $2 AND excluded_at IS NULL",
    )
    .bind(study)
    .bind(rater)
    .bind(now_ms())
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE study_assignments SET excluded = 1 WHERE study = $1 AND rater = $2")
        .bind(study)
        .bind(rater)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl StudyDb {
    /// After a gold answer: excludes the participant whose gold accuracy fell below the study's
    /// minimum (see [`Enrollment::min_gold_accuracy`]). Invited raters are judged only at
    /// `study results` time.
    pub(crate) async fn check_gold(&self, study: &str, rater: &str) -> Result<(), DbError> {
        let Some(e) = self.enrollment(study).await? else { return Ok(()) };
        let Some(min) = e.min_gold_accuracy else { return Ok(()) };
        let Some(p) = self.participant(study, rater).await? else { return Ok(()) };
        if p.excluded_at.is_some() {
            return Ok(());
        }
        let rows = sqlx::query(
            "SELECT a.answer, i.body FROM study_assignments a JOIN study_items i ON i.study = a.study \
             AND i.item_key = a.item_key WHERE a.study = $1 AND a.rater = $2 AND a.state = 'answered' AND i.gold = 1",
        )
        .bind(study)
        .bind(rater)
        .fetch_all(&self.pool)
        .await?;
        let (mut right, mut n) = (0usize, 0usize);
        for r in &rows {
            let answer: Answer = serde_json::from_str(&r.try_get::<String, _>(0)?)?;
            let item: crate::Item = serde_json::from_str(&r.try_get::<String, _>(1)?)?;
            n += 1;
            right += usize::from(item.gold.as_ref() == Some(&answer));
        }
        let accuracy = right as f64 / n.max(1) as f64;
        if n >= e.min_gold_answers && accuracy < min {
            let mut tx = self.pool.begin().await?;
            crate::db::assign::lock_rater(self, &mut tx, study, rater).await?;
            let reason = format!("gold accuracy {accuracy:.2} < {min} ({right} of {n} right)");
            exclude(&mut tx, study, rater, &reason).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// The completion of participant `p` with `code`.
pub fn completion(enrollment: &Enrollment, p: &Participant, code: String, answered: i64) -> Completion {
    let template = match p.platform {
        Platform::Prolific => Some(enrollment.completion_url.as_deref().unwrap_or(PROLIFIC_COMPLETION_URL)),
        Platform::Pid => enrollment.completion_url.as_deref(),
        Platform::Mturk => None,
    };
    let redirect = template.map(|t| fill_url(t, &code, &p.external_id));
    let mturk_submit = match (p.platform, &p.submit_to, &p.assignment_id) {
        (Platform::Mturk, Some(to), Some(a)) => Some(MturkSubmit {
            action: format!("{}/mturk/externalSubmit", to.trim_end_matches('/')),
            assignment_id: a.clone(),
        }),
        _ => None,
    };
    Completion { code, redirect, mturk_submit, answered }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_urls() {
        assert_eq!(origin("https://www.mturk.com/").as_deref(), Some("https://www.mturk.com"));
        assert_eq!(origin("http://127.0.0.1:9000").as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(origin("https://evil.example/path"), None);
        assert_eq!(origin("javascript:alert(1)"), None);
        let e = Enrollment::new(vec![Platform::Mturk], 5);
        assert!(e.accepts_submit_to("https://workersandbox.mturk.com/"));
        assert!(!e.accepts_submit_to("https://workersandbox.mturk.com.evil.example"));
        assert_eq!(
            fill_url(PROLIFIC_COMPLETION_URL, "C0DE", "x"),
            "https://app.prolific.com/submissions/complete?cc=C0DE"
        );
        assert_eq!(
            fill_url("https://lab.example/done?id={pid}", "c", "a b&c"),
            "https://lab.example/done?id=a%20b%26c"
        );
        let mut p = Enrollment::new(vec![Platform::Prolific], 5);
        assert!(p.check().unwrap_err().to_string().contains("--completion-code"));
        p.completion_code = Some("C1X2".into());
        p.check().unwrap();
    }
}
