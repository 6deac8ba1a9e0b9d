//! Label spaces of the shifted test sets (#15 §4): `--class-subset` restricts the logits before
//! top-k, as ImageNet-A/-R's evaluation does, the run records it and the later stages reload
//! it; ImageNet-V2's layout (a folder per class index) needs nothing.

use rectify_model::classifier::pixels_from_u8;
use rectify_pipeline::attack::AttackSettings;
use rectify_pipeline::eval::{EvalSettings, ImageInputs};
use rectify_pipeline::model::Placement;
use rectify_pipeline::{ModelSpec, Silent};
use rectify_store::RunStore;
use rectify_testkit::workspace_root;

#[test]
fn a_class_subset_restricts_every_prediction_and_stays_with_the_run() {
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    // The six images' own classes (as wnids and indices) and four more: a constructed subset.
    let labels = std::fs::read_to_string(root.join("assets/sample-labels.csv")).expect("labels");
    let rows: Vec<(String, i64, String)> = labels
        .lines()
        .skip(1)
        .take(6)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().expect("index"), f[2].to_string())
        })
        .collect();
    let mut subset = String::from("# constructed: the sample's classes and four others\n");
    for (i, (_, index, wnid)) in rows.iter().enumerate() {
        subset += &if i % 2 == 0 { format!("{wnid}\n") } else { format!("{index}\n") };
    }
    subset += "0\n1\n2\n3\n";
    let subset_file = dir.path().join("subset.txt");
    std::fs::write(&subset_file, &subset).expect("write");
    let mut classes: Vec<i64> = rows.iter().map(|r| r.1).chain(0..4).collect();
    classes.sort_unstable();
    classes.dedup();

    let placement = Placement { threads: Some(1), ..Default::default() };
    let spec = ModelSpec { class_subset: Some(subset_file), placement: placement.clone(), ..ModelSpec::default() };
    let model = spec.load().expect("model");
    assert_eq!(model.info().class_subset.as_deref(), Some(&classes[..]));
    let out = dir.path().join("run");
    let inputs = ImageInputs {
        labels: Some(root.join("assets/sample-labels.csv")),
        ..ImageInputs::new(root.join("assets/sample-images"))
    };
    let eval = EvalSettings { limit: Some(6), workers: Some(1), ..EvalSettings::new(inputs) };
    let summary = rectify_pipeline::eval::run(&out, &*model, &eval, &mut Silent).expect("eval");
    assert_eq!(summary.provenance.params["class_subset"], serde_json::json!(classes));

    // Every top-5 class is in the subset, and its probability is the softmax over the subset's
    // logits of the unrestricted model.
    let full = ModelSpec { placement: placement.clone(), ..ModelSpec::default() }.load().expect("model");
    let store = RunStore::open(&out).expect("store");
    let (eval_run, _) = store.run("eval", None).expect("eval run");
    let images = store.images().expect("images");
    let pre = rectify_data::preprocess::Preprocess::default();
    for p in store.predictions(eval_run, false).expect("predictions") {
        assert!(p.top5.iter().all(|c| classes.contains(c)), "{:?} outside {classes:?}", p.top5);
        let file = &images.iter().find(|i| i.id == p.image_id).expect("image").file;
        let crop = pre.load(&root.join("assets/sample-images").join(file)).expect("crop");
        let logits = tch::no_grad(|| full.logits(&pixels_from_u8(&crop, 1, 224, 224, tch::Device::Cpu)));
        let index = tch::Tensor::from_slice(&classes);
        let probs = logits.index_select(1, &index).softmax(-1, tch::Kind::Float);
        let best = probs.argmax(-1, false).int64_value(&[0]);
        assert_eq!(p.top5[0], classes[best as usize], "{file}");
        let want = probs.max().double_value(&[]);
        assert!((f64::from(p.top5_probs[0]) - want).abs() < 1e-6, "{file}: {} vs {want}", p.top5_probs[0]);
    }
    drop(store);

    // The attack reloads the run's model with the subset.
    let mut store = RunStore::open(&out).expect("store");
    let reloaded = rectify_pipeline::model::of_run(&store, &placement).expect("the run's model");
    assert_eq!(reloaded.info().class_subset.as_deref(), Some(&classes[..]));
    let attack = AttackSettings { limit: Some(1), ..AttackSettings::paper() };
    rectify_pipeline::attack::run(&mut store, &*reloaded, &attack, &mut Silent).expect("attack");

    // ImageNet-V2's layout: DIR/<class index>/<file>; the folder names are the labels.
    let v2 = dir.path().join("v2");
    for (file, index, _) in &rows[..3] {
        std::fs::create_dir_all(v2.join(index.to_string())).expect("mkdir");
        std::fs::copy(root.join("assets/sample-images").join(file), v2.join(index.to_string()).join("a.jpeg"))
            .expect("copy");
    }
    let v2_out = dir.path().join("v2run");
    let v2_eval = EvalSettings { workers: Some(1), ..EvalSettings::new(ImageInputs::new(&v2)) };
    let s = rectify_pipeline::eval::run(&v2_out, &*full, &v2_eval, &mut Silent).expect("eval v2");
    assert_eq!((s.evaluated, s.labeled), (3, 3));
}
