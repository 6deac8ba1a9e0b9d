//! Enrollment settings ([`Enrollment`]) and the platforms' URL conventions: what `study serve
//! --platform …` stores in `study_enrollment` for every server on the database, how each
//! platform names its participants ([`normalise_id`]) and where a finished participant goes.

use crate::db::error::DbError;
use crate::db::locks::Tx;
use crate::db::{now_ms, StudyDb};
use crate::{Answer, Question};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Where participants come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Prolific: `/prolific?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`.
    Prolific,
    /// Amazon Mechanical Turk, as an ExternalQuestion:
    /// `/mturk?assignmentId=…&hitId=…&workerId=…&turkSubmitTo=…`.
    Mturk,
    /// Any other panel (lab pools, SONA): `/join?pid=…`.
    Pid,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 3] = [Platform::Prolific, Platform::Mturk, Platform::Pid];

    /// Its name in URLs, the database and flags.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Prolific => "prolific",
            Platform::Mturk => "mturk",
            Platform::Pid => "pid",
        }
    }

    /// The platform of a name.
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Prolific's completion URL; `{code}` is replaced by the completion code.
pub const PROLIFIC_COMPLETION_URL: &str = "https://app.prolific.com/submissions/complete?cc={code}";

/// The origins MTurk frames ExternalQuestion pages from and whose `turkSubmitTo` is accepted:
/// the worker sites and the sandbox.
pub const MTURK_ORIGINS: [&str; 3] =
    ["https://www.mturk.com", "https://worker.mturk.com", "https://workersandbox.mturk.com"];

/// MTurk's preview mode: the worker has not accepted the HIT yet.
pub const MTURK_PREVIEW: &str = "ASSIGNMENT_ID_NOT_AVAILABLE";

/// How participants join a study, as `study serve` stores it for every server on the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The entry routes that are open.
    pub platforms: Vec<Platform>,
    /// K: items per batch.
    pub per_participant: usize,
    /// Batches one participant may do (default 1: never a second batch).
    #[serde(default = "one")]
    pub max_batches: usize,
    /// The completion code shown at the end (Prolific's, from its study page); without one,
    /// each participant gets their own random code.
    #[serde(default)]
    pub completion_code: Option<String>,
    /// Where a finished participant is sent; `{code}` and `{pid}` are replaced. Prolific's
    /// default is [`PROLIFIC_COMPLETION_URL`]; MTurk participants submit a form to
    /// `turkSubmitTo/mturk/externalSubmit` instead.
    #[serde(default)]
    pub completion_url: Option<String>,
    /// Studies (on this database) whose participants may not join this one.
    #[serde(default)]
    pub exclude_studies: Vec<String>,
    /// Instructions and consent, as HTML rendered from the researcher's Markdown.
    #[serde(default)]
    pub instructions_html: Option<String>,
    /// A practice item shown (with feedback) before the batch; not stored as data.
    #[serde(default)]
    pub practice: Option<Practice>,
    /// MTurk origins accepted (framing and `turkSubmitTo`); default [`MTURK_ORIGINS`].
    #[serde(default = "mturk_origins")]
    pub mturk_origins: Vec<String>,
    /// Gold items per data item mixed into each batch (0: none; the first comes first).
    #[serde(default)]
    pub gold_rate: f64,
    /// Participants whose gold accuracy falls below this (after `min_gold_answers` gold
    /// answers) are excluded: their answers stay stored but stop counting, their items reopen.
    #[serde(default)]
    pub min_gold_accuracy: Option<f64>,
    /// Gold answers needed before the accuracy rule applies.
    #[serde(default = "two")]
    pub min_gold_answers: usize,
    /// Participants whose median time on a data item is below this many seconds are excluded
    /// when they complete (too fast to have looked).
    #[serde(default)]
    pub min_median_seconds: Option<f64>,
    /// Seeds each participant's gold schedule (which places of their batch hold gold items, and
    /// in which order the gold items come), mixed with their rater id: never sent to anyone.
    #[serde(default)]
    pub seed: u64,
}

fn two() -> usize {
    2
}

fn one() -> usize {
    1
}

fn mturk_origins() -> Vec<String> {
    MTURK_ORIGINS.iter().map(|s| s.to_string()).collect()
}

impl Enrollment {
    /// Settings for `platforms` with batches of `per_participant` and the defaults.
    pub fn new(platforms: Vec<Platform>, per_participant: usize) -> Enrollment {
        Enrollment {
            platforms,
            per_participant,
            max_batches: 1,
            completion_code: None,
            completion_url: None,
            exclude_studies: Vec::new(),
            instructions_html: None,
            practice: None,
            mturk_origins: mturk_origins(),
            gold_rate: 0.0,
            min_gold_accuracy: None,
            min_gold_answers: 2,
            min_median_seconds: None,
            seed: 0,
        }
    }

    /// Checks the settings: a batch size, a completion code for Prolific, URLs that are http(s).
    pub fn check(&self) -> Result<(), DbError> {
        let bad = |why: String| Err(DbError::BadSettings(why));
        if self.platforms.is_empty() {
            return bad("no platform is open".into());
        }
        if self.per_participant == 0 || self.max_batches == 0 {
            return bad("--per-participant and --max-batches must be at least 1".into());
        }
        if self.platforms.contains(&Platform::Prolific) && self.completion_code.is_none() {
            return bad("Prolific needs --completion-code (the code on your Prolific study's page)".into());
        }
        if let Some(code) = &self.completion_code {
            if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return bad(format!("--completion-code {code:?}: 1 to 64 letters and digits"));
            }
        }
        if let Some(url) = &self.completion_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad(format!("--completion-url {url:?} must start with https:// or http://"));
            }
        }
        if !(0.0..=1.0).contains(&self.gold_rate) || self.min_gold_accuracy.is_some_and(|a| !(0.0..=1.0).contains(&a)) {
            return bad("--gold-rate and --min-gold-accuracy lie in [0, 1]".into());
        }
        if self.min_median_seconds.is_some_and(|t| t.is_nan() || t < 0.0) {
            return bad("--min-median-seconds must be at least 0".into());
        }
        for o in &self.mturk_origins {
            if origin(o).as_deref() != Some(o.as_str()) {
                return bad(format!("MTurk origin {o:?} must be scheme://host[:port] without a path"));
            }
        }
        Ok(())
    }

    /// Whether `submit_to` (MTurk's `turkSubmitTo`) is one of the accepted origins.
    pub fn accepts_submit_to(&self, submit_to: &str) -> bool {
        origin(submit_to).is_some_and(|o| self.mturk_origins.contains(&o))
    }
}

/// `scheme://host[:port]` of an http(s) URL with nothing after the host but an optional `/`.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let ok = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    ok.then(|| format!("{scheme}://{host}"))
}

/// The participant id a platform passes, checked against the platform's documented form and
/// normalised, so that one person cannot appear as two by changing case or adding characters:
/// * Prolific: `PROLIFIC_PID`, `STUDY_ID` and `SESSION_ID` are 24 hexadecimal digits (lower-cased);
/// * MTurk: `workerId` is `A` then letters and digits, `assignmentId` and `hitId` letters and
///   digits, at most 64 (MTurk's API patterns `^A[A-Z0-9]+$` and `^[A-Z0-9]+$`; upper-cased);
/// * a panel's `pid`: 1 to 64 letters, digits, `_` and `-` (lower-cased).
///
/// `Err` says what is wrong, in words for the participant.
pub fn normalise_id(platform: Platform, name: &str, value: &str) -> Result<String, String> {
    let bad = |form: &str| Err(format!("{name} is not a valid {} id ({form})", platform_title(platform)));
    match platform {
        Platform::Prolific => {
            if value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(value.to_ascii_lowercase())
            } else {
                bad("24 hexadecimal digits")
            }
        }
        Platform::Mturk => {
            let v = value.to_ascii_uppercase();
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                && (name != "workerId" || (v.starts_with('A') && v.len() >= 2));
            if ok {
                Ok(v)
            } else if name == "workerId" {
                bad("A followed by letters and digits, at most 64")
            } else {
                bad("letters and digits, at most 64")
            }
        }
        Platform::Pid => {
            let ok = !value.is_empty()
                && value.len() <= 64
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if ok {
                Ok(value.to_ascii_lowercase())
            } else {
                bad("1 to 64 letters, digits, _ and -")
            }
        }
    }
}

fn platform_title(platform: Platform) -> &'static str {
    match platform {
        Platform::Prolific => "Prolific",
        Platform::Mturk => "MTurk",
        Platform::Pid => "participant",
    }
}

/// A practice item: a question with a known answer and the feedback to give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Practice {
    /// The question (its image is served to anyone at `/practice/image/0`).
    pub question: Question,
    /// The expected answer.
    pub answer: Answer,
    /// Feedback shown after the rater answers, e.g. why the answer is yes.
    pub explanation: String,
}

/// Fills `{code}` and `{pid}` (percent-encoded) in a completion URL.
pub fn fill_url(template: &str, code: &str, pid: &str) -> String {
    template.replace("{code}", &percent_encode(code)).replace("{pid}", &percent_encode(pid))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path of a question's image (the target, for an assignment).
pub fn first_image(question: &Question) -> &str {
    match question {
        Question::Relevance { image, .. }
        | Question::MultiRelevance { image, .. }
        | Question::Attribute { image, .. } => &image.path,
        Question::Assignment { target, .. } => &target.path,
    }
}

impl StudyDb {
    /// Stores the study's enrollment settings (every server on the database reads them).
    /// The practice item, whose answer every participant is shown, may not be one of the study's
    /// gold items (same image): it would hand out a gold answer.
    pub async fn put_enrollment(&self, study: &str, enrollment: &Enrollment) -> Result<(), DbError> {
        self.answers_per_item(study).await?;
        enrollment.check()?;
        if let Some(practice) = &enrollment.practice {
            let shown = first_image(&practice.question);
            for item in self.items(study).await?.iter().filter(|i| i.gold.is_some()) {
                if first_image(&item.question) == shown {
                    return Err(DbError::BadSettings(format!(
                        "the practice item shows {shown}, the image of gold item {:?}: participants would be \
                         told a gold answer (pick another practice image)",
                        item.key
                    )));
                }
            }
        }
        sqlx::query(
            "INSERT INTO study_enrollment (study, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (study) DO UPDATE SET settings = $2, updated_at = $3",
        )
        .bind(study)
        .bind(serde_json::to_string(enrollment)?)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The study's enrollment settings, if open enrollment was set up.
    pub async fn enrollment(&self, study: &str) -> Result<Option<Enrollment>, DbError> {
        let row = sqlx::query("SELECT settings FROM study_enrollment WHERE study = $1")
            .bind(study)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>(0)?)?)).transpose()
    }

    /// Removes the study's enrollment settings (entry routes close; participants stay stored).
    pub async fn delete_enrollment(&self, study: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM study_enrollment WHERE study = $1").bind(study).execute(&self.pool).await?;
        Ok(())
    }
}

/// The study's enrollment settings, read within a transaction.
pub(crate) async fn enrollment_in(tx: &mut Tx<'_>, study: &str) -> Result<Option<Enrollment>, DbError> {
    let row = sqlx::query("SELECT settings FROM study_enrollment WHERE study = $1")
        .bind(study)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>(0)?)?)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_urls() {
        assert_eq!(origin("https://www.mturk.com/").as_deref(), Some("https://www.mturk.com"));
        assert_eq!(origin("http://127.0.0.1:9000").as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(origin("https://evil.example/path"), None);
        assert_eq!(origin("javascript:alert(1)"), None);
        let e = Enrollment::new(vec![Platform::Mturk], 5);
        assert!(e.accepts_submit_to("https://workersandbox.mturk.com/"));
        assert!(!e.accepts_submit_to("https://workersandbox.mturk.com.evil.example"));
        assert_eq!(
            fill_url(PROLIFIC_COMPLETION_URL, "C0DE", "x"),
            "https://app.prolific.com/submissions/complete?cc=C0DE"
        );
        assert_eq!(
            fill_url("https://lab.example/done?id={pid}", "c", "a b&c"),
            "https://lab.example/done?id=a%20b%26c"
        );
        let mut p = Enrollment::new(vec![Platform::Prolific], 5);
        assert!(p.check().unwrap_err().to_string().contains("--completion-code"));
        p.completion_code = Some("C1X2".into());
        p.check().unwrap();
    }
}
