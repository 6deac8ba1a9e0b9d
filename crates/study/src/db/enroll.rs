//! Open enrollment from recruitment platforms: the database side of joining, consent and
//! completion (the settings are [`crate::db::enrollment`]).
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

use crate::db::assign::data_answered_in;
use crate::db::assign::room_for_newcomer;
use crate::db::enrollment::{fill_url, Enrollment, Platform, PROLIFIC_COMPLETION_URL};
use crate::db::error::DbError;
use crate::db::locks::{lock_rater, lock_study, retrying, Tx};
use crate::db::quality::exclude_if_too_fast;
use crate::db::tokens::{hash_token, new_token, random_hex};
use crate::db::{now_ms, StudyDb};
use serde::Serialize;
use sqlx::Row;

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

impl StudyDb {
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
    /// created the participant; visits lock the study's row (`lock_study`), one at a time.
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
        let n = self.answers_per_item(study).await?;
        if platform != Platform::Pid && visit.binding(platform).is_none() {
            return Ok(Joined::Refused(Refusal::NoSession));
        }
        retrying(|| self.try_join(study, enrollment, platform, visit, n)).await
    }

    /// One attempt of [`StudyDb::join`], in one transaction under the study's lock.
    async fn try_join(
        &self,
        study: &str,
        enrollment: &Enrollment,
        platform: Platform,
        visit: &Visit,
        n: i64,
    ) -> Result<Joined, DbError> {
        let now = now_ms();
        let k = enrollment.per_participant as i64;
        let mut tx = self.pool.begin().await?;
        // One join of this study at a time, so that the binding check and the insert of a new
        // participant cannot interleave with another visit's.
        lock_study(self, &mut tx, study).await?;
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
                // Cannot happen under the study's lock; the primary key backs it up.
                tx.rollback().await?;
                return Err(DbError::Busy("joining: the same participant id joined at once".to_string()));
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
        Ok(if new_batch { Joined::Started { token, secret } } else { Joined::Resumed { token } })
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
            lock_rater(self, &mut tx, study, rater).await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM study_participants WHERE study = $1 AND rater = $2"
            )))
            .bind(study)
            .bind(rater)
            .fetch_optional(&mut *tx)
            .await?;
            let p = participant(&row.ok_or_else(|| DbError::NotParticipant(rater.to_string()))?)?;
            let answered = data_answered_in(&mut tx, study, rater).await?;
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
            if p.excluded_at.is_none() {
                exclude_if_too_fast(&mut tx, study, enrollment, rater).await?;
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
}

/// Records that `binding` (an MTurk assignment, a Prolific session) belongs to `external_id`;
/// the caller checked that it belongs to nobody else. Panel bindings (browser secrets) are not
/// recorded: they are the participant's own.
async fn bind(
    tx: &mut Tx<'_>,
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
