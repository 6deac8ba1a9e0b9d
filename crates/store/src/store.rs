//! [`RunStore`]: open a run directory, record runs, images, predictions and per-file errors.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::schema::{MIGRATIONS, VERSION};
use crate::{Provenance, StoreError};

/// The database's file name inside a run directory.
pub const DB_FILE: &str = "rectify.db";

/// A run's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunId(pub i64);

/// An input image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    /// Position in the full input listing; stable across shards.
    pub id: i64,
    /// Path relative to the images root.
    pub file: String,
    /// True label, when known.
    pub label: Option<i64>,
    /// ReaL labels, when given (an empty list means "no fitting label").
    pub real_labels: Option<Vec<i64>>,
}

/// A model's prediction for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    /// The image.
    pub image_id: i64,
    /// Top-5 classes, best first.
    pub top5: Vec<i64>,
    /// Their softmax probabilities.
    pub top5_probs: Vec<f32>,
    /// Probability of the true label, when known.
    pub label_prob: Option<f32>,
    /// All logits, when kept.
    pub logits: Option<Vec<f32>>,
    /// Penultimate features, when kept.
    pub features: Option<Vec<f32>>,
}

/// A per-file failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    /// The image.
    pub image_id: i64,
    /// Its file.
    pub file: String,
    /// Which stage failed (`decode`, `label`, …).
    pub stage: String,
    /// What went wrong.
    pub message: String,
}

/// An open run directory.
#[derive(Debug)]
pub struct RunStore {
    pub(crate) dir: PathBuf,
    pub(crate) conn: Connection,
}

fn f32s_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_to_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The images of the run in `dir`, read without changing anything (no migration, no WAL
/// checkpoint): for readers such as the report. `None` without a store, or with an empty one.
pub fn read_images(dir: &Path) -> Result<Option<Vec<ImageRow>>, StoreError> {
    let path = dir.join(DB_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let sql = |source| StoreError::Sql { path: path.clone(), source };
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if found == 0 {
        return Ok(None);
    }
    if found > VERSION {
        return Err(StoreError::SchemaTooNew { path, found, supported: VERSION });
    }
    let store = RunStore { dir: dir.to_path_buf(), conn };
    store.images().map(Some)
}

impl RunStore {
    /// Opens `dir` as a run directory, creating it (and `artifacts/`) when needed.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir.join("artifacts")).map_err(io)?;
        Self::open_db(dir)
    }

    /// Opens an existing run directory; an error says how to make one when there is none.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join(DB_FILE).is_file() {
            return Err(StoreError::NotARun(dir.to_path_buf()));
        }
        Self::open_db(dir)
    }

    fn open_db(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(DB_FILE);
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
        if found > VERSION {
            return Err(StoreError::SchemaTooNew { path, found, supported: VERSION });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.unchecked_transaction().map_err(sql)?;
            tx.execute_batch(m).map_err(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(Self { dir: dir.to_path_buf(), conn })
    }

    pub(crate) fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sql { path: self.dir.join(DB_FILE), source }
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `RUN_DIR/artifacts`.
    pub fn artifacts_dir(&self) -> PathBuf {
        self.dir.join("artifacts")
    }

    /// Starts run `kind`/`name`, or resumes it when it exists with compatible provenance
    /// (parameters named in `volatile` may differ; see [`Provenance::incompatibility`]).
    pub fn begin_run(&self, kind: &str, name: &str, prov: &Provenance, volatile: &[&str]) -> Result<RunId, StoreError> {
        crate::paths::check_name(&self.dir, kind, name)?;
        if let Some((id, old)) = self.find_run(kind, Some(name))? {
            if let Some(what) = old.incompatibility(prov, volatile) {
                return Err(StoreError::ProvenanceMismatch {
                    dir: self.dir.clone(),
                    kind: kind.into(),
                    name: name.into(),
                    what,
                });
            }
            return Ok(id);
        }
        let json = serde_json::to_string(prov).expect("provenance serialises");
        self.conn
            .execute(
                "INSERT INTO runs (kind, name, provenance, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![kind, name, json, now()],
            )
            .map_err(self.sql())?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Replaces the provenance a run records (`rectify merge`: the merged eval run is no shard).
    pub fn set_provenance(&self, run: RunId, prov: &Provenance) -> Result<(), StoreError> {
        let json = serde_json::to_string(prov).expect("provenance serialises");
        self.conn.execute("UPDATE runs SET provenance = ?1 WHERE id = ?2", params![json, run.0]).map_err(self.sql())?;
        Ok(())
    }

    /// Marks a run finished (now).
    pub fn finish_run(&self, run: RunId) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE runs SET finished_at = ?1 WHERE id = ?2", params![now(), run.0])
            .map_err(self.sql())?;
        Ok(())
    }

    /// The run of `kind` named `name` (or the only/latest one of that kind when `name` is `None`).
    pub fn find_run(&self, kind: &str, name: Option<&str>) -> Result<Option<(RunId, Provenance)>, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT id, provenance FROM runs WHERE kind = ?1 AND (?2 IS NULL OR name = ?2)
                 ORDER BY id DESC LIMIT 1",
                params![kind, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        row.map(|(id, json)| {
            serde_json::from_str(&json)
                .map(|p| (RunId(id), p))
                .map_err(|source| StoreError::Json { what: format!("runs.provenance of run {id}"), source })
        })
        .transpose()
    }

    /// The finished runs of `kind`, by name (the latest run of each name), in name order.
    pub fn finished_runs(&self, kind: &str) -> Result<Vec<(RunId, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT MAX(id), name FROM runs WHERE kind = ?1 AND finished_at IS NOT NULL
                 GROUP BY name ORDER BY name",
            )
            .map_err(self.sql())?;
        let rows = st.query_map(params![kind], |r| Ok((RunId(r.get(0)?), r.get(1)?))).map_err(self.sql())?;
        let rows: Vec<(RunId, String)> = rows.collect::<Result<_, _>>().map_err(self.sql())?;
        for (_, name) in &rows {
            crate::paths::check_name(&self.dir, kind, name)?;
        }
        Ok(rows)
    }

    /// Every run of `kind` in the order they were begun: id, name, and whether it finished.
    pub fn runs_of(&self, kind: &str) -> Result<Vec<(RunId, String, bool)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, name, finished_at IS NOT NULL FROM runs WHERE kind = ?1 ORDER BY id")
            .map_err(self.sql())?;
        let rows = st.query_map(params![kind], |r| Ok((RunId(r.get(0)?), r.get(1)?, r.get(2)?))).map_err(self.sql())?;
        let rows: Vec<(RunId, String, bool)> = rows.collect::<Result<_, _>>().map_err(self.sql())?;
        for (_, name, _) in &rows {
            crate::paths::check_name(&self.dir, kind, name)?;
        }
        Ok(rows)
    }

    /// Like [`RunStore::find_run`], but a missing run is an error.
    pub fn run(&self, kind: &str, name: Option<&str>) -> Result<(RunId, Provenance), StoreError> {
        self.find_run(kind, name)?.ok_or_else(|| StoreError::NoSuchRun {
            dir: self.dir.clone(),
            kind: kind.into(),
            name: name.map(str::to_string),
        })
    }

    /// Inserts or updates images (by id).
    pub fn put_images(&mut self, rows: &[ImageRow]) -> Result<(), StoreError> {
        let path = self.dir.join(DB_FILE);
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO images (id, file, label, real_labels) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET file = excluded.file, label = excluded.label,
                     real_labels = excluded.real_labels",
                )
                .map_err(sql)?;
            for r in rows {
                let real = r.real_labels.as_ref().map(|v| serde_json::to_string(v).expect("ints serialise"));
                st.execute(params![r.id, r.file, r.label, real]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// All images, by id.
    pub fn images(&self) -> Result<Vec<ImageRow>, StoreError> {
        let mut st =
            self.conn.prepare("SELECT id, file, label, real_labels FROM images ORDER BY id").map_err(self.sql())?;
        let rows = st
            .query_map([], |r| {
                let real: Option<String> = r.get(3)?;
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?, real))
            })
            .map_err(self.sql())?;
        rows.map(|r| {
            let (id, file, label, real) = r.map_err(self.sql())?;
            crate::paths::relative(&self.dir, &format!("images.file of image {id}"), &file)?;
            let real_labels = real
                .map(|s: String| serde_json::from_str(&s))
                .transpose()
                .map_err(|source| StoreError::Json { what: format!("images.real_labels of {file}"), source })?;
            Ok(ImageRow { id, file, label, real_labels })
        })
        .collect()
    }

    /// Ids of the images of `run` that need no more work: predicted, and with logits / features
    /// stored when those are asked for now (an earlier run may have skipped them).
    pub fn done_ids(&self, run: RunId, need_logits: bool, need_features: bool) -> Result<HashSet<i64>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT image_id FROM predictions WHERE run_id = ?1
                 AND (NOT ?2 OR logits IS NOT NULL) AND (NOT ?3 OR features IS NOT NULL)",
            )
            .map_err(self.sql())?;
        let ids = st.query_map(params![run.0, need_logits, need_features], |r| r.get(0)).map_err(self.sql())?;
        ids.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Stores predictions in one transaction and clears earlier errors of those images.
    pub fn put_predictions(&mut self, run: RunId, rows: &[PredictionRow]) -> Result<(), StoreError> {
        let path = self.dir.join(DB_FILE);
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT OR REPLACE INTO predictions
                     (run_id, image_id, top5, top5_probs, label_prob, logits, features)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql)?;
            let mut del = tx.prepare("DELETE FROM errors WHERE run_id = ?1 AND image_id = ?2").map_err(sql)?;
            for r in rows {
                ins.execute(params![
                    run.0,
                    r.image_id,
                    serde_json::to_string(&r.top5).expect("ints serialise"),
                    serde_json::to_string(&r.top5_probs).expect("floats serialise"),
                    r.label_prob.map(f64::from),
                    r.logits.as_deref().map(f32s_to_blob),
                    r.features.as_deref().map(f32s_to_blob),
                ])
                .map_err(sql)?;
                del.execute(params![run.0, r.image_id]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Predictions of `run`, by image id; `blobs` also loads logits and features.
    pub fn predictions(&self, run: RunId, blobs: bool) -> Result<Vec<PredictionRow>, StoreError> {
        let q = if blobs {
            "SELECT image_id, top5, top5_probs, label_prob, logits, features FROM predictions WHERE run_id = ?1 ORDER BY image_id"
        } else {
            "SELECT image_id, top5, top5_probs, label_prob, NULL, NULL FROM predictions WHERE run_id = ?1 ORDER BY image_id"
        };
        let mut st = self.conn.prepare(q).map_err(self.sql())?;
        let rows = st
            .query_map([run.0], |r| {
                let top5: String = r.get(1)?;
                let probs: String = r.get(2)?;
                let lp: Option<f64> = r.get(3)?;
                let logits: Option<Vec<u8>> = r.get(4)?;
                let feats: Option<Vec<u8>> = r.get(5)?;
                Ok((r.get::<_, i64>(0)?, top5, probs, lp, logits, feats))
            })
            .map_err(self.sql())?;
        rows.map(|row| {
            let (image_id, top5, probs, lp, logits, feats) = row.map_err(self.sql())?;
            let json = |what: &str, source| StoreError::Json {
                what: format!("predictions.{what} of image {image_id}"),
                source,
            };
            Ok(PredictionRow {
                image_id,
                top5: serde_json::from_str(&top5).map_err(|e| json("top5", e))?,
                top5_probs: serde_json::from_str(&probs).map_err(|e| json("top5_probs", e))?,
                label_prob: lp.map(|p| p as f32),
                logits: logits.as_deref().map(blob_to_f32s),
                features: feats.as_deref().map(blob_to_f32s),
            })
        })
        .collect()
    }

    /// Records that `image_id` failed at `stage` in `run` (replacing an earlier record).
    pub fn put_error(&self, run: RunId, image_id: i64, stage: &str, message: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO errors (run_id, image_id, stage, message) VALUES (?1, ?2, ?3, ?4)",
                params![run.0, image_id, stage, message],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Errors of `run`, by image id.
    pub fn errors(&self, run: RunId) -> Result<Vec<ErrorRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT e.image_id, i.file, e.stage, e.message FROM errors e JOIN images i ON i.id = e.image_id
                 WHERE e.run_id = ?1 ORDER BY e.image_id, e.stage",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map([run.0], |r| {
                Ok(ErrorRow { image_id: r.get(0)?, file: r.get(1)?, stage: r.get(2)?, message: r.get(3)? })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Copies images, the `kind`/`name` run, its predictions and errors from another store
    /// (used by `rectify merge`); returns the run's id here.
    pub fn absorb(&mut self, other: &RunStore, kind: &str, name: &str, volatile: &[&str]) -> Result<RunId, StoreError> {
        let (their_run, prov) = other.run(kind, Some(name))?;
        let run = self.begin_run(kind, name, &prov, volatile)?;
        self.put_images(&other.images()?)?;
        self.put_predictions(run, &other.predictions(their_run, true)?)?;
        for e in other.errors(their_run)? {
            self.put_error(run, e.image_id, &e.stage, &e.message)?;
        }
        Ok(run)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelRecord;

    fn prov() -> Provenance {
        Provenance {
            model: ModelRecord { arch: "mobilenet_v2".into(), weights: "w".into(), weights_sha256: "abc".into() },
            preprocessing: "p".into(),
            params: serde_json::json!({"batch_size": 4}),
            seed: None,
            device: "cpu".into(),
            version: "test".into(),
            command: "test".into(),
        }
    }

    fn pred(id: i64) -> PredictionRow {
        PredictionRow {
            image_id: id,
            top5: vec![1, 2, 3, 4, 5],
            top5_probs: vec![0.5, 0.2, 0.1, 0.1, 0.05],
            label_prob: Some(0.5),
            logits: Some(vec![1.0, -2.5]),
            features: None,
        }
    }

    #[test]
    fn round_trips_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = RunStore::create(dir.path()).unwrap();
        let run = s.begin_run("eval", "eval", &prov(), &["batch_size"]).unwrap();
        let imgs = vec![
            ImageRow { id: 0, file: "a.jpg".into(), label: Some(3), real_labels: Some(vec![3, 4]) },
            ImageRow { id: 1, file: "b.jpg".into(), label: None, real_labels: None },
        ];
        s.put_images(&imgs).unwrap();
        s.put_error(run, 1, "decode", "truncated").unwrap();
        s.put_predictions(run, &[pred(0)]).unwrap();
        drop(s);

        let mut s = RunStore::open(dir.path()).unwrap();
        let mut p2 = prov();
        p2.params = serde_json::json!({"batch_size": 64});
        assert_eq!(s.begin_run("eval", "eval", &p2, &["batch_size"]).unwrap(), run);
        assert_eq!(s.images().unwrap(), imgs);
        assert_eq!(s.predictions(run, true).unwrap(), vec![pred(0)]);
        assert_eq!(s.predictions(run, false).unwrap()[0].logits, None);
        assert_eq!(s.done_ids(run, false, false).unwrap(), HashSet::from([0]));
        assert_eq!(s.done_ids(run, false, true).unwrap(), HashSet::new(), "no features stored");
        assert_eq!(s.errors(run).unwrap().len(), 1);
        // A later success clears the error.
        s.put_predictions(run, &[pred(1)]).unwrap();
        assert!(s.errors(run).unwrap().is_empty());
    }

    #[test]
    fn criticisms_replace_and_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = RunStore::create(dir.path()).unwrap();
        s.put_images(&[ImageRow { id: 0, file: "a.jpg".into(), label: Some(3), real_labels: None }]).unwrap();
        s.put_images(&[ImageRow { id: 1, file: "b.jpg".into(), label: Some(3), real_labels: None }]).unwrap();
        let run = s.begin_run("criticize", "mmd-class", &prov(), &[]).unwrap();
        let row = |group: &str, prototype, rank, image_id, score| crate::CriticismRow {
            group: group.into(),
            prototype,
            rank,
            image_id,
            score,
        };
        s.put_criticisms(run, &[row("b", true, 0, 1, Some(0.5)), row("a", false, 0, 0, Some(f64::NAN))]).unwrap();
        let new = [row("a", false, 1, 1, Some(0.1)), row("a", false, 0, 0, None), row("a", true, 0, 1, Some(2.0))];
        s.put_criticisms(run, &new).unwrap();
        let got = s.criticisms(run).unwrap();
        assert_eq!(got, vec![new[2].clone(), new[1].clone(), new[0].clone()], "replaced; prototypes first, by rank");
    }

    #[test]
    fn refuses_to_resume_with_other_weights() {
        let dir = tempfile::tempdir().unwrap();
        let s = RunStore::create(dir.path()).unwrap();
        s.begin_run("eval", "eval", &prov(), &[]).unwrap();
        let mut other = prov();
        other.model.weights_sha256 = "def".into();
        let err = s.begin_run("eval", "eval", &other, &[]).unwrap_err();
        assert!(err.to_string().contains("weights sha256"), "{err}");
    }

    #[test]
    fn open_without_db_explains() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunStore::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("rectify eval --out"), "{err}");
    }

    #[test]
    fn uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let s = RunStore::create(dir.path()).unwrap();
        let mode: String = s.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}
