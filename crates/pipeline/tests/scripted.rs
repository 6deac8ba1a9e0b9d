//! A TorchScript model runs every stage (#15 §3): eval with features, IFGSM, LIME and
//! MMD-critic, exactly as a zoo model. The fixture is torchvision's ResNet-18 (random weights)
//! scripted with timm's `forward_features` exported (`scripts/fixtures/zoo.py`); its features
//! must equal the zoo ResNet-18's on the same checkpoint.

use rectify_data::npy;
use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::criticize::{CriticizeSettings, MethodArg, Per};
use rectify_pipeline::eval::{EvalSettings, ImageInputs};
use rectify_pipeline::explain::ExplainSettings;
use rectify_pipeline::model::Placement;
use rectify_pipeline::{ModelSpec, Silent};
use rectify_store::RunStore;
use rectify_testkit::workspace_root;

#[test]
fn a_scripted_model_runs_eval_attack_explain_and_mmd_critic() {
    let Some(zoo) = rectify_testkit::fixtures("zoo") else { return };
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let placement = Placement { threads: Some(1), exact: true, ..Default::default() };
    let scripted = ModelSpec {
        torchscript: Some(zoo.join("resnet18.features.torchscript.pt")),
        placement: placement.clone(),
        ..ModelSpec::default()
    };
    let model = scripted.load().expect("scripted model");
    assert_eq!(model.info().feature_dim, Some(512));
    assert_eq!(model.info().features_method.as_deref(), Some("forward_features"));

    let inputs = ImageInputs {
        labels: Some(root.join("assets/sample-labels.csv")),
        ..ImageInputs::new(root.join("assets/sample-images"))
    };
    let eval =
        EvalSettings { save_features: true, limit: Some(6), workers: Some(1), ..EvalSettings::new(inputs.clone()) };
    let summary = rectify_pipeline::eval::run(&out, &*model, &eval, &mut Silent).expect("eval");
    assert_eq!(summary.evaluated, 6);
    assert_eq!(summary.provenance.params["features_method"], "forward_features");

    // The same checkpoint as a zoo model gives the same features (pooled by rectify from the
    // scripted map, by the zoo's own pool).
    let zoo_out = dir.path().join("zoo");
    let zoo_model = ModelSpec {
        arch: "resnet18".into(),
        weights: Some(zoo.join("resnet18.pth")),
        placement: placement.clone(),
        ..ModelSpec::default()
    }
    .load()
    .expect("zoo model");
    rectify_pipeline::eval::run(&zoo_out, &*zoo_model, &eval, &mut Silent).expect("zoo eval");
    let (a, b) =
        (npy::read_f32(&out.join("features.npy")).unwrap(), npy::read_f32(&zoo_out.join("features.npy")).unwrap());
    assert_eq!(a.shape, vec![6, 512]);
    let diff = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(diff <= 1e-5, "scripted vs zoo features differ by {diff}");

    // Later stages reload the model from the run: the features method comes back with it.
    let mut store = RunStore::open(&out).expect("store");
    let reloaded = rectify_pipeline::model::of_run(&store, &placement).expect("the run's model");
    assert_eq!(reloaded.info().features_method.as_deref(), Some("forward_features"));
    let attack = AttackSettings { limit: Some(2), ..AttackSettings::paper() };
    let attacked = rectify_pipeline::attack::run(&mut store, &*reloaded, &attack, &mut Silent).expect("attack");
    assert_eq!(attacked.n, 2);
    let explain = ExplainSettings {
        attack: Some("ifgsm".into()),
        limit: Some(1),
        batch_size: 25,
        ..ExplainSettings::paper(50, "adversarial")
    };
    let explained = rectify_pipeline::explain::run(&mut store, &*reloaded, &explain, &mut Silent).expect("explain");
    assert_eq!(explained.summary.n, 1);
    let mmd = CriticizeSettings {
        no_galleries: true,
        prototypes: 2,
        criticisms: 1,
        ..CriticizeSettings::new(MethodArg::Mmd, Per::All)
    };
    let picked = rectify_pipeline::criticize::run(&mut store, &mmd, &mut Silent).expect("MMD-critic");
    assert_eq!((picked.dim, picked.selection.groups[0].prototypes.len()), (512, 2));

    // A class subset applies to a scripted model as to a zoo model.
    let subset = dir.path().join("subset.txt");
    std::fs::write(&subset, "0\n1\n2\n3\n4\n").expect("write");
    let restricted = ModelSpec { class_subset: Some(subset), ..scripted }.load().expect("restricted model");
    assert_eq!(restricted.info().class_subset.as_deref(), Some(&[0, 1, 2, 3, 4][..]));
}
