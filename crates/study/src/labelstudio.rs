//! Label Studio (issue #30 §5): labs that already annotate there need not switch.
//!
//! * [`tasks`] writes a study's questions as Label Studio tasks — `data.image` (the image's URL
//!   or path), `data.question`, `data.item` (rectify's item key), and for a top-5 question its
//!   classes as `data.classes` (Label Studio's dynamic choices) — with a labeling config
//!   ([`LABEL_CONFIG`]) that asks yes / no, or ticks classes.
//! * [`read_export`] reads a Label Studio JSON export (Label Studio's documented task format:
//!   `[{"id", "data", "annotations": [{"completed_by", "result": [{"type": "choices", "value":
//!   {"choices": […]}}], "was_cancelled", "lead_time"}]}]`) as votes: one per annotation that was
//!   not cancelled, the rater `label-studio/<completed_by>` (an id, or the `id` / `email` of a
//!   user object). Tasks that carry `data.item` (tasks rectify exported) vote on that item;
//!   tasks of a lab's own project carry `data.image` (its file name is the image's) and
//!   `data.class` (the class index asked about), and become relevance votes like a CSV's rows.

use std::path::Path;

use serde_json::{json, Value};

use crate::import::PairVote;
use crate::model::{Answer, Item, Question, Vote};
use crate::StudyError;

/// The labeling config of exported tasks: the image, the question, yes / no for one class, and
/// the classes to tick for a top-5 question (`data.classes`, Label Studio's dynamic choices).
pub const LABEL_CONFIG: &str = r#"<View>
  <Image name="image" value="$image"/>
  <Header value="$question"/>
  <Choices name="answer" toName="image" choice="single-radio" showInline="true" visibleWhen="choice-unselected" whenTagName="classes">
    <Choice value="Yes"/>
    <Choice value="No"/>
  </Choices>
  <Choices name="classes" toName="image" choice="multiple" value="$classes" allowNested="false"/>
</View>
"#;

/// The most bytes of an export read (exports of a few hundred thousand votes stay far below).
pub const MAX_EXPORT_BYTES: u64 = 512 << 20;

fn err(path: &Path, message: impl std::fmt::Display) -> StudyError {
    StudyError::Import { path: path.to_path_buf(), message: message.to_string() }
}

/// The study's data items as Label Studio tasks; `image_url` gives each item's image address.
/// Assignment questions (an image with 36 examples) are not Label Studio tasks: refused, named.
pub fn tasks(items: &[Item], image_url: impl Fn(&str) -> String) -> Result<Value, String> {
    let mut out = Vec::new();
    for item in items.iter().filter(|i| i.gold.is_none()) {
        let data = match &item.question {
            Question::Relevance { image, class } => json!({
                "image": image_url(&image.path),
                "question": format!("Is class \"{}\" relevant for this image?", class.name),
                "item": item.key,
                "class": class.class,
            }),
            Question::Attribute { image, attribute } => json!({
                "image": image_url(&image.path),
                "question": format!("Does this image show {attribute}?"),
                "item": item.key,
            }),
            Question::MultiRelevance { image, classes } => json!({
                "image": image_url(&image.path),
                "question": "Tick every class relevant for this image.",
                "item": item.key,
                "classes": classes.iter().map(|c| json!({"value": format!("{} {}", c.class, c.name)})).collect::<Vec<_>>(),
            }),
            Question::Assignment { .. } => {
                return Err(format!(
                    "{}: assignment questions (a target and 36 example images) have no Label Studio task; \
                     export the relevance, adversarial or attribute designs",
                    item.key
                ))
            }
        };
        out.push(json!({ "data": data }));
    }
    Ok(Value::Array(out))
}

/// What an export holds: votes on rectify's items, or relevance votes on (image file, class).
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// Tasks with `data.item`.
    Items(Vec<Vote>),
    /// Tasks with `data.image` and `data.class`.
    Pairs(Vec<PairVote>),
}

/// Reads a Label Studio JSON export as votes (see the module docs).
pub fn read_export(path: &Path) -> Result<Imported, StudyError> {
    let text =
        rectify_data::files::read_text(path, MAX_EXPORT_BYTES, "a Label Studio export").map_err(|e| err(path, e))?;
    let tasks: Vec<Value> = serde_json::from_str(&text)
        .map_err(|e| err(path, format!("not a Label Studio JSON export (an array of tasks): {e}")))?;
    let (mut items, mut pairs) = (Vec::new(), Vec::new());
    for (i, task) in tasks.iter().enumerate() {
        let at = || format!("task {}", task.get("id").map_or_else(|| format!("#{}", i + 1), |v| v.to_string()));
        let data =
            task.get("data").and_then(Value::as_object).ok_or_else(|| err(path, format!("{}: no data", at())))?;
        let key = data.get("item").and_then(Value::as_str);
        let pair = match key {
            Some(_) => None,
            None => {
                let image = data.get("image").and_then(Value::as_str).ok_or_else(|| {
                    err(path, format!("{}: data has neither `item` (a rectify item key) nor `image`", at()))
                })?;
                let class = data.get("class").and_then(|c| c.as_i64().or_else(|| c.as_str()?.trim().parse().ok()));
                let class = class.ok_or_else(|| {
                    err(path, format!("{}: data.class (the class index asked about) is missing or not a number", at()))
                })?;
                let file = image.rsplit(['/', '\\']).next().unwrap_or(image);
                let file = file.split(['?', '#']).next().unwrap_or(file).to_string();
                Some((file, class))
            }
        };
        for annotation in task.get("annotations").and_then(Value::as_array).into_iter().flatten() {
            if annotation.get("was_cancelled").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let who = match annotation.get("completed_by") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Object(u)) => u
                    .get("id")
                    .map(|v| v.to_string())
                    .or_else(|| u.get("email").and_then(Value::as_str).map(str::to_string))
                    .ok_or_else(|| err(path, format!("{}: completed_by without id or email", at())))?,
                Some(Value::String(s)) => s.clone(),
                _ => return Err(err(path, format!("{}: an annotation without completed_by", at()))),
            };
            let rater = format!("label-studio/{who}");
            let seconds = annotation.get("lead_time").and_then(Value::as_f64).filter(|s| s.is_finite() && *s >= 0.0);
            let Some(answer) = answer_of(annotation).map_err(|m| err(path, format!("{}: {m}", at())))? else {
                continue;
            };
            match (&pair, key) {
                (None, Some(key)) => {
                    items.push(Vote { item: key.to_string(), rater, answer, seconds, source: "label-studio".into() })
                }
                (Some((file, class)), _) => {
                    if matches!(answer, Answer::Classes(_)) {
                        return Err(err(path, format!("{}: ticked classes on a one-class task", at())));
                    }
                    pairs.push(PairVote { file: file.clone(), label: *class, rater, answer, seconds });
                }
                (None, None) => unreachable!("a task has an item or a pair"),
            }
        }
    }
    match (items.is_empty(), pairs.is_empty()) {
        (_, true) => Ok(Imported::Items(items)),
        (true, false) => Ok(Imported::Pairs(pairs)),
        (false, false) => Err(err(
            path,
            "tasks with `data.item` and tasks with `data.image` + `data.class` in one export: import them apart",
        )),
    }
}

/// The answer of an annotation: its `choices` result — Yes / No / Maybe (any case) for one class,
/// or the classes ticked (`"<index> <name>"`, or the index alone) for a top-5 task; `None` when it
/// has no choices result (e.g. a comment only).
fn answer_of(annotation: &Value) -> Result<Option<Answer>, String> {
    let results = annotation.get("result").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let choices: Vec<&Value> =
        results.iter().filter(|r| r.get("type").and_then(Value::as_str) == Some("choices")).collect();
    let Some(first) = choices.first() else { return Ok(None) };
    let name = first.get("from_name").and_then(Value::as_str).unwrap_or("");
    let picked: Vec<&str> =
        first["value"]["choices"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if name == "classes" {
        let mut ticked = Vec::new();
        for c in picked {
            let index = c.split_whitespace().next().and_then(|x| x.parse::<i64>().ok());
            ticked.push(index.ok_or_else(|| format!("class choice {c:?} does not start with a class index"))?);
        }
        return Ok(Some(Answer::Classes(ticked)));
    }
    match picked.as_slice() {
        [one] => match one.trim().to_ascii_lowercase().as_str() {
            "yes" => Ok(Some(Answer::Yes)),
            "no" => Ok(Some(Answer::No)),
            "maybe" => Ok(Some(Answer::Maybe)),
            other => Err(format!("choice {other:?}: expected Yes, No or Maybe")),
        },
        [] => Ok(None),
        more => Err(format!("{} choices on a yes / no question", more.len())),
    }
}
