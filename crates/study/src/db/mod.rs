//! The study database: items, raters, leases and votes in `study_*` tables of an SQLite file
//! (WAL) or a PostgreSQL database, through one `sqlx::AnyPool`.
//!
//! The SQL is portable (TEXT, BIGINT, DOUBLE PRECISION, `$n` placeholders, `ON CONFLICT`);
//! ids are generated here, not by AUTOINCREMENT / SERIAL. The schema lives in embedded
//! migrations (`migrations/*.sql`) recorded in `study_migrations`, so the file can be a run's
//! `rectify.db`, whose own tables and `PRAGMA user_version` are never touched.
//!
//! * [`assign`]: leasing items to raters, and their answers;
//! * [`enroll`]: participants from recruitment platforms joining, consenting and completing;
//! * [`enrollment`]: the enrollment settings and the platforms' URL conventions;
//! * [`quality`]: gold items, the gold and time rules, exclusion;
//! * [`decided`]: which items are decided when the study stops once the rule has decided;
//! * `locks`: how every transaction locks before it counts and writes, and retries;
//! * [`stats`]: the dashboard's progress.
//!
//! Dependencies go one way: `enroll` → `assign` → `quality` → `enrollment`, all of them →
//! `locks`.

pub mod assign;
pub mod decided;
pub mod enroll;
pub mod enrollment;
pub mod error;
pub(crate) mod locks;
pub mod quality;
pub mod stats;
mod tokens;

pub use assign::Answered;
pub use enroll::{Completion, Joined, Participant, Refusal, Visit};
pub use enrollment::{normalise_id, Enrollment, Platform, Practice};
pub use error::DbError;

use crate::db::tokens::{hash_token, new_token, random_hex};
use crate::{Answer, Item, Vote};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The embedded migrations: (version, SQL). Statements are separated by `;`.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_admin_sessions.sql")),
    (3, include_str!("../../migrations/0003_participants.sql")),
    (4, include_str!("../../migrations/0004_hostile_participants.sql")),
    (5, include_str!("../../migrations/0005_stopping.sql")),
    (6, include_str!("../../migrations/0006_sampling_plan.sql")),
];

/// How long a one-time admin login code stays valid (milliseconds).
pub const ADMIN_LOGIN_TTL_MS: i64 = 15 * 60 * 1000;
/// How long an admin session (the cookie a login code is exchanged for) lasts (milliseconds).
pub const ADMIN_SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

/// The default lease: an assigned item counts toward its N answers for this long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(600);

/// The study database (cheap to clone: a pool and a lock).
#[derive(Clone, Debug)]
pub struct StudyDb {
    pub(crate) pool: AnyPool,
    /// Serialises this process's imports and token writes. Assignment and answers do not rely
    /// on it: they lock rows in the database (see [`crate::db::locks`]), which holds across servers.
    pub(crate) lock: Arc<tokio::sync::Mutex<()>>,
    pub(crate) lease_ms: i64,
    /// PostgreSQL (rather than SQLite).
    pub(crate) postgres: bool,
}

/// A study's settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StudyInfo {
    /// Its name.
    pub name: String,
    /// N: how many distinct raters answer each item.
    pub answers_per_item: usize,
}

/// An item with the id the server uses for it in URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// Per-study id, in insertion order from 1.
    pub id: i64,
    /// The item.
    pub item: Item,
    /// The opaque id the item reaches a rater's browser under, when it was leased to them by
    /// [`StudyDb::next_item`] (128 random bits per lease: it names neither the item nor its kind).
    pub lease: Option<String>,
}

/// One row of `study_assignments`, for statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRow {
    /// The item's key.
    pub item: String,
    /// The rater.
    pub rater: String,
    /// `leased`, `answered` or `released`.
    pub state: String,
    /// The answer, once answered.
    pub answer: Option<Answer>,
    /// Time on task, for server answers.
    pub seconds: Option<f64>,
    /// Where the vote comes from.
    pub source: String,
    /// An excluded participant's row: kept, never counted.
    pub excluded: bool,
    /// When the server leased it (Unix ms; `None` for imported votes).
    pub assigned_at: Option<i64>,
    /// When it was answered (Unix ms).
    pub answered_at: Option<i64>,
}

/// What [`StudyDb::put_votes`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutVotes {
    /// New votes.
    pub inserted: usize,
    /// Votes of the same importer that changed (an importer re-run).
    pub replaced: usize,
    /// Identical votes already present.
    pub unchanged: usize,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl StudyDb {
    /// Connects to `sqlite://PATH?mode=rwc` or `postgres://…` and applies the migrations.
    pub async fn connect(url: &str) -> Result<StudyDb, DbError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let memory = url.contains(":memory:");
        let mut options = AnyPoolOptions::new().max_connections(if memory { 1 } else { 8 });
        if sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        if sqlite && !memory {
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        let db = StudyDb {
            pool,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            lease_ms: DEFAULT_LEASE.as_millis() as i64,
            postgres: !sqlite,
        };
        db.migrate().await?;
        Ok(db)
    }

    /// The same database with another lease timeout.
    pub fn with_lease_timeout(mut self, lease: Duration) -> StudyDb {
        self.lease_ms = lease.as_millis() as i64;
        self
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the migrations not yet recorded, all in one transaction. On PostgreSQL the
    /// transaction first takes an advisory lock, so that servers started at the same moment on
    /// one database migrate one after the other.
    async fn migrate(&self) -> Result<(), DbError> {
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        if self.postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7316220180)").execute(&mut *tx).await?;
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS study_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        for &(version, sql) in MIGRATIONS {
            let done = sqlx::query("SELECT version FROM study_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            for statement in split_sql(sql) {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| DbError::Migration { version, message: e.to_string() })?;
            }
            sqlx::query("INSERT INTO study_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates the study or updates N, and upserts its items by key (new keys get the next ids;
    /// existing ones keep their id and answers). Items absent from `items` are kept.
    pub async fn put_study(&self, name: &str, answers_per_item: usize, items: &[Item]) -> Result<(), DbError> {
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO study_studies (name, answers_per_item, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET answers_per_item = $2",
        )
        .bind(name)
        .bind(answers_per_item as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let max: Option<i64> = sqlx::query("SELECT MAX(id) AS m FROM study_items WHERE study = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("m")?;
        let mut next = max.unwrap_or(0) + 1;
        for item in items {
            let body = serde_json::to_string(item)?;
            let gold = i64::from(item.gold.is_some());
            let done = sqlx::query(
                "UPDATE study_items SET design = $3, arm = $4, body = $5, gold = $6 WHERE study = $1 AND item_key = $2",
            )
            .bind(name)
            .bind(item.key.as_str())
            .bind(item.design.name())
            .bind(item.arm.clone())
            .bind(body.as_str())
            .bind(gold)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                sqlx::query(
                    "INSERT INTO study_items (study, item_key, id, design, arm, body, gold) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(name)
                .bind(item.key.as_str())
                .bind(next)
                .bind(item.design.name())
                .bind(item.arm.clone())
                .bind(body)
                .bind(gold)
                .execute(&mut *tx)
                .await?;
                next += 1;
            }
        }
        crate::db::decided::refresh(&mut tx, name, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The study's settings, if it exists.
    pub async fn study(&self, name: &str) -> Result<Option<StudyInfo>, DbError> {
        let row = sqlx::query("SELECT answers_per_item FROM study_studies WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .map(|n| StudyInfo { name: name.to_string(), answers_per_item: n.max(0) as usize }))
    }

    /// Every study, by name.
    pub async fn studies(&self) -> Result<Vec<StudyInfo>, DbError> {
        let rows =
            sqlx::query("SELECT name, answers_per_item FROM study_studies ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(StudyInfo { name: r.try_get(0)?, answers_per_item: r.try_get::<i64, _>(1)?.max(0) as usize }))
            .collect()
    }

    /// N of a study that must exist.
    pub(crate) async fn answers_per_item(&self, study: &str) -> Result<i64, DbError> {
        Ok(self.study(study).await?.ok_or_else(|| DbError::UnknownStudy(study.to_string()))?.answers_per_item as i64)
    }

    /// The study's items in id order.
    pub async fn items(&self, study: &str) -> Result<Vec<Item>, DbError> {
        Ok(self.stored_items(study).await?.into_iter().map(|s| s.item).collect())
    }

    /// The study's items with their ids, in id order.
    pub async fn stored_items(&self, study: &str) -> Result<Vec<StoredItem>, DbError> {
        let rows = sqlx::query("SELECT id, body FROM study_items WHERE study = $1 ORDER BY id")
            .bind(study)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stored_item).collect()
    }

    /// One item by key, or by id when `item` is a number.
    pub async fn item(&self, study: &str, item: &str) -> Result<Option<StoredItem>, DbError> {
        let row = match item.parse::<i64>() {
            Ok(id) => {
                sqlx::query("SELECT id, body FROM study_items WHERE study = $1 AND id = $2")
                    .bind(study)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
            }
            Err(_) => {
                sqlx::query("SELECT id, body FROM study_items WHERE study = $1 AND item_key = $2")
                    .bind(study)
                    .bind(item)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        row.as_ref().map(stored_item).transpose()
    }

    /// Records votes (imported, or restored from an export), idempotent by (item, rater): an
    /// identical vote is a no-op; a different answer replaces the stored one only when both come
    /// from the same non-`server` source (an importer re-run), and is a
    /// [`DbError::VoteConflict`] otherwise. Every vote's item must exist. Votes count toward the
    /// item's N like server answers. All or nothing.
    pub async fn put_votes(&self, study: &str, votes: &[Vote]) -> Result<PutVotes, DbError> {
        let _guard = self.lock.lock().await;
        let keys: std::collections::HashSet<String> = sqlx::query("SELECT item_key FROM study_items WHERE study = $1")
            .bind(study)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut tx = self.pool.begin().await?;
        let mut done = PutVotes::default();
        let now = now_ms();
        for vote in votes {
            if !keys.contains(&vote.item) {
                return Err(DbError::UnknownItem { study: study.to_string(), item: vote.item.clone() });
            }
            let answer = serde_json::to_string(&vote.answer)?;
            let existing = sqlx::query(
                "SELECT state, answer, source FROM study_assignments WHERE study = $1 AND item_key = $2 AND rater = $3",
            )
            .bind(study)
            .bind(vote.item.as_str())
            .bind(vote.rater.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match existing {
                None => {
                    sqlx::query(
                        "INSERT INTO study_assignments (study, item_key, rater, state, answered_at, answer, seconds, source) \
                         VALUES ($1, $2, $3, 'answered', $4, $5, $6, $7)",
                    )
                    .bind(study)
                    .bind(vote.item.as_str())
                    .bind(vote.rater.as_str())
                    .bind(now)
                    .bind(answer)
                    .bind(vote.seconds)
                    .bind(vote.source.as_str())
                    .execute(&mut *tx)
                    .await?;
                    done.inserted += 1;
                }
                Some(row) => {
                    let state: String = row.try_get(0)?;
                    let stored: Option<String> = row.try_get(1)?;
                    let source: String = row.try_get(2)?;
                    let stored: Option<Answer> = stored.as_deref().map(serde_json::from_str).transpose()?;
                    if state == "answered" && stored.as_ref() == Some(&vote.answer) {
                        done.unchanged += 1;
                        continue;
                    }
                    if state == "answered" && (source != vote.source || source == "server") {
                        return Err(DbError::VoteConflict {
                            item: vote.item.clone(),
                            rater: vote.rater.clone(),
                            source_name: source,
                        });
                    }
                    sqlx::query(
                        "UPDATE study_assignments SET state = 'answered', answer = $4, seconds = $5, source = $6, \
                         answered_at = $7 WHERE study = $1 AND item_key = $2 AND rater = $3",
                    )
                    .bind(study)
                    .bind(vote.item.as_str())
                    .bind(vote.rater.as_str())
                    .bind(answer)
                    .bind(vote.seconds)
                    .bind(vote.source.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if state == "answered" {
                        done.replaced += 1;
                    } else {
                        done.inserted += 1;
                    }
                }
            }
        }
        crate::db::decided::refresh(&mut tx, study, None).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Every answer of the study (server and imported, excluded raters' too), ordered by item
    /// key and rater.
    pub async fn votes(&self, study: &str) -> Result<Vec<Vote>, DbError> {
        self.votes_where(study, false).await
    }

    /// The answers that count: [`StudyDb::votes`] without those of excluded participants.
    pub async fn counted_votes(&self, study: &str) -> Result<Vec<Vote>, DbError> {
        self.votes_where(study, true).await
    }

    async fn votes_where(&self, study: &str, counted_only: bool) -> Result<Vec<Vote>, DbError> {
        let rows = sqlx::query(
            "SELECT item_key, rater, answer, seconds, source FROM study_assignments \
             WHERE study = $1 AND state = 'answered' AND (excluded = 0 OR $2 = 0) ORDER BY item_key, rater",
        )
        .bind(study)
        .bind(i64::from(counted_only))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let answer: String = r.try_get(2)?;
                Ok(Vote {
                    item: r.try_get(0)?,
                    rater: r.try_get(1)?,
                    answer: serde_json::from_str(&answer)?,
                    seconds: r.try_get(3)?,
                    source: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Every lease and answer of the study, for statistics.
    pub async fn assignments(&self, study: &str) -> Result<Vec<AssignmentRow>, DbError> {
        let rows = sqlx::query(
            "SELECT item_key, rater, state, answer, seconds, source, excluded, assigned_at, answered_at \
             FROM study_assignments WHERE study = $1 ORDER BY item_key, rater",
        )
        .bind(study)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let answer: Option<String> = r.try_get(3)?;
                Ok(AssignmentRow {
                    item: r.try_get(0)?,
                    rater: r.try_get(1)?,
                    state: r.try_get(2)?,
                    answer: answer.as_deref().map(serde_json::from_str).transpose()?,
                    seconds: r.try_get(4)?,
                    source: r.try_get(5)?,
                    excluded: r.try_get::<i64, _>(6)? != 0,
                    assigned_at: r.try_get(7)?,
                    answered_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Creates `count` raters and returns their invite tokens (shown once: only their SHA-256
    /// is stored).
    pub async fn create_invites(&self, study: &str, count: usize) -> Result<Vec<String>, DbError> {
        self.answers_per_item(study).await?;
        let _guard = self.lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let mut tokens = Vec::with_capacity(count);
        for _ in 0..count {
            let token = new_token()?;
            sqlx::query("INSERT INTO study_raters (id, study, token_hash, created_at) VALUES ($1, $2, $3, $4)")
                .bind(format!("r{}", random_hex(6)?))
                .bind(study)
                .bind(hash_token(&token))
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tokens.push(token);
        }
        tx.commit().await?;
        Ok(tokens)
    }

    /// The rater id behind an invite token of this study.
    pub async fn rater_for_token(&self, study: &str, token: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT id FROM study_raters WHERE token_hash = $1 AND study = $2")
            .bind(hash_token(token))
            .bind(study)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The invited raters' ids, by creation.
    pub async fn raters(&self, study: &str) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query("SELECT id FROM study_raters WHERE study = $1 ORDER BY created_at, id")
            .bind(study)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// The study's admin token: created on the first call and returned then (`Some`); `None`
    /// afterwards, since only its hash is kept (see [`StudyDb::rotate_admin_token`]).
    pub async fn admin_token(&self, study: &str) -> Result<Option<String>, DbError> {
        self.answers_per_item(study).await?;
        let _guard = self.lock.lock().await;
        let token = new_token()?;
        let set =
            sqlx::query("UPDATE study_studies SET admin_token_hash = $2 WHERE name = $1 AND admin_token_hash IS NULL")
                .bind(study)
                .bind(hash_token(&token))
                .execute(&self.pool)
                .await?;
        Ok((set.rows_affected() == 1).then_some(token))
    }

    /// Replaces the study's admin token with a new one and returns it.
    pub async fn rotate_admin_token(&self, study: &str) -> Result<String, DbError> {
        self.answers_per_item(study).await?;
        let _guard = self.lock.lock().await;
        let token = new_token()?;
        sqlx::query("UPDATE study_studies SET admin_token_hash = $2 WHERE name = $1")
            .bind(study)
            .bind(hash_token(&token))
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Whether `token` is the study's admin token.
    pub async fn check_admin_token(&self, study: &str, token: &str) -> Result<bool, DbError> {
        let row = sqlx::query("SELECT admin_token_hash FROM study_studies WHERE name = $1")
            .bind(study)
            .fetch_optional(&self.pool)
            .await?;
        let stored: Option<String> = row.map(|r| r.try_get(0)).transpose()?.flatten();
        Ok(stored.is_some_and(|h| h == hash_token(token)))
    }

    /// A one-time admin login code, valid [`ADMIN_LOGIN_TTL_MS`]: `/admin/login/{code}` exchanges
    /// it for a session cookie, so that the admin token never appears in a URL. The code, and the
    /// session it becomes, belong to the study's current admin token: a new token (every
    /// `study serve` makes one) ends them.
    pub async fn create_admin_login(&self, study: &str) -> Result<String, DbError> {
        self.answers_per_item(study).await?;
        let code = new_token()?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO study_admin_sessions (token_hash, study, kind, created_at, expires_at, admin_token_hash) \
             SELECT $1, $2, 'login', $3, $4, admin_token_hash FROM study_studies WHERE name = $2",
        )
        .bind(hash_token(&code))
        .bind(study)
        .bind(now)
        .bind(now + ADMIN_LOGIN_TTL_MS)
        .execute(&self.pool)
        .await?;
        Ok(code)
    }

    /// Redeems a login code (once, before it expires) for a new session token; `None` for a code
    /// that is unknown, used or expired.
    pub async fn redeem_admin_login(&self, study: &str, code: &str) -> Result<Option<String>, DbError> {
        let now = now_ms();
        let used = sqlx::query(
            "UPDATE study_admin_sessions SET used_at = $3 WHERE token_hash = $1 AND study = $2 AND kind = 'login' \
             AND used_at IS NULL AND expires_at > $3 AND admin_token_hash = \
             (SELECT admin_token_hash FROM study_studies WHERE name = $2)",
        )
        .bind(hash_token(code))
        .bind(study)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        let session = new_token()?;
        sqlx::query(
            "INSERT INTO study_admin_sessions (token_hash, study, kind, created_at, expires_at, admin_token_hash) \
             SELECT $1, $2, 'session', $3, $4, admin_token_hash FROM study_admin_sessions WHERE token_hash = $5",
        )
        .bind(hash_token(&session))
        .bind(study)
        .bind(now)
        .bind(now + ADMIN_SESSION_TTL_MS)
        .bind(hash_token(code))
        .execute(&self.pool)
        .await?;
        Ok(Some(session))
    }

    /// Whether `session` is a live admin session of `study`, minted under its current admin token.
    pub async fn check_admin_session(&self, study: &str, session: &str) -> Result<bool, DbError> {
        let row = sqlx::query(
            "SELECT 1 FROM study_admin_sessions s JOIN study_studies t ON t.name = s.study \
             WHERE s.token_hash = $1 AND s.study = $2 AND s.kind = 'session' AND s.expires_at > $3 \
             AND s.admin_token_hash = t.admin_token_hash",
        )
        .bind(hash_token(session))
        .bind(study)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// How many items each rater answered (server or imported), by rater.
    pub async fn answered_counts(&self, study: &str) -> Result<HashMap<String, usize>, DbError> {
        let rows = sqlx::query(
            "SELECT rater, COUNT(*) AS n FROM study_assignments WHERE study = $1 AND state = 'answered' GROUP BY rater",
        )
        .bind(study)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)?.max(0) as usize))).collect()
    }
}

fn stored_item(row: &sqlx::any::AnyRow) -> Result<StoredItem, DbError> {
    let body: String = row.try_get(1)?;
    Ok(StoredItem { id: row.try_get(0)?, item: serde_json::from_str(&body)?, lease: None })
}

/// The statements of a migration, without comments and empty pieces.
fn split_sql(sql: &str) -> Vec<String> {
    let code: String = sql.lines().filter(|l| !l.trim_start().starts_with("--")).map(|l| format!("{l}\n")).collect();
    code.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}
