//! The random selector (the control condition of Stock & Cisse's study): a seeded shuffle of
//! each group; the first rows are the "prototypes", the next ones the "criticisms". The score
//! is the uniform draw that ordered the row. Each group draws from its own stream of the seed (keyed
//! by its first row), so a group's picks do not depend on the other groups.

use rectify_data::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::selection::{Counts, GroupPicks, Pick, Population, Selector};
use crate::CriticError;

/// Settings of the random selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Random {
    /// Seed.
    pub seed: u64,
}

impl Selector for Random {
    fn method(&self) -> &'static str {
        "random"
    }

    fn params(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain settings")
    }

    fn select_group(&self, _pop: &Population, members: &[usize], counts: Counts) -> Result<GroupPicks, CriticError> {
        // The stream is keyed by the group's first row, which identifies it within the population.
        let stream = members.first().map_or(0, |&r| r as i64);
        let mut rng = SplitMix64::new(self.seed, stream);
        let mut picks: Vec<Pick> = members.iter().map(|&row| Pick { row, score: rng.uniform() }).collect();
        picks.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.row.cmp(&b.row)));
        let p = counts.prototypes.min(picks.len());
        let c = counts.criticisms.min(picks.len() - p);
        let criticisms = picks[p..p + c].to_vec();
        picks.truncate(p);
        Ok(GroupPicks { prototypes: picks, criticisms, note: None })
    }
}
