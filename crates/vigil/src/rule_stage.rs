//! The rule stage of `vigil analyze`: Vigil and Sigma rules (`--rules` with
//! `.yml`/`.yaml` files or directories) over every event, before risk
//! scoring, with the rules' actions run for what they raise.
//!
//! Rules that do not load are reported on stderr with their file and
//! reason, and the others run (nothing accepted is lost). Findings and
//! meta-events are appended to the batch they came from, so the risk stage
//! scores them and the output has them beside their evidence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use vigil_event::{Event, StatsRecord};
use vigil_rules::correlate::CorrelatorConfig;
use vigil_rules::ruleset::{self, RuleSet};

use crate::actions::{Action, ActionStats, Dispatcher};

/// Rules and their actions.
pub struct RuleStage {
    set: RuleSet,
    actions: Dispatcher,
    rejected: usize,
}

impl RuleStage {
    /// Load the rules under `paths` (none: no stage). Problems with single
    /// rules are printed and counted; an unreadable path or an action with
    /// bad settings is an error.
    pub fn new(
        paths: &[PathBuf],
        sigma_mapping: Option<&Path>,
        quiet: bool,
    ) -> anyhow::Result<Option<Self>> {
        if paths.is_empty() {
            return Ok(None);
        }
        let mapping = crate::rules::sigma_mapping(sigma_mapping)?;
        let loaded = ruleset::load(paths, &mapping).context("reading rules")?;
        for problem in &loaded.problems {
            tracing::debug!(%problem, "rule not loaded");
        }
        if !quiet {
            eprintln!(
                "rules: accepted {} of {} rules from {} files{}",
                loaded.rules.len(),
                loaded.total(),
                loaded.files,
                if loaded.problems.is_empty() {
                    String::new()
                } else {
                    " (`vigil rules check` says why the others were not)".to_owned()
                }
            );
        }
        let mut actions = BTreeMap::new();
        for rule in &loaded.rules {
            let built = rule
                .spec
                .actions
                .iter()
                .map(Action::new)
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("{}: rule '{}': action", rule.file, rule.spec.id))?;
            actions.insert(rule.spec.id.clone(), built);
        }
        let set = RuleSet::new(&loaded.rules, CorrelatorConfig::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(Self {
            set,
            actions: Dispatcher::new(actions),
            rejected: loaded.problems.len(),
        }))
    }

    /// Run the batch through the rules; their findings are appended and
    /// their actions queued.
    pub fn process(&mut self, events: &mut Vec<Event>) {
        let before = events.len();
        self.set.process(events);
        self.dispatch(&events[before..]);
    }

    /// End of input: close every window; the last findings are appended.
    pub fn finish(&mut self, events: &mut Vec<Event>) {
        let before = events.len();
        self.set.finish(events);
        self.dispatch(&events[before..]);
    }

    /// Queue the actions of the rules that raised `findings`.
    fn dispatch(&self, findings: &[Event]) {
        for finding in findings {
            self.actions.dispatch(finding);
        }
    }

    /// Wait for the actions; add the counters to `stats`.
    pub fn close(self, stats: &mut StatsRecord) {
        let s = self.set.stats();
        stats.add("rules", "loaded", s.rules as u64);
        stats.add("rules", "rejected", self.rejected as u64);
        stats.add("rules", "events", s.events);
        stats.add("rules", "findings", s.findings);
        stats.add("rules", "meta_events", s.meta_events);
        for (rule, n) in &s.matches {
            stats.add("rules.matches", rule, *n);
        }
        if let Some(c) = &s.correlation {
            for r in &c.rules {
                let add = |stats: &mut StatsRecord, what: &str, n: u64| {
                    if n > 0 {
                        stats.add("rules.correlation", &format!("{}.{what}", r.id), n);
                    }
                };
                add(stats, "fired", r.fired);
                add(stats, "suppressed", r.suppressed);
                add(stats, "late_dropped", r.late_dropped);
                add(stats, "evictions", r.evictions);
                add(stats, "groups_peak", r.groups_peak as u64);
                add(stats, "bytes_per_group", r.bytes_per_group as u64);
            }
        }
        let ActionStats {
            delivered,
            failed,
            retries,
        } = self.actions.finish();
        for (kind, n) in delivered {
            stats.add("rules.actions", &format!("{kind}.delivered"), n);
        }
        for (kind, n) in failed {
            stats.add("rules.actions", &format!("{kind}.failed"), n);
        }
        if retries > 0 {
            stats.add("rules.actions", "retries", retries);
        }
    }
}
