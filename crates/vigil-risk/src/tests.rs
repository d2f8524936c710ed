use vigil_event::ConnectionInfo;

use super::*;

const A: &str = "10.0.0.9";
const B: &str = "10.0.0.2";
const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

fn finding(uid: &str, src: Option<&str>, dst: Option<&str>, flow: Option<&str>) -> Finding {
    Finding {
        finding_info: FindingInfo {
            uid: uid.into(),
            title: "test".into(),
            desc: None,
            types: vec![],
            analytic: Analytic {
                uid: "sig:1".into(),
                name: "test rule".into(),
                type_id: 1,
                type_name: "Rule".into(),
                category: None,
            },
            first_seen_time: None,
            last_seen_time: None,
        },
        subject: Subject {
            kind: "flow".into(),
            value: flow.unwrap_or_default().into(),
        },
        src_endpoint: src.map(|s| Endpoint::new(s.parse().unwrap(), 40000)),
        dst_endpoint: dst.map(|s| Endpoint::new(s.parse().unwrap(), 80)),
        connection_info: flow.map(|f| ConnectionInfo::tcp(f, "1:x")),
        rule: None,
        evidence: Default::default(),
        risk_score: None,
        risk_level: None,
        remediation: None,
        incident_pcap: None,
    }
}

fn event(f: Finding, secs: i64, severity: Severity) -> Event {
    Event::new(Timestamp::from_nanos(T0 + secs * S), Body::Finding(f)).with_severity(severity)
}

fn body(e: &Event) -> &Finding {
    match &e.body {
        Body::Finding(f) => f,
        _ => panic!("not a finding"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn crossed(c: &[Crossing]) -> Vec<(String, Level, Level, u32)> {
    c.iter()
        .map(|c| {
            (
                format!("{}:{}", c.target.kind(), c.target.value()),
                c.from,
                c.to,
                c.score,
            )
        })
        .collect()
}

#[test]
fn decay_and_level_crossings_in_event_time() {
    let mut r = RiskScorer::new(RiskConfig::default());
    let at = |s: i64| Timestamp::from_nanos(T0 + s * S);

    // One high finding: 25 to the source and the flow, 12.5 to the target.
    let mut e = event(
        finding("f1", Some(A), Some(B), Some("F1")),
        0,
        Severity::High,
    );
    let c = r.observe(&mut e);
    assert_eq!(
        crossed(&c),
        vec![
            (format!("host:{A}"), Level::Low, Level::Medium, 25),
            ("flow:F1".to_owned(), Level::Low, Level::Medium, 25),
        ]
    );
    assert_eq!(r.host_score(ip(B), at(0)), Some(13));
    let f = body(&e);
    assert_eq!(f.risk_score, Some(25));
    assert_eq!(f.risk_level.as_deref(), Some("Medium"));
    assert_eq!(f.evidence["risk"][format!("host:{B}")], 13);

    // One half-life later the same again: 12.5 + 25 = 37.5 → 38, medium,
    // already reported (12.5 is not below half the medium threshold).
    let mut e = event(
        finding("f2", Some(A), Some(B), Some("F1")),
        300,
        Severity::High,
    );
    assert_eq!(crossed(&r.observe(&mut e)), vec![]);
    assert_eq!(body(&e).risk_score, Some(38));
    assert_eq!(r.host_score(ip(B), at(300)), Some(19)); // 6.25 + 12.5 = 18.75

    // At the same instant once more: 62.5 → high; the target 31.25 → medium.
    let mut e = event(
        finding("f3", Some(A), Some(B), Some("F1")),
        300,
        Severity::High,
    );
    let c = r.observe(&mut e);
    assert_eq!(
        crossed(&c),
        vec![
            (format!("host:{A}"), Level::Medium, Level::High, 63),
            (format!("host:{B}"), Level::Low, Level::Medium, 31),
            ("flow:F1".to_owned(), Level::Medium, Level::High, 63),
        ]
    );
    assert_eq!(body(&e).risk_level.as_deref(), Some("High"));
    assert!(body(&e)
        .remediation
        .as_ref()
        .unwrap()
        .desc
        .starts_with("block source: block traffic from 10.0.0.9"));

    // Two half-lives later the source has decayed to 15.625 (low, below
    // half the high threshold: re-armed); a low finding (4 points) brings
    // it to 19.625 → 20: medium is reported again.
    assert_eq!(r.host_score(ip(A), at(900)), Some(16));
    let mut e = event(finding("f4", Some(A), None, None), 900, Severity::Low);
    let c = r.observe(&mut e);
    assert_eq!(
        crossed(&c),
        vec![(format!("host:{A}"), Level::Low, Level::Medium, 20)]
    );
    assert_eq!(r.stats().findings_scored, 4);
    assert_eq!(r.stats().crossings, 6);
}

#[test]
fn critical_and_summary_finding() {
    let mut r = RiskScorer::new(RiskConfig::default());
    let mut e1 = event(
        finding("c1", Some(A), Some(B), Some("F9")),
        0,
        Severity::Critical,
    );
    let c1 = r.observe(&mut e1);
    assert_eq!(c1[0].to, Level::High); // 50
    let mut e2 = event(
        finding("c2", Some(A), Some(B), Some("F9")),
        0,
        Severity::Critical,
    );
    let c2 = r.observe(&mut e2);
    let host = c2
        .iter()
        .find(|c| c.target == Target::Host(ip(A)))
        .expect("source crossed");
    assert_eq!(
        (host.from, host.to, host.score),
        (Level::High, Level::Critical, 100)
    );
    let s = body(&host.event);
    assert_eq!(
        s.finding_info.title,
        "Host 10.0.0.9 reached risk level critical"
    );
    assert_eq!(s.subject.kind, "host");
    assert_eq!(s.subject.value, A);
    assert_eq!(s.evidence["findings"], 2);
    assert_eq!(s.evidence["findings_by_analytic"]["sig:1"], 2);
    assert_eq!(s.evidence["recent_findings"], json!(["c1", "c2"]));
    assert_eq!(s.evidence["trigger"], "c2");
    assert_eq!(s.evidence["thresholds"]["critical"], 80);
    assert_eq!(s.evidence["previous_level"], "high");
    assert_eq!(s.risk_level.as_deref(), Some("Critical"));
    assert_eq!(host.event.severity_level(), Severity::Critical);
    assert_eq!(host.event.priority, Priority::Urgent);
    let rem = s.remediation.as_ref().unwrap();
    assert!(rem.desc.starts_with("isolate:"), "{rem:?}");
    assert!(rem
        .self_check
        .as_deref()
        .unwrap()
        .starts_with("verify no outbound connections from 10.0.0.2 after"));
    // A summary finding is not scored again.
    let mut again = host.event.clone();
    assert!(r.observe(&mut again).is_empty());
    assert_eq!(r.stats().findings_scored, 2);
    // The flow's summary carries the flow.
    let flow = c2
        .iter()
        .find(|c| c.target == Target::Flow("F9".into()))
        .unwrap();
    assert_eq!(
        body(&flow.event).connection_info.as_ref().unwrap().uid,
        "F9"
    );
    assert_eq!(
        body(&flow.event).finding_info.title,
        "Flow F9 reached risk level critical"
    );
}

#[test]
fn self_check_names_the_service_log() {
    let mut r = RiskScorer::new(RiskConfig::default());
    let mut e = event(finding("w", Some(A), Some(B), None), 0, Severity::High);
    r.observe(&mut e);
    let check = body(&e).remediation.clone().unwrap().self_check.unwrap();
    assert!(
        check.starts_with("check the web server logs on 10.0.0.2 for the requests from 10.0.0.9"),
        "{check}"
    );
    let mut ssh = finding("s", Some("10.0.0.7"), Some(B), None);
    ssh.dst_endpoint = Some(Endpoint::new(ip(B), 22));
    let mut e = event(ssh, 0, Severity::High);
    r.observe(&mut e);
    let check = body(&e).remediation.clone().unwrap().self_check.unwrap();
    assert!(check.contains("SSH auth log on 10.0.0.2"), "{check}");
}

#[test]
fn older_finding_is_decayed_to_the_entity_time() {
    let mut r = RiskScorer::new(RiskConfig::default());
    let mut e = event(finding("n", Some(A), None, None), 300, Severity::High);
    r.observe(&mut e);
    let mut e = event(finding("o", Some(A), None, None), 0, Severity::High);
    r.observe(&mut e);
    // 25 + 25 · 2^-1 = 37.5 at t=300
    assert_eq!(body(&e).risk_score, Some(38));
    assert_eq!(
        r.host_score(ip(A), Timestamp::from_nanos(T0 + 300 * S)),
        Some(38)
    );
}

#[test]
fn subject_host_without_source_is_the_source() {
    let mut r = RiskScorer::new(RiskConfig::default());
    let mut f = finding("scan", None, None, None);
    f.subject = Subject {
        kind: "host".into(),
        value: A.into(),
    };
    f.connection_info = None;
    let mut e = event(f, 0, Severity::Medium);
    r.observe(&mut e);
    assert_eq!(r.host_score(ip(A), Timestamp::from_nanos(T0)), Some(10));
    assert_eq!(r.stats().hosts, 1);
    assert_eq!(r.stats().flows, 0);
}

#[test]
fn tables_are_bounded_and_evictions_counted() {
    let config = RiskConfig {
        max_hosts: 2,
        max_flows: 1,
        max_contributors: 2,
        ..RiskConfig::default()
    };
    let mut r = RiskScorer::new(config);
    let hosts = ["10.0.1.1", "10.0.1.2", "10.0.1.3"];
    for (i, h) in hosts.iter().enumerate() {
        let flow = format!("F{i}");
        let mut e = event(finding(h, Some(h), None, Some(&flow)), 0, Severity::Low);
        r.observe(&mut e);
    }
    // The least recently updated host went first.
    let t = Timestamp::from_nanos(T0);
    assert_eq!(r.host_score(ip(hosts[0]), t), None);
    assert_eq!(r.host_score(ip(hosts[2]), t), Some(4));
    let s = r.stats();
    assert_eq!((s.hosts, s.hosts_evicted), (2, 1));
    assert_eq!((s.flows, s.flows_evicted), (1, 2));
    // Touching host 2 makes host 3 the oldest.
    let mut e = event(finding("x", Some(hosts[1]), None, None), 1, Severity::Low);
    r.observe(&mut e);
    let mut e = event(finding("y", Some("10.0.1.4"), None, None), 1, Severity::Low);
    r.observe(&mut e);
    assert_eq!(r.host_score(ip(hosts[2]), t), None);
    assert!(r.host_score(ip(hosts[1]), t).is_some());
    assert_eq!(r.stats().hosts_evicted, 2);
    // Contributors are bounded too.
    for i in 0..5 {
        let mut f = finding(&format!("k{i}"), Some(hosts[1]), None, None);
        f.finding_info.analytic.uid = format!("a:{i}");
        let mut e = event(f, 2, Severity::Informational);
        r.observe(&mut e);
    }
    let e = r.hosts.map.get(&ip(hosts[1])).unwrap();
    assert_eq!(e.recent.len(), 2);
    assert_eq!(e.by_analytic.len(), 2);
    assert_eq!(e.other_analytics, 4);
    assert_eq!(e.findings, 7);
}

#[test]
fn other_events_pass_unchanged() {
    let mut r = RiskScorer::new(RiskConfig::default());
    let mut e = Event::new(
        Timestamp::from_nanos(T0),
        Body::Stats(vigil_event::StatsRecord::default()),
    );
    let before = e.clone();
    assert!(r.observe(&mut e).is_empty());
    assert_eq!(e, before);
    assert_eq!(r.stats().findings_scored, 0);
}
