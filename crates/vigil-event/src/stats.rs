//! End-of-run counters, written as the last record of every run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counters by group, then by name: e.g. `packets.undecodable.truncated_ipv4`
/// is `groups["packets"]["undecodable.truncated_ipv4"]`. Groups used by the
/// capture pipeline: `capture`, `packets`, `flows`, `reassembly`, `app`,
/// `memory`. A counter that is zero may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRecord {
    /// Counter groups.
    pub counters: BTreeMap<String, BTreeMap<String, u64>>,
    /// Vigil: the inputs this run read.
    #[serde(default)]
    pub inputs: Vec<String>,
}

impl StatsRecord {
    /// Add `n` to counter `group.name`.
    pub fn add(&mut self, group: &str, name: &str, n: u64) {
        *self
            .counters
            .entry(group.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_default() += n;
    }

    /// Read counter `group.name` (0 when absent).
    pub fn get(&self, group: &str, name: &str) -> u64 {
        self.counters
            .get(group)
            .and_then(|g| g.get(name))
            .copied()
            .unwrap_or(0)
    }
}
