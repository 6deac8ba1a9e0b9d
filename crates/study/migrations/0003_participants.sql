-- rectify-web schema, version 3: open enrollment from recruitment platforms (Prolific, MTurk,
-- a generic `?pid=`). `study_enrollment` holds the settings `study serve` was started with (JSON),
-- so that every server on the database enrolls alike. `study_participants` maps a platform's
-- participant id to a rater: the same id resumes the same rater and never gets a second batch
-- unless `max_batches` allows it.
--
-- Quality control: gold items (known answers) are flagged in `study_items.gold` and never count
-- toward an item's N; a participant whose gold accuracy falls below the study's minimum is
-- excluded (`excluded_at`, `excluded_reason`), their answers flagged `excluded` — kept, never
-- counted — so that their items reopen until N counted answers exist.
CREATE TABLE IF NOT EXISTS study_enrollment (
    study TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS study_participants (
    study TEXT NOT NULL,
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    rater TEXT NOT NULL UNIQUE,
    session_id TEXT,
    platform_study TEXT,
    assignment_id TEXT,
    hit_id TEXT,
    submit_to TEXT,
    batches BIGINT NOT NULL,
    item_cap BIGINT NOT NULL,
    consented_at BIGINT,
    created_at BIGINT NOT NULL,
    completed_at BIGINT,
    completion_code TEXT,
    excluded_at BIGINT,
    excluded_reason TEXT,
    PRIMARY KEY (study, platform, external_id)
);

CREATE INDEX IF NOT EXISTS study_participants_external ON study_participants (platform, external_id);

ALTER TABLE study_items ADD COLUMN gold BIGINT NOT NULL DEFAULT 0;

ALTER TABLE study_assignments ADD COLUMN excluded BIGINT NOT NULL DEFAULT 0
