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
        let logits = tch::no_grad(|| full.logits(&pixels_from_u8(&crop, 1, 224, 224, tch::Device::Cpu).unwrap()));
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

/// The full model's logits of `file` (an image of the bundled sample).
fn full_logits(full: &dyn rectify_model::Classifier, file: &std::path::Path) -> Vec<f32> {
    let pre = rectify_data::preprocess::Preprocess::default();
    let crop = pre.load(file).expect("crop");
    let logits = tch::no_grad(|| full.logits(&pixels_from_u8(&crop, 1, 224, 224, tch::Device::Cpu).unwrap()));
    Vec::<f32>::try_from(logits.view([-1])).expect("logits")
}

/// Writes ObjectNet's four mapping files for `groups` (folder → ImageNet classes), with a
/// permuted label file, an ObjectNet class outside ImageNet and a name on two unused lines.
fn objectnet_mappings(dir: &std::path::Path, groups: &[(String, Vec<i64>)]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    // PyTorch class c is on line (7c + 3) mod 1000 of the label file.
    let line_of = |c: i64| (7 * c + 3) % 1000;
    let mut names: Vec<String> = (0..1000).map(|l| format!("imagenet name on line {l}")).collect();
    let unused: Vec<i64> =
        (0..1000).filter(|c| groups.iter().all(|(_, g)| !g.contains(c))).map(line_of).take(2).collect();
    for l in &unused {
        names[*l as usize] = "crane".to_string();
    }
    std::fs::write(dir.join("imagenet_to_label_2012_v2"), names.join("\n") + "\n").expect("write");
    let to_line: serde_json::Map<String, serde_json::Value> =
        (0..1000).map(|c| (c.to_string(), serde_json::json!(line_of(c)))).collect();
    std::fs::write(dir.join("pytorch_to_imagenet_2012_id.json"), serde_json::to_string(&to_line).unwrap())
        .expect("write");
    let mut folders = serde_json::Map::new();
    let mut to_imagenet = serde_json::Map::new();
    for (folder, classes) in groups {
        let label = format!("ObjectNet {folder}");
        folders.insert(folder.clone(), label.clone().into());
        let list: Vec<&str> = classes.iter().map(|&c| names[line_of(c) as usize].as_str()).collect();
        to_imagenet.insert(label, list.join("; ").into());
    }
    folders.insert("outside_imagenet".into(), "Outside ImageNet".into());
    std::fs::write(dir.join("folder_to_objectnet_label.json"), serde_json::to_string(&folders).unwrap())
        .expect("write");
    std::fs::write(dir.join("objectnet_to_imagenet_1k.json"), serde_json::to_string(&to_imagenet).unwrap())
        .expect("write");
}

#[test]
fn objectnet_mappings_collapse_groups_as_its_testbed_does() {
    use rectify_model::ClassGroup;
    use rectify_pipeline::subset::{read_space, ClassSpace};
    let root = workspace_root();
    let samples = root.join("assets/sample-images");
    let dir = tempfile::tempdir().expect("temp dir");
    let placement = Placement { threads: Some(1), ..Default::default() };
    let full = ModelSpec { placement: placement.clone(), ..ModelSpec::default() }.load().expect("model");

    // Seven images with distinct classes. Image i's group: its class and the unrestricted model's
    // top-3 classes of it (those no earlier group took), so that predictions land on members
    // other than the label and on members of other groups.
    let labels = std::fs::read_to_string(root.join("assets/sample-labels.csv")).expect("labels");
    let mut images: Vec<(String, i64)> = Vec::new();
    for l in labels.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let class: i64 = f[1].parse().expect("index");
        if images.iter().all(|(_, c)| *c != class) && images.len() < 7 {
            images.push((f[0].to_string(), class));
        }
    }
    let logits: Vec<Vec<f32>> = images.iter().map(|(f, _)| full_logits(&*full, &samples.join(f))).collect();
    let mut taken: Vec<i64> = images.iter().map(|(_, c)| *c).collect();
    let mut groups: Vec<(String, Vec<i64>)> = Vec::new();
    for (i, (_, class)) in images.iter().enumerate().take(6) {
        let mut order: Vec<i64> = (0..1000).collect();
        order.sort_by(|&a, &b| logits[i][b as usize].total_cmp(&logits[i][a as usize]));
        let mut members = vec![*class];
        let extra: Vec<i64> = order.into_iter().filter(|c| !taken.contains(c)).take(3).collect();
        taken.extend(&extra);
        members.extend(extra);
        groups.push((format!("object_{i}"), members));
    }
    let want: Vec<ClassGroup> = groups
        .iter()
        .map(|(name, c)| {
            let mut classes = c.clone();
            classes.sort_unstable();
            ClassGroup { name: name.clone(), classes }
        })
        .collect();

    // ObjectNet's folder and the same map as JSON (wnids and indices) read the same.
    let mappings = dir.path().join("mappings");
    objectnet_mappings(&mappings, &groups);
    assert_eq!(read_space(&mappings, 1000).expect("mappings"), ClassSpace::Groups(want.clone()));
    let json: serde_json::Map<String, serde_json::Value> = groups
        .iter()
        .map(|(name, c)| {
            let items: Vec<serde_json::Value> = c
                .iter()
                .enumerate()
                .map(|(k, &c)| {
                    if k % 2 == 0 {
                        rectify_data::imagenet::classes()[c as usize].wnid.to_string().into()
                    } else {
                        c.into()
                    }
                })
                .collect();
            (name.clone(), items.into())
        })
        .collect();
    let json_file = dir.path().join("map.json");
    std::fs::write(&json_file, serde_json::to_string(&json).unwrap()).expect("write");
    assert_eq!(read_space(&json_file, 1000).expect("json map"), ClassSpace::Groups(want.clone()));

    // ObjectNet's layout: a folder per ObjectNet class; the seventh image is in a class outside
    // ImageNet, which the evaluation leaves out.
    let images_dir = dir.path().join("images");
    for (i, (file, _)) in images.iter().enumerate() {
        let folder = if i < 6 { format!("object_{i}") } else { "outside_imagenet".to_string() };
        std::fs::create_dir_all(images_dir.join(&folder)).expect("mkdir");
        std::fs::copy(samples.join(file), images_dir.join(folder).join(file)).expect("copy");
    }
    let spec = ModelSpec { class_subset: Some(mappings.clone()), placement: placement.clone(), ..ModelSpec::default() };
    let model = spec.load().expect("model");
    assert_eq!(model.info().class_groups.as_deref(), Some(&want[..]));
    let out = dir.path().join("run");
    let eval = EvalSettings { workers: Some(1), ..EvalSettings::new(ImageInputs::new(&images_dir)) };
    let summary = rectify_pipeline::eval::run(&out, &*model, &eval, &mut Silent).expect("eval");
    assert_eq!((summary.evaluated, summary.labeled), (6, 6));
    assert_eq!(summary.provenance.params["left_out_by_class_map"], 1);
    assert_eq!(summary.provenance.params["class_groups"], serde_json::to_value(&want).unwrap());

    // Against the testbed's rule, computed from the unrestricted logits: restricted to the
    // union of the groups, the argmax is correct when it is in the image's group; top-5 ranks
    // the groups by their largest logit; probabilities are the softmax over those maxima.
    let store = RunStore::open(&out).expect("store");
    let (eval_run, _) = store.run("eval", None).expect("eval run");
    let rows = store.images().expect("images");
    let mut correct_by_member = 0;
    for p in store.predictions(eval_run, false).expect("predictions") {
        let row = rows.iter().find(|r| r.id == p.image_id).expect("image");
        let i = images.iter().position(|(f, _)| row.file.ends_with(f.as_str())).expect("which image");
        let group_of = |c: i64| want.iter().position(|g| g.classes.contains(&c)).expect("in a group");
        assert_eq!(row.label, Some(want[i].classes[0]), "{}: labelled by its group", row.file);
        let l = &logits[i];
        let union: Vec<i64> = want.iter().flat_map(|g| g.classes.clone()).collect();
        let best = *union.iter().max_by(|&&a, &&b| l[a as usize].total_cmp(&l[b as usize])).expect("union");
        let testbed_correct = want[i].classes.contains(&best);
        assert_eq!(p.top5[0] == want[i].classes[0], testbed_correct, "{}", row.file);
        assert_eq!(p.top5[0], want[group_of(best)].classes[0], "{}", row.file);
        if testbed_correct && best != want[i].classes[0] {
            correct_by_member += 1;
        }
        let maxima: Vec<f32> =
            want.iter().map(|g| g.classes.iter().map(|&c| l[c as usize]).fold(f32::MIN, f32::max)).collect();
        let mut ranked: Vec<usize> = (0..want.len()).collect();
        ranked.sort_by(|&a, &b| maxima[b].total_cmp(&maxima[a]));
        let top5: Vec<i64> = ranked[..5].iter().map(|&g| want[g].classes[0]).collect();
        assert_eq!(p.top5, top5, "{}", row.file);
        let probs = tch::Tensor::from_slice(&maxima).softmax(0, tch::Kind::Float);
        let top = probs.max().double_value(&[]);
        assert!((f64::from(p.top5_probs[0]) - top).abs() < 1e-6, "{}: {} vs {top}", row.file, p.top5_probs[0]);
    }
    assert!(correct_by_member > 0, "no prediction was correct through a member other than the group's first");
    drop(store);

    // The later stages reload the run's model with the groups.
    let mut store = RunStore::open(&out).expect("store");
    let reloaded = rectify_pipeline::model::of_run(&store, &placement).expect("the run's model");
    assert_eq!(reloaded.info().class_groups.as_deref(), Some(&want[..]));
    let attack = AttackSettings { limit: Some(1), ..AttackSettings::paper() };
    rectify_pipeline::attack::run(&mut store, &*reloaded, &attack, &mut Silent).expect("attack");

    // ImageNet validation images on ObjectNet's classes: an image's own label falls in a group
    // (or the image is left out).
    let val_out = dir.path().join("val");
    let inputs = ImageInputs { labels: Some(root.join("assets/sample-labels.csv")), ..ImageInputs::new(&samples) };
    let val = EvalSettings { workers: Some(1), ..EvalSettings::new(inputs) };
    let s = rectify_pipeline::eval::run(&val_out, &*model, &val, &mut Silent).expect("eval val");
    let in_groups = labels
        .lines()
        .skip(1)
        .filter(|l| want.iter().any(|g| g.classes.contains(&l.split(',').nth(1).unwrap().parse().unwrap())))
        .count();
    assert_eq!((s.evaluated, s.labeled), (in_groups, in_groups));
    assert_eq!(s.provenance.params["left_out_by_class_map"], 50 - in_groups);
}

#[test]
fn bad_class_maps_are_refused_with_the_reason() {
    use rectify_pipeline::subset::read_space;
    let dir = tempfile::tempdir().expect("temp dir");
    let groups: Vec<(String, Vec<i64>)> = (0..5).map(|g| (format!("f{g}"), vec![10 * g, 10 * g + 1])).collect();
    let ok = dir.path().join("ok");
    objectnet_mappings(&ok, &groups);
    read_space(&ok, 1000).expect("the folder reads");
    let err = |path: &std::path::Path| format!("{:#}", read_space(path, 1000).expect_err("refused"));

    // A name on two lines, used.
    let ambiguous = dir.path().join("ambiguous");
    objectnet_mappings(&ambiguous, &groups);
    let names_file = ambiguous.join("imagenet_to_label_2012_v2");
    let mut names: Vec<String> = std::fs::read_to_string(&names_file).unwrap().lines().map(str::to_string).collect();
    // Line 6 (class 286's, unused) takes the name of line 74 (class 10's).
    names[5] = names[73].clone();
    std::fs::write(&names_file, names.join("\n")).unwrap();
    assert!(err(&ambiguous).contains("which is on lines 6 and 74"), "{}", err(&ambiguous));
    // A name no line holds.
    let unknown = dir.path().join("unknown");
    objectnet_mappings(&unknown, &groups);
    let to = unknown.join("objectnet_to_imagenet_1k.json");
    let text = std::fs::read_to_string(&to).unwrap().replace("imagenet name on line 10\"", "no such name\"");
    std::fs::write(&to, text).unwrap();
    assert!(err(&unknown).contains("names \"no such name\", which no line"), "{}", err(&unknown));
    // A missing file.
    let missing = dir.path().join("missing");
    objectnet_mappings(&missing, &groups);
    std::fs::remove_file(missing.join("pytorch_to_imagenet_2012_id.json")).unwrap();
    assert!(err(&missing).contains("needs pytorch_to_imagenet_2012_id.json"), "{}", err(&missing));
    // JSON maps: overlapping groups, too few groups, a bad class.
    for (text, needle) in [
        (r#"{"a":[1,2],"b":[2,3],"c":[4],"d":[5],"e":[6]}"#, "class 2 is in two groups, \"a\" and \"b\""),
        (r#"{"a":[1],"b":[2]}"#, "2 groups: a class map needs at least 5"),
        (r#"{"a":[1],"b":[2],"c":[4],"d":[5],"e":["n99999999"]}"#, "\"e\": n99999999 is not an ImageNet wnid"),
        (r#"{"a":[1],"b":[2],"c":[4],"d":[5],"e":[]}"#, "\"e\" maps to no class"),
        (r#"{"a":1}"#, "\"a\": a list of classes"),
    ] {
        let file = dir.path().join("map.json");
        std::fs::write(&file, text).unwrap();
        assert!(err(&file).contains(needle), "{text}: {}", err(&file));
    }
}
