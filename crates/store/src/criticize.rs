//! Prototypes and criticisms in the store: one row per pick, ordered within its group and role.

use rusqlite::params;

use crate::{RunId, RunStore, StoreError, DB_FILE};

/// One picked image.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticismRow {
    /// The group it was picked in.
    pub group: String,
    /// `true`: prototype; `false`: criticism.
    pub prototype: bool,
    /// Position in the selector's order, 0 first.
    pub rank: i64,
    /// The image.
    pub image_id: i64,
    /// The selector's score.
    pub score: Option<f64>,
}

impl RunStore {
    /// Replaces every pick of `run` by `rows`, in one transaction.
    pub fn put_criticisms(&mut self, run: RunId, rows: &[CriticismRow]) -> Result<(), StoreError> {
        let path = self.dir.join(DB_FILE);
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute("DELETE FROM criticisms WHERE run_id = ?1", params![run.0]).map_err(sql)?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO criticisms (run_id, grp, role, rank, image_id, score) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql)?;
            for r in rows {
                let role = if r.prototype { "prototype" } else { "criticism" };
                let score = r.score.filter(|s| s.is_finite());
                st.execute(params![run.0, r.group, role, r.rank, r.image_id, score]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Picks of `run`, by group, role (prototypes first) and rank.
    pub fn criticisms(&self, run: RunId) -> Result<Vec<CriticismRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT grp, role, rank, image_id, score FROM criticisms WHERE run_id = ?1
                 ORDER BY grp, role DESC, rank",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map(params![run.0], |r| {
                Ok(CriticismRow {
                    group: r.get(0)?,
                    prototype: r.get::<_, String>(1)? == "prototype",
                    rank: r.get(2)?,
                    image_id: r.get(3)?,
                    score: r.get(4)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }
}
