-- rectify-web schema, version 6 (issue #30): rate a sample; know the cost before paying.
--
-- `study_studies.sampling`: when the study's items are a seeded random sample of the run's mistakes, as
-- JSON (`rectify_study::sampling::Sampling`: population, sample, seed); results then estimate the
-- rectified error for all of them, with a finite-population-corrected interval.
--
-- `study_studies.plan`: the latest `rectify study plan` of the study (JSON,
-- `rectify_study::db::decided::PlanSummary`), which the admin dashboard shows answers and cost so far
-- against.
ALTER TABLE study_studies ADD COLUMN sampling TEXT;

ALTER TABLE study_studies ADD COLUMN plan TEXT
