//! Risk scoring: every Detection Finding, whatever produced it, adds to the
//! risk score of the hosts and the flow it concerns; scores decay with a
//! half-life in event time; a score maps to a [`Level`] with a recommended
//! defence and self-check; reaching a higher level is itself reported as a
//! finding.
//!
//! The model, documented so a reader can check every number:
//!
//! - A finding is worth [`SeverityPoints`] by its event severity (defaults:
//!   informational 1, low 4, medium 10, high 25, critical 50, fatal 80).
//! - It is added at full weight to its **source host** (the finding's
//!   `src_endpoint`, or its subject when the subject is a host and there is
//!   no source) and to its **flow** (`connection_info.uid`), and at
//!   [`RiskConfig::target_weight`] (default 0.5) to its **target host**: the
//!   subject host when that differs from the source, else the
//!   `dst_endpoint`.
//! - Each entity keeps `acc` and the event time of its last update. At a
//!   finding at time `t`, `acc ← acc · 2^(−(t − last)/half_life) + points`
//!   (a finding older than `last` is decayed to `last` instead, and `last`
//!   stays). The score is `min(100, acc)` rounded to the nearest integer.
//! - A score maps to a level by [`Thresholds`] (defaults: medium ≥ 20,
//!   high ≥ 50, critical ≥ 80).
//! - Each finding that passes gets `risk_score`/`risk_level` of the most
//!   at-risk entity it touched, a `remediation` for that level, and an
//!   `evidence.risk` object with each touched entity's score.
//! - When an entity's level after a finding is higher than the highest
//!   level reported for it so far, a summary finding ([`Crossing::event`]) reports
//!   it: subject `host`/`flow`, title "Host 10.0.0.5 reached risk level
//!   high", evidence with the score, thresholds, half-life, the findings
//!   that contributed (count, counts by analytic, the latest uids).
//!   Summary findings (analytic `risk:level`) are not scored again. A
//!   reported level is re-armed once the decayed score falls below half of
//!   that level's threshold (hysteresis, so a score wavering around a
//!   threshold is reported once), and can then be reported again.
//! - Host and flow tables are bounded ([`RiskConfig::max_hosts`],
//!   [`RiskConfig::max_flows`]); the least recently updated entry is evicted
//!   beyond the bound and counted.
//!
//! ```
//! use vigil_event::{Analytic, Body, Endpoint, Event, Finding, FindingInfo, Severity, Subject, Timestamp};
//! use vigil_risk::{Level, RiskConfig, RiskScorer};
//!
//! let finding = Finding {
//!     finding_info: FindingInfo {
//!         uid: "A1".into(), title: "SQL injection".into(), desc: None, types: vec![],
//!         analytic: Analytic { uid: "sig:1".into(), name: "sqli".into(), type_id: 1,
//!             type_name: "Rule".into(), category: None },
//!         first_seen_time: None, last_seen_time: None,
//!     },
//!     subject: Subject { kind: "flow".into(), value: "F1".into() },
//!     src_endpoint: Some(Endpoint::new("10.0.0.9".parse().unwrap(), 5555)),
//!     dst_endpoint: Some(Endpoint::new("10.0.0.2".parse().unwrap(), 80)),
//!     connection_info: None, rule: None, evidence: Default::default(),
//!     risk_score: None, risk_level: None, remediation: None, incident_pcap: None,
//! };
//! let mut scorer = RiskScorer::new(RiskConfig::default());
//! let mut event = Event::new(Timestamp::from_nanos(0), Body::Finding(finding))
//!     .with_severity(Severity::High);
//! let crossings = scorer.observe(&mut event);
//! // 25 points: the source host reaches medium.
//! assert_eq!(crossings[0].to, Level::Medium);
//! ```
#![deny(missing_docs)]

mod level;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vigil_event::{
    Analytic, Body, Endpoint, Event, Finding, FindingInfo, Priority, Severity, Subject, Timestamp,
};

pub use level::{Level, Thresholds, UnknownLevel};

/// The `analytic.uid` of the summary findings this crate writes.
pub const ANALYTIC_UID: &str = "risk:level";

/// Points a finding adds, by its event severity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityPoints {
    /// Severity unknown (0).
    pub unknown: f64,
    /// Informational (1).
    pub informational: f64,
    /// Low (2).
    pub low: f64,
    /// Medium (3).
    pub medium: f64,
    /// High (4).
    pub high: f64,
    /// Critical (5).
    pub critical: f64,
    /// Fatal (6).
    pub fatal: f64,
}

impl Default for SeverityPoints {
    fn default() -> Self {
        Self {
            unknown: 1.0,
            informational: 1.0,
            low: 4.0,
            medium: 10.0,
            high: 25.0,
            critical: 50.0,
            fatal: 80.0,
        }
    }
}

impl SeverityPoints {
    /// The points for `severity`.
    pub fn of(&self, severity: Severity) -> f64 {
        match severity {
            Severity::Unknown => self.unknown,
            Severity::Informational => self.informational,
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
            Severity::Fatal => self.fatal,
        }
    }
}

/// Everything the scorer can be tuned with (see the crate docs for the model).
///
/// Deserializable: a partial document overrides only the keys it names
/// (`thresholds` and `points` are sub-tables), an unknown key is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Seconds of event time after which a finding counts half (default 300).
    pub half_life_secs: f64,
    /// Where each level begins.
    pub thresholds: Thresholds,
    /// Points per severity.
    pub points: SeverityPoints,
    /// Weight of a finding for its target host (the source host and the
    /// flow take it at 1.0). Default 0.5.
    pub target_weight: f64,
    /// Hosts scored at once; the least recently updated is evicted beyond it.
    pub max_hosts: usize,
    /// Flows scored at once; the least recently updated is evicted beyond it.
    pub max_flows: usize,
    /// Finding uids remembered per entity (the latest), and distinct
    /// analytics counted per entity (more are counted under "other").
    pub max_contributors: usize,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            half_life_secs: 300.0,
            thresholds: Thresholds::default(),
            points: SeverityPoints::default(),
            target_weight: 0.5,
            max_hosts: 65_536,
            max_flows: 65_536,
            max_contributors: 16,
        }
    }
}

/// What reached a level.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A host, by address.
    Host(IpAddr),
    /// A flow, by uid.
    Flow(String),
}

impl Target {
    /// "host" or "flow" (the summary finding's subject kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Host(_) => "host",
            Target::Flow(_) => "flow",
        }
    }

    /// The address or uid as text.
    pub fn value(&self) -> String {
        match self {
            Target::Host(ip) => ip.to_string(),
            Target::Flow(uid) => uid.clone(),
        }
    }
}

/// An entity that went up one or more levels with a finding.
#[derive(Debug, Clone)]
pub struct Crossing {
    /// The host or flow.
    pub target: Target,
    /// Its level just before the finding (decayed to the finding's time).
    pub from: Level,
    /// Its level after the finding.
    pub to: Level,
    /// Its score after the finding.
    pub score: u32,
    /// The summary finding that reports it, to be written after the
    /// finding that caused it.
    pub event: Event,
}

/// One scored host or flow.
#[derive(Debug, Clone, Default)]
struct Entity {
    acc: f64,
    last_ns: i64,
    findings: u64,
    /// Latest finding uids, oldest first, at most `max_contributors`.
    recent: VecDeque<String>,
    /// Findings by analytic uid, at most `max_contributors` keys.
    by_analytic: BTreeMap<String, u64>,
    /// Findings whose analytic did not fit in `by_analytic`.
    other_analytics: u64,
    /// The highest level reported (by a summary finding) and not yet
    /// re-armed (see [`RiskScorer::observe`]).
    reported: Level,
    /// LRU position.
    touch: u64,
}

impl Entity {
    /// `acc` decayed to `t_ns` (no change for `t_ns` at or before `last_ns`).
    fn acc_at(&self, t_ns: i64, half_life_ns: f64) -> f64 {
        let dt = t_ns.saturating_sub(self.last_ns);
        if dt <= 0 || self.acc == 0.0 {
            return self.acc;
        }
        self.acc * (-(dt as f64) / half_life_ns).exp2()
    }
}

/// The score (0–100) of an accumulated value.
fn score_of(acc: f64) -> u32 {
    if acc.is_nan() || acc <= 0.0 {
        return 0;
    }
    // In range: clamped to 0..=100 before the cast.
    (acc.min(100.0) + 0.5).floor() as u32
}

/// A bounded table with least-recently-updated eviction.
#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entity>,
    lru: BTreeMap<u64, K>,
    max: usize,
    evicted: u64,
}

impl<K: Clone + Eq + Hash> Table<K> {
    fn new(max: usize) -> Self {
        Self {
            map: HashMap::new(),
            lru: BTreeMap::new(),
            max: max.max(1),
            evicted: 0,
        }
    }

    /// The entity for `key`, created (evicting the least recently updated
    /// beyond the bound) when absent, and marked as updated at `touch`.
    fn entry(&mut self, key: &K, touch: u64) -> &mut Entity {
        if !self.map.contains_key(key) {
            while self.map.len() >= self.max {
                let Some((_, old)) = self.lru.pop_first() else {
                    break;
                };
                self.map.remove(&old);
                self.evicted += 1;
            }
            self.map.insert(key.clone(), Entity::default());
        }
        // Present: inserted just above when absent.
        let e = self.map.entry(key.clone()).or_default();
        if e.touch != 0 {
            self.lru.remove(&e.touch);
        }
        e.touch = touch;
        self.lru.insert(touch, key.clone());
        e
    }
}

/// Counters the scorer keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskStats {
    /// Findings scored.
    pub findings_scored: u64,
    /// Summary findings written (one per level crossing).
    pub crossings: u64,
    /// Hosts evicted from the full host table.
    pub hosts_evicted: u64,
    /// Flows evicted from the full flow table.
    pub flows_evicted: u64,
    /// Hosts held now.
    pub hosts: u64,
    /// Flows held now.
    pub flows: u64,
}

/// The per-host and per-flow risk scorer (see the crate docs).
#[derive(Debug)]
pub struct RiskScorer {
    config: RiskConfig,
    half_life_ns: f64,
    hosts: Table<IpAddr>,
    flows: Table<String>,
    clock: u64,
    findings_scored: u64,
    crossings: u64,
}

/// One entity a finding touches, with its weight and role.
struct Touch {
    target: Target,
    weight: f64,
    role: &'static str,
}

impl RiskScorer {
    /// A scorer with empty tables.
    pub fn new(config: RiskConfig) -> Self {
        let half_life_ns = if config.half_life_secs.is_finite() && config.half_life_secs > 0.0 {
            config.half_life_secs * 1e9
        } else {
            f64::INFINITY
        };
        Self {
            hosts: Table::new(config.max_hosts),
            flows: Table::new(config.max_flows),
            half_life_ns,
            config,
            clock: 0,
            findings_scored: 0,
            crossings: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// Score one event. A Detection Finding (other than this crate's own
    /// summaries) gets `risk_score`, `risk_level`, `remediation` (when it has
    /// none) and `evidence.risk`; every level crossing it causes is
    /// returned with its summary finding. Other events pass unchanged.
    pub fn observe(&mut self, event: &mut Event) -> Vec<Crossing> {
        let ts = event.time_ns;
        let severity = event.severity_level();
        let Body::Finding(finding) = &mut event.body else {
            return Vec::new();
        };
        if finding.finding_info.analytic.uid == ANALYTIC_UID {
            return Vec::new();
        }
        self.findings_scored += 1;
        let points = self.config.points.of(severity);
        let touches = touches_of(finding, self.config.target_weight);
        let mut crossings = Vec::new();
        let mut risk = serde_json::Map::new();
        let mut top: Option<u32> = None;
        for touch in touches {
            let (after, crossed, snapshot) = self.add(&touch, ts, points, finding);
            let name = format!("{}:{}", touch.target.kind(), touch.target.value());
            risk.insert(name, json!(after));
            top = Some(top.map_or(after, |s| s.max(after)));
            if let Some((from, to)) = crossed {
                crossings.push((touch, from, to, after, snapshot));
            }
        }
        let time = ts.to_rfc3339_micros();
        let parties = level::Parties::of(finding, &time);
        if let Some(score) = top {
            let lvl = self.config.thresholds.level(score);
            finding.risk_score = Some(score);
            finding.risk_level = Some(lvl.caption().to_owned());
            if finding.remediation.is_none() {
                finding.remediation = Some(level::recommend(lvl, finding, &parties));
            }
        }
        finding
            .evidence
            .insert("risk".to_owned(), Value::Object(risk));
        let trigger = finding.clone();
        let mut out = Vec::with_capacity(crossings.len());
        for (touch, from, to, score, snapshot) in crossings {
            self.crossings += 1;
            let event = self.summary(&touch, from, to, score, snapshot, &trigger, &parties, ts);
            out.push(Crossing {
                target: touch.target,
                from,
                to,
                score,
                event,
            });
        }
        out
    }

    /// Add `points · weight` to one entity at `ts`; (score after, the
    /// levels (from, to) when this is a crossing to report, the entity after).
    fn add(
        &mut self,
        touch: &Touch,
        ts: Timestamp,
        points: f64,
        finding: &Finding,
    ) -> (u32, Option<(Level, Level)>, Entity) {
        let thresholds = self.config.thresholds;
        self.clock += 1;
        let clock = self.clock;
        let hl = self.half_life_ns;
        let max_contributors = self.config.max_contributors;
        let e = match &touch.target {
            Target::Host(ip) => self.hosts.entry(ip, clock),
            Target::Flow(uid) => self.flows.entry(uid, clock),
        };
        let t = ts.nanos();
        let fresh = e.findings == 0;
        let before = if fresh { 0.0 } else { e.acc_at(t, hl) };
        let add = points * touch.weight;
        if fresh || t >= e.last_ns {
            e.acc = before + add;
            e.last_ns = t;
        } else {
            // An older finding: decay it to the entity's time instead.
            let dt = (e.last_ns - t) as f64;
            e.acc += add * (-dt / hl).exp2();
        }
        e.findings += 1;
        if e.recent.len() >= max_contributors.max(1) {
            e.recent.pop_front();
        }
        e.recent.push_back(finding.finding_info.uid.clone());
        let analytic = &finding.finding_info.analytic.uid;
        if let Some(n) = e.by_analytic.get_mut(analytic) {
            *n += 1;
        } else if e.by_analytic.len() < max_contributors.max(1) {
            e.by_analytic.insert(analytic.clone(), 1);
        } else {
            e.other_analytics += 1;
        }
        let (before, after) = (score_of(before), score_of(e.acc));
        let (from, to) = (thresholds.level(before), thresholds.level(after));
        // Re-arm: once the score has fallen below half the threshold of the
        // level last reported, that level may be reported again.
        let reported_at = match e.reported {
            Level::Low => 0,
            Level::Medium => thresholds.medium,
            Level::High => thresholds.high,
            Level::Critical => thresholds.critical,
        };
        if before.saturating_mul(2) < reported_at {
            e.reported = from;
        }
        let crossed = if to > e.reported {
            e.reported = to;
            Some((from, to))
        } else {
            None
        };
        (after, crossed, e.clone())
    }

    /// The score of a host at `at` (decayed), when it is held.
    pub fn host_score(&self, ip: IpAddr, at: Timestamp) -> Option<u32> {
        let e = self.hosts.map.get(&ip)?;
        Some(score_of(e.acc_at(at.nanos(), self.half_life_ns)))
    }

    /// The score of a flow at `at` (decayed), when it is held.
    pub fn flow_score(&self, uid: &str, at: Timestamp) -> Option<u32> {
        let e = self.flows.map.get(uid)?;
        Some(score_of(e.acc_at(at.nanos(), self.half_life_ns)))
    }

    /// The counters so far.
    pub fn stats(&self) -> RiskStats {
        RiskStats {
            findings_scored: self.findings_scored,
            crossings: self.crossings,
            hosts_evicted: self.hosts.evicted,
            flows_evicted: self.flows.evicted,
            hosts: self.hosts.map.len() as u64,
            flows: self.flows.map.len() as u64,
        }
    }

    /// The counters as (name, value) pairs for the `risk` stats group.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = self.stats();
        vec![
            ("findings_scored", s.findings_scored),
            ("level_crossings", s.crossings),
            ("hosts_evicted", s.hosts_evicted),
            ("flows_evicted", s.flows_evicted),
            ("hosts", s.hosts),
            ("flows", s.flows),
        ]
    }

    #[allow(clippy::too_many_arguments)]
    fn summary(
        &self,
        touch: &Touch,
        from: Level,
        to: Level,
        score: u32,
        e: Entity,
        trigger: &Finding,
        parties: &level::Parties,
        ts: Timestamp,
    ) -> Event {
        let t = self.config.thresholds;
        let (kind, value) = (touch.target.kind(), touch.target.value());
        let noun = match &touch.target {
            Target::Host(_) => "Host",
            Target::Flow(_) => "Flow",
        };
        let title = format!("{noun} {value} reached risk level {to}");
        let analytics: Vec<String> = e
            .by_analytic
            .iter()
            .map(|(a, n)| format!("{n}× {a}"))
            .collect();
        let desc = format!(
            "risk score {score} (was {from}; medium ≥ {}, high ≥ {}, critical ≥ {}; half-life {} s) \
             from {} finding(s): {}",
            t.medium,
            t.high,
            t.critical,
            self.config.half_life_secs,
            e.findings,
            analytics.join(", ")
        );
        let mut evidence = BTreeMap::new();
        evidence.insert("score".to_owned(), json!(score));
        evidence.insert("previous_level".to_owned(), json!(from.name()));
        evidence.insert("level".to_owned(), json!(to.name()));
        evidence.insert("role".to_owned(), json!(touch.role));
        evidence.insert("weight".to_owned(), json!(touch.weight));
        evidence.insert(
            "thresholds".to_owned(),
            json!({"medium": t.medium, "high": t.high, "critical": t.critical}),
        );
        evidence.insert(
            "half_life_secs".to_owned(),
            json!(self.config.half_life_secs),
        );
        evidence.insert("findings".to_owned(), json!(e.findings));
        evidence.insert("findings_by_analytic".to_owned(), json!(e.by_analytic));
        if e.other_analytics > 0 {
            evidence.insert(
                "findings_other_analytics".to_owned(),
                json!(e.other_analytics),
            );
        }
        evidence.insert("recent_findings".to_owned(), json!(e.recent));
        evidence.insert(
            "trigger".to_owned(),
            json!(trigger.finding_info.uid.clone()),
        );
        let (src, dst) = match &touch.target {
            Target::Host(ip) if touch.role == "target" => (None, Some(bare(*ip))),
            Target::Host(ip) => (Some(bare(*ip)), None),
            Target::Flow(_) => (trigger.src_endpoint.clone(), trigger.dst_endpoint.clone()),
        };
        let finding = Finding {
            finding_info: FindingInfo {
                uid: format!("risk-{kind}-{value}-{}-{}", to.name(), ts.nanos()),
                title,
                desc: Some(desc),
                types: vec!["risk".to_owned(), "level_crossing".to_owned()],
                analytic: Analytic {
                    uid: ANALYTIC_UID.to_owned(),
                    name: "Vigil risk level".to_owned(),
                    type_id: 3,
                    type_name: "Statistical".to_owned(),
                    category: Some("risk".to_owned()),
                },
                first_seen_time: None,
                last_seen_time: Some(ts.millis()),
            },
            subject: Subject {
                kind: kind.to_owned(),
                value: value.clone(),
            },
            src_endpoint: src,
            dst_endpoint: dst,
            connection_info: match &touch.target {
                Target::Flow(_) => trigger.connection_info.clone(),
                Target::Host(_) => None,
            },
            rule: None,
            evidence,
            risk_score: Some(score),
            risk_level: Some(to.caption().to_owned()),
            remediation: Some(level::recommend(to, trigger, parties)),
            incident_pcap: None,
        };
        let mut event = Event::new(ts, Body::Finding(finding)).with_severity(to.severity());
        event.priority = if to >= Level::High {
            Priority::Urgent
        } else {
            Priority::Normal
        };
        if let Target::Flow(uid) = &touch.target {
            event.metadata.correlation_uid = Some(uid.clone());
        }
        event
    }
}

/// An endpoint with only an address.
fn bare(ip: IpAddr) -> Endpoint {
    Endpoint {
        ip,
        port: None,
        hostname: None,
    }
}

/// The entities a finding touches (see the crate docs).
fn touches_of(f: &Finding, target_weight: f64) -> Vec<Touch> {
    let mut out = Vec::with_capacity(3);
    let subject_host = if f.subject.kind == "host" {
        f.subject.value.parse::<IpAddr>().ok()
    } else {
        None
    };
    let src = f.src_endpoint.as_ref().map(|e| e.ip).or(subject_host);
    if let Some(ip) = src {
        out.push(Touch {
            target: Target::Host(ip),
            weight: 1.0,
            role: "source",
        });
    }
    let target = subject_host
        .filter(|h| Some(*h) != src)
        .or_else(|| f.dst_endpoint.as_ref().map(|e| e.ip))
        .filter(|h| Some(*h) != src);
    if let Some(ip) = target {
        out.push(Touch {
            target: Target::Host(ip),
            weight: target_weight,
            role: "target",
        });
    }
    let flow = f
        .connection_info
        .as_ref()
        .map(|c| c.uid.clone())
        .or_else(|| (f.subject.kind == "flow").then(|| f.subject.value.clone()))
        .filter(|u| !u.is_empty());
    if let Some(uid) = flow {
        out.push(Touch {
            target: Target::Flow(uid),
            weight: 1.0,
            role: "flow",
        });
    }
    out
}

#[cfg(test)]
mod tests;
