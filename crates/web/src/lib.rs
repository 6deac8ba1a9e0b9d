//! The rating-study server (issue #6): raters join with an invite link and answer items one at
//! a time — never the same item twice — until each item has N answers; an admin follows the
//! progress and exports the votes. The studies are those of Stock & Cisse, "ConvNets and
//! ImageNet Beyond Accuracy: Understanding Mistakes and Uncovering Biases", ECCV 2018, §3
//! (relevance of predicted classes, adversarial arms, prototype/criticism assignment).
//!
//! # Pieces
//! * [`db::StudyDb`] — the database over `sqlx::AnyPool`: `sqlite://PATH?mode=rwc` (WAL,
//!   `busy_timeout`) or `postgres://…`, migrated on [`StudyDb::connect`];
//! * [`assign`] — [`StudyDb::next_item`] and [`StudyDb::answer`];
//! * [`app()`] with [`AppState::new`]`(db, run_dir, study)` — the axum router (tests call
//!   `app(state).oneshot(request)`), built from [`rater::router`] and [`admin::router`];
//! * [`serve()`] / [`serve_on`] — a TCP listener with graceful shutdown ([`ctrl_c`]);
//! * [`simulate::simulate`] — simulated raters driving the real HTTP API.
//!
//! # Routes
//! | route | what |
//! | --- | --- |
//! | `GET /r/{token}` | the rater page: one HTML file, inline CSS/JS, no external requests; keys `y`/`n`, `1`–`6`, `Enter` |
//! | `GET /api/r/{token}/next` | `{"item": {id, question} or null, "answered": k}`; leases the item; `id` is the lease's opaque id (128 random bits), the only name the browser gets |
//! | `POST /api/r/{token}/answer` | body `{"item": lease id, "answer": {"kind": "yes"}, "request_id": "…"}` → `{"recorded", "seconds", "answered"}` |
//! | `GET /api/r/{token}/image/{lease}/{n}` | the item's `n`-th image (0 = the image or target, then each option's examples in order); only for items leased to or answered by this rater |
//! | `GET /admin/login/{code}` | exchanges a one-time login code (15 min) for an admin session cookie (HttpOnly, SameSite=Strict, 12 h) and redirects to `/admin` |
//! | `GET /admin` | the dashboard: progress per design, Fleiss' κ, raters' counts and median time |
//! | `GET /api/admin/progress` | [`stats::Progress`] as JSON |
//! | `GET /api/admin/export?format=csv\|jsonl` | every vote (JSONL: one [`rectify_study::Vote`] a line) |
//! | `POST /api/admin/invites?count=k` | `k` new invite tokens and their `/r/…` links |
//! | `GET /prolific?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…` | Prolific's study URL: creates or resumes the participant, `303` to `/r/{token}` ([`join`]) |
//! | `GET /mturk?assignmentId=…&hitId=…&workerId=…&turkSubmitTo=…` | an MTurk ExternalQuestion; `assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE` is the preview (leases nothing); framable by MTurk's origins only |
//! | `GET /join?pid=…` | any other panel (lab pools, SONA) |
//! | `GET /api/r/{token}/session` | platform, consent, instructions, practice item, "k of K", completion |
//! | `POST /api/r/{token}/consent` / `POST /api/r/{token}/complete` | consent; end of batch → `{code, redirect, mturk_submit, answered}` once every item is answered |
//!
//! Admin routes take `Authorization: Bearer <admin token>` (scripts) or the session cookie (the
//! dashboard); a token in the query string is refused, since URLs end up in logs and histories.
//! Every response carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
//! `X-Frame-Options: DENY` and a CSP with `frame-ancestors 'none'` — except the pages of MTurk
//! participants (and the errors of `/mturk` and `/r/…`), which MTurk's origins may frame and whose
//! form may post to `turkSubmitTo`. Pages run only their own inline script, by its hash. Questions
//! reach raters under lease ids, with image URLs, never paths, and without key, kind, gold
//! answers, truth, variant or arm. Errors under `/api/` are `{"error": message}` (HTML pages
//! elsewhere): 400 malformed request, 401 admin token, 404 unknown invite / item /
//! image, 405 a route with another method, 409 not leased to you / already answered differently /
//! lease expired, 413 body over 64 KiB, 422 an answer of the wrong kind (`yes`/`no` for relevance and attribute questions,
//! classes ⊆ those offered without repeats, option < number of options). Internal errors are
//! a bare 500, logged to stderr.
//!
//! # Open enrollment
//! [`enrollment::Enrollment`] (stored by `study serve --platform …` in `study_enrollment`, so that
//! every server on the database enrolls alike): the platforms open, K (`per_participant`),
//! `max_batches` (default 1: never a second batch), the gold schedule's secret `seed`, the completion code and URL (Prolific's is
//! `https://app.prolific.com/submissions/complete?cc={code}`), studies whose participants are
//! kept out (`exclude_studies`), instructions (HTML from the researcher's Markdown, raw HTML
//! escaped), the practice item, MTurk's accepted origins, the gold rate and the exclusion rules
//! (`min_gold_accuracy` after `min_gold_answers`, `min_median_seconds`). The completion is shown
//! only after the last answer was committed, atomically (one code whatever the concurrency), and
//! never for a batch without a data answer; an excluded participant with answers still completes
//! (the payments export suggests rejecting them, with the reason). Platform ids are validated and
//! normalised ([`enrollment::normalise_id`]), and a batch is bound to the assignment, session or browser
//! that started it (see [`StudyDb::join`]). See `tests/hostile.rs` for the attacks this holds against.
//!
//! # Tables
//! All prefixed `study_` so that the SQLite file can be the run's `rectify.db` (its own tables
//! and `PRAGMA user_version` are left alone). Migrations are embedded (`migrations/*.sql`) and
//! recorded in `study_migrations`.
//! * `study_studies(name, answers_per_item, admin_token_hash, created_at)`;
//! * `study_items(study, item_key, id, design, arm, body)` — `body` is the [`rectify_study::Item`] as JSON, `id` the per-study number used in URLs;
//! * `study_raters(id, study, token_hash, created_at)` — invite tokens are 160 random bits
//!   from the OS, shown once, stored as SHA-256;
//! * `study_arms(study, rater, design, arm)` — the arm a rater's first item of a design fixed;
//! * `study_assignments(study, item_key, rater, state, assigned_at, lease_at, answered_at,
//!   answer, seconds, request_id, source, excluded)` — primary key (study, item_key, rater);
//!   `state` is `leased`, `answered` or `released`. Imported votes are `answered` rows with
//!   their importer as `source` and no `assigned_at`; `excluded = 1` marks an excluded
//!   participant's rows (kept, never counted);
//! * `study_enrollment(study, settings)` and `study_participants(study, platform, external_id,
//!   rater, session_id, platform_study, assignment_id, hit_id, submit_to, batches, item_cap,
//!   consented_at, created_at, completed_at, completion_code, excluded_at, excluded_reason)` —
//!   primary key (study, platform, external_id): one rater per platform id (migration 3, which
//!   also adds `study_items.gold`);
//! * stopping once the rule has decided (migration 5): `study_studies.stopping` (the settings),
//!   `study_items.decided_at` and `to_decide` (each item's state, see
//!   [`rectify_study::db::decided`]); a sample of the mistakes and the latest plan (migration 6):
//!   `study_studies.sampling` and `plan`.
//!
//! The SQL is portable between SQLite and PostgreSQL (TEXT, BIGINT, DOUBLE PRECISION, `$n`
//! placeholders, `ON CONFLICT`; ids made by the application). `tests/postgres.rs` runs against
//! `RECTIFY_TEST_POSTGRES_URL`; `.ci/run` starts Debian's PostgreSQL and sets
//! `RECTIFY_REQUIRE_POSTGRES=1`, so there the test fails rather than skips without a server.
//!
//! # Assignment
//! [`StudyDb::next_item`]: a rater holding an open lease gets that item again; otherwise the
//! item they have no row for, whose answers plus open leases (younger than the lease timeout,
//! [`db::DEFAULT_LEASE`] = 10 min) are fewer than N, whose arm (if any) matches the arm fixed
//! by their first item of that design — and, under stopping, that is not decided — preferring
//! items whose open leases cannot decide them, then items closest to completion, then the lowest
//! id. An expired lease is released when the rater asks again (they never get the item again;
//! only an answer can still use it, while the item has room). Participants from a recruitment platform get at most their batch
//! (batches × K data items), with gold items mixed in at the study's gold rate (gold items have
//! no N and never count as data); an excluded participant gets nothing more, and their answers
//! (flagged `excluded`) no longer count toward any item's N, so those items reopen.
//!
//! The guard against over-assignment is in the database, not in this process, so it holds for
//! any number of `study serve` processes on one database: each assigning or answering
//! transaction locks the rater's row, then the item's (PostgreSQL `SELECT … FOR UPDATE`; SQLite a
//! first-statement write, which takes the database's write lock), re-counts under the lock and
//! only then writes — see [`assign`]. Tested with two servers and 200 participants on SQLite and
//! PostgreSQL, one server SIGKILLed mid-run (`crates/cli/tests/study_crash.rs`).
//!
//! # Idempotency
//! * [`StudyDb::answer`]: the same answer for the same item again (a retried POST, whatever its
//!   `request_id`) succeeds with `recorded: false` and counts once; a different answer is a 409.
//!   An answer on an expired lease is accepted while the item still has room. Time on task is
//!   `answered_at − assigned_at`, measured by the server.
//! * [`StudyDb::put_votes`]: by (item, rater); an identical vote is a no-op; a different answer
//!   replaces the stored one only when both have the same non-`server` source (an importer
//!   re-run), otherwise it is a [`DbError::VoteConflict`]. Items must exist first
//!   ([`StudyDb::put_study`], which upserts by key and keeps answers).
//! * [`StudyDb::admin_token`] returns the token only when it creates it;
//!   [`StudyDb::rotate_admin_token`] makes a new one.

pub mod admin;
pub mod app;
pub mod error;
pub mod join;
pub mod rater;
pub mod serve;
pub mod simulate;

/// The study database this server serves (it lives in `rectify_study::db`; re-exported so that
/// `rectify_web::StudyDb` and friends keep their paths).
pub use rectify_study::db::{self, assign, enroll, enrollment, quality, stats};
pub use rectify_study::db::{Answered, PutVotes, StoredItem, StudyDb, StudyInfo};
pub use rectify_study::db::{Completion, Enrollment, Joined, Participant, Platform, Practice, Refusal, Visit};

pub use app::{app, AppState};
pub use error::{AppError, DbError};
pub use serve::{ctrl_c, serve, serve_on};
pub use simulate::{
    mturk_submit_server, participant_id, simulate, simulate_participants, Flow, ParticipantsReport, SimReport,
};
