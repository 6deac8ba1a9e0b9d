//! Label spaces of the shifted test sets (#15 §4): `--class-subset FILE|DIR`.
//!
//! ImageNet-A and ImageNet-R cover 200 of ImageNet's classes; their published evaluation keeps
//! only those logits before taking the top-k (`output[:, indices_in_1k]`). rectify does the same
//! without renumbering: [`SubsetModel`] sets every logit outside the subset to −10⁹, so softmax
//! gives those classes probability 0 (exactly: `exp` underflows), top-k never picks them, and
//! class indices, labels, attacks, LIME and the report stay in ImageNet's 1,000-class space.
//!
//! ObjectNet maps each of its 113 ImageNet-overlapping classes to one or more ImageNet classes
//! (its `mappings/` folder). Its published evaluation (Taori et al. 2020's testbed) restricts the
//! logits to the union of those classes and counts a prediction as correct when the predicted
//! ImageNet class is one its image's ObjectNet class maps to. rectify collapses each group: the
//! group's first (smallest) ImageNet class gets the largest logit of its members, the other
//! members are masked like the classes outside, and an image's label is its group's first class.
//! Top-1 is then correct exactly when ObjectNet's rule says so, top-5 ranks the groups (the
//! testbed's collapsed top-5), and every later stage sees an ordinary 1,000-class model.
//!
//! The subset or the groups are recorded with the eval run, and the later stages reload the
//! model with them.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use rectify_data::imagenet;
use rectify_model::{ClassGroup, Classifier, ModelInfo, Output};
use tch::{Device, Tensor};

/// The logit given to classes outside the subset.
pub const OUTSIDE: f64 = -1e9;

/// The largest file read as a subset or a mapping.
const MAX_BYTES: u64 = 1 << 20;

/// A label space other than the model's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassSpace {
    /// Only these classes (sorted, distinct).
    Subset(Vec<i64>),
    /// Many-to-one: each group counts as one class (sorted members; disjoint groups).
    Groups(Vec<ClassGroup>),
}

impl ClassSpace {
    /// The classes that can be predicted: the subset, or every group's members.
    pub fn classes(&self) -> Vec<i64> {
        match self {
            ClassSpace::Subset(c) => c.clone(),
            ClassSpace::Groups(groups) => {
                let mut all: Vec<i64> = groups.iter().flat_map(|g| g.classes.iter().copied()).collect();
                all.sort_unstable();
                all
            }
        }
    }
}

/// Reads `--class-subset PATH`: a list of classes ([`read`]), a JSON object of groups
/// ([`parse_groups`]) or ObjectNet's `mappings/` folder ([`read_objectnet`]).
pub fn read_space(path: &Path, num_classes: i64) -> Result<ClassSpace> {
    let ctx = || format!("--class-subset {}", path.display());
    if path.is_dir() {
        return read_objectnet(path, num_classes).with_context(ctx);
    }
    let text = read_bounded(path).with_context(ctx)?;
    if text.trim_start().starts_with('{') {
        return parse_groups(&text, num_classes).map(ClassSpace::Groups).with_context(ctx);
    }
    parse(&text, num_classes).map(ClassSpace::Subset).with_context(ctx)
}

fn read_bounded(path: &Path) -> Result<String> {
    Ok(rectify_data::files::read_text(path, MAX_BYTES, "a list or map of classes")?)
}

/// Reads a subset file: one class per line, as an index (`0`–`999`) or a wnid (`n01440764`);
/// blank lines and `#` comments are skipped, duplicates refused. At least 5 classes (top-5).
pub fn read(path: &Path, num_classes: i64) -> Result<Vec<i64>> {
    let text = read_bounded(path).with_context(|| format!("--class-subset {}", path.display()))?;
    parse(&text, num_classes).with_context(|| format!("--class-subset {}", path.display()))
}

/// A class given as an index or a wnid.
fn class_of(item: &str, num_classes: i64) -> Result<i64> {
    let class = if imagenet::is_wnid(item) {
        imagenet::index_of_wnid(item).with_context(|| format!("{item} is not an ImageNet wnid"))? as i64
    } else {
        item.parse::<i64>().ok().with_context(|| format!("{item:?} is neither a class index nor a wnid"))?
    };
    if !(0..num_classes).contains(&class) {
        bail!("class {class} is outside the model's {num_classes} classes");
    }
    Ok(class)
}

/// [`read`] on text in memory.
pub fn parse(text: &str, num_classes: i64) -> Result<Vec<i64>> {
    let mut classes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let item = line.split('#').next().unwrap_or("").trim().trim_end_matches(',');
        if item.is_empty() {
            continue;
        }
        let class = class_of(item, num_classes).with_context(|| format!("line {}", n + 1))?;
        if classes.contains(&class) {
            bail!("line {}: class {class} is listed twice", n + 1);
        }
        classes.push(class);
    }
    if classes.len() < 5 {
        bail!("{} classes: a subset needs at least 5 (top-5 is taken within it)", classes.len());
    }
    classes.sort_unstable();
    Ok(classes)
}

/// A many-to-one map as JSON: `{"folder": [class, …], …}`, each class an index or a wnid; a
/// folder of images is labelled by its group. Groups must be disjoint; at least 5 of them.
pub fn parse_groups(text: &str, num_classes: i64) -> Result<Vec<ClassGroup>> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).context("a class map is a JSON object {\"folder\": [class, …]}")?;
    let mut groups = Vec::new();
    for (name, value) in map {
        let items = value.as_array().with_context(|| format!("{name:?}: a list of classes"))?;
        let mut classes = Vec::new();
        for item in items {
            let text = match item {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                other => bail!("{name:?}: {other} is neither a class index nor a wnid"),
            };
            classes.push(class_of(&text, num_classes).with_context(|| format!("{name:?}"))?);
        }
        groups.push((name, classes));
    }
    groups_of(groups)
}

/// Checks and sorts groups: non-empty, disjoint, at least 5.
fn groups_of(raw: Vec<(String, Vec<i64>)>) -> Result<Vec<ClassGroup>> {
    let mut owner: HashMap<i64, String> = HashMap::new();
    let mut groups = Vec::with_capacity(raw.len());
    for (name, mut classes) in raw {
        classes.sort_unstable();
        classes.dedup();
        if classes.is_empty() {
            bail!("{name:?} maps to no class");
        }
        for &c in &classes {
            if let Some(other) = owner.insert(c, name.clone()) {
                bail!("class {c} is in two groups, {other:?} and {name:?}: a prediction of it would count as both");
            }
        }
        groups.push(ClassGroup { name, classes });
    }
    if groups.len() < 5 {
        bail!("{} groups: a class map needs at least 5 (top-5 is taken over groups)", groups.len());
    }
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// ObjectNet's `mappings/` folder, as its testbeds read it: `folder_to_objectnet_label.json`
/// (folder → ObjectNet class), `objectnet_to_imagenet_1k.json` (ObjectNet class →
/// `"ImageNet name; ImageNet name"`), `imagenet_to_label_2012_v2` (one ImageNet name per line)
/// and `pytorch_to_imagenet_2012_id.json` (PyTorch class index → line of that file, from 0).
/// Groups are named by folder; the ObjectNet classes outside ImageNet have no group.
pub fn read_objectnet(dir: &Path, num_classes: i64) -> Result<ClassSpace> {
    let json = |name: &str| -> Result<serde_json::Map<String, serde_json::Value>> {
        let path = dir.join(name);
        let text = read_bounded(&path).with_context(|| format!("ObjectNet's mappings folder needs {name}"))?;
        serde_json::from_str(&text).with_context(|| format!("{name}: a JSON object"))
    };
    let folders = json("folder_to_objectnet_label.json")?;
    let to_imagenet = json("objectnet_to_imagenet_1k.json")?;
    let to_line = json("pytorch_to_imagenet_2012_id.json")?;
    let names_file = dir.join("imagenet_to_label_2012_v2");
    let names = read_bounded(&names_file).context("ObjectNet's mappings folder needs imagenet_to_label_2012_v2")?;
    let mut class_of_line: HashMap<usize, i64> = HashMap::new();
    for (index, line) in &to_line {
        let class: i64 = index
            .parse()
            .ok()
            .with_context(|| format!("pytorch_to_imagenet_2012_id.json: key {index:?} is not a class index"))?;
        let line = line.as_u64().with_context(|| {
            format!("pytorch_to_imagenet_2012_id.json: {index:?} maps to {line}, not a line number")
        })?;
        if !(0..num_classes).contains(&class) {
            bail!("pytorch_to_imagenet_2012_id.json: class {class} is outside the model's {num_classes} classes");
        }
        if class_of_line.insert(line as usize, class).is_some() {
            bail!("pytorch_to_imagenet_2012_id.json: line {line} is given to two classes");
        }
    }
    // ImageNet name → class; a name on two lines is ambiguous (refused where it is used).
    let mut by_name: HashMap<&str, Result<i64, (usize, usize)>> = HashMap::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    for (line, name) in names.lines().enumerate() {
        let name = name.trim();
        let Some(&class) = class_of_line.get(&line) else { continue };
        match first_line.insert(name, line) {
            None => {
                by_name.insert(name, Ok(class));
            }
            Some(earlier) => {
                by_name.insert(name, Err((earlier, line)));
            }
        }
    }
    let mut folder_of: HashMap<&str, &str> = HashMap::new();
    for (folder, label) in &folders {
        let label = label.as_str().with_context(|| format!("folder_to_objectnet_label.json: {folder:?}"))?;
        folder_of.insert(label, folder);
    }
    let mut raw = Vec::new();
    for (label, value) in &to_imagenet {
        let list = value.as_str().with_context(|| format!("objectnet_to_imagenet_1k.json: {label:?}"))?;
        let folder = folder_of.get(label.as_str()).with_context(|| {
            format!("objectnet_to_imagenet_1k.json: {label:?} has no folder in folder_to_objectnet_label.json")
        })?;
        let mut classes = Vec::new();
        for name in list.split(';').map(str::trim).filter(|n| !n.is_empty()) {
            match by_name.get(name) {
                Some(Ok(class)) => classes.push(*class),
                Some(Err((a, b))) => bail!(
                    "objectnet_to_imagenet_1k.json: {label:?} names {name:?}, which is on lines {} and {} of imagenet_to_label_2012_v2",
                    a + 1,
                    b + 1
                ),
                None => bail!(
                    "objectnet_to_imagenet_1k.json: {label:?} names {name:?}, which no line of imagenet_to_label_2012_v2 \
                     (with a class in pytorch_to_imagenet_2012_id.json) holds"
                ),
            }
        }
        raw.push((folder.to_string(), classes));
    }
    groups_of(raw).map(ClassSpace::Groups)
}

/// Records `info`'s label space in a run's parameters (`class_subset`, and `class_groups` for a
/// many-to-one map).
pub fn record(params: &mut serde_json::Value, info: &ModelInfo) -> Result<()> {
    if let Some(classes) = &info.class_subset {
        params["class_subset"] = serde_json::to_value(classes)?;
    }
    if let Some(groups) = &info.class_groups {
        params["class_groups"] = serde_json::to_value(groups)?;
    }
    Ok(())
}

/// The label space a run's parameters record ([`record`]).
pub fn recorded(params: &serde_json::Value) -> Option<ClassSpace> {
    if let Some(groups) = params.get("class_groups").and_then(|v| serde_json::from_value(v.clone()).ok()) {
        return Some(ClassSpace::Groups(groups));
    }
    params.get("class_subset").and_then(|v| serde_json::from_value(v.clone()).ok()).map(ClassSpace::Subset)
}

/// Labels under a many-to-one map: the group of an image's folder (its first path component),
/// or, for an image labelled with an ImageNet class, that class's group; `None` when neither.
pub struct GroupLabels {
    by_folder: HashMap<String, i64>,
    by_class: HashMap<i64, i64>,
}

impl GroupLabels {
    /// The labels `groups` give.
    pub fn new(groups: &[ClassGroup]) -> Self {
        let mut by_folder = HashMap::new();
        let mut by_class = HashMap::new();
        for g in groups {
            by_folder.insert(g.name.clone(), g.classes[0]);
            for &c in &g.classes {
                by_class.insert(c, g.classes[0]);
            }
        }
        GroupLabels { by_folder, by_class }
    }

    /// The label of `file` (relative path) whose own label is `label`.
    pub fn label(&self, file: &str, label: Option<i64>) -> Option<i64> {
        match label {
            Some(l) => self.by_class.get(&l).copied(),
            None => file.split_once('/').and_then(|(folder, _)| self.by_folder.get(folder).copied()),
        }
    }
}

/// A classifier whose logits outside a subset are [`OUTSIDE`], or whose classes are collapsed
/// into groups.
pub struct SubsetModel {
    inner: Box<dyn Classifier>,
    outside: Tensor,
    /// Groups: the members `[G, M]` (short groups padded with their first class) and each
    /// group's first class `[G]`.
    collapse: Option<(Tensor, Tensor)>,
    info: ModelInfo,
}

impl SubsetModel {
    /// Wraps `inner`; `classes` are sorted, distinct and within its classes ([`parse`]).
    pub fn new(inner: Box<dyn Classifier>, classes: Vec<i64>) -> Self {
        Self::with_space(inner, ClassSpace::Subset(classes))
    }

    /// Wraps `inner` in the label space `space` ([`read_space`]).
    pub fn with_space(inner: Box<dyn Classifier>, space: ClassSpace) -> Self {
        let n = inner.info().num_classes;
        let device = inner.device();
        let kept: Vec<i64> = match &space {
            ClassSpace::Subset(classes) => classes.clone(),
            ClassSpace::Groups(groups) => groups.iter().map(|g| g.classes[0]).collect(),
        };
        let mut keep = vec![false; n as usize];
        for &c in &kept {
            keep[c as usize] = true;
        }
        let outside = Tensor::from_slice(&keep).logical_not().view([1, n]).to_device(device);
        let mut info = inner.info().clone();
        info.class_subset = Some(space.classes());
        let collapse = match space {
            ClassSpace::Subset(_) => None,
            ClassSpace::Groups(groups) => {
                let width = groups.iter().map(|g| g.classes.len()).max().unwrap_or(1);
                let members: Vec<i64> = groups
                    .iter()
                    .flat_map(|g| (0..width).map(|k| *g.classes.get(k).unwrap_or(&g.classes[0])))
                    .collect();
                let members = Tensor::from_slice(&members).to_device(device);
                let firsts = Tensor::from_slice(&kept).to_device(device);
                info.class_groups = Some(groups);
                Some((members, firsts))
            }
        };
        SubsetModel { inner, outside, collapse, info }
    }

    fn restrict(&self, logits: Tensor) -> Tensor {
        let masked = logits.masked_fill(&self.outside, OUTSIDE);
        match &self.collapse {
            None => masked,
            Some((members, firsts)) => {
                let n = logits.size()[0];
                let g = firsts.size()[0];
                let best = logits.index_select(1, members).view([n, g, -1]).amax([2].as_slice(), false);
                masked.index_copy(1, firsts, &best)
            }
        }
    }
}

impl Classifier for SubsetModel {
    fn logits(&self, pixels: &Tensor) -> Tensor {
        self.restrict(self.inner.logits(pixels))
    }

    fn forward(&self, pixels: &Tensor) -> Output {
        let out = self.inner.forward(pixels);
        Output { logits: self.restrict(out.logits), features: out.features }
    }

    fn device(&self) -> Device {
        self.inner.device()
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_wnids_parse_with_comments() {
        let text = "# ImageNet-R, a few\nn01443537\n 2 # great white shark\n\n4,\nn01491361\n100\n";
        assert_eq!(parse(text, 1000).unwrap(), vec![1, 2, 3, 4, 100]);
    }

    #[test]
    fn bad_subsets_name_the_line() {
        for (text, needle) in [
            ("1\n2\n3\n4\n1000\n", "line 5: class 1000 is outside"),
            ("1\n2\n2\n", "line 3: class 2 is listed twice"),
            ("1\n2\nn99999999\n", "line 3: n99999999 is not an ImageNet wnid"),
            ("1\ncat\n", "line 2: \"cat\" is neither"),
            ("1\n2\n3\n", "at least 5"),
        ] {
            let err = format!("{:#}", parse(text, 1000).unwrap_err());
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
