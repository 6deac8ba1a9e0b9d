//! Attribute prevalence in a group, its prototypes and its criticisms (Stock & Cisse §3.4: on
//! "basketball", 78 % of prototypes showed a black person against 20 % of criticisms).
//!
//! Attributes come from a CSV (`file,attribute,value`), from the `attribute` study design, or
//! from ImageNet-X's factors ([`imagenet_x`]). An image "has" attribute A when its value is
//! truthy (`1`, `yes`, `true`, or any other non-empty value than `0`/`no`/`false`).
//!
//! `rectify bias` stores each table as a [`BiasFile`] in `RUN_DIR/bias/<group>--<attribute>.json`;
//! the audit report reads every `bias/*.json` back.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::files::{read_json, write_atomic};
use crate::stats::{fisher_exact, wilson, Proportion};

pub use rectify_data::attributes::{imagenet_x, Attributes};

/// Prevalence of one attribute in a group and in one selector's picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasRow {
    /// The selector (`mmd`, `adversarial` …).
    pub selector: String,
    /// In the whole group (annotated images).
    pub group: Proportion,
    /// In the prototypes.
    pub prototypes: Proportion,
    /// In the criticisms.
    pub criticisms: Proportion,
    /// Fisher's exact test, prototypes vs criticisms (two-sided).
    pub fisher_p: f64,
}

/// The prevalence of `attribute` among `group` files and each selector's prototype and criticism
/// files (`picks`: selector → (prototype files, criticism files)). Unannotated images are left
/// out of every count.
pub fn prevalence(
    attrs: &Attributes,
    attribute: &str,
    group: &[String],
    picks: &BTreeMap<String, (Vec<String>, Vec<String>)>,
) -> Vec<BiasRow> {
    let count = |files: &[String]| {
        let known: Vec<bool> = files.iter().filter_map(|f| attrs.get(f, attribute)).collect();
        (known.iter().filter(|&&h| h).count() as u64, known.len() as u64)
    };
    let (gk, gn) = count(group);
    picks
        .iter()
        .map(|(sel, (protos, crits))| {
            let (pk, pn) = count(protos);
            let (ck, cn) = count(crits);
            BiasRow {
                selector: sel.clone(),
                group: wilson(gk, gn),
                prototypes: wilson(pk, pn),
                criticisms: wilson(ck, cn),
                fisher_p: fisher_exact(pk, pn - pk, ck, cn - ck),
            }
        })
        .collect()
}

/// One bias table as stored in `RUN_DIR/bias/` (`rectify bias` writes it, the report reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasFile {
    /// The group (class) studied, e.g. `basketball`.
    pub group: String,
    /// The attribute, e.g. `dark skin`.
    pub attribute: String,
    /// Where the attributes came from (a CSV path, `imagenet-x`, `study`).
    pub source: String,
    /// Files of the group (the denominator before unannotated images are left out).
    pub group_size: u64,
    /// One row per selector ([`prevalence`]).
    pub rows: Vec<BiasRow>,
}

impl BiasFile {
    /// Computes the table of `attribute` in `group` (its files `group_files`) for each
    /// selector's picks, through [`prevalence`].
    pub fn compute(
        attrs: &Attributes,
        source: &str,
        group: &str,
        attribute: &str,
        group_files: &[String],
        picks: &BTreeMap<String, (Vec<String>, Vec<String>)>,
    ) -> Self {
        BiasFile {
            group: group.to_string(),
            attribute: attribute.to_string(),
            source: source.to_string(),
            group_size: group_files.len() as u64,
            rows: prevalence(attrs, attribute, group_files, picks),
        }
    }

    /// `<group>--<attribute>.json`, with characters other than letters, digits, `-`, `_` and
    /// `.` replaced by `_`.
    pub fn file_name(&self) -> String {
        let safe = |s: &str| -> String {
            s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
        };
        format!("{}--{}.json", safe(&self.group), safe(&self.attribute))
    }

    /// Reads a stored table.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        read_json(path)
    }

    /// Writes the table to `run_dir/bias/<file_name>` (atomically) and returns the path.
    pub fn write(&self, run_dir: &Path) -> Result<std::path::PathBuf, ReportError> {
        let path = run_dir.join("bias").join(self.file_name());
        let json =
            serde_json::to_vec_pretty(self).map_err(|source| ReportError::Json { path: path.clone(), source })?;
        write_atomic(&path, &json)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prevalences_and_fisher_on_a_hand_made_class() {
        // The paper's basketball pattern in miniature: 7 of 9 prototypes vs 2 of 10 criticisms.
        let mut a = Attributes::default();
        let files: Vec<String> = (0..30).map(|i| format!("dir/img{i}.jpg")).collect();
        for (i, f) in files.iter().enumerate() {
            a.set(f, "dark skin", i < 7 || (9..11).contains(&i) || (19..25).contains(&i));
        }
        a.set("other.jpg", "glasses", true);
        let picks: BTreeMap<String, (Vec<String>, Vec<String>)> =
            [("adversarial".to_string(), (files[..9].to_vec(), files[9..19].to_vec()))].into();
        let rows = prevalence(&a, "dark skin", &files, &picks);
        let r = &rows[0];
        assert_eq!((r.prototypes.k, r.prototypes.n), (7, 9));
        assert_eq!((r.criticisms.k, r.criticisms.n), (2, 10));
        assert_eq!((r.group.k, r.group.n), (15, 30));
        // scipy.stats.fisher_exact([[7, 2], [2, 8]]) → 0.023014137565221155
        assert!((r.fisher_p - 0.023_014_137_565_221_155).abs() < 1e-12, "{}", r.fisher_p);
        assert_eq!(a.get("img0.jpg", "glasses"), None, "not annotated for glasses");
        assert_eq!(a.get("x/img8.jpg", "dark skin"), Some(false), "matched by file name");
    }

    #[test]
    fn a_bias_file_round_trips_through_the_run_directory() {
        let mut a = Attributes::default();
        let files: Vec<String> = (0..4).map(|i| format!("img{i}.jpg")).collect();
        for (i, f) in files.iter().enumerate() {
            a.set(f, "jersey", i % 2 == 0);
        }
        let picks: BTreeMap<String, (Vec<String>, Vec<String>)> =
            [("mmd".to_string(), (files[..2].to_vec(), vec!["unannotated.jpg".to_string()]))].into();
        let t = BiasFile::compute(&a, "attrs.csv", "151 Chihuahua", "jersey", &files, &picks);
        assert_eq!(t.file_name(), "151_Chihuahua--jersey.json");
        assert_eq!(t.rows[0].criticisms.n, 0, "nothing annotated: NaN prevalence");
        let dir = std::env::temp_dir().join(format!("rectify-bias-{}", std::process::id()));
        let path = t.write(&dir).unwrap();
        let back = BiasFile::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((back.group.as_str(), back.group_size, back.rows.len()), ("151 Chihuahua", 4, 1));
        assert_eq!(back.rows[0].prototypes, t.rows[0].prototypes);
        assert!(back.rows[0].criticisms.p.is_nan());
    }
}
