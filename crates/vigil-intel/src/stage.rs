//! Matching events: every observable of every event is checked against the
//! compiled set; a match enriches the event (OCSF `enrichments`) and
//! raises a Detection Finding.
//!
//! One finding per event and matched observable value (its best indicator
//! named, every matching indicator in the evidence), stamped with the
//! event's time, with the indicator's severity; its confidence is in the
//! evidence (`confidence`) and in the enrichment. The finding names the
//! event it was found in: `metadata.uid` when the event has one, its
//! class, time and log, and the flow (`connection_info`, endpoints) when
//! the event is about one. Findings made here are not matched again.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use vigil_event::{
    Analytic, Body, ConnectionInfo, Endpoint, Enrichment, Event, Finding, FindingInfo, Priority,
    Severity, Subject,
};

use crate::matcher::{rank, Hit, Matcher};
use crate::store::SharedMatcher;

/// The prefix of every intel finding's `analytic.uid` (`intel:<feed>`).
pub const ANALYTIC_PREFIX: &str = "intel:";

/// The enrichment `type`.
pub const ENRICHMENT_TYPE: &str = "threat_intel";

/// Counters of a stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events checked.
    pub events: u64,
    /// Observables checked.
    pub observables: u64,
    /// Events with at least one match.
    pub events_matched: u64,
    /// Findings raised.
    pub findings: u64,
}

/// The matching stage: holds the shared set and counts.
#[derive(Debug)]
pub struct IntelStage {
    shared: Arc<SharedMatcher>,
    counters: Counters,
}

impl IntelStage {
    /// A stage reading `shared`.
    pub fn new(shared: Arc<SharedMatcher>) -> Self {
        Self {
            shared,
            counters: Counters::default(),
        }
    }

    /// Check every event of the batch, enriching those that match, and
    /// append the findings after them.
    pub fn process(&mut self, events: &mut Vec<Event>) {
        let matcher = self.shared.load();
        if matcher.is_empty() {
            return;
        }
        let mut findings = Vec::new();
        for event in events.iter_mut() {
            if is_intel_finding(event) {
                continue;
            }
            self.counters.events += 1;
            self.counters.observables += event.observables.len() as u64;
            let before = findings.len();
            match_event(&matcher, event, &mut findings);
            if findings.len() > before {
                self.counters.events_matched += 1;
            }
        }
        self.counters.findings += findings.len() as u64;
        events.append(&mut findings);
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }
}

/// True for a finding this module made.
pub fn is_intel_finding(event: &Event) -> bool {
    matches!(&event.body, Body::Finding(f) if f.finding_info.analytic.uid.starts_with(ANALYTIC_PREFIX))
}

/// Check one event: enrich it and push one finding per matched observable
/// value onto `findings`.
pub fn match_event(matcher: &Matcher, event: &mut Event, findings: &mut Vec<Event>) {
    let mut enrichments = Vec::new();
    let mut hits: Vec<Hit<'_>> = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for obs in &event.observables {
        if seen.contains(&(obs.name.as_str(), obs.value.as_str())) {
            continue;
        }
        seen.push((obs.name.as_str(), obs.value.as_str()));
        hits.clear();
        matcher.observable_hits(obs, &mut hits);
        if hits.is_empty() {
            continue;
        }
        rank(&mut hits);
        let indicators: Vec<Value> = hits.iter().map(|h| json!(h.indicator())).collect();
        for (h, data) in hits.iter().zip(&indicators) {
            enrichments.push(Enrichment {
                name: obs.name.clone(),
                value: obs.value.clone(),
                type_name: Some(ENRICHMENT_TYPE.to_owned()),
                provider: Some(h.attrs.feed.clone()),
                data: data.clone(),
            });
        }
        let mut f = finding(event, &obs.name, obs.type_name.as_str(), &obs.value, &hits, indicators);
        if !f.observables.iter().any(|o| o.value == obs.value) {
            f.observables.push(obs.clone());
        }
        findings.push(f);
    }
    event.enrichments.extend(enrichments);
}

/// The endpoints and flow of the event, when it is about a connection.
fn connection(event: &Event) -> (Option<Endpoint>, Option<Endpoint>, Option<ConnectionInfo>) {
    match &event.body {
        Body::Flow(f) => (Some(f.src_endpoint.clone()), Some(f.dst_endpoint.clone()), Some(f.connection_info.clone())),
        Body::Dns(d) => (Some(d.src_endpoint.clone()), Some(d.dst_endpoint.clone()), Some(d.connection_info.clone())),
        Body::Http(h) => (Some(h.src_endpoint.clone()), Some(h.dst_endpoint.clone()), Some(h.connection_info.clone())),
        Body::Tls(t) => (Some(t.src_endpoint.clone()), Some(t.dst_endpoint.clone()), Some(t.connection_info.clone())),
        Body::Ssh(s) => (Some(s.src_endpoint.clone()), Some(s.dst_endpoint.clone()), Some(s.connection_info.clone())),
        Body::Finding(f) => (f.src_endpoint.clone(), f.dst_endpoint.clone(), f.connection_info.clone()),
        Body::Stats(_) => (None, None, None),
    }
}

fn finding(
    event: &Event,
    obs_name: &str,
    obs_type: &str,
    observed: &str,
    hits: &[Hit<'_>],
    indicators: Vec<Value>,
) -> Event {
    // `hits` is never empty here (checked by the caller).
    let best = hits[0];
    let a = best.attrs;
    let value = best.value();
    let event_ref = event
        .metadata
        .uid
        .clone()
        .unwrap_or_else(|| format!("{}@{}", event.class_uid, event.time_ns.nanos()));
    let (src, dst, conn) = connection(event);
    let subject = if observed.parse::<IpAddr>().is_ok() {
        Subject {
            kind: "host".into(),
            value: observed.to_owned(),
        }
    } else {
        Subject {
            kind: best.kind.name().into(),
            value: observed.to_owned(),
        }
    };
    let mut desc = format!(
        "{obs_name} {observed} matches {} indicator {value} from feed {} (confidence {}, severity {})",
        best.kind,
        a.feed,
        a.confidence,
        a.severity.caption().to_ascii_lowercase()
    );
    if !a.tags.is_empty() {
        desc.push_str(&format!(", tags {}", a.tags.join(", ")));
    }
    if hits.len() > 1 {
        desc.push_str(&format!("; {} more indicators match", hits.len() - 1));
    }
    desc.push_str(&format!(
        "; seen in {} event {} at {}",
        event.class_name,
        event_ref,
        event.time_ns.to_rfc3339_micros()
    ));
    let mut evidence: BTreeMap<String, Value> = BTreeMap::new();
    evidence.insert("indicator".into(), indicators.first().cloned().unwrap_or(Value::Null));
    evidence.insert("confidence".into(), json!(a.confidence));
    evidence.insert("feed".into(), json!(a.feed));
    evidence.insert(
        "observable".into(),
        json!({"name": obs_name, "type": obs_type, "value": observed}),
    );
    evidence.insert(
        "event".into(),
        json!({
            "uid": event.metadata.uid,
            "class_uid": event.class_uid,
            "class_name": event.class_name,
            "time": event.time,
            "log_name": event.metadata.log_name,
            "correlation_uid": event.metadata.correlation_uid,
        }),
    );
    if indicators.len() > 1 {
        evidence.insert("matches".into(), Value::Array(indicators));
    }
    let severity = if a.severity == Severity::Unknown {
        Severity::Medium
    } else {
        a.severity
    };
    let finding = Finding {
        finding_info: FindingInfo {
            uid: format!("{ANALYTIC_PREFIX}{}:{}:{}:{obs_name}:{event_ref}", a.feed, best.kind, value),
            title: format!("Threat intel: {observed} ({}) in feed {}", best.kind, a.feed),
            desc: Some(desc),
            types: vec!["intel".into(), best.kind.name().into()],
            analytic: Analytic {
                uid: format!("{ANALYTIC_PREFIX}{}", a.feed),
                name: format!("Threat intelligence feed {}", a.feed),
                type_id: 1,
                type_name: "Rule".into(),
                category: Some(best.kind.name().into()),
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
    let mut out = Event::new(event.time_ns, Body::Finding(finding)).with_severity(severity);
    out.priority = if severity >= Severity::High {
        Priority::Urgent
    } else {
        Priority::Normal
    };
    out.metadata.log_name = event.metadata.log_name.clone();
    out.metadata.correlation_uid = event.metadata.correlation_uid.clone();
    out
}
