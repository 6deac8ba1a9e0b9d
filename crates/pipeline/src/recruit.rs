//! Recruitment from platforms: the `study serve` flags that open enrollment, the practice item,
//! the instructions (Markdown), and `rectify study recruit`, which prints what to paste into
//! Prolific or MTurk.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rectify_study::designs::{class_ref, EvalImage};
use rectify_study::{Answer, ImageRef, Item, Question, Vote};
use rectify_web::{Enrollment, Participant, Platform, Practice};

/// A recruitment platform on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum PlatformArg {
    /// Prolific (`PROLIFIC_PID`, `STUDY_ID`, `SESSION_ID`; completion code and URL).
    Prolific,
    /// Amazon Mechanical Turk, as an ExternalQuestion HIT.
    Mturk,
    /// Any other panel (lab pools, SONA): `/join?pid=…`.
    Pid,
}

impl PlatformArg {
    /// The web crate's platform.
    pub fn platform(self) -> Platform {
        match self {
            PlatformArg::Prolific => Platform::Prolific,
            PlatformArg::Mturk => Platform::Mturk,
            PlatformArg::Pid => Platform::Pid,
        }
    }
}

/// `study serve` flags that open the study to participants from recruitment platforms.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct EnrollArgs {
    /// Open enrollment from these platforms (repeat, or comma-separate). Without it, only
    /// invite links work (and settings stored by an earlier `serve` stay in force).
    #[cfg_attr(feature = "clap", arg(long = "platform", value_enum, value_delimiter = ','))]
    pub platforms: Vec<PlatformArg>,
    /// Items per participant (K): one batch.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 10))]
    pub per_participant: usize,
    /// Batches one participant may do; 1 (the default) means a participant never gets a second.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub max_batches: usize,
    /// The completion code (Prolific: the code on your study's page). Without it each
    /// participant gets their own random code.
    #[cfg_attr(feature = "clap", arg(long))]
    pub completion_code: Option<String>,
    /// Where finished participants go; `{code}` and `{pid}` are filled in. Default for
    /// Prolific: https://app.prolific.com/submissions/complete?cc={code}.
    #[cfg_attr(feature = "clap", arg(long))]
    pub completion_url: Option<String>,
    /// Keep out anyone who took part in this study (on the same database); repeatable. The
    /// paper ran its whole-image and explanation arms apart so that no worker saw both.
    #[cfg_attr(feature = "clap", arg(long = "exclude-study"))]
    pub exclude_studies: Vec<String>,
    /// Instructions and consent shown before the first item, from a Markdown file you write
    /// (raw HTML in it is shown as text).
    #[cfg_attr(feature = "clap", arg(long))]
    pub instructions: Option<PathBuf>,
    /// No practice item (by default a correctly classified image of the run, asked about its
    /// true class, is shown first with feedback; it is not stored as data).
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_practice: bool,
    /// Gold items per data item mixed into each batch (when the study has gold items, made
    /// by `study design --gold N`); the first comes first.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.2))]
    pub gold_rate: f64,
    /// Exclude a participant whose gold accuracy falls below this (their answers stay stored,
    /// stop counting, and their items reopen).
    #[cfg_attr(feature = "clap", arg(long))]
    pub min_gold_accuracy: Option<f64>,
    /// Gold answers a participant needs before --min-gold-accuracy judges them.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2))]
    pub min_gold_answers: usize,
    /// Exclude a participant whose median time per item is below this many seconds (too fast
    /// to have looked), when they complete.
    #[cfg_attr(feature = "clap", arg(long))]
    pub min_median_seconds: Option<f64>,
    /// Seeds each participant's gold schedule (their gold places and the order of the gold
    /// items); default: drawn at random and stored with the study, never shown to participants.
    #[cfg_attr(feature = "clap", arg(long = "gold-seed"))]
    pub seed: Option<u64>,
    /// An extra MTurk origin to accept as `turkSubmitTo` and as the framing site (tests, a
    /// proxy); MTurk's own sites and the sandbox are always accepted.
    #[cfg_attr(feature = "clap", arg(long = "mturk-origin"))]
    pub mturk_origins: Vec<String>,
}

impl EnrollArgs {
    /// The settings, or `None` when no platform is opened.
    /// `gold`: the study's gold and attention items, whose images the practice item avoids.
    pub fn enrollment(&self, images: &[EvalImage], gold: &[Item]) -> Result<Option<Enrollment>> {
        if self.platforms.is_empty() {
            return Ok(None);
        }
        let mut platforms: Vec<Platform> = self.platforms.iter().map(|p| p.platform()).collect();
        platforms.dedup();
        let mut e = Enrollment::new(platforms, self.per_participant);
        e.max_batches = self.max_batches;
        e.completion_code = self.completion_code.clone();
        e.completion_url = self.completion_url.clone();
        e.exclude_studies = self.exclude_studies.clone();
        e.instructions_html = self.instructions.as_deref().map(instructions_html).transpose()?;
        let avoid = gold.iter().map(|i| rectify_web::enrollment::first_image(&i.question).to_string()).collect();
        e.practice = if self.no_practice { None } else { practice(images, &avoid) };
        e.seed = match self.seed {
            Some(s) => s,
            None => {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random seed: {e}"))?;
                u64::from_le_bytes(b)
            }
        };
        e.gold_rate = self.gold_rate;
        e.min_gold_accuracy = self.min_gold_accuracy;
        e.min_gold_answers = self.min_gold_answers;
        e.min_median_seconds = self.min_median_seconds;
        for o in &self.mturk_origins {
            let o = o.trim_end_matches('/').to_string();
            if !e.mturk_origins.contains(&o) {
                e.mturk_origins.push(o);
            }
        }
        e.check()?;
        Ok(Some(e))
    }
}

/// Most bytes of an instructions file.
const MAX_INSTRUCTIONS: u64 = 256 * 1024;

/// The researcher's Markdown as HTML; raw HTML is escaped, so nothing in the file can run.
pub fn instructions_html(path: &Path) -> Result<String> {
    let text = rectify_data::files::read_text(path, MAX_INSTRUCTIONS, "instructions")
        .with_context(|| format!("--instructions {}", path.display()))?;
    Ok(markdown_html(&text))
}

/// Markdown → HTML with raw HTML shown as text, and only `http:`, `https:` and `mailto:` links:
/// any other link destination (`javascript:`, `data:`, `vbscript:`, relative paths) — inline,
/// reference-style or autolink — is dropped, its text kept. Images become their alt text (the
/// page's policy would block them anyway).
pub fn markdown_html(text: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let safe = |url: &str| {
        let u = url.trim_start().to_ascii_lowercase();
        u.starts_with("https://") || u.starts_with("http://") || u.starts_with("mailto:")
    };
    let mut dropped: Vec<bool> = Vec::new();
    let events =
        Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).filter_map(|e| match e {
            Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
            Event::Start(Tag::Link { ref dest_url, .. }) => {
                let keep = safe(dest_url);
                dropped.push(!keep);
                keep.then_some(e)
            }
            Event::End(TagEnd::Link) => (!dropped.pop().unwrap_or(false)).then_some(e),
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
            other => Some(other),
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The practice item: the first correctly classified image of the run that no gold or attention
/// item shows (`avoid`: their image paths), asked about its label (the answer is yes). Its answer
/// is shown to every participant, so it must never be a gold answer.
pub fn practice(images: &[EvalImage], avoid: &std::collections::HashSet<String>) -> Option<Practice> {
    let image =
        images.iter().find(|i| i.label.is_some() && i.top5.first() == i.label.as_ref() && !avoid.contains(&i.path))?;
    let class = class_ref(image.label?);
    let explanation = format!(
        "The image shows a {}, so the class is relevant: the answer is Yes. Answer No only when the class \
         is not in the image at all.",
        class.name
    );
    Some(Practice {
        question: Question::Relevance { image: ImageRef { path: image.path.clone() }, class },
        answer: Answer::Yes,
        explanation,
    })
}

/// `rectify study recruit`: what to paste into the platform.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RecruitArgs {
    /// The platform.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub platform: PlatformArg,
    /// The server's public address (HTTPS for MTurk and Prolific).
    #[cfg_attr(feature = "clap", arg(long))]
    pub base_url: String,
    /// MTurk: the frame height in pixels (0 lets MTurk size the frame to the window).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub frame_height: u32,
}

/// Prints the study URL (Prolific, panels) or the ExternalQuestion XML (MTurk) and what to set.
pub fn recruit(args: &RecruitArgs) -> Result<String> {
    let base = args.base_url.trim_end_matches('/');
    if rectify_web::enrollment::origin(base).is_none() && !base.contains('/') {
        bail!("--base-url {base:?}: give the server's address, e.g. https://study.example.org");
    }
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!("--base-url {base:?} must start with https:// (or http:// for a local test)");
    }
    let out = match args.platform {
        PlatformArg::Prolific => format!(
            "Prolific → your study → \"What is the URL of your study?\":\n\
             {base}/prolific?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}\n\
             Choose \"I'll use URL parameters\". Under \"How to confirm participants have completed\", pick \
             \"I'll redirect them using a URL\" and pass its code to `rectify study serve --platform prolific \
             --completion-code CODE`; participants are sent to \
             https://app.prolific.com/submissions/complete?cc=CODE once every answer is stored.\n"
        ),
        PlatformArg::Mturk => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ExternalQuestion xmlns=\"http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd\">\n\
             \x20 <ExternalURL>{}/mturk</ExternalURL>\n\
             \x20 <FrameHeight>{}</FrameHeight>\n\
             </ExternalQuestion>\n\
             <!-- Pass this as the Question of CreateHIT (e.g. `aws mturk create-hit --question file://question.xml`).\n\
             \x20    The paper's setting, Masters only: --qualification-requirements\n\
             \x20    QualificationTypeId=2F1QJWKUDD8XADTFD2Q0G6UTO95ALH,Comparator=Exists\n\
             \x20    (sandbox: 2ARFPLSP75KLA8M8DH1HTEQVJT3SY6). One assignment is one batch of\n\
             \x20    --per-participant items; set MaxAssignments to participants wanted. -->\n",
            xml_escape(base),
            args.frame_height
        ),
        PlatformArg::Pid => format!(
            "Give each participant {base}/join?pid=THEIR_ID (your panel fills in the id; SONA: \
             {base}/join?pid=%SURVEY_CODE%). Set where they go at the end with \
             `rectify study serve --platform pid --completion-url 'https://…?code={{code}}&id={{pid}}'`.\n"
        ),
    };
    Ok(out)
}

/// `study payments --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum PaymentsFormat {
    /// `participant_id,session_id,completion_code,…,suggested,reason`.
    Prolific,
    /// `HITId,AssignmentId,WorkerId,Approve,Reject,…` (MTurk's batch results upload: an `x`
    /// under Approve, or the reason under Reject).
    Mturk,
}

/// The payments CSV of the study's participants (Prolific's format lists Prolific's and
/// panels' participants, MTurk's MTurk's; invited raters were not recruited through a platform
/// and are not listed). Suggested: `approve` when they completed and were not
/// excluded, `reject` (with the reason) when excluded, `pending` when not finished.
pub fn payments_csv(format: PaymentsFormat, people: &[Participant], items: &[Item], votes: &[Vote]) -> String {
    let gold = rectify_study::results::gold_scores(items, votes);
    let gold_keys: std::collections::HashSet<&str> =
        items.iter().filter(|i| i.gold.is_some()).map(|i| i.key.as_str()).collect();
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from(match format {
        PaymentsFormat::Prolific => {
            "participant_id,session_id,study_id,completion_code,answers,gold_answers,gold_accuracy,seconds,suggested,reason\n"
        }
        PaymentsFormat::Mturk => {
            "HITId,AssignmentId,WorkerId,Approve,Reject,completion_code,answers,gold_answers,gold_accuracy,seconds\n"
        }
    });
    let listed = |p: &&Participant| match format {
        PaymentsFormat::Prolific => p.platform != Platform::Mturk,
        PaymentsFormat::Mturk => p.platform == Platform::Mturk,
    };
    for p in people.iter().filter(listed) {
        let mine: Vec<&Vote> = votes.iter().filter(|v| v.rater == p.rater).collect();
        let answers = mine.iter().filter(|v| !gold_keys.contains(v.item.as_str())).count();
        let seconds: f64 = mine.iter().filter_map(|v| v.seconds).sum();
        let (right, n) = gold.get(&p.rater).copied().unwrap_or((0, 0));
        let accuracy = if n > 0 { format!("{:.3}", right as f64 / n as f64) } else { String::new() };
        let (suggested, reason) = match (&p.excluded_reason, p.completed_at) {
            (Some(r), _) => ("reject", r.clone()),
            (None, Some(_)) => ("approve", String::new()),
            (None, None) => ("pending", "has not completed".to_string()),
        };
        let code = p.completion_code.clone().unwrap_or_default();
        let line = match format {
            PaymentsFormat::Prolific => format!(
                "{},{},{},{},{answers},{n},{accuracy},{seconds:.1},{suggested},{}\n",
                q(&p.external_id),
                q(p.session_id.as_deref().unwrap_or("")),
                q(p.platform_study.as_deref().unwrap_or("")),
                q(&code),
                q(&reason)
            ),
            PaymentsFormat::Mturk => format!(
                "{},{},{},{},{},{},{answers},{n},{accuracy},{seconds:.1}\n",
                q(p.hit_id.as_deref().unwrap_or("")),
                q(p.assignment_id.as_deref().unwrap_or("")),
                q(&p.external_id),
                if suggested == "approve" { "x" } else { "" },
                if suggested == "reject" { q(&reason) } else { String::new() },
                q(&code)
            ),
        };
        out.push_str(&line);
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_raw_html() {
        let html = markdown_html(
            "# Consent\n\nYou may stop **at any time**.\n\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>",
        );
        assert!(html.contains("<h1>Consent</h1>") && html.contains("<strong>at any time</strong>"), "{html}");
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
    }

    /// Issue #29 §7: `javascript:` (and every scheme but http, https and mailto) never reaches an
    /// `href`, whichever Markdown form carries it; the link's text stays.
    #[test]
    fn markdown_links_keep_only_http_and_mailto() {
        let html = markdown_html(
            "[inline](javascript:alert(1)) [ref][r] <javascript:alert(3)> [cased](JaVaScRiPt:alert(4)) \
             [spaced]( javascript:alert(5)) [data](data:text/html,x) ![img](javascript:alert(6)) \
             [ok](https://example.org/a) [mail](mailto:lab@example.org) <https://example.org/b>\n\n\
             [r]: javascript:alert(2)\n",
        );
        assert!(!html.to_ascii_lowercase().contains("href=\"javascript") && !html.contains("href=\"data"), "{html}");
        for text in ["inline", "ref", "cased", "spaced", "data"] {
            assert!(html.contains(text), "{text} kept as text: {html}");
        }
        let hrefs: Vec<&str> = html.split("href=\"").skip(1).map(|h| h.split('"').next().unwrap()).collect();
        assert_eq!(hrefs, ["https://example.org/a", "mailto:lab@example.org", "https://example.org/b"], "{html}");
    }

    #[test]
    fn recruit_texts_carry_the_platform_conventions() {
        let a = |platform| RecruitArgs { platform, base_url: "https://s.example/".into(), frame_height: 0 };
        let p = recruit(&a(PlatformArg::Prolific)).unwrap();
        assert!(p.contains(
            "https://s.example/prolific?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
        ));
        let m = recruit(&a(PlatformArg::Mturk)).unwrap();
        assert!(m.contains("<ExternalURL>https://s.example/mturk</ExternalURL>"));
        assert!(m.contains("2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"));
        assert!(recruit(&RecruitArgs { base_url: "s.example".into(), ..a(PlatformArg::Pid) }).is_err());
    }
}
