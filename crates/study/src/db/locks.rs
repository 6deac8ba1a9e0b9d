//! Locking and retries: the one place that says how a transaction of the study database guards
//! what it counts before it writes.
//!
//! # The guard is in the database
//! Several `study serve` processes may share one PostgreSQL database (or one SQLite file), so
//! nothing relies on a lock in this process. Every transaction that can add to an item's count
//! (a new lease, an answer on an expired lease) first locks the rater's row ([`lock_rater`]) and
//! then the item's row ([`lock_item`]), and only then counts the item's answers and open leases
//! and writes. A visit that may create a participant locks the study's row instead
//! ([`lock_study`]), so that two visits cannot both pass the same check.
//!
//! On PostgreSQL a lock is `SELECT … FOR UPDATE`, a row lock held to commit; under READ
//! COMMITTED the count — a new statement, hence a new snapshot — sees everything the previous
//! holder committed. On SQLite it is a no-op `UPDATE … SET id = id` as the transaction's first
//! statement: it takes the database's write lock, which serialises writers across processes
//! (`busy_timeout` waits for it; a transaction that read first could not wait, it would fail).
//! Locks are always taken in the order study → rater → item, so two transactions cannot wait on
//! each other; a deadlock or serialisation failure reported by PostgreSQL anyway, or SQLite's
//! "busy" after its timeout, is retried by [`retrying`].

use crate::db::error::DbError;
use crate::db::StudyDb;

/// A transaction on the study database.
pub(crate) type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

impl StudyDb {
    /// This process's lock, taken only on SQLite, where it saves the writers of one process from
    /// polling the database's write lock (`busy_timeout`); correctness never depends on it.
    pub(crate) async fn local_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.postgres {
            None
        } else {
            Some(self.lock.lock().await)
        }
    }
}

/// Locks the study's row until the transaction ends: one visit that may create a participant at
/// a time. Taken first, before any rater or item.
pub(crate) async fn lock_study(db: &StudyDb, tx: &mut Tx<'_>, study: &str) -> Result<(), DbError> {
    let sql = if db.postgres {
        "SELECT name FROM study_studies WHERE name = $1 FOR UPDATE"
    } else {
        "UPDATE study_studies SET name = name WHERE name = $1"
    };
    sqlx::query(sql).bind(study).execute(&mut **tx).await?;
    Ok(())
}

/// Locks the rater's row until the transaction ends. PostgreSQL: `SELECT … FOR UPDATE` (raters
/// without a row — imported ids, tests — lock nothing); SQLite: a no-op update, which takes the
/// database's write lock whatever it matches.
pub(crate) async fn lock_rater(db: &StudyDb, tx: &mut Tx<'_>, study: &str, rater: &str) -> Result<(), DbError> {
    lock_row(db, tx, "study_raters", "id", study, rater).await
}

/// Locks the item's row until the transaction ends; always after the rater.
pub(crate) async fn lock_item(db: &StudyDb, tx: &mut Tx<'_>, study: &str, key: &str) -> Result<(), DbError> {
    lock_row(db, tx, "study_items", "item_key", study, key).await
}

/// Locks the row of `table` whose `column` is `value` (within `study`); the table and column
/// names are constants of this module, never input.
async fn lock_row(
    db: &StudyDb,
    tx: &mut Tx<'_>,
    table: &'static str,
    column: &'static str,
    study: &str,
    value: &str,
) -> Result<(), DbError> {
    let sql = if db.postgres {
        format!("SELECT id FROM {table} WHERE study = $1 AND {column} = $2 FOR UPDATE")
    } else {
        format!("UPDATE {table} SET id = id WHERE study = $1 AND {column} = $2")
    };
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(study).bind(value).execute(&mut **tx).await?;
    Ok(())
}

/// Runs `op` again (up to 8 times in all) when PostgreSQL reports a deadlock (`40P01`) or a
/// serialisation failure (`40001`), or SQLite that the database stayed busy.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DbError>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(DbError::Sql(sqlx::Error::Database(e)))
                if attempt < 7 && matches!(e.code().as_deref(), Some("40P01" | "40001" | "5" | "517")) =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
            }
            other => return other,
        }
    }
}
