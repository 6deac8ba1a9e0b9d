//! LIME explanations in the store: one row per image and explain run; the full explanation
//! lives in the JSON file the row points to.

use rusqlite::params;

use crate::{RunId, RunStore, StoreError};

/// One explained image.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplanationRow {
    /// The image.
    pub image_id: i64,
    /// The class explained.
    pub label: i64,
    /// Number of superpixels.
    pub segments: i64,
    /// Weighted R² of the surrogate.
    pub r2: f64,
    /// Area under the explanation path.
    pub auc_path: f64,
    /// Area under the random-order path.
    pub auc_random: f64,
    /// The JSON file, relative to the run directory.
    pub json: String,
}

impl RunStore {
    /// Stores (or replaces) one explanation.
    pub fn put_explanation(&self, run: RunId, r: &ExplanationRow) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO explanations (run_id, image_id, label, segments, r2, auc_path, auc_random, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![run.0, r.image_id, r.label, r.segments, r.r2, r.auc_path, r.auc_random, r.json],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Explanations of `run`, by image id.
    pub fn explanations(&self, run: RunId) -> Result<Vec<ExplanationRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT image_id, label, segments, r2, auc_path, auc_random, json FROM explanations
                 WHERE run_id = ?1 ORDER BY image_id",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map([run.0], |r| {
                Ok(ExplanationRow {
                    image_id: r.get(0)?,
                    label: r.get(1)?,
                    segments: r.get(2)?,
                    r2: r.get(3)?,
                    auc_path: r.get(4)?,
                    auc_random: r.get(5)?,
                    json: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        let rows: Vec<ExplanationRow> = rows.collect::<Result<_, _>>().map_err(self.sql())?;
        for r in &rows {
            crate::paths::relative(&self.dir, &format!("explanations.json of image {}", r.image_id), &r.json)?;
        }
        Ok(rows)
    }
}
