//! Assignment of items to raters, and answers.
//!
//! Rules, in order, for [`StudyDb::next_item`]:
//! 1. a rater holding an open lease gets that item again; an expired lease is released (the
//!    rater never sees the item again): asking does not renew a lease, only an answer can still
//!    use it, while the item has room;
//! 2. otherwise the rater gets an item they have no row for (never the same item twice), whose
//!    answers plus open leases (younger than the lease timeout) are fewer than N, and whose arm
//!    agrees with the arm the rater's first item of that design fixed — and, when the study
//!    stops once decided, that is not decided ([`crate::db::decided`]);
//! 3. among those, items that need another answer whatever their open leases say first (under
//!    stopping: fewer open leases than the fewest answers that could decide the item; without
//!    stopping: every item), then the one closest to completion, then the lowest id.
//!
//! Participants from a recruitment platform get gold items at the places of their own
//! [`crate::db::quality::GoldSchedule`], and at most their batch of data items — answered, open or released — so
//! that a participant who never answers holds at most K leases over the whole study.
//!
//! Every lease has an opaque id (128 random bits): the browser sees an item only under it, so
//! that nothing it receives tells data, gold and attention items apart.
//!
//! # The guard is in the database
//! Several servers may share one database: every transaction that can add to an item's count
//! locks the rater's row, then the item's, and only then counts and writes; the candidate item
//! is chosen before the lock and re-checked under it (when it filled up meanwhile the next
//! candidate is tried). See `crate::db::locks`. The primary key (study, item, rater) backs up
//! "never the same item twice".
//!
//! Answers are idempotent: the same answer again succeeds without counting twice; a different
//! one is a conflict.

use crate::db::decided::refresh;
use crate::db::error::DbError;
use crate::db::locks::{lock_item, lock_rater, retrying, Tx};
use crate::db::tokens::random_hex;
use crate::db::{now_ms, StoredItem, StudyDb};
use crate::{Answer, Question};
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
        retrying(|| self.try_next_item(study, rater, now)).await
    }

    async fn try_next_item(&self, study: &str, rater: &str, now: i64) -> Result<Option<StoredItem>, DbError> {
        let n = self.answers_per_item(study).await?;
        let cutoff = now - self.lease_ms;
        let _local = self.local_guard().await;
        let mut tried: Vec<String> = Vec::new();
        loop {
            let mut tx = self.pool.begin().await?;
            lock_rater(self, &mut tx, study, rater).await?;
            let participant = participant_cap(&mut tx, study, rater).await?;
            if let Some((_, true)) = participant {
                tx.commit().await?;
                return Ok(None);
            }
            let open = sqlx::query(
                "SELECT item_key, lease_at, lease_id FROM study_assignments WHERE study = $1 AND rater = $2 \
                 AND state = 'leased' ORDER BY assigned_at, item_key",
            )
            .bind(study)
            .bind(rater)
            .fetch_all(&mut *tx)
            .await?;
            let mut held = None;
            for row in open {
                let key: String = row.try_get(0)?;
                let lease_at: Option<i64> = row.try_get(1)?;
                let lease: Option<String> = row.try_get(2)?;
                if held.is_none() && lease_at.unwrap_or(0) > cutoff {
                    held = Some((key, lease));
                    continue;
                }
                // An expired lease is never renewed by asking (only an answer can still use it,
                // while the item has room): a participant who never answers cannot hold items.
                sqlx::query(
                    "UPDATE study_assignments SET state = 'released' WHERE study = $1 AND item_key = $2 AND rater = $3",
                )
                .bind(study)
                .bind(key.as_str())
                .bind(rater)
                .execute(&mut *tx)
                .await?;
            }
            if let Some((key, lease)) = held {
                let lease = match lease {
                    Some(l) => l,
                    None => {
                        // A lease made before lease ids existed.
                        let l = random_hex(16)?;
                        sqlx::query(
                            "UPDATE study_assignments SET lease_id = $4 WHERE study = $1 AND item_key = $2 AND rater = $3",
                        )
                        .bind(study)
                        .bind(key.as_str())
                        .bind(rater)
                        .bind(l.as_str())
                        .execute(&mut *tx)
                        .await?;
                        l
                    }
                };
                tx.commit().await?;
                return Ok(self.item(study, &key).await?.map(|s| StoredItem { lease: Some(lease), ..s }));
            }
            if let Some((cap, _)) = participant {
                if let Some(key) = self.gold_due(&mut tx, study, rater, cap).await? {
                    let lease = lease_item(&mut tx, study, &key, rater, now).await?;
                    tx.commit().await?;
                    return Ok(self.item(study, &key).await?.map(|s| StoredItem { lease: Some(lease), ..s }));
                }
                // Every data item leased to them counts against their batch, answered or not:
                // their leases are bounded by the batch.
                if data_rows_in(&mut tx, study, rater).await? >= cap {
                    tx.commit().await?;
                    return Ok(None);
                }
            }
            let Some((key, design, arm, sure)) = candidate(&mut tx, study, rater, cutoff, n, &tried).await? else {
                tx.commit().await?;
                return Ok(None);
            };
            lock_item(self, &mut tx, study, &key).await?;
            if taken_by_others(&mut tx, study, &key, rater, cutoff).await? >= n
                || !still_wanted(&mut tx, study, &key, cutoff, n, sure).await?
            {
                // Filled, decided, or no longer surely needed while we chose it: try the next one.
                tx.rollback().await?;
                tried.push(key);
                continue;
            }
            let lease = lease_item(&mut tx, study, &key, rater, now).await?;
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
            return Ok(self.item(study, &key).await?.map(|s| StoredItem { lease: Some(lease), ..s }));
        }
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
        let done = retrying(|| self.try_answer(study, rater, &stored, answer, request_id, now, n)).await?;
        if done.recorded && stored.item.gold.is_some() {
            self.check_gold(study, rater).await?;
        }
        Ok(done)
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_answer(
        &self,
        study: &str,
        rater: &str,
        stored: &StoredItem,
        answer: &Answer,
        request_id: Option<&str>,
        now: i64,
        n: i64,
    ) -> Result<Answered, DbError> {
        let key = stored.item.key.as_str();
        let _local = self.local_guard().await;
        let mut tx = self.pool.begin().await?;
        lock_rater(self, &mut tx, study, rater).await?;
        lock_item(self, &mut tx, study, key).await?;
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
        // Under stopping, this answer may decide the item (an answer to an item decided
        // meanwhile is stored and counted all the same: it cannot change the verdict).
        refresh(&mut tx, study, Some(std::slice::from_ref(&stored.item.key))).await?;
        tx.commit().await?;
        Ok(Answered { recorded: true, seconds })
    }

    /// The item `rater` holds (or answered) under the opaque lease id `lease`, with the lease.
    pub async fn leased_item(&self, study: &str, rater: &str, lease: &str) -> Result<Option<StoredItem>, DbError> {
        let row = sqlx::query(
            "SELECT item_key FROM study_assignments WHERE study = $1 AND rater = $2 AND lease_id = $3 \
             AND state IN ('leased', 'answered')",
        )
        .bind(study)
        .bind(rater)
        .bind(lease)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let key: String = row.try_get(0)?;
        Ok(self.item(study, &key).await?.map(|s| StoredItem { lease: Some(lease.to_string()), ..s }))
    }

    /// [`StudyDb::answer`] for the item leased to `rater` under the opaque id `lease`: what the
    /// rater's browser sends. Errors name the lease, never the item.
    pub async fn answer_lease(
        &self,
        study: &str,
        rater: &str,
        lease: &str,
        answer: &Answer,
        request_id: Option<&str>,
    ) -> Result<Answered, DbError> {
        let row =
            sqlx::query("SELECT item_key FROM study_assignments WHERE study = $1 AND rater = $2 AND lease_id = $3")
                .bind(study)
                .bind(rater)
                .bind(lease)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Err(DbError::NotLeased(lease.to_string())) };
        let key: String = row.try_get(0)?;
        self.answer(study, rater, &key, answer, request_id).await.map_err(|e| match e {
            DbError::NotLeased(_) | DbError::UnknownItem { .. } => DbError::NotLeased(lease.to_string()),
            DbError::LeaseExpired(_) => DbError::LeaseExpired(lease.to_string()),
            DbError::AlreadyAnswered(_) => DbError::AlreadyAnswered(lease.to_string()),
            DbError::BadAnswer { message, .. } => DbError::BadAnswer { item: lease.to_string(), message },
            other => other,
        })
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

/// Inserts a new lease of `key` to `rater` and returns its opaque id.
async fn lease_item(tx: &mut Tx<'_>, study: &str, key: &str, rater: &str, now: i64) -> Result<String, DbError> {
    let lease = random_hex(16)?;
    sqlx::query(
        "INSERT INTO study_assignments (study, item_key, rater, state, assigned_at, lease_at, source, lease_id) \
         VALUES ($1, $2, $3, 'leased', $4, $4, 'server', $5)",
    )
    .bind(study)
    .bind(key)
    .bind(rater)
    .bind(now)
    .bind(lease.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(lease)
}

/// The best item for `rater` by rules 2 and 3, skipping `tried`: (key, design, arm, and whether
/// another answer is needed whatever its open leases say).
///
/// Under stopping, a decided item is not a candidate, and items whose open leases cannot decide
/// them (fewer than `to_decide`: another answer is needed whatever those say) come before items
/// that one of their open leases might decide (a rater is given one of those rather than turned
/// away while an item may still need an answer); without stopping every open item is of the first
/// kind, and the order is rule 3's.
async fn candidate(
    tx: &mut Tx<'_>,
    study: &str,
    rater: &str,
    cutoff: i64,
    n: i64,
    tried: &[String],
) -> Result<Option<(String, String, Option<String>, bool)>, DbError> {
    let rows = sqlx::query(
        "SELECT t.item_key, t.design, t.arm, CASE WHEN t.pending < t.to_decide THEN 1 ELSE 0 END FROM ( \
           SELECT i.item_key, i.id, i.design, i.arm, COALESCE(i.to_decide, $4) AS to_decide, \
             (SELECT COUNT(*) FROM study_assignments a WHERE a.study = i.study AND a.item_key = i.item_key \
                AND a.excluded = 0 AND a.state = 'answered') AS answered, \
             (SELECT COUNT(*) FROM study_assignments a WHERE a.study = i.study AND a.item_key = i.item_key \
                AND a.excluded = 0 AND a.state = 'leased' AND a.lease_at > $3) AS pending \
           FROM study_items i \
           WHERE i.study = $1 AND i.gold = 0 AND i.decided_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM study_assignments b \
                             WHERE b.study = i.study AND b.item_key = i.item_key AND b.rater = $2) \
             AND (i.arm IS NULL OR NOT EXISTS (SELECT 1 FROM study_arms r WHERE r.study = i.study \
                  AND r.rater = $2 AND r.design = i.design AND r.arm <> i.arm)) \
         ) t WHERE t.answered + t.pending < $4 \
         ORDER BY CASE WHEN t.pending < t.to_decide THEN 0 ELSE 1 END, t.answered + t.pending DESC, t.id ASC \
         LIMIT $5",
    )
    .bind(study)
    .bind(rater)
    .bind(cutoff)
    .bind(n)
    .bind(tried.len() as i64 + 1)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let key: String = row.try_get(0)?;
        if !tried.contains(&key) {
            return Ok(Some((key, row.try_get(1)?, row.try_get(2)?, row.try_get::<i64, _>(3)? == 1)));
        }
    }
    Ok(None)
}

/// Re-checked under the item's lock: the item is not decided, and — when it was chosen as surely
/// needing another answer — its open leases still cannot decide it (servers choosing at the same
/// moment would otherwise all lease the same item, and most of those answers would be wasted).
async fn still_wanted(
    tx: &mut Tx<'_>,
    study: &str,
    key: &str,
    cutoff: i64,
    n: i64,
    sure: bool,
) -> Result<bool, DbError> {
    let row = sqlx::query(
        "SELECT i.decided_at, COALESCE(i.to_decide, $4), \
           (SELECT COUNT(*) FROM study_assignments a WHERE a.study = i.study AND a.item_key = i.item_key \
              AND a.excluded = 0 AND a.state = 'leased' AND a.lease_at > $3) \
         FROM study_items i WHERE i.study = $1 AND i.item_key = $2",
    )
    .bind(study)
    .bind(key)
    .bind(cutoff)
    .bind(n)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(false) };
    if row.try_get::<Option<i64>, _>(0)?.is_some() {
        return Ok(false);
    }
    Ok(!sure || row.try_get::<i64, _>(2)? < row.try_get::<i64, _>(1)?)
}

/// How many data items a participant from a recruitment platform may answer (their batches ×
/// K) and whether they were excluded, or `None` for an invited rater (no limit).
async fn participant_cap(tx: &mut Tx<'_>, study: &str, rater: &str) -> Result<Option<(i64, bool)>, DbError> {
    let row = sqlx::query("SELECT item_cap, excluded_at FROM study_participants WHERE study = $1 AND rater = $2")
        .bind(study)
        .bind(rater)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get::<Option<i64>, _>(1)?.is_some()))).transpose()
}

/// Data (not gold) items ever leased to `rater`, answered, open or released.
async fn data_rows_in(tx: &mut Tx<'_>, study: &str, rater: &str) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM study_assignments a JOIN study_items i ON i.study = a.study AND i.item_key = a.item_key \
         WHERE a.study = $1 AND a.rater = $2 AND i.gold = 0",
    )
    .bind(study)
    .bind(rater)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// Answers of `rater` to data (not gold) items.
pub(crate) async fn data_answered_in(tx: &mut Tx<'_>, study: &str, rater: &str) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM study_assignments a JOIN study_items i ON i.study = a.study AND i.item_key = a.item_key \
         WHERE a.study = $1 AND a.rater = $2 AND a.state = 'answered' AND i.gold = 0",
    )
    .bind(study)
    .bind(rater)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?)
}

/// Answers plus open leases of raters other than `rater` on the item.
async fn taken_by_others(tx: &mut Tx<'_>, study: &str, key: &str, rater: &str, cutoff: i64) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM study_assignments WHERE study = $1 AND item_key = $2 AND rater <> $3 \
         AND excluded = 0 AND (state = 'answered' OR (state = 'leased' AND lease_at > $4))",
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

/// Whether some data item has room for a rater who has seen none: fewer counted answers and
/// open leases (younger than `cutoff`) than N.
pub(crate) async fn room_for_newcomer(tx: &mut Tx<'_>, study: &str, n: i64, cutoff: i64) -> Result<bool, DbError> {
    let row = sqlx::query(
        "SELECT 1 FROM study_items i WHERE i.study = $1 AND i.gold = 0 AND i.decided_at IS NULL AND \
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
