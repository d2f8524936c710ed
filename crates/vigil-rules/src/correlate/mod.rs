//! Correlation: patterns over time that no single event shows, raised as
//! meta-events (Detection Findings) that rules can take as input again.
//!
//! This module owns windows in event time, the correlation kinds, when a
//! rule fires, suppression, meta-events, chaining and the bounds on state.
//! It does not evaluate conditions: its input is "event E matched rule R",
//! told by the caller through [`Correlator::observe`]. A correlation rule
//! with its own `condition` and no `rules:` gets its input the same way
//! (the caller evaluates the condition and observes the rule itself); one
//! with both `rules:` and a `condition` filters its input with a predicate
//! the caller installs ([`Correlator::set_filter`]).
//!
//! ```
//! use vigil_event::{Body, ConnectionInfo, Endpoint, Event, SshActivity, Timestamp};
//! use vigil_rules::correlate::{Correlator, CorrelatorConfig};
//! use vigil_rules::spec::RuleSpec;
//!
//! let rules: Vec<RuleSpec> = [
//!     "id: ssh-seen\ntitle: SSH connection\ncondition: 'class_uid == 4007'\n",
//!     "id: ssh-burst\ntitle: Many SSH connections from one source\nseverity: high\n\
//!      correlation:\n  type: event_count\n  rules: [ssh-seen]\n  group_by: [src_endpoint.ip]\n  \
//!      timespan: 1m\n  threshold: { gte: 3 }\n",
//! ]
//! .iter()
//! .map(|text| yaml_serde::from_str(text).unwrap())
//! .collect();
//! let mut correlator = Correlator::new(&rules, CorrelatorConfig::default()).unwrap();
//! let seen = correlator.handle("ssh-seen").unwrap();
//! let mut meta = Vec::new();
//! for s in 0..3 {
//!     let ssh = SshActivity {
//!         src_endpoint: Endpoint::new("192.0.2.7".parse().unwrap(), 40000 + s),
//!         dst_endpoint: Endpoint::new("192.0.2.1".parse().unwrap(), 22),
//!         connection_info: ConnectionInfo::tcp(format!("F{s}"), ""),
//!         client_version: None,
//!         server_version: None,
//!     };
//!     let t = Timestamp::from_nanos(1_700_000_000_000_000_000 + i64::from(s) * 10_000_000_000);
//!     let mut event = Event::new(t, Body::Ssh(ssh));
//!     event.metadata.uid = Some(format!("ev-{s}"));
//!     meta.extend(correlator.observe(seen, &event));
//! }
//! meta.extend(correlator.finish()); // end of input: nothing waits for lateness
//! assert_eq!(meta.len(), 1);
//! assert_eq!(meta[0].metadata.uid.as_deref(), Some("corr:ssh-burst:1"));
//! assert_eq!(meta[0].class_uid, 2004);
//! ```
//!
//! # Time
//!
//! Event time drives everything; the wall clock is never read. The
//! *watermark* W is the newest event time observed (or given to
//! [`Correlator::advance_to`]). Each rule has an allowed lateness L
//! (`correlation.lateness`, else [`CorrelatorConfig::default_lateness`];
//! a rule that consumes another rule's meta-events uses at least that
//! rule's lateness). An input event with time t is
//!
//! - **late** when t < W − L (or older than an event the rule already
//!   processed): counted in [`RuleStats::late_dropped`] and dropped;
//! - otherwise held in the rule's reorder buffer and processed once its
//!   *horizon* H = W − L reaches it (t ≤ H), in (time, arrival) order.
//!
//! So every rule sees its input sorted by time, and the output is the same
//! for any arrival order within the lateness (ties in time are taken in
//! arrival order). With L = 0 an event in order is processed at once.
//! Timers (a window's end, an absence deadline) are due when H passes them
//! strictly (H > d), because an event at exactly d may still arrive; they
//! are taken before any later event. [`Correlator::finish`] means no more
//! input: every buffered event is processed and every timer is due.
//!
//! # Windows
//!
//! A window of length T (`timespan`) ending at t is the closed interval
//! [t − T, t]: events exactly T apart are in one window. Per group (the
//! values of the `group_by` fields; an event missing one of them is not
//! counted, as a Sigma backend's group-by drops it, see
//! [`RuleStats::missing_group_field`]):
//!
//! - `event_count`: the number of input events in the sliding window
//!   ending at the current event, tested against `threshold`.
//! - `value_count`: the number of distinct values of `field` (its first
//!   value in each event) in the sliding window.
//! - `temporal`: the number of the `rules` that matched in the sliding
//!   window (default threshold: all of them), in any order.
//! - `temporal_ordered`: the number of leading `rules` matched in the
//!   given order, all within T of the first (default: all). Equal times
//!   count as in order when they arrive in order.
//! - `absence` with `after: A`: an A event opens a wait (later A events
//!   join it); an event of `rules` (or of the rule's own condition) at or
//!   before A + T ends it; otherwise the rule fires at A + T (the
//!   deadline). Without `after`: a group that was seen and then had no
//!   input event for T fires at last + T (it "fell silent"); a new event
//!   re-arms it.
//!
//! The sliding windows follow Sigma's correlation semantics ("the time
//! frame should not be restricted to boundaries"); only `window_end` uses
//! per-group fixed windows (below).
//!
//! # When a rule fires (`fire`)
//!
//! The threshold condition C is evaluated on the window ending at each
//! input event, after expiring what is older than the window and adding
//! the event. Modes, after ArcSight's rule triggers:
//!
//! - `first_event`: on the first event of a group whose window was empty
//!   (new activity), whatever C says (ArcSight "On First Event" also
//!   overrides the threshold).
//! - `every_event`: on every event at which C holds. (Unlike ArcSight's
//!   "On Every Event", which ignores the threshold.)
//! - `first_threshold` (the default): when C becomes true: it held on the
//!   window ending at this event but not on the same window just before
//!   the event was added (an empty window never holds). It fires again
//!   only after C has been false at some event or expiry point.
//! - `every_threshold`: whenever C holds, and the window is then emptied
//!   (the events that reached the threshold are consumed, as ArcSight
//!   restarts its count after firing): with `gte: 10`, a steady burst
//!   fires on every tenth event.
//! - `once_per: D`: at the first event at which C holds within each time
//!   unit of length D (units aligned to the epoch in event time), at most
//!   once per unit per group.
//! - `window_end`: per-group fixed windows: a group's window opens at its
//!   first event (t0) and closes at t0 + T, as in ArcSight's sessions; at
//!   the close the window's whole aggregate is tested and the rule fires
//!   if C holds (so `lt` and `eq` thresholds mean what they say). The
//!   next event opens a new window. The meta-event's time is the close.
//!   `absence` always fires this way (at its deadline).
//!
//! Suppression (`suppress: D`): once a group's meta-event is emitted at
//! time f, its firings in [f, f + D) are counted
//! ([`RuleStats::suppressed`]) but not emitted; the next emitted one says
//! how many were suppressed (`evidence.suppressed_before`). The fire mode's
//! state moves on as if they had been emitted.
//!
//! # Meta-events
//!
//! A [`vigil_event::Finding`] event (class 2004) at the firing's event time:
//! `finding_info.analytic` names the rule (`uid` = rule id, `name` = title,
//! type "Rule", category "correlation"); `finding_info.first_seen_time` /
//! `last_seen_time` bound the evidence; `subject` is the group
//! (`field=value, …`); `evidence` holds `correlation` (the kind),
//! `group` (field → value), `timespan`, `window` {start, end}, `fire`,
//! `condition`, `count` (what the threshold was tested against), `events`,
//! `event_uids` (the `metadata.uid`s of the events that made it: the
//! newest [`CorrelatorConfig::evidence_limit`] of the window, oldest
//! first), and per kind `field`/`values`, `rules`/`rules_matched`,
//! `after`/`expected`/`deadline`. `src_endpoint`/`dst_endpoint` are set
//! when the group is keyed by `src_endpoint.ip`/`dst_endpoint.ip`. Its
//! `metadata.uid` (and `finding_info.uid`) is `corr:<rule id>:<n>`, n
//! counting that rule's emitted meta-events from 1.
//!
//! Event ids: the correlator reads `metadata.uid` and never assigns one
//! (it sees events by reference). The rule runtime assigns ids where
//! events enter the rule engine, before any condition is evaluated, with
//! [`UidAssigner`] (`ev-1`, `ev-2`, … in input order: deterministic), so
//! a single-event rule's finding and a correlation's evidence name the
//! same id. Events without one are counted
//! ([`CorrelationStats::events_without_uid`]) and left out of evidence.
//!
//! # Chaining
//!
//! A rule naming a correlation rule in `rules:` (or `after:`) receives its
//! meta-events. Group fields are read from a meta-event's
//! `evidence.group` by name first (so a stage can group by its producer's
//! group_by fields and aliases), then from the event itself. Rules run in
//! producer-before-consumer order (ties in file order); one call's
//! meta-events reach their consumers in the same call. A correlation rule
//! that another consumes emits its own meta-events only with
//! `generate: true` (Sigma's `generate`); the last stage always emits.
//!
//! # Bounds
//!
//! Per rule: at most `max_groups` groups (default
//! [`CorrelatorConfig::default_max_groups`]); a new group over it evicts
//! the least recently seen ([`RuleStats::evictions`]), losing its pending
//! window or wait. A group is forgotten once its window is empty and it is
//! neither suppressed nor waiting. Per group: at most
//! [`CorrelatorConfig::max_window_entries`] distinct event times or
//! distinct values (beyond it `event_count` lets new events share the
//! newest time, so they leave the window with it, and `value_count` stops
//! adding values: [`RuleStats::window_overflow`]) and
//! `evidence_limit` ids. Reorder buffer: at most
//! [`CorrelatorConfig::max_buffered`] events; over it the oldest are
//! processed early ([`RuleStats::buffer_forced`]) and older arrivals count
//! as late.

mod agg;
mod build;
mod engine;
mod meta;
mod table;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use vigil_event::fields::FieldValue;
use vigil_event::{Body, Event, Timestamp};

pub use build::{BuildError, BuildErrors, Kind};

use crate::spec::RuleSpec;
use agg::Limits;
use build::InputField;
use engine::{Ctx, Pending, RuleState};

/// A predicate over input events, installed for a correlation rule that
/// has both `rules:` and a `condition` (the compiled condition).
pub type Filter = Box<dyn Fn(&Event) -> bool + Send + Sync>;

/// Settings shared by every rule of a [`Correlator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelatorConfig {
    /// Lateness for rules without `correlation.lateness` (default 5 s).
    pub default_lateness: Duration,
    /// Open groups per rule for rules without `max_groups` (default 100,000).
    pub default_max_groups: usize,
    /// Event ids (and values) kept per group as evidence (default 100).
    pub evidence_limit: usize,
    /// Distinct event times or values per group window (default 10,000).
    pub max_window_entries: usize,
    /// Events waiting in one rule's reorder buffer (default 1,000,000).
    pub max_buffered: usize,
}

impl CorrelatorConfig {
    /// The defaults.
    pub const fn new() -> Self {
        Self {
            default_lateness: Duration::from_secs(5),
            default_max_groups: 100_000,
            evidence_limit: 100,
            max_window_entries: 10_000,
            max_buffered: 1_000_000,
        }
    }
}

impl Default for CorrelatorConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A rule the caller can report matches of (see [`Correlator::handle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleHandle(usize);

/// Counters and measured memory of one correlation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleStats {
    /// Rule id.
    pub id: String,
    /// Correlation kind.
    pub kind: &'static str,
    /// Input events accepted (including meta-events of chained rules).
    pub events: u64,
    /// Input events dropped as later than the allowed lateness.
    pub late_dropped: u64,
    /// Input events without a value for a group_by field (or the
    /// value_count field).
    pub missing_group_field: u64,
    /// Input events the rule's filter rejected.
    pub filtered: u64,
    /// Groups open now.
    pub groups_open: usize,
    /// Most groups open at once.
    pub groups_peak: usize,
    /// Groups evicted because `max_groups` was reached.
    pub evictions: u64,
    /// Firings, emitted or suppressed.
    pub fired: u64,
    /// Firings suppressed.
    pub suppressed: u64,
    /// Events that went over a group's window entry bound.
    pub window_overflow: u64,
    /// Events waiting in the reorder buffer now.
    pub buffered: usize,
    /// Most events waiting at once.
    pub buffered_peak: usize,
    /// Events processed early because the buffer was full.
    pub buffer_forced: u64,
    /// Measured heap bytes per open group (0 when none is open).
    pub bytes_per_group: usize,
}

/// What [`Correlator::stats`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrelationStats {
    /// Per rule, in processing order.
    pub rules: Vec<RuleStats>,
    /// Observed events that had no `metadata.uid`.
    pub events_without_uid: u64,
}

impl CorrelationStats {
    /// Bytes per open group averaged per kind over the rules with open
    /// groups, weighted by their groups.
    pub fn bytes_per_group_by_kind(&self) -> BTreeMap<&'static str, usize> {
        let mut acc: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        for r in &self.rules {
            let e = acc.entry(r.kind).or_default();
            e.0 += r.bytes_per_group * r.groups_open;
            e.1 += r.groups_open;
        }
        acc.into_iter()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(k, (b, n))| (k, b / n))
            .collect()
    }
}

/// Assigns `metadata.uid` to events that have none, where events enter the
/// rule engine: `<prefix>1`, `<prefix>2`, … in input order, so the same
/// input gets the same ids every run.
#[derive(Debug, Clone)]
pub struct UidAssigner {
    prefix: String,
    next: u64,
}

impl Default for UidAssigner {
    fn default() -> Self {
        Self::new("ev-")
    }
}

impl UidAssigner {
    /// Ids `<prefix>1`, `<prefix>2`, …
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            next: 1,
        }
    }

    /// Give `event` an id unless it has one; returns its id.
    pub fn assign<'e>(&mut self, event: &'e mut Event) -> &'e str {
        if event.metadata.uid.is_none() {
            event.metadata.uid = Some(format!("{}{}", self.prefix, self.next));
            self.next += 1;
        }
        event.metadata.uid.as_deref().unwrap_or_default()
    }
}

/// The correlation engine over a set of rules.
pub struct Correlator {
    ids: Vec<String>,
    observable: Vec<bool>,
    routes: Vec<Vec<(usize, usize)>>,
    rules: Vec<RuleState>,
    watermark: i64,
    seq: u64,
    config: CorrelatorConfig,
    events_without_uid: u64,
    pool: Vec<String>,
    scratch: String,
    part: String,
}

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator")
            .field("rules", &self.rules)
            .field("watermark", &self.watermark)
            .finish()
    }
}

/// Append the text form of a field value (the form group keys and
/// `evidence.group` use).
fn render(v: FieldValue<'_>, out: &mut String) {
    match v {
        FieldValue::Str(s) => out.push_str(s),
        FieldValue::Int(n) => {
            let _ = write!(out, "{n}");
        }
        FieldValue::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
        FieldValue::Bool(b) => out.push_str(if b { "true" } else { "false" }),
    }
}

/// A string from the pool (reused allocations) holding `text`.
fn pooled(pool: &mut Vec<String>, text: &str) -> String {
    let mut s = pool.pop().unwrap_or_default();
    s.clear();
    s.push_str(text);
    s
}

/// Read `f` from `event` into `out`: from a correlation meta-event's
/// `evidence.group` by name, else through the registry.
fn read_field(event: &Event, f: &InputField, out: &mut String) -> bool {
    if let Body::Finding(finding) = &event.body {
        if finding.finding_info.types.first().map(String::as_str) == Some("correlation")
            && meta::group_field(event, &f.name, out)
        {
            return true;
        }
    }
    match f.def.and_then(|d| d.first(event)) {
        Some(v) => {
            render(v, out);
            true
        }
        None => false,
    }
}

impl Correlator {
    /// Check `rules` and build the engine. Rules without `correlation` are
    /// inputs only (their conditions are the caller's). Every problem is
    /// reported, each naming its rule.
    pub fn new(rules: &[RuleSpec], config: CorrelatorConfig) -> Result<Self, BuildErrors> {
        let plan = build::plan(rules, &config)?;
        Ok(Self {
            ids: plan.ids,
            observable: plan.observable,
            routes: plan.routes,
            rules: plan.rules.into_iter().map(RuleState::new).collect(),
            watermark: i64::MIN,
            seq: 0,
            config,
            events_without_uid: 0,
            pool: Vec::new(),
            scratch: String::new(),
            part: String::new(),
        })
    }

    /// Check `rules` without building anything: every problem found.
    pub fn validate(rules: &[RuleSpec]) -> Vec<BuildError> {
        match build::plan(rules, &CorrelatorConfig::default()) {
            Ok(_) => Vec::new(),
            Err(e) => e.0,
        }
    }

    /// The handle to report matches of rule `id`: any single-event rule,
    /// and correlation rules whose input is their own condition. `None`
    /// for unknown ids and for correlation rules with `rules:` (their
    /// input arrives inside).
    pub fn handle(&self, id: &str) -> Option<RuleHandle> {
        let i = self.ids.iter().position(|x| x == id)?;
        self.observable
            .get(i)
            .copied()
            .unwrap_or(false)
            .then_some(RuleHandle(i))
    }

    /// The rules whose matches some correlation uses: the caller needs to
    /// evaluate these conditions (and may skip observing the others).
    pub fn inputs(&self) -> impl Iterator<Item = (&str, RuleHandle)> + '_ {
        self.routes
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .filter_map(|(i, _)| self.ids.get(i).map(|id| (id.as_str(), RuleHandle(i))))
    }

    /// Install the filter of correlation rule `id` (one with `rules:` and a
    /// `condition`): input events it rejects are not counted. False when
    /// `id` is not a correlation rule.
    pub fn set_filter(&mut self, id: &str, filter: Filter) -> bool {
        match self.rules.iter_mut().find(|r| r.c.id == id) {
            Some(r) => {
                r.filter = Some(filter);
                true
            }
            None => false,
        }
    }

    /// Correlation rules with both `rules:` and a `condition`: the caller
    /// compiles each condition and installs it with [`Self::set_filter`].
    pub fn needs_filter(&self) -> impl Iterator<Item = &str> + '_ {
        self.rules
            .iter()
            .filter(|r| r.c.wants_filter)
            .map(|r| r.c.id.as_str())
    }

    /// The newest event time seen (or given to `advance_to`).
    pub fn watermark(&self) -> Option<Timestamp> {
        (self.watermark != i64::MIN).then(|| Timestamp::from_nanos(self.watermark))
    }

    /// Event `event` matched rule `rule`. Returns the meta-events this
    /// makes due (of every stage, producers first), which may be none.
    pub fn observe(&mut self, rule: RuleHandle, event: &Event) -> Vec<Event> {
        let t = event.time_ns.nanos();
        self.watermark = self.watermark.max(t);
        if event.metadata.uid.is_none() {
            self.events_without_uid += 1;
        }
        let n = self.routes.get(rule.0).map_or(0, Vec::len);
        for i in 0..n {
            if let Some(&(r, k)) = self.routes.get(rule.0).and_then(|v| v.get(i)) {
                self.deliver(r, k, event, true);
            }
        }
        self.pump(false)
    }

    /// Event time has reached `now` (a tick while traffic is idle): take
    /// what is due, close windows, fire deadlines.
    pub fn advance_to(&mut self, now: Timestamp) -> Vec<Event> {
        self.watermark = self.watermark.max(now.nanos());
        self.pump(false)
    }

    /// End of input: process everything buffered, close every window and
    /// fire every pending deadline (a meta-event whose deadline lies after
    /// the last event time says `closed_by_end_of_input`). The correlator
    /// is then empty and can take new input.
    pub fn finish(&mut self) -> Vec<Event> {
        self.pump(true)
    }

    /// Counters and measured memory.
    pub fn stats(&self) -> CorrelationStats {
        CorrelationStats {
            rules: self
                .rules
                .iter()
                .map(|r| RuleStats {
                    id: r.c.id.clone(),
                    kind: r.c.kind.name(),
                    events: r.counters.events,
                    late_dropped: r.counters.late,
                    missing_group_field: r.counters.missing_group,
                    filtered: r.counters.filtered,
                    groups_open: r.groups.len(),
                    groups_peak: r.counters.groups_peak,
                    evictions: r.counters.evictions,
                    fired: r.counters.fired,
                    suppressed: r.counters.suppressed,
                    window_overflow: r.counters.window_overflow,
                    buffered: r.buffered(),
                    buffered_peak: r.counters.buffer_peak,
                    buffer_forced: r.counters.buffer_forced,
                    bytes_per_group: r.bytes_per_group(),
                })
                .collect(),
            events_without_uid: self.events_without_uid,
        }
    }

    /// Hand `event` to input `k` of rule `r`: filter, read its key, check
    /// lateness, queue it.
    fn deliver(&mut self, r: usize, k: usize, event: &Event, external: bool) {
        let watermark = self.watermark;
        let Some(rule) = self.rules.get_mut(r) else {
            return;
        };
        if let Some(f) = &rule.filter {
            if !f(event) {
                rule.counters.filtered += 1;
                return;
            }
        }
        let Some(input) = rule.c.inputs.get(k) else {
            return;
        };
        let t = event.time_ns.nanos();
        let horizon = watermark.saturating_sub(rule.c.lateness);
        if t < rule.released || (external && t < horizon) {
            rule.counters.late += 1;
            return;
        }
        let parts = input.group.len();
        let key = &mut self.scratch;
        let part = &mut self.part;
        key.clear();
        for f in &input.group {
            part.clear();
            if !read_field(event, f, part) {
                rule.counters.missing_group += 1;
                return;
            }
            meta::push_part(key, part, parts);
        }
        let value = match &input.field {
            Some(f) => {
                part.clear();
                if !read_field(event, f, part) {
                    rule.counters.missing_group += 1;
                    return;
                }
                Some(pooled(&mut self.pool, part))
            }
            None => None,
        };
        rule.counters.events += 1;
        self.seq += 1;
        let pending = Pending {
            time: t,
            seq: self.seq,
            input: k,
            key: pooled(&mut self.pool, key),
            value,
            uid: event
                .metadata
                .uid
                .as_deref()
                .map(|u| pooled(&mut self.pool, u)),
        };
        rule.enqueue(pending);
    }

    /// Advance every rule, producers first, passing meta-events on.
    fn pump(&mut self, end: bool) -> Vec<Event> {
        let mut out = Vec::new();
        let limits = Limits {
            evidence: self.config.evidence_limit,
            window: self.config.max_window_entries.max(1),
        };
        let mut fired = Vec::new();
        for pos in 0..self.rules.len() {
            let watermark = self.watermark;
            let max_buffered = self.config.max_buffered;
            let Some(rule) = self.rules.get_mut(pos) else {
                continue;
            };
            let horizon = (!end).then(|| watermark.saturating_sub(rule.c.lateness));
            let mut ctx = Ctx {
                limits,
                watermark,
                out: &mut fired,
                pool: &mut self.pool,
            };
            rule.pump(horizon, max_buffered, &mut ctx);
            if fired.is_empty() {
                continue;
            }
            let consumers = rule.c.consumers.clone();
            let emit = rule.c.emit;
            for ev in fired.drain(..) {
                for &(c, k) in &consumers {
                    self.deliver(c, k, &ev, false);
                }
                if emit {
                    out.push(ev);
                }
            }
        }
        out
    }
}
