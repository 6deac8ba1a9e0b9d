-- rectify-web schema, version 3: open enrollment from recruitment platforms (Prolific, MTurk,
-- a generic `?pid=`). `study_enrollment` holds the settings `study serve` was started with (JSON),
-- so that every server on the database enrolls alike. `study_participants` maps a platform's
-- participant id to a rater: the same id resumes the same rater and never gets a second batch
-- unless `max_batches` allows it.
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
    PRIMARY KEY (study, platform, external_id)
);

CREATE INDEX IF NOT EXISTS study_participants_external ON study_participants (platform, external_id)
