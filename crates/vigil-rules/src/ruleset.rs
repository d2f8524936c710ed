//! The rule runtime: rule files in, findings out.
//!
//! This module owns loading (Vigil rule files and Sigma rules, told apart
//! per file, every problem reported with its file and rule), building one
//! [`RuleSet`] from them (every condition compiled into one
//! [`ConditionSet`], the correlation rules into one [`Correlator`]), and
//! running events through it:
//!
//! 1. each event without `metadata.uid` gets one ([`UidAssigner`]: `ev-1`,
//!    `ev-2`, … in input order), so findings and meta-events can name it;
//! 2. the conditions that match it are found through the condition index;
//! 3. a match of a single-event rule is a Detection Finding naming the rule
//!    and the event (unless only correlations consume the rule and it does
//!    not ask to `generate`); a match of a rule a correlation uses goes to
//!    the correlator, whose meta-events come out too.
//!
//! What the rule set emits is not fed back into its own conditions (a rule
//! matching findings would otherwise match its own output); stages chain
//! through `correlation.rules` instead. Findings of other detectors
//! (signatures, anomalies, bots, intel) are events like any other and are
//! matched.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use vigil_event::{
    Analytic, Body, ConnectionInfo, Endpoint, Event, Finding, FindingInfo, Priority, Severity,
    Subject, Timestamp,
};

use crate::ast::Expr;
use crate::correlate::{CorrelationStats, Correlator, CorrelatorConfig, RuleHandle, UidAssigner};
use crate::expr::{self, Condition, ConditionSet};
use crate::sigma::{self, Mapping, Source};
use crate::spec::RuleSpec;

/// One rule ready to build: its spec (condition text filled in) and tree.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRule {
    /// The rule.
    pub spec: RuleSpec,
    /// Its condition, parsed and checked (none for correlation rules that
    /// take other rules' matches).
    pub expr: Option<Expr>,
    /// The file it came from.
    pub file: String,
    /// Imported from Sigma.
    pub sigma: bool,
}

/// A rule that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// The rule's id or title, when known.
    pub rule: Option<String>,
    /// What is wrong (the reason, short, for the summary counts).
    pub reason: String,
    /// The full message.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(r) => write!(f, "{}: rule '{}': {}", self.file, r, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What loading gave.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Accepted rules in file order.
    pub rules: Vec<LoadedRule>,
    /// Rules not accepted, with reasons.
    pub problems: Vec<Problem>,
    /// Files read.
    pub files: usize,
}

impl Loaded {
    /// Rules seen.
    pub fn total(&self) -> usize {
        self.rules.len() + self.problems.len()
    }

    /// Reasons with their counts, most frequent first.
    pub fn reasons(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for p in &self.problems {
            *counts.entry(p.reason.clone()).or_default() += 1;
        }
        let mut out: Vec<_> = counts.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// Loading failed before any rule could be judged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error(transparent)]
    Read(#[from] sigma::SigmaError),
}

/// Whether a YAML document is a Sigma rule (rather than a Vigil rule).
fn is_sigma_doc(doc: &yaml_serde::Value) -> bool {
    let Some(map) = doc.as_mapping() else {
        return false;
    };
    if map.contains_key("detection") || map.contains_key("logsource") {
        return true;
    }
    // A Sigma correlation: `condition` inside `correlation`, `group-by`,
    // or no Vigil `id` with a `name`.
    if let Some(c) = map.get("correlation").and_then(|c| c.as_mapping()) {
        if c.contains_key("condition") || c.contains_key("group-by") {
            return true;
        }
    }
    map.contains_key("name") && !map.contains_key("condition")
}

/// Load the rule files under `paths` (`.yml`/`.yaml` files, directories
/// searched recursively). A file whose documents look like Sigma rules is
/// imported through `mapping`; any other is read as Vigil rule files.
/// Conditions are parsed and checked against the event schema; correlation
/// rules are checked together (inputs, cycles, durations, fields).
pub fn load(paths: &[PathBuf], mapping: &Mapping) -> Result<Loaded, LoadError> {
    let sources = sigma::read_sources(paths)?;
    Ok(load_sources(&sources, mapping))
}

/// [`load`] over texts already read.
pub fn load_sources(sources: &[Source], mapping: &Mapping) -> Loaded {
    let mut loaded = Loaded {
        files: sources.len(),
        ..Loaded::default()
    };
    let mut sigma_sources = Vec::new();
    for source in sources {
        let docs: Vec<yaml_serde::Value> = yaml_serde::Deserializer::from_str(&source.text)
            .filter_map(|d| yaml_serde::Value::deserialize(d).ok())
            .collect();
        if docs.iter().any(is_sigma_doc) {
            sigma_sources.push(source.clone());
        } else {
            load_vigil(source, &mut loaded);
        }
    }
    if !sigma_sources.is_empty() {
        let report = sigma::import(&sigma_sources, mapping);
        for r in report.rejected {
            loaded.problems.push(Problem {
                file: r.file.clone(),
                rule: r.title.clone().or(r.id.clone()),
                reason: reason_of(&r.reason.to_string()),
                message: r.reason.to_string(),
            });
        }
        for rule in report.accepted {
            let file = rule.spec.origin.get("file").cloned().unwrap_or_default();
            // The importer has checked the tree against the schema.
            let expr = rule.expr.clone();
            loaded.rules.push(LoadedRule {
                spec: rule.into_spec(expr::to_infix),
                expr,
                file,
                sigma: true,
            });
        }
    }
    check_correlations(&mut loaded);
    loaded
}

/// The short form of a reason (its text up to the first backquoted part),
/// so counts group alike problems.
fn reason_of(message: &str) -> String {
    match message.find(['`', '\'']) {
        Some(i) if i > 0 => message[..i].trim_end().to_owned(),
        _ => message.to_owned(),
    }
}

fn load_vigil(source: &Source, loaded: &mut Loaded) {
    for (n, doc) in yaml_serde::Deserializer::from_str(&source.text).enumerate() {
        let spec = match RuleSpec::deserialize(doc) {
            Ok(spec) => spec,
            Err(err) => {
                loaded.problems.push(Problem {
                    file: source.name.clone(),
                    rule: Some(format!("document {}", n + 1)),
                    reason: "not a valid rule".into(),
                    message: err.to_string(),
                });
                continue;
            }
        };
        let expr = match spec.condition.as_deref() {
            Some(text) => match expr::parse_spanned(text) {
                Err(err) => {
                    loaded.problems.push(Problem {
                        file: source.name.clone(),
                        rule: Some(spec.id.clone()),
                        reason: "condition does not parse".into(),
                        message: format!("condition: {err}"),
                    });
                    continue;
                }
                Ok((e, spans)) => match expr::check_spanned(&e, &spans) {
                    Err(err) => {
                        loaded.problems.push(Problem {
                            file: source.name.clone(),
                            rule: Some(spec.id.clone()),
                            reason: "condition does not fit the event schema".into(),
                            message: format!("condition: {err}"),
                        });
                        continue;
                    }
                    Ok(()) => Some(e),
                },
            },
            None if spec.correlation.is_none() => {
                loaded.problems.push(Problem {
                    file: source.name.clone(),
                    rule: Some(spec.id.clone()),
                    reason: "no condition and no correlation".into(),
                    message: "a rule needs a condition, a correlation, or both".into(),
                });
                continue;
            }
            None => None,
        };
        loaded.rules.push(LoadedRule {
            spec,
            expr,
            file: source.name.clone(),
            sigma: false,
        });
    }
}

/// Reject correlation problems rule by rule (a rule whose input was
/// rejected is rejected in turn) until the rest builds.
fn check_correlations(loaded: &mut Loaded) {
    for _ in 0..64 {
        let specs: Vec<RuleSpec> = loaded.rules.iter().map(|r| r.spec.clone()).collect();
        let errors = Correlator::validate(&specs);
        if errors.is_empty() {
            return;
        }
        let mut bad: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &errors {
            bad.entry(e.rule().to_owned())
                .or_default()
                .push(e.to_string());
        }
        let mut kept = Vec::with_capacity(loaded.rules.len());
        for rule in loaded.rules.drain(..) {
            match bad.get(&rule.spec.id) {
                Some(messages) => {
                    for m in messages {
                        loaded.problems.push(Problem {
                            file: rule.file.clone(),
                            rule: Some(rule.spec.id.clone()),
                            reason: "correlation: ".to_owned()
                                + &reason_of(m.split_once("': ").map_or(m.as_str(), |x| x.1)),
                            message: m.clone(),
                        });
                    }
                }
                None => kept.push(rule),
            }
        }
        loaded.rules = kept;
    }
}

/// One rule at run time.
struct RuntimeRule {
    id: String,
    title: String,
    description: Option<String>,
    severity: Severity,
    condition: Option<String>,
    origin: BTreeMap<String, String>,
    /// Emits a finding for each matching event.
    emits: bool,
    /// The correlator's handle, when a correlation consumes its matches.
    handle: Option<RuleHandle>,
    matches: u64,
}

/// Counters of a rule set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSetStats {
    /// Rules loaded.
    pub rules: usize,
    /// Events evaluated.
    pub events: u64,
    /// Matches, by rule id (rules that matched at least once).
    pub matches: BTreeMap<String, u64>,
    /// Single-event findings emitted.
    pub findings: u64,
    /// Meta-events emitted.
    pub meta_events: u64,
    /// The correlator's counters.
    pub correlation: Option<CorrelationStats>,
}

/// The compiled rules and their state.
pub struct RuleSet {
    rules: Vec<RuntimeRule>,
    conditions: ConditionSet,
    correlator: Option<Correlator>,
    uids: UidAssigner,
    hits: Vec<usize>,
    events: u64,
    findings: u64,
    meta_events: u64,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// Building a rule set failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A condition did not compile.
    #[error("rule '{rule}': {message}")]
    Compile {
        /// The rule.
        rule: String,
        /// Why.
        message: String,
    },
    /// The correlation rules do not build.
    #[error("{0}")]
    Correlation(String),
}

impl RuleSet {
    /// Build from loaded rules.
    pub fn new(rules: &[LoadedRule], config: CorrelatorConfig) -> Result<Self, BuildError> {
        let specs: Vec<RuleSpec> = rules.iter().map(|r| r.spec.clone()).collect();
        let any_correlation = specs.iter().any(|s| s.correlation.is_some());
        let mut correlator = if any_correlation {
            Some(
                Correlator::new(&specs, config)
                    .map_err(|e| BuildError::Correlation(e.to_string()))?,
            )
        } else {
            None
        };
        let consumed: std::collections::HashSet<String> = correlator
            .as_ref()
            .map(|c| c.inputs().map(|(id, _)| id.to_owned()).collect())
            .unwrap_or_default();
        let filters: std::collections::HashSet<String> = correlator
            .as_ref()
            .map(|c| c.needs_filter().map(str::to_owned).collect())
            .unwrap_or_default();
        let mut conditions = ConditionSet::new();
        let mut runtime = Vec::with_capacity(rules.len());
        for rule in rules {
            let spec = &rule.spec;
            let is_correlation = spec.correlation.is_some();
            let handle = correlator.as_ref().and_then(|c| c.handle(&spec.id));
            let compiled = match &rule.expr {
                Some(e) => Some(expr::compile(e).map_err(|err| BuildError::Compile {
                    rule: spec.id.clone(),
                    message: err.to_string(),
                })?),
                None => None,
            };
            if filters.contains(&spec.id) {
                if let (Some(c), Some(corr)) = (compiled, correlator.as_mut()) {
                    let c: Condition = c;
                    corr.set_filter(&spec.id, Box::new(move |e: &Event| c.matches(e)));
                }
                // Its condition filters its inputs; it is not matched itself.
                runtime.push(rule_entry(rule, false, None));
                continue;
            }
            let emits =
                !is_correlation && (!consumed.contains(&spec.id) || spec.generate == Some(true));
            let handle = if consumed.contains(&spec.id) || is_correlation {
                handle
            } else {
                None
            };
            if let Some(c) = compiled {
                if emits || handle.is_some() {
                    conditions.add_compiled(runtime.len(), c);
                }
            }
            runtime.push(rule_entry(rule, emits, handle));
        }
        Ok(Self {
            rules: runtime,
            conditions,
            correlator,
            uids: UidAssigner::default(),
            hits: Vec::new(),
            events: 0,
            findings: 0,
            meta_events: 0,
        })
    }

    /// Rules in the set.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Run `events` (in time order, as far as the sources allow) through
    /// the rules: they get ids where they have none, and the findings and
    /// meta-events they make are appended to `events`.
    pub fn process(&mut self, events: &mut Vec<Event>) {
        let n = events.len();
        let mut out = Vec::new();
        let mut newest: Option<Timestamp> = None;
        for event in events.iter_mut().take(n) {
            self.uids.assign(event);
            self.events += 1;
            newest = Some(newest.map_or(event.time_ns, |t| t.max(event.time_ns)));
            self.conditions.matches(event, &mut self.hits);
            for &i in &self.hits {
                let Some(rule) = self.rules.get_mut(i) else {
                    continue;
                };
                rule.matches += 1;
                if rule.emits {
                    self.findings += 1;
                    out.push(match_finding(rule, event, self.findings));
                }
                if let (Some(h), Some(c)) = (rule.handle, self.correlator.as_mut()) {
                    let meta = c.observe(h, event);
                    self.meta_events += meta.len() as u64;
                    out.extend(meta);
                }
            }
        }
        if let (Some(t), Some(c)) = (newest, self.correlator.as_mut()) {
            let meta = c.advance_to(t);
            self.meta_events += meta.len() as u64;
            out.extend(meta);
        }
        events.append(&mut out);
    }

    /// Event time has reached `now` with no events (a tick): close what is due.
    pub fn advance_to(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if let Some(c) = self.correlator.as_mut() {
            let meta = c.advance_to(now);
            self.meta_events += meta.len() as u64;
            out.extend(meta);
        }
    }

    /// End of input: every window closes, every pending absence fires.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        if let Some(c) = self.correlator.as_mut() {
            let meta = c.finish();
            self.meta_events += meta.len() as u64;
            out.extend(meta);
        }
    }

    /// Counters.
    pub fn stats(&self) -> RuleSetStats {
        RuleSetStats {
            rules: self.rules.len(),
            events: self.events,
            matches: self
                .rules
                .iter()
                .filter(|r| r.matches > 0)
                .map(|r| (r.id.clone(), r.matches))
                .collect(),
            findings: self.findings,
            meta_events: self.meta_events,
            correlation: self.correlator.as_ref().map(Correlator::stats),
        }
    }
}

fn rule_entry(rule: &LoadedRule, emits: bool, handle: Option<RuleHandle>) -> RuntimeRule {
    let spec = &rule.spec;
    RuntimeRule {
        id: spec.id.clone(),
        title: spec.title.clone(),
        description: spec.description.clone(),
        severity: spec.severity_level().unwrap_or(Severity::Unknown),
        condition: spec.condition.clone(),
        origin: spec.origin.clone(),
        emits,
        handle,
        matches: 0,
    }
}

/// The endpoints and connection of an event, when it has them.
fn endpoints(event: &Event) -> (Option<Endpoint>, Option<Endpoint>, Option<ConnectionInfo>) {
    let (src, dst, conn) = event.body.connection();
    (src.cloned(), dst.cloned(), conn.cloned())
}

/// The finding for one event matching a single-event rule.
fn match_finding(rule: &RuntimeRule, event: &Event, n: u64) -> Event {
    let (src, dst, conn) = endpoints(event);
    let uid = format!("rule:{}:{n}", rule.id);
    let subject = match &src {
        Some(e) => Subject {
            kind: "ip".into(),
            value: e.ip.to_string(),
        },
        None => Subject {
            kind: "event".into(),
            value: event.metadata.uid.clone().unwrap_or_default(),
        },
    };
    let mut evidence = BTreeMap::new();
    evidence.insert(
        "event_uids".to_owned(),
        serde_json::json!([event.metadata.uid.clone().unwrap_or_default()]),
    );
    evidence.insert("event_class".to_owned(), serde_json::json!(event.class_uid));
    if let Some(c) = &rule.condition {
        evidence.insert("condition".to_owned(), serde_json::json!(c));
    }
    if let Some(log) = &event.metadata.log_name {
        evidence.insert("log_name".to_owned(), serde_json::json!(log));
    }
    if !rule.origin.is_empty() {
        evidence.insert("origin".to_owned(), serde_json::json!(rule.origin));
    }
    let category = if rule.origin.contains_key("sigma_id") || rule.origin.contains_key("sigma") {
        "sigma"
    } else {
        "rule"
    };
    let finding = Finding {
        finding_info: FindingInfo {
            uid: uid.clone(),
            title: rule.title.clone(),
            desc: rule.description.clone(),
            types: vec!["Rule Match".into()],
            analytic: Analytic {
                uid: rule.id.clone(),
                name: rule.title.clone(),
                type_id: 1,
                type_name: "Rule".into(),
                category: Some(category.into()),
            },
            first_seen_time: Some(event.time),
            last_seen_time: Some(event.time),
        },
        subject,
        src_endpoint: src,
        dst_endpoint: dst,
        connection_info: conn,
        rule: None,
        evidence,
        risk_score: None,
        risk_level: None,
        remediation: None,
        incident_pcap: None,
    };
    let mut out = Event::new(event.time_ns, Body::Finding(finding)).with_severity(rule.severity);
    out.priority = Priority::Normal;
    out.metadata.uid = Some(uid);
    out.metadata.log_name = event.metadata.log_name.clone();
    out.metadata.correlation_uid = event.metadata.correlation_uid.clone();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> Source {
        Source::new(name, text)
    }

    fn http(ip: &str, path: &str, secs: i64) -> Event {
        let mut e = vigil_event::fields::samples()
            .into_iter()
            .find(|e| e.class_uid == 4002)
            .expect("an http sample");
        if let Body::Http(h) = &mut e.body {
            h.src_endpoint.ip = ip.parse().expect("ip");
            h.http_request.url.path = path.into();
        }
        e.time_ns = Timestamp::from_nanos(1_700_000_000_000_000_000 + secs * 1_000_000_000);
        e.time = e.time_ns.millis();
        e.metadata.uid = None;
        e
    }

    const RULES: &str = "id: admin-probe\ntitle: Admin page probe\nseverity: low\n\
condition: 'class_uid == 4002 and http_request.url.path istartswith \"/admin\"'\n\
---\nid: admin-burst\ntitle: Many admin probes\nseverity: high\n\
correlation:\n  type: event_count\n  rules: [admin-probe]\n  group_by: [src_endpoint.ip]\n  \
timespan: 1m\n  threshold: { gte: 3 }\n  lateness: 0s\n";

    #[test]
    fn loads_runs_and_correlates() {
        let loaded = load_sources(&[src("r.yml", RULES)], &Mapping::builtin());
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.rules.len(), 2);
        let mut set = RuleSet::new(&loaded.rules, CorrelatorConfig::default()).expect("builds");
        let mut events = vec![
            http("192.0.2.1", "/ADMIN/login", 0),
            http("192.0.2.1", "/index.html", 1),
            http("192.0.2.1", "/admin/x", 2),
            http("192.0.2.1", "/admin/y", 3),
        ];
        set.process(&mut events);
        set.finish(&mut events);
        let findings: Vec<&Event> = events.iter().filter(|e| e.class_uid == 2004).collect();
        // admin-probe is consumed by admin-burst and does not ask to
        // generate: only the meta-event comes out.
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let Body::Finding(f) = &findings[0].body else {
            panic!("finding")
        };
        assert_eq!(f.finding_info.analytic.uid, "admin-burst");
        assert_eq!(
            f.evidence["event_uids"],
            serde_json::json!(["ev-1", "ev-3", "ev-4"])
        );
        assert_eq!(set.stats().matches.get("admin-probe"), Some(&3));
    }

    #[test]
    fn single_rules_emit_findings_naming_the_event() {
        let text = "id: admin-probe\ntitle: Admin page probe\nseverity: low\n\
condition: 'http_request.url.path startswith \"/admin\"'\n";
        let loaded = load_sources(&[src("r.yml", text)], &Mapping::builtin());
        let mut set = RuleSet::new(&loaded.rules, CorrelatorConfig::default()).expect("builds");
        let mut events = vec![http("192.0.2.9", "/admin", 0), http("192.0.2.9", "/", 1)];
        set.process(&mut events);
        assert_eq!(events.len(), 3);
        let Body::Finding(f) = &events[2].body else {
            panic!("finding")
        };
        assert_eq!(f.subject.value, "192.0.2.9");
        assert_eq!(f.evidence["event_uids"], serde_json::json!(["ev-1"]));
        assert_eq!(events[2].severity_id, Severity::Low.id());
    }

    #[test]
    fn problems_name_file_rule_and_column() {
        let text = "id: a\ntitle: A\ncondition: 'src_endpoint.ipp == 10.0.0.1'\n---\n\
id: b\ntitle: B\ncondition: 'class_uid == '\n---\nid: c\ntitle: C\n\
correlation:\n  type: event_count\n  rules: [nope]\n  timespan: 1m\n  threshold: { gte: 2 }\n";
        let loaded = load_sources(&[src("bad.yml", text)], &Mapping::builtin());
        assert_eq!(loaded.rules.len(), 0);
        assert_eq!(loaded.problems.len(), 3, "{:#?}", loaded.problems);
        let all: Vec<String> = loaded.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            all[0].contains("bad.yml: rule 'a'") && all[0].contains("src_endpoint.ip"),
            "{all:?}"
        );
        assert!(
            all[1].contains("rule 'b'") && all[1].contains("column"),
            "{all:?}"
        );
        assert!(all[2].contains("'nope'"), "{all:?}");
    }

    #[test]
    fn sigma_and_vigil_files_load_together() {
        let sigma_rule = "title: Admin probe\nid: 5a6e4a1b-0000-4000-8000-000000000002\nlevel: medium\n\
logsource:\n  category: webserver\ndetection:\n  selection:\n    cs-uri-stem|startswith: '/admin'\n  \
condition: selection\n";
        let loaded = load_sources(
            &[src("s.yml", sigma_rule), src("v.yml", RULES)],
            &Mapping::builtin(),
        );
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(loaded.rules.len(), 3);
        assert!(loaded.rules[0].sigma || loaded.rules[2].sigma);
        let mut set = RuleSet::new(&loaded.rules, CorrelatorConfig::default()).expect("builds");
        let mut events = vec![http("192.0.2.5", "/admin/", 0)];
        set.process(&mut events);
        let sigma_hits = events
            .iter()
            .filter(
                |e| matches!(&e.body, Body::Finding(f) if f.finding_info.title == "Admin probe"),
            )
            .count();
        assert_eq!(sigma_hits, 1);
    }
}
