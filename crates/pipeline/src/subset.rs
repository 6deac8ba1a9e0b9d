//! Label spaces of the shifted test sets (#15 §4): `--class-subset FILE`.
//!
//! ImageNet-A and ImageNet-R cover 200 of ImageNet's classes; their published evaluation keeps
//! only those logits before taking the top-k (`output[:, indices_in_1k]`). rectify does the same
//! without renumbering: [`SubsetModel`] sets every logit outside the subset to −10⁹, so softmax
//! gives those classes probability 0 (exactly: `exp` underflows), top-k never picks them, and
//! class indices, labels, attacks, LIME and the report stay in ImageNet's 1,000-class space.
//! The subset is recorded with the eval run, and the later stages reload the model with it.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rectify_data::imagenet;
use rectify_model::{Classifier, ModelInfo, Output};
use tch::{Device, Tensor};

/// The logit given to classes outside the subset.
pub const OUTSIDE: f64 = -1e9;

/// Reads a subset file: one class per line, as an index (`0`–`999`) or a wnid (`n01440764`);
/// blank lines and `#` comments are skipped, duplicates refused. At least 5 classes (top-5).
pub fn read(path: &Path, num_classes: i64) -> Result<Vec<i64>> {
    let len = std::fs::metadata(path).with_context(|| format!("--class-subset {}", path.display()))?.len();
    if len > 1 << 20 {
        bail!("--class-subset {}: {len} bytes is too large for a list of classes", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("--class-subset {}", path.display()))?;
    parse(&text, num_classes).with_context(|| format!("--class-subset {}", path.display()))
}

/// [`read`] on text in memory.
pub fn parse(text: &str, num_classes: i64) -> Result<Vec<i64>> {
    let mut classes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let item = line.split('#').next().unwrap_or("").trim().trim_end_matches(',');
        if item.is_empty() {
            continue;
        }
        let class = if imagenet::is_wnid(item) {
            imagenet::index_of_wnid(item).with_context(|| format!("line {}: {item} is not an ImageNet wnid", n + 1))?
                as i64
        } else {
            item.parse::<i64>()
                .ok()
                .with_context(|| format!("line {}: {item:?} is neither a class index nor a wnid", n + 1))?
        };
        if !(0..num_classes).contains(&class) {
            bail!("line {}: class {class} is outside the model's {num_classes} classes", n + 1);
        }
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

/// A classifier whose logits outside `classes` are [`OUTSIDE`].
pub struct SubsetModel {
    inner: Box<dyn Classifier>,
    outside: Tensor,
    info: ModelInfo,
}

impl SubsetModel {
    /// Wraps `inner`; `classes` are sorted, distinct and within its classes ([`parse`]).
    pub fn new(inner: Box<dyn Classifier>, classes: Vec<i64>) -> Self {
        let n = inner.info().num_classes;
        let mut keep = vec![false; n as usize];
        for &c in &classes {
            keep[c as usize] = true;
        }
        let outside = Tensor::from_slice(&keep).logical_not().view([1, n]).to_device(inner.device());
        let mut info = inner.info().clone();
        info.class_subset = Some(classes);
        SubsetModel { inner, outside, info }
    }

    fn restrict(&self, logits: Tensor) -> Tensor {
        logits.masked_fill(&self.outside, OUTSIDE)
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
