//! Quality control of participants: gold items at places drawn per participant
//! ([`GoldSchedule`]), the gold-accuracy rule applied after each gold answer
//! (`StudyDb::check_gold`), the time-on-task rule applied at completion
//! (`exclude_if_too_fast`), and exclusion (`exclude`): an excluded participant's answers
//! stay stored but stop counting, so their items reopen.

use crate::db::enrollment::{enrollment_in, Enrollment};
use crate::db::error::DbError;
use crate::db::locks::{lock_rater, Tx};
use crate::db::{now_ms, StudyDb};
use crate::Answer;
use sqlx::Row;

impl StudyDb {
    /// The gold item due at the participant's next place, if that place is one of their gold
    /// places: see [`gold_schedule`]. Gold items have no N: everyone may get each.
    pub(crate) async fn gold_due(
        &self,
        tx: &mut Tx<'_>,
        study: &str,
        rater: &str,
        cap: i64,
    ) -> Result<Option<String>, DbError> {
        let Some(e) = enrollment_in(tx, study).await? else { return Ok(None) };
        if e.gold_rate <= 0.0 {
            return Ok(None);
        }
        let gold = sqlx::query("SELECT item_key, body FROM study_items WHERE study = $1 AND gold = 1 ORDER BY id")
            .bind(study)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| {
                let item: crate::Item = serde_json::from_str(&r.try_get::<String, _>(1)?)?;
                Ok((r.try_get::<String, _>(0)?, serde_json::to_string(&item.gold)?))
            })
            .collect::<Result<Vec<(String, String)>, DbError>>()?;
        let seen: std::collections::HashSet<String> =
            sqlx::query("SELECT item_key FROM study_assignments WHERE study = $1 AND rater = $2")
                .bind(study)
                .bind(rater)
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let place = seen.len();
        let schedule = gold_schedule(e.seed, rater, e.per_participant, e.gold_rate, &gold);
        // Only within the batches the participant was given (item cap = batches × K).
        let batches = (cap.max(0) as usize) / e.per_participant.max(1);
        if place / (e.per_participant + schedule.per_batch).max(1) >= batches || !schedule.is_gold(place) {
            return Ok(None);
        }
        Ok(schedule.order.into_iter().find(|k| !seen.contains(k)))
    }
}

/// A participant's gold schedule: which places of each batch hold gold items, and the order in
/// which the gold items come. Both are drawn from the study's secret seed mixed with the rater
/// id, so each participant has their own, and nothing they receive tells a gold place from a
/// data place.
#[derive(Debug, Clone)]
pub struct GoldSchedule {
    seed: u64,
    stream: i64,
    /// K: data items per batch.
    k: usize,
    /// Gold items per batch: ⌈K × rate⌉, at most the study's gold items.
    pub per_batch: usize,
    /// The gold item keys in the order the participant gets them: each answer's items shuffled,
    /// then dealt in turn (yes, no, yes, …, from a random first), so that a participant who
    /// always gives the same answer gets at most half of any prefix right.
    pub order: Vec<String>,
}

impl GoldSchedule {
    /// Whether place `place` (0-based, counting every item the participant was leased) is a gold
    /// place: each batch of K + g places has g gold places, drawn at random.
    pub fn is_gold(&self, place: usize) -> bool {
        let g = self.per_batch;
        if g == 0 {
            return false;
        }
        let slots = self.k + g;
        let batch = (place / slots) as u64;
        let mut rng =
            rectify_data::rng::SplitMix64::new(self.seed ^ batch.wrapping_mul(0x9E37_79B9_7F4A_7C15), self.stream);
        let mut places: Vec<usize> = (0..slots).collect();
        for i in 0..g {
            let j = i + rng.below((slots - i) as u64) as usize;
            places.swap(i, j);
        }
        places[..g].contains(&(place % slots))
    }
}

/// The schedule of `rater` (see [`GoldSchedule`]); `gold` is (key, answer as JSON) by id.
pub fn gold_schedule(seed: u64, rater: &str, k: usize, rate: f64, gold: &[(String, String)]) -> GoldSchedule {
    let stream = rater.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let stream = stream as i64;
    let per_batch = ((k as f64 * rate).ceil() as usize).min(gold.len());
    let mut rng = rectify_data::rng::SplitMix64::new(seed, stream ^ 0x5a5a);
    let mut groups: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for (key, answer) in gold {
        groups.entry(answer.as_str()).or_default().push(key.as_str());
    }
    let mut groups: Vec<Vec<&str>> = groups.into_values().collect();
    for g in &mut groups {
        for i in (1..g.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            g.swap(i, j);
        }
    }
    let mut order = Vec::with_capacity(gold.len());
    let first = if groups.is_empty() { 0 } else { rng.below(groups.len() as u64) as usize };
    let (mut turn, count) = (0, groups.len());
    while order.len() < gold.len() {
        let g = &mut groups[(first + turn) % count];
        if !g.is_empty() {
            order.push(g.remove(0).to_string());
        }
        turn += 1;
    }
    GoldSchedule { seed, stream, k, per_batch, order }
}

/// Marks the participant behind `rater` excluded (the first reason stays) and their answers
/// uncounted, so that their items reopen.
pub(crate) async fn exclude(tx: &mut Tx<'_>, study: &str, rater: &str, reason: &str) -> Result<(), DbError> {
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
    // Their answers no longer count: an item they helped decide may be open again.
    crate::db::decided::refresh(tx, study, None).await?;
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
            lock_rater(self, &mut tx, study, rater).await?;
            let reason = format!("gold accuracy {accuracy:.2} < {min} ({right} of {n} right)");
            exclude(&mut tx, study, rater, &reason).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// At completion: excludes the participant whose median time on a data item is below the
/// study's minimum ([`Enrollment::min_median_seconds`]): too fast to have looked.
pub(crate) async fn exclude_if_too_fast(
    tx: &mut Tx<'_>,
    study: &str,
    enrollment: &Enrollment,
    rater: &str,
) -> Result<(), DbError> {
    let Some(min) = enrollment.min_median_seconds else { return Ok(()) };
    let mut times: Vec<f64> = sqlx::query(
        "SELECT a.seconds FROM study_assignments a JOIN study_items i ON i.study = a.study \
         AND i.item_key = a.item_key WHERE a.study = $1 AND a.rater = $2 AND a.state = 'answered' \
         AND i.gold = 0 AND a.seconds IS NOT NULL",
    )
    .bind(study)
    .bind(rater)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| r.try_get::<f64, _>(0))
    .collect::<Result<_, _>>()?;
    if let Some(median) = crate::aggregate::median(&mut times) {
        if median < min {
            let reason = format!("too fast: median {median:.2} s per item < {min} s");
            exclude(tx, study, rater, &reason).await?;
        }
    }
    Ok(())
}
