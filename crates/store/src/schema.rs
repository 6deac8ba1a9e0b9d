//! The SQLite schema, applied as numbered migrations recorded in `PRAGMA user_version`.

/// Migrations in order; entry `i` brings the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,              -- eval, attack, explain, criticize, study …
    name        TEXT NOT NULL,              -- unique within a kind
    provenance  TEXT NOT NULL,              -- JSON: Provenance
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (kind, name)
);
CREATE TABLE images (
    id          INTEGER PRIMARY KEY,        -- position in the full input listing (shard-independent)
    file        TEXT NOT NULL UNIQUE,       -- path relative to the images root
    label       INTEGER,                    -- NULL: unknown
    real_labels TEXT                        -- JSON list of ReaL labels; NULL: none given
);
CREATE TABLE predictions (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    image_id    INTEGER NOT NULL REFERENCES images(id),
    top5        TEXT NOT NULL,              -- JSON list of class indices, best first
    top5_probs  TEXT NOT NULL,              -- JSON list of softmax probabilities
    label_prob  REAL,                       -- probability of the true label, when known
    logits      BLOB,                       -- little-endian f32 [classes], with --save-logits
    features    BLOB,                       -- little-endian f32 [D], with --save-features
    PRIMARY KEY (run_id, image_id)
) WITHOUT ROWID;
CREATE TABLE errors (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    image_id    INTEGER NOT NULL REFERENCES images(id),
    stage       TEXT NOT NULL,              -- decode, label, model …
    message     TEXT NOT NULL,
    PRIMARY KEY (run_id, image_id, stage)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE attack_results (
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    image_id      INTEGER NOT NULL REFERENCES images(id),
    target        INTEGER,                  -- the target class of a targeted attack
    steps_to_flip INTEGER,                  -- first step whose prediction left the label (or hit the target); NULL: never
    quantized_top1 INTEGER,                 -- prediction on the saved 8-bit PNG, with --save-images
    image         TEXT,                     -- that PNG, relative to the run directory
    PRIMARY KEY (run_id, image_id)
) WITHOUT ROWID;
CREATE TABLE attack_steps (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    image_id    INTEGER NOT NULL REFERENCES images(id),
    step        INTEGER NOT NULL,           -- 0 = clean
    top1        INTEGER NOT NULL,
    top1_prob   REAL NOT NULL,
    true_prob   REAL NOT NULL,
    target_prob REAL,
    PRIMARY KEY (run_id, image_id, step)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE explanations (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    image_id    INTEGER NOT NULL REFERENCES images(id),
    label       INTEGER NOT NULL,           -- the class explained
    segments    INTEGER NOT NULL,           -- superpixels
    r2          REAL NOT NULL,              -- weighted R² of the surrogate
    auc_path    REAL NOT NULL,              -- area under the explanation path
    auc_random  REAL NOT NULL,              -- the same for a seeded random order
    json        TEXT NOT NULL,              -- the explanation file, relative to the run directory
    PRIMARY KEY (run_id, image_id)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE criticisms (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    grp         TEXT NOT NULL,              -- the group (class, superclass, all …)
    role        TEXT NOT NULL,              -- prototype or criticism
    rank        INTEGER NOT NULL,           -- 0 = picked first
    image_id    INTEGER NOT NULL REFERENCES images(id),
    score       REAL,                       -- the selector's score (NULL: not finite)
    PRIMARY KEY (run_id, grp, role, rank)
) WITHOUT ROWID;
"#,
];

/// The newest schema version this build knows.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;
