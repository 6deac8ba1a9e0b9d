//! Which items are decided (issue #30): the study's [`Stopping`] settings, and each item's state
//! under them (`study_items.decided_at`, `to_decide`), recomputed from the counted answers —
//! answers of excluded participants do not count — inside the transaction that changed them: an
//! answer, an import, an exclusion, new items.
//!
//! Assignment reads the state: a decided item gets no new lease, and items whose open leases
//! cannot decide them (fewer than `to_decide`) come first, so that under a burst the answers
//! asked stay close to what asking one at a time would use (see [`crate::db::assign`]).

use std::collections::HashMap;

use sqlx::Row;

use crate::db::error::DbError;
use crate::db::locks::Tx;
use crate::db::{now_ms, StudyDb};
use crate::sampling::Sampling;
use crate::stopping::Stopping;
use crate::{Answer, Item};

/// What the dashboard compares a study's progress with: the latest `rectify study plan`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanSummary {
    /// Items to rate.
    pub items: usize,
    /// Asking everyone about every item.
    pub answers_full: usize,
    /// The answers expected.
    pub answers_expected: f64,
    /// USD per answer.
    pub price_per_answer: f64,
    /// The cost expected (USD).
    pub cost_expected: f64,
    /// Where the expectations come from.
    pub basis: String,
}

impl StudyDb {
    /// Sets (or, with `None`, removes) the study's stopping settings and recomputes every item's
    /// state under them.
    pub async fn put_stopping(&self, study: &str, stopping: Option<&Stopping>) -> Result<(), DbError> {
        if let Some(s) = stopping {
            s.check().map_err(DbError::BadSettings)?;
        }
        let n = self.answers_per_item(study).await?;
        if let Some(s) = stopping.filter(|s| s.n as i64 != n) {
            return Err(DbError::BadSettings(format!(
                "stopping at {} of {} answers, but the study asks {n} per item: give the rule the study's N",
                s.k, s.n
            )));
        }
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE study_studies SET stopping = $2 WHERE name = $1")
            .bind(study)
            .bind(stopping.map(serde_json::to_string).transpose()?)
            .execute(&mut *tx)
            .await?;
        refresh(&mut tx, study, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The study's stopping settings, if it stops once decided.
    pub async fn stopping(&self, study: &str) -> Result<Option<Stopping>, DbError> {
        let mut tx = self.pool.begin().await?;
        let s = stopping_in(&mut tx, study).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Records (or, with `None`, removes) that the study's items are a sample of the run's mistakes.
    pub async fn put_sampling(&self, study: &str, sampling: Option<&Sampling>) -> Result<(), DbError> {
        self.answers_per_item(study).await?;
        sqlx::query("UPDATE study_studies SET sampling = $2 WHERE name = $1")
            .bind(study)
            .bind(sampling.map(serde_json::to_string).transpose()?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How the study's items were sampled, if they were.
    pub async fn sampling(&self, study: &str) -> Result<Option<Sampling>, DbError> {
        let row = sqlx::query("SELECT sampling FROM study_studies WHERE name = $1")
            .bind(study)
            .fetch_optional(&self.pool)
            .await?;
        let text: Option<String> = row.map(|r| r.try_get(0)).transpose()?.flatten();
        Ok(text.as_deref().map(serde_json::from_str).transpose()?)
    }

    /// Stores the study's plan (the dashboard shows answers and cost so far against it).
    pub async fn put_plan(&self, study: &str, plan: &PlanSummary) -> Result<(), DbError> {
        self.answers_per_item(study).await?;
        sqlx::query("UPDATE study_studies SET plan = $2 WHERE name = $1")
            .bind(study)
            .bind(serde_json::to_string(plan)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The study's latest plan, if one was made.
    pub async fn plan(&self, study: &str) -> Result<Option<PlanSummary>, DbError> {
        let row = sqlx::query("SELECT plan FROM study_studies WHERE name = $1")
            .bind(study)
            .fetch_optional(&self.pool)
            .await?;
        let text: Option<String> = row.map(|r| r.try_get(0)).transpose()?.flatten();
        Ok(text.as_deref().map(serde_json::from_str).transpose()?)
    }

    /// The study's decided items: key → when it was decided (Unix ms).
    pub async fn decided_items(&self, study: &str) -> Result<HashMap<String, i64>, DbError> {
        let rows =
            sqlx::query("SELECT item_key, decided_at FROM study_items WHERE study = $1 AND decided_at IS NOT NULL")
                .bind(study)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}

/// The study's stopping settings, read within a transaction.
pub(crate) async fn stopping_in(tx: &mut Tx<'_>, study: &str) -> Result<Option<Stopping>, DbError> {
    let row =
        sqlx::query("SELECT stopping FROM study_studies WHERE name = $1").bind(study).fetch_optional(&mut **tx).await?;
    let text: Option<String> = row.map(|r| r.try_get(0)).transpose()?.flatten();
    Ok(text.as_deref().map(serde_json::from_str).transpose()?)
}

/// Recomputes the state of the items `keys` (every item with `None`) from their counted answers.
/// Without stopping settings the state is cleared (no item is decided early). An item decided
/// before keeps its `decided_at`.
pub(crate) async fn refresh(tx: &mut Tx<'_>, study: &str, keys: Option<&[String]>) -> Result<(), DbError> {
    let stopping = stopping_in(tx, study).await?;
    let Some(stopping) = stopping else {
        sqlx::query(
            "UPDATE study_items SET decided_at = NULL, to_decide = NULL WHERE study = $1 \
             AND (decided_at IS NOT NULL OR to_decide IS NOT NULL)",
        )
        .bind(study)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    };
    let items: Vec<Item> = match keys {
        None => sqlx::query("SELECT body FROM study_items WHERE study = $1 ORDER BY id")
            .bind(study)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>(0)?)?))
            .collect::<Result<_, DbError>>()?,
        Some(keys) => {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let row = sqlx::query("SELECT body FROM study_items WHERE study = $1 AND item_key = $2")
                    .bind(study)
                    .bind(key.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                if let Some(row) = row {
                    out.push(serde_json::from_str(&row.try_get::<String, _>(0)?)?);
                }
            }
            out
        }
    };
    let mut answers: HashMap<String, Vec<Answer>> = HashMap::new();
    let rows = match keys {
        Some([key]) => {
            sqlx::query(
                "SELECT item_key, answer FROM study_assignments WHERE study = $1 AND item_key = $2 \
                 AND state = 'answered' AND excluded = 0 ORDER BY answered_at, rater",
            )
            .bind(study)
            .bind(key.as_str())
            .fetch_all(&mut **tx)
            .await?
        }
        _ => {
            sqlx::query(
                "SELECT item_key, answer FROM study_assignments WHERE study = $1 AND state = 'answered' \
                 AND excluded = 0 ORDER BY answered_at, rater",
            )
            .bind(study)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    for r in &rows {
        let answer: Option<String> = r.try_get(1)?;
        if let Some(a) = answer {
            answers.entry(r.try_get(0)?).or_default().push(serde_json::from_str(&a)?);
        }
    }
    let now = now_ms();
    for item in &items {
        let state = stopping.state(item, answers.get(&item.key).map(Vec::as_slice).unwrap_or(&[]));
        sqlx::query(
            "UPDATE study_items SET to_decide = $3, \
             decided_at = CASE WHEN $4 = 1 THEN COALESCE(decided_at, $5) ELSE NULL END \
             WHERE study = $1 AND item_key = $2",
        )
        .bind(study)
        .bind(item.key.as_str())
        .bind(state.to_decide as i64)
        .bind(i64::from(state.decided.is_some()))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
