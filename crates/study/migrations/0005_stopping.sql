-- rectify-web schema, version 5 (issue #30): stop asking once the rule has decided.
--
-- `study_studies.stopping`: the study's stopping settings as JSON (`rectify_study::stopping::Stopping`:
-- k, n, full_fraction, seed), NULL for a study that asks every item N times (the paper's protocol).
--
-- `study_items.decided_at`: when the item's verdict became certain (no further answer can change it);
-- a decided item gets no new lease. `study_items.to_decide`: the fewest further answers that could
-- decide it; while fewer leases than that are open, another answer is needed whatever they say, and
-- such items are leased first. Both are recomputed from the counted answers after every answer, import
-- and exclusion; NULL where the study does not stop.
ALTER TABLE study_studies ADD COLUMN stopping TEXT;

ALTER TABLE study_items ADD COLUMN decided_at BIGINT;

ALTER TABLE study_items ADD COLUMN to_decide BIGINT
