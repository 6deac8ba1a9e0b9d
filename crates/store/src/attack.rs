//! Attack trajectories in the store: one row per image and attack run, one per step.

use std::collections::HashSet;

use rusqlite::params;

use crate::{RunId, RunStore, StoreError, DB_FILE};

/// The predictions on one image after one attack step.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackStep {
    /// Top-1 class.
    pub top1: i64,
    /// Its probability.
    pub top1_prob: f32,
    /// Probability of the true label.
    pub true_prob: f32,
    /// Probability of the target (targeted attacks).
    pub target_prob: Option<f32>,
}

/// One image's attack: its trajectory and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackRow {
    /// The image.
    pub image_id: i64,
    /// Target class of a targeted attack.
    pub target: Option<i64>,
    /// Step 0 (clean) … M.
    pub steps: Vec<AttackStep>,
    /// First step that flipped the prediction; `None`: never.
    pub steps_to_flip: Option<i64>,
    /// Prediction on the saved 8-bit image, when saved.
    pub quantized_top1: Option<i64>,
    /// Path of the saved image, relative to the run directory.
    pub image: Option<String>,
}

impl RunStore {
    /// Stores attack rows in one transaction (replacing earlier rows of the same images).
    pub fn put_attacks(&mut self, run: RunId, rows: &[AttackRow]) -> Result<(), StoreError> {
        let path = self.dir.join(DB_FILE);
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut res = tx
                .prepare(
                    "INSERT OR REPLACE INTO attack_results (run_id, image_id, target, steps_to_flip, quantized_top1, image)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql)?;
            let mut del = tx.prepare("DELETE FROM attack_steps WHERE run_id = ?1 AND image_id = ?2").map_err(sql)?;
            let mut step = tx
                .prepare(
                    "INSERT INTO attack_steps (run_id, image_id, step, top1, top1_prob, true_prob, target_prob)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql)?;
            for r in rows {
                res.execute(params![run.0, r.image_id, r.target, r.steps_to_flip, r.quantized_top1, r.image])
                    .map_err(sql)?;
                del.execute(params![run.0, r.image_id]).map_err(sql)?;
                for (i, s) in r.steps.iter().enumerate() {
                    step.execute(params![
                        run.0,
                        r.image_id,
                        i as i64,
                        s.top1,
                        f64::from(s.top1_prob),
                        f64::from(s.true_prob),
                        s.target_prob.map(f64::from)
                    ])
                    .map_err(sql)?;
                }
            }
        }
        tx.commit().map_err(sql)
    }

    /// Ids of the images `run` has attacked.
    pub fn attacked_ids(&self, run: RunId) -> Result<HashSet<i64>, StoreError> {
        let mut st = self.conn.prepare("SELECT image_id FROM attack_results WHERE run_id = ?1").map_err(self.sql())?;
        let ids = st.query_map([run.0], |r| r.get(0)).map_err(self.sql())?;
        ids.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Every attack row of `run`, by image id, steps in order.
    pub fn attacks(&self, run: RunId) -> Result<Vec<AttackRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT image_id, target, steps_to_flip, quantized_top1, image FROM attack_results
                 WHERE run_id = ?1 ORDER BY image_id",
            )
            .map_err(self.sql())?;
        let mut rows: Vec<AttackRow> = st
            .query_map([run.0], |r| {
                Ok(AttackRow {
                    image_id: r.get(0)?,
                    target: r.get(1)?,
                    steps: Vec::new(),
                    steps_to_flip: r.get(2)?,
                    quantized_top1: r.get(3)?,
                    image: r.get(4)?,
                })
            })
            .map_err(self.sql())?
            .collect::<Result<_, _>>()
            .map_err(self.sql())?;
        let index: std::collections::HashMap<i64, usize> =
            rows.iter().enumerate().map(|(i, r)| (r.image_id, i)).collect();
        let mut st = self
            .conn
            .prepare(
                "SELECT image_id, top1, top1_prob, true_prob, target_prob FROM attack_steps
                 WHERE run_id = ?1 ORDER BY image_id, step",
            )
            .map_err(self.sql())?;
        let steps = st
            .query_map([run.0], |r| {
                let tp: Option<f64> = r.get(4)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    AttackStep {
                        top1: r.get(1)?,
                        top1_prob: r.get::<_, f64>(2)? as f32,
                        true_prob: r.get::<_, f64>(3)? as f32,
                        target_prob: tp.map(|p| p as f32),
                    },
                ))
            })
            .map_err(self.sql())?;
        for s in steps {
            let (id, step) = s.map_err(self.sql())?;
            if let Some(&i) = index.get(&id) {
                rows[i].steps.push(step);
            }
        }
        for r in &rows {
            if let Some(png) = &r.image {
                crate::paths::relative(&self.dir, &format!("attack_results.image of image {}", r.image_id), png)?;
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImageRow, ModelRecord, Provenance};

    #[test]
    fn attack_rows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = RunStore::create(dir.path()).unwrap();
        let prov = Provenance {
            model: ModelRecord::default(),
            preprocessing: String::new(),
            params: serde_json::json!({}),
            seed: None,
            device: "cpu".into(),
            version: "t".into(),
            command: "t".into(),
        };
        let run = s.begin_run("attack", "ifgsm", &prov, &[]).unwrap();
        s.put_images(&[ImageRow { id: 3, file: "a.png".into(), label: Some(1), real_labels: None }]).unwrap();
        let step = |top1| AttackStep { top1, top1_prob: 0.5, true_prob: 0.25, target_prob: None };
        let row = AttackRow {
            image_id: 3,
            target: None,
            steps: vec![step(1), step(1), step(4)],
            steps_to_flip: Some(2),
            quantized_top1: Some(4),
            image: Some("attack/ifgsm/images/a.png".into()),
        };
        s.put_attacks(run, std::slice::from_ref(&row)).unwrap();
        // Rewriting an image replaces its steps instead of adding to them.
        s.put_attacks(run, std::slice::from_ref(&row)).unwrap();
        assert_eq!(s.attacks(run).unwrap(), vec![row]);
        assert_eq!(s.attacked_ids(run).unwrap(), HashSet::from([3]));
    }
}
