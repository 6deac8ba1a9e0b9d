-- rectify-web schema, version 4 (issue #29): participants who cheat.
--
-- `study_assignments.lease_id`: the opaque id an item reaches the browser under (128 random bits
-- per lease), so that nothing a participant receives names the item, its kind (data, gold,
-- attention) or its place in the study.
--
-- `study_bindings`: every MTurk assignment id and Prolific session id that ever started or
-- resumed a batch, with the participant it belongs to: one assignment (one session) belongs to
-- one participant, and a batch is resumed only under the binding that started it
-- (`study_participants.bound_to`, with `finished_by` naming the binding that completed it, the
-- only one shown its code again). A panel's `?pid=` has no platform session: its binding is a
-- random secret kept in a cookie of the browser that started the batch.
--
-- `study_admin_sessions.admin_token_hash`: the admin token a login code or session was minted
-- under; a new admin token (every `study serve` makes one) ends them.
ALTER TABLE study_assignments ADD COLUMN lease_id TEXT;

CREATE UNIQUE INDEX IF NOT EXISTS study_assignments_lease ON study_assignments (study, lease_id);

ALTER TABLE study_participants ADD COLUMN bound_to TEXT;

ALTER TABLE study_participants ADD COLUMN finished_by TEXT;

CREATE TABLE IF NOT EXISTS study_bindings (
    study TEXT NOT NULL,
    platform TEXT NOT NULL,
    binding TEXT NOT NULL,
    external_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (study, platform, binding)
);

ALTER TABLE study_admin_sessions ADD COLUMN admin_token_hash TEXT
