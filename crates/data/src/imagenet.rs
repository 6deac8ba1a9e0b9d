//! The 1,000 ImageNet-1k classes in torchvision's label order: WordNet ids, WordNet words
//! (`synset_words.txt`) and short names, embedded so that no file is needed at run time.

use std::collections::HashMap;
use std::sync::OnceLock;

const SYNSET_WORDS: &str = include_str!("../assets/synset_words.txt");
const SHORT_NAMES: &str = include_str!("../assets/imagenet_class_names.json");

/// One ImageNet class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageNetClass {
    /// Label index, 0–999 (torchvision order = sorted wnids).
    pub index: usize,
    /// WordNet id, e.g. `n01440764`.
    pub wnid: &'static str,
    /// WordNet lemmas, e.g. `tench, Tinca tinca`.
    pub words: &'static str,
    /// Short display name, e.g. `tench`.
    pub name: String,
}

struct Table {
    classes: Vec<ImageNetClass>,
    by_wnid: HashMap<&'static str, usize>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let names: Vec<String> = serde_json::from_str(SHORT_NAMES).expect("embedded class names are valid JSON");
        let classes: Vec<ImageNetClass> = SYNSET_WORDS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(index, line)| {
                let (wnid, words) = line.split_once(' ').unwrap_or((line, ""));
                ImageNetClass { index, wnid, words: words.trim(), name: names[index].clone() }
            })
            .collect();
        assert_eq!(classes.len(), 1000, "embedded synset list must have 1000 classes");
        let by_wnid = classes.iter().map(|c| (c.wnid, c.index)).collect();
        Table { classes, by_wnid }
    })
}

/// All 1,000 classes, by label index.
pub fn classes() -> &'static [ImageNetClass] {
    &table().classes
}

/// The label index of a WordNet id.
pub fn index_of_wnid(wnid: &str) -> Option<usize> {
    table().by_wnid.get(wnid).copied()
}

/// Whether `s` looks like a WordNet noun id (`n` + 8 digits).
pub fn is_wnid(s: &str) -> bool {
    s.len() == 9 && s.starts_with('n') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_torchvision_order() {
        let c = classes();
        assert_eq!(c.len(), 1000);
        assert_eq!((c[0].wnid, c[0].name.as_str()), ("n01440764", "tench"));
        assert_eq!(index_of_wnid("n02112137"), Some(260)); // chow, as in val-1300's CSV
        assert_eq!(index_of_wnid("n00000000"), None);
        let mut sorted: Vec<&str> = c.iter().map(|c| c.wnid).collect();
        sorted.sort_unstable();
        assert!(sorted.iter().zip(c).all(|(s, c)| *s == c.wnid), "labels are sorted wnids");
        assert!(is_wnid("n01440764") && !is_wnid("n0144076") && !is_wnid("x01440764"));
    }
}
