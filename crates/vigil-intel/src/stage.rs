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
    Analytic, Body, ConnectionInfo, Endpoint, Enrichment, Event, Finding, FindingInfo, Observable,
    Priority, Severity, Subject,
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

/// Check one event: enrich it (one enrichment per observable and matching
/// indicator) and push one finding per indicator that is the best match of
/// some observable, naming every observable it matched.
pub fn match_event(matcher: &Matcher, event: &mut Event, findings: &mut Vec<Event>) {
    let mut enrichments = Vec::new();
    let mut hits: Vec<Hit<'_>> = Vec::new();
    // Per best indicator: the observables it matched, every indicator
    // matching them, and its JSON.
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (n, obs) in event.observables.iter().enumerate() {
        if event.observables[..n]
            .iter()
            .any(|o| o.name == obs.name && o.value == obs.value)
        {
            continue;
        }
        hits.clear();
        matcher.observable_hits(obs, &mut hits);
        if hits.is_empty() {
            continue;
        }
        rank(&mut hits);
        for h in &hits {
            enrichments.push(Enrichment {
                name: obs.name.clone(),
                value: obs.value.clone(),
                type_name: Some(ENRICHMENT_TYPE.to_owned()),
                provider: Some(h.attrs.feed.clone()),
                data: json!(h.indicator()),
            });
        }
        let best = hits[0];
        let group = match groups.iter().position(|g| g.best == best) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    best,
                    observables: Vec::new(),
                    all: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        group.observables.push(obs.clone());
        for h in &hits {
            if !group.all.contains(h) {
                group.all.push(*h);
            }
        }
    }
    for g in &groups {
        findings.push(finding(event, g));
    }
    event.enrichments.extend(enrichments);
}

/// How a finding names its event: `metadata.uid` when set, else
/// `class@time_ns#digest`, the digest (FNV-1a over the observables) telling
/// apart records of one class at one instant (pipelined HTTP requests).
pub fn event_ref(event: &Event) -> String {
    if let Some(uid) = &event.metadata.uid {
        return uid.clone();
    }
    let mut h: u32 = 0x811c_9dc5;
    for o in &event.observables {
        for b in o.name.bytes().chain([0]).chain(o.value.bytes()).chain([0]) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    format!("{}@{}#{h:08x}", event.class_uid, event.time_ns.nanos())
}

/// The observables of one event whose best match is one indicator.
struct Group<'a> {
    best: Hit<'a>,
    observables: Vec<Observable>,
    all: Vec<Hit<'a>>,
}

/// The endpoints and flow of the event, when it is about a connection.
fn connection(event: &Event) -> (Option<Endpoint>, Option<Endpoint>, Option<ConnectionInfo>) {
    let (src, dst, conn) = event.body.connection();
    (src.cloned(), dst.cloned(), conn.cloned())
}

fn finding(event: &Event, group: &Group<'_>) -> Event {
    let best = group.best;
    let a = best.attrs;
    // Never empty: a group starts with the observable that made it.
    let first = &group.observables[0];
    let (obs_name, observed) = (first.name.as_str(), first.value.as_str());
    let hits = &group.all;
    let indicators: Vec<Value> = hits.iter().map(|h| json!(h.indicator())).collect();
    let value = best.value();
    let event_ref = event_ref(event);
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
    if group.observables.len() > 1 {
        let others: Vec<String> = group.observables[1..]
            .iter()
            .map(|o| format!("{} {}", o.name, o.value))
            .collect();
        desc.push_str(&format!("; also {}", others.join(", ")));
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
    evidence.insert(
        "indicator".into(),
        indicators.first().cloned().unwrap_or(Value::Null),
    );
    evidence.insert("confidence".into(), json!(a.confidence));
    evidence.insert("feed".into(), json!(a.feed));
    evidence.insert("observables".into(), json!(group.observables));
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
            uid: format!(
                "{ANALYTIC_PREFIX}{}:{}:{}:{event_ref}",
                a.feed, best.kind, value
            ),
            title: format!(
                "Threat intel: {observed} ({}) in feed {}",
                best.kind, a.feed
            ),
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
    for o in &group.observables {
        if !out.observables.iter().any(|x| x.value == o.value) {
            out.observables.push(o.clone());
        }
    }
    out.priority = if severity >= Severity::High {
        Priority::Urgent
    } else {
        Priority::Normal
    };
    out.metadata.log_name = event.metadata.log_name.clone();
    out.metadata.correlation_uid = event.metadata.correlation_uid.clone();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::{normalize, Indicator, Kind};
    use vigil_event::{ConnectionInfo, Endpoint, SshActivity, Timestamp};

    fn ind(kind: Kind, value: &str, feed: &str, severity: Severity, confidence: u8) -> Indicator {
        Indicator {
            kind,
            value: normalize(kind, value).unwrap(),
            feed: feed.into(),
            confidence,
            severity,
            tags: vec!["c2".into()],
            first_seen: None,
            last_seen: None,
            expires: None,
            reference: Some("https://feed.example/1".into()),
        }
    }

    fn ssh(src: &str, dst: &str) -> Event {
        let body = Body::Ssh(SshActivity {
            src_endpoint: Endpoint::new(src.parse().unwrap(), 40000),
            dst_endpoint: Endpoint::new(dst.parse().unwrap(), 22),
            connection_info: ConnectionInfo::tcp("F1", "1:abc="),
            client_version: None,
            server_version: None,
        });
        Event::new(Timestamp::from_nanos(1_700_000_000_000_000_000), body)
    }

    #[test]
    fn a_match_enriches_the_event_and_raises_one_finding_per_indicator() {
        let m = Matcher::build(
            [
                ind(Kind::Ipv4, "203.0.113.0/24", "wide", Severity::Low, 40),
                ind(Kind::Ipv4, "203.0.113.5", "exact", Severity::High, 90),
            ],
            0,
        );
        let shared = Arc::new(SharedMatcher::new(m));
        let mut stage = IntelStage::new(shared);
        let mut hit = ssh("192.0.2.1", "203.0.113.5");
        hit.metadata.uid = Some("E42".into());
        let mut events = vec![hit, ssh("192.0.2.1", "198.51.100.1")];
        stage.process(&mut events);
        assert_eq!(events.len(), 3, "two records and one finding");
        assert_eq!(events[0].enrichments.len(), 2, "both covering indicators");
        assert_eq!(events[0].enrichments[0].provider.as_deref(), Some("exact"));
        assert_eq!(events[0].enrichments[0].name, "dst_endpoint.ip");
        assert!(events[1].enrichments.is_empty());
        let f = &events[2];
        assert_eq!(f.severity_level(), Severity::High);
        assert_eq!(f.priority, Priority::Urgent);
        assert_eq!(f.time_ns, events[0].time_ns);
        let Body::Finding(finding) = &f.body else {
            panic!("not a finding")
        };
        assert_eq!(finding.finding_info.analytic.uid, "intel:exact");
        assert_eq!(finding.finding_info.uid, "intel:exact:ipv4:203.0.113.5:E42");
        assert_eq!(finding.subject.value, "203.0.113.5");
        assert_eq!(finding.evidence["confidence"], 90);
        assert_eq!(finding.evidence["event"]["uid"], "E42");
        assert_eq!(finding.evidence["event"]["class_uid"], 4007);
        assert_eq!(
            finding.evidence["matches"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            finding.connection_info.as_ref().map(|c| c.uid.as_str()),
            Some("F1")
        );
        // Findings made here are not matched again.
        let mut again = vec![f.clone()];
        stage.process(&mut again);
        assert_eq!(again.len(), 1);
        assert!(again[0].enrichments.is_empty());
        let c = stage.counters();
        assert_eq!((c.events, c.events_matched, c.findings), (2, 1, 1));
    }

    #[test]
    fn events_without_a_uid_are_named_apart() {
        let a = ssh("192.0.2.1", "203.0.113.5");
        let b = ssh("192.0.2.2", "203.0.113.5");
        assert_ne!(event_ref(&a), event_ref(&b));
        assert_eq!(event_ref(&a), event_ref(&a.clone()));
        assert!(event_ref(&a).starts_with("4007@1700000000000000000#"));
    }
}
