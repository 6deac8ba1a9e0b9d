//! Assignment of items to raters, and answers.
//!
//! Rules, in order, for [`StudyDb::next_item`]:
//! 1. a rater holding an open lease gets that item again (an expired lease is renewed when the
//!    item still has room, otherwise it is released and the rater never sees the item again);
//! 2. otherwise the rater gets an item they have no row for (never the same item twice), whose
//!    answers plus open leases (younger than the lease timeout) are fewer than N, and whose arm
//!    agrees with the arm the rater's first item of that design fixed;
//! 3. among those, the one closest to completion, then the lowest id.
//!
//! Each step runs in one transaction under the process-wide write lock; the primary key
//! (study, item, rater) backs rule 2 up. Answers are idempotent: the same answer again succeeds
//! without counting twice; a different one is a conflict.

use crate::db::{now_ms, StoredItem, StudyDb};
use crate::error::DbError;
use rectify_study::{Answer, Question};
use sqlx::Row;

/// What [`StudyDb::answer`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answered {
    /// False when the same answer was already recorded (a retried request).
    pub recorded: bool,
    /// Time on task in seconds (answered − assigned), as stored.
    pub seconds: Option<f64>,
}

impl StudyDb {
    /// Leases the next item to `rater` (see the module docs), or `None` when none is left.
    pub async fn next_item(&self, study: &str, rater: &str) -> Result<Option<StoredItem>, DbError> {
        self.next_item_at(study, rater, now_ms()).await
    }

    /// [`StudyDb::next_item`] at time `now` (Unix ms).
    pub async fn next_item_at(&self, study: &str, rater: &str, now: i64) -> Result<Option<StoredItem>, DbError> {
        let n = self.answers_per_item(study).await?;
        let cutoff = now - self.lease_ms;
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let open = sqlx::query(
            "SELECT item_key, lease_at FROM study_assignments WHERE study = $1 AND rater = $2 AND state = 'leased'",
        )
        .bind(study)
        .bind(rater)
        .fetch_all(&mut *tx)
        .await?;
        let mut held = None;
        for row in open {
            let key: String = row.try_get(0)?;
            let lease_at: Option<i64> = row.try_get(1)?;
            if held.is_none() && lease_at.unwrap_or(0) > cutoff {
                held = Some(key);
            } else if held.is_none() && taken_by_others(&mut tx, study, &key, rater, cutoff).await? < n {
                sqlx::query(
                    "UPDATE study_assignments SET lease_at = $4 WHERE study = $1 AND item_key = $2 AND rater = $3",
                )
                .bind(study)
                .bind(key.as_str())
                .bind(rater)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                held = Some(key);
            } else {
                sqlx::query(
                    "UPDATE study_assignments SET state = 'released' WHERE study = $1 AND item_key = $2 AND rater = $3",
                )
                .bind(study)
                .bind(key.as_str())
                .bind(rater)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(key) = held {
            tx.commit().await?;
            return self.item(study, &key).await;
        }
        let candidate = sqlx::query(
            "SELECT t.item_key, t.design, t.arm FROM ( \
               SELECT i.item_key, i.id, i.design, i.arm, \
                 (SELECT COUNT(*) FROM study_assignments a WHERE a.study = i.study AND a.item_key = i.item_key \
                    AND (a.state = 'answered' OR (a.state = 'leased' AND a.lease_at > $3))) AS taken \
               FROM study_items i \
               WHERE i.study = $1 \
                 AND NOT EXISTS (SELECT 1 FROM study_assignments b \
                                 WHERE b.study = i.study AND b.item_key = i.item_key AND b.rater = $2) \
                 AND (i.arm IS NULL OR NOT EXISTS (SELECT 1 FROM study_arms r WHERE r.study = i.study \
                      AND r.rater = $2 AND r.design = i.design AND r.arm <> i.arm)) \
             ) t WHERE t.taken < $4 ORDER BY t.taken DESC, t.id ASC LIMIT 1",
        )
        .bind(study)
        .bind(rater)
        .bind(cutoff)
        .bind(n)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = candidate else {
            tx.commit().await?;
            return Ok(None);
        };
        let key: String = row.try_get(0)?;
        let design: String = row.try_get(1)?;
        let arm: Option<String> = row.try_get(2)?;
        sqlx::query(
            "INSERT INTO study_assignments (study, item_key, rater, state, assigned_at, lease_at, source) \
             VALUES ($1, $2, $3, 'leased', $4, $4, 'server')",
        )
        .bind(study)
        .bind(key.as_str())
        .bind(rater)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(arm) = arm {
            sqlx::query(
                "INSERT INTO study_arms (study, rater, design, arm) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (study, rater, design) DO NOTHING",
            )
            .bind(study)
            .bind(rater)
            .bind(design)
            .bind(arm)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.item(study, &key).await
    }

    /// Records `rater`'s answer to the item (key or id) leased to them, with the time on task
    /// measured here. Idempotent: the same answer again returns `recorded: false`.
    pub async fn answer(
        &self,
        study: &str,
        rater: &str,
        item: &str,
        answer: &Answer,
        request_id: Option<&str>,
    ) -> Result<Answered, DbError> {
        self.answer_at(study, rater, item, answer, request_id, now_ms()).await
    }

    /// [`StudyDb::answer`] at time `now` (Unix ms).
    pub async fn answer_at(
        &self,
        study: &str,
        rater: &str,
        item: &str,
        answer: &Answer,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<Answered, DbError> {
        let n = self.answers_per_item(study).await?;
        let stored = self
            .item(study, item)
            .await?
            .ok_or_else(|| DbError::UnknownItem { study: study.to_string(), item: item.to_string() })?;
        let key = stored.item.key.as_str();
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT state, assigned_at, lease_at, answer, seconds FROM study_assignments \
             WHERE study = $1 AND item_key = $2 AND rater = $3",
        )
        .bind(study)
        .bind(key)
        .bind(rater)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| DbError::NotLeased(key.to_string()))?;
        check_answer(key, &stored.item.question, answer)?;
        let state: String = row.try_get(0)?;
        let assigned_at: Option<i64> = row.try_get(1)?;
        let lease_at: Option<i64> = row.try_get(2)?;
        match state.as_str() {
            "answered" => {
                let previous: Option<String> = row.try_get(3)?;
                let previous: Option<Answer> = previous.as_deref().map(serde_json::from_str).transpose()?;
                return if previous.as_ref() == Some(answer) {
                    Ok(Answered { recorded: false, seconds: row.try_get(4)? })
                } else {
                    Err(DbError::AlreadyAnswered(key.to_string()))
                };
            }
            "leased" => {}
            _ => return Err(DbError::LeaseExpired(key.to_string())),
        }
        let cutoff = now - self.lease_ms;
        if lease_at.unwrap_or(0) <= cutoff && taken_by_others(&mut tx, study, key, rater, cutoff).await? >= n {
            sqlx::query(
                "UPDATE study_assignments SET state = 'released' WHERE study = $1 AND item_key = $2 AND rater = $3",
            )
            .bind(study)
            .bind(key)
            .bind(rater)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(DbError::LeaseExpired(key.to_string()));
        }
        let seconds = assigned_at.map(|t| (now - t).max(0) as f64 / 1000.0);
        sqlx::query(
            "UPDATE study_assignments SET state = 'answered', answered_at = $4, answer = $5, seconds = $6, \
             request_id = $7 WHERE study = $1 AND item_key = $2 AND rater = $3",
        )
        .bind(study)
        .bind(key)
        .bind(rater)
        .bind(now)
        .bind(serde_json::to_string(answer)?)
        .bind(seconds)
        .bind(request_id.map(str::to_string))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Answered { recorded: true, seconds })
    }

    /// Whether the item (by key) is leased to or was answered by `rater`: what they may see.
    pub async fn rater_may_see(&self, study: &str, rater: &str, item_key: &str) -> Result<bool, DbError> {
        let row = sqlx::query(
            "SELECT state FROM study_assignments WHERE study = $1 AND item_key = $2 AND rater = $3 \
             AND state IN ('leased', 'answered')",
        )
        .bind(study)
        .bind(item_key)
        .bind(rater)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// How many items `rater` answered.
    pub async fn answered_by(&self, study: &str, rater: &str) -> Result<usize, DbError> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM study_assignments WHERE study = $1 AND rater = $2 AND state = 'answered'",
        )
        .bind(study)
        .bind(rater)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(n.max(0) as usize)
    }
}

/// Answers plus open leases of raters other than `rater` on the item.
async fn taken_by_others(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    study: &str,
    key: &str,
    rater: &str,
    cutoff: i64,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM study_assignments WHERE study = $1 AND item_key = $2 AND rater <> $3 \
         AND (state = 'answered' OR (state = 'leased' AND lease_at > $4))",
    )
    .bind(study)
    .bind(key)
    .bind(rater)
    .bind(cutoff)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// Checks that `answer` is of the kind the question asks for.
pub fn check_answer(item: &str, question: &Question, answer: &Answer) -> Result<(), DbError> {
    let bad = |message: String| Err(DbError::BadAnswer { item: item.to_string(), message });
    match (question, answer) {
        (Question::Relevance { .. } | Question::Attribute { .. }, Answer::Yes | Answer::No) => Ok(()),
        (Question::Relevance { .. } | Question::Attribute { .. }, other) => {
            bad(format!("expected yes or no, got {}", kind(other)))
        }
        (Question::MultiRelevance { classes, .. }, Answer::Classes(ticked)) => {
            let mut seen = std::collections::HashSet::new();
            for c in ticked {
                if !classes.iter().any(|o| o.class == *c) {
                    return bad(format!("class {c} is not one of the classes offered"));
                }
                if !seen.insert(*c) {
                    return bad(format!("class {c} ticked twice"));
                }
            }
            Ok(())
        }
        (Question::MultiRelevance { .. }, other) => bad(format!("expected classes, got {}", kind(other))),
        (Question::Assignment { options, .. }, Answer::Option(i)) if *i < options.len() => Ok(()),
        (Question::Assignment { options, .. }, Answer::Option(i)) => {
            bad(format!("option {i} out of range (there are {})", options.len()))
        }
        (Question::Assignment { .. }, other) => bad(format!("expected an option, got {}", kind(other))),
    }
}

fn kind(answer: &Answer) -> &'static str {
    match answer {
        Answer::Yes => "yes",
        Answer::No => "no",
        Answer::Maybe => "maybe",
        Answer::Classes(_) => "classes",
        Answer::Option(_) => "option",
    }
}
