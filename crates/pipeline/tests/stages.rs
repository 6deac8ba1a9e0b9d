//! The stages called in-process on the bundled MobileNetV2 and the bundled images: each
//! returns the summary it writes (one type for writer and reader), reports its progress to the
//! sink it is given, and resumes. The outputs themselves are checked against PyTorch by the
//! CLI's tests (`crates/cli/tests`), which run the same functions.

use std::path::PathBuf;

use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::criticize::{CriticizeSettings, MethodArg, Per};
use rectify_pipeline::eval::{EvalSettings, ImageInputs};
use rectify_pipeline::explain::ExplainSettings;
use rectify_pipeline::votes::{self, ResultsSettings, StudyTarget, VoteFormat};
use rectify_pipeline::{ModelSpec, Progress};
use rectify_store::artifacts::{AttackSummary, EvalSummary, ExplainSummary, Explanation, SelectionFile};
use rectify_store::RunStore;
use rectify_study::results::ResultsFile;
use rectify_testkit::workspace_root;

/// Records every call.
#[derive(Default)]
struct Recorder {
    phases: Vec<(String, u64)>,
    done: Vec<u64>,
    messages: Vec<String>,
    finished: usize,
}

impl Progress for Recorder {
    fn begin(&mut self, label: &str, len: u64) {
        self.phases.push((label.to_string(), len));
        self.done.push(0);
    }
    fn inc(&mut self, n: u64) {
        *self.done.last_mut().expect("inc after begin") += n;
    }
    fn message(&mut self, msg: &str) {
        self.messages.push(msg.to_string());
    }
    fn finish(&mut self) {
        self.finished += 1;
    }
}

fn read_back<T: serde::de::DeserializeOwned>(path: PathBuf) -> T {
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `value` for a snapshot of the artifact's shape: what changes from run to run or machine to
/// machine taken out (timings, command lines, paths of this checkout, the version), every
/// float as `"float"` (the fast numerics agree with PyTorch within ~2e-5, not to the bit, and
/// other tests check the values), long number lists cut to their length. Integers (counts,
/// classes, image ids) stay.
fn normalized(value: &impl serde::Serialize) -> serde_json::Value {
    use serde_json::Value;
    const VOLATILE: &[&str] = &["seconds", "command", "throughput", "images", "labels", "version", "device"];
    fn walk(v: Value, key: &str) -> Value {
        match v {
            _ if VOLATILE.contains(&key) && !v.is_null() => Value::String(format!("[{key}]")),
            Value::Number(n) if n.is_f64() => Value::String("float".into()),
            // A selector's note carries the γ it used: a float in words.
            Value::String(text) if key == "note" => Value::String(
                text.split(' ')
                    .map(|w| if w.contains('.') && w.parse::<f64>().is_ok() { "float" } else { w })
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Value::Array(a) if a.len() > 12 && a.iter().all(Value::is_number) => {
                Value::String(format!("[{} numbers]", a.len()))
            }
            Value::Array(a) => Value::Array(a.into_iter().map(|x| walk(x, "")).collect()),
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, x)| {
                        let x = walk(x, &k);
                        (k, x)
                    })
                    .collect(),
            ),
            other => other,
        }
    }
    walk(serde_json::to_value(value).expect("serialize"), "")
}

fn json_file(path: PathBuf) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("valid JSON")
}

#[test]
fn stages_run_in_process_return_what_they_write_and_resume() {
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let model = ModelSpec {
        placement: rectify_pipeline::model::Placement { threads: Some(1), ..Default::default() },
        ..ModelSpec::default()
    }
    .load()
    .expect("the bundled model");

    // eval: 6 images, features kept.
    let inputs = ImageInputs {
        labels: Some(root.join("assets/sample-labels.csv")),
        ..ImageInputs::new(root.join("assets/sample-images"))
    };
    let eval = EvalSettings {
        save_features: true,
        limit: Some(6),
        batch_size: 4,
        workers: Some(1),
        ..EvalSettings::new(inputs)
    };
    let mut progress = Recorder::default();
    let summary = rectify_pipeline::eval::run(&out, &*model, &eval, &mut progress).expect("eval");
    assert_eq!((summary.evaluated, summary.failed, summary.labeled), (6, 0, 6));
    assert_eq!(progress.phases, vec![("eval".to_string(), 6)]);
    assert_eq!(progress.done, vec![6]);
    assert_eq!(progress.finished, 1);
    assert!(progress.messages.iter().any(|m| m.contains("6 to evaluate")), "{:?}", progress.messages);
    // The returned summary is the file, field for field.
    assert_eq!(serde_json::to_value(&summary).expect("serialize"), json_file(out.join("summary.json")));
    assert_eq!(read_back::<EvalSummary>(out.join("summary.json")), summary);
    insta::assert_json_snapshot!("eval_summary", normalized(&summary));

    // Rerunning resumes: nothing left to evaluate, the same accuracy.
    let mut again = Recorder::default();
    let resumed = rectify_pipeline::eval::run(&out, &*model, &eval, &mut again).expect("resume");
    assert_eq!(again.phases, vec![("eval".to_string(), 0)]);
    assert_eq!((resumed.evaluated, resumed.top1, resumed.top5), (6, summary.top1, summary.top5));
    assert!(resumed.throughput.is_none());

    // attack: 2 steps of the paper's IFGSM.
    let mut store = RunStore::open(&out).expect("store");
    let attack = AttackSettings { steps: 2, batch_size: 4, workers: Some(1), ..AttackSettings::paper() };
    let mut progress = Recorder::default();
    let attacked = rectify_pipeline::attack::run(&mut store, &*model, &attack, &mut progress).expect("attack");
    assert_eq!((attacked.n, attacked.accuracy_per_step.len()), (6, 3));
    assert_eq!(attacked.accuracy_per_step[0], summary.top1.expect("labelled"), "step 0 is the clean prediction");
    assert_eq!(attacked.name, "ifgsm");
    let dir = out.join("attack/ifgsm");
    assert_eq!(serde_json::to_value(&attacked).expect("serialize"), json_file(dir.join("summary.json")));
    // The report reads the file with the same type.
    let read: AttackSummary = read_back(dir.join("summary.json"));
    assert_eq!(read, AttackSummary { name: String::new(), ..attacked.clone() });
    insta::assert_json_snapshot!("attack_summary", normalized(&attacked));
    assert_eq!(progress.done, vec![6]);
    assert_eq!(std::fs::read_dir(dir.join("images")).expect("images").count(), 6);

    // explain one adversarial image, few samples.
    let explain = ExplainSettings {
        attack: Some("ifgsm".into()),
        limit: Some(1),
        batch_size: 25,
        ..ExplainSettings::paper(50, "adversarial")
    };
    let explained =
        rectify_pipeline::explain::run(&mut store, &*model, &explain, &mut Recorder::default()).expect("explain");
    assert_eq!(explained.summary.n, 1);
    assert_eq!(read_back::<ExplainSummary>(explained.dir.join("summary.json")), explained.summary);
    let files: Vec<PathBuf> = std::fs::read_dir(&explained.dir)
        .expect("explain dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("summary.json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let one: Explanation = read_back(files[0].clone());
    insta::assert_json_snapshot!("explain_summary", normalized(&explained.summary));
    assert_eq!(
        (one.segments, one.path.len()),
        (one.weights.len(), one.segments + 1),
        "a path point per superpixel shown, and none"
    );
    assert_eq!(store.explanations(store.run("explain", Some("adversarial")).expect("run").0).expect("rows").len(), 1);

    // criticize: the probability rule and MMD-critic, all images together.
    for method in [MethodArg::Probability, MethodArg::Mmd] {
        let settings = CriticizeSettings {
            no_galleries: true,
            prototypes: 2,
            criticisms: 2,
            ..CriticizeSettings::new(method, Per::All)
        };
        let picked =
            rectify_pipeline::criticize::run(&mut store, &settings, &mut Recorder::default()).expect("criticize");
        assert_eq!((picked.rows, picked.selection.groups.len()), (6, 1));
        let doc: SelectionFile = read_back(picked.out.join("selection.json"));
        insta::assert_json_snapshot!(format!("selection_{method:?}").to_lowercase(), normalized(&doc));
        let (group, picks) = (&doc.groups[0], &picked.selection.groups[0]);
        assert_eq!((group.prototypes.len(), group.criticisms.len()), (picks.prototypes.len(), picks.criticisms.len()));
        assert_eq!(group.prototype_files.len(), group.prototypes.len());
        if method == MethodArg::Mmd {
            assert_eq!(group.prototypes.len(), 2, "MMD-critic always finds its prototypes");
            assert_eq!(picked.dim, 1280, "MobileNetV2's penultimate features");
        }
    }
    drop(store);

    // votes: the bundled ReaL raters' votes on these images, aggregated into results.json, then
    // the report of the run. The returned results equal the file (read back with its type).
    let target = StudyTarget::of_run(&out);
    let rt = votes::runtime().expect("runtime");
    let npz = root.join("assets/sample-real-raters.npz");
    let imported = rt.block_on(votes::import(&target, VoteFormat::RealRaters, &npz, 5, &[])).expect("import");
    assert!(imported.votes > 0 && imported.votes <= imported.read, "{imported:?}");
    let results = rt.block_on(votes::results(&target, &ResultsSettings::paper())).expect("results");
    let written: ResultsFile = read_back(out.join("study/results.json"));
    assert_eq!(serde_json::to_value(&written).unwrap(), serde_json::to_value(&results.runs[0].1).unwrap());
    let run_dir = out.display().to_string();
    insta::assert_json_snapshot!("results", normalized(&without(&run_dir, serde_json::to_value(&written).unwrap())));
    let report = rectify_report::report::build_with(std::slice::from_ref(&out), &Default::default()).expect("report");
    let (json, html) = rectify_report::report::write(&report, &out.join("report")).expect("write the report");
    assert!(std::fs::read_to_string(html).expect("report.html").contains("Table 1"));
    insta::assert_json_snapshot!("report", normalized(&without(&run_dir, json_file(json))));
}

/// `value` with the run directory `dir` in its strings written `$RUN` (and the run's name, its
/// last component, `$NAME`).
fn without(dir: &str, value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let name = std::path::Path::new(dir).file_name().and_then(|n| n.to_str()).unwrap_or(dir).to_string();
    match value {
        Value::String(s) if s == name => Value::String("$NAME".into()),
        Value::String(s) => Value::String(s.replace(dir, "$RUN")),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| without(dir, x)).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, without(dir, x))).collect()),
        other => other,
    }
}

#[test]
fn settings_are_checked_before_any_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = EvalSettings { batch_size: 0, ..EvalSettings::new(ImageInputs::new(dir.path())) };
    assert!(bad.check().unwrap_err().to_string().contains("--batch-size"));
    let bad = ExplainSettings { samples: 1, ..ExplainSettings::default() };
    assert!(bad.check().unwrap_err().to_string().contains("--samples"));
    assert_eq!("all".parse::<Per>(), Ok(Per::All));
    assert_eq!("groups.csv".parse::<Per>(), Ok(Per::File("groups.csv".into())));
    assert!("0".parse::<rectify_pipeline::criticize::GammaChoice>().is_err());
}
