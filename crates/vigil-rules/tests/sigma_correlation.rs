//! Imported Sigma correlation rules running in Vigil's correlation engine:
//! the Sigma correlation specification's "failed logins followed by a
//! successful login" (names, a chained `event_count` into a
//! `temporal_ordered`, `generate`) on web-server events, and its field
//! aliases example (the same address as the server of one rule's events
//! and the client of another's). Single-event rules are compiled
//! (`expr::compile`); what they match is observed by the [`Correlator`].

use std::net::IpAddr;

use vigil_event::{
    Body, ConnectionInfo, Endpoint, Event, HttpActivity, HttpRequest, HttpResponse, Timestamp, Url,
};
use vigil_rules::correlate::{Correlator, CorrelatorConfig, UidAssigner};
use vigil_rules::expr;
use vigil_rules::sigma::{import, ImportedRule, Mapping, Source};
use vigil_rules::spec::RuleSpec;

const BRUTE_FORCE: &str = include_str!("data/sigma-brute-force-chain.yml");

const ALIASES: &str = "title: Server error then the server downloads an executable
id: 6f0c1c55-8e1f-4c8e-9d43-000000000001
correlation:
    type: temporal
    rules:
        - internal_error
        - exe_download
    group-by:
        - internal_ip
    timespan: 1m
    aliases:
        internal_ip:
            internal_error: s-ip
            exe_download: src_ip
level: high
---
title: Internal server error
name: internal_error
logsource:
    category: webserver
detection:
    selection:
        sc-status: 500
    condition: selection
---
title: Executable download
name: exe_download
logsource:
    category: proxy
detection:
    selection:
        c-uri-extension: exe
    condition: selection
";

const T0: i64 = 1_700_000_000_000_000_000;

/// An HTTP event: `client` asks `server` for `target`, gets `status`.
fn http(secs: i64, client: &str, server: &str, target: &str, status: u16) -> Event {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    Event::new(
        Timestamp::from_nanos(T0 + secs * 1_000_000_000),
        Body::Http(HttpActivity {
            src_endpoint: Endpoint::new(ip(client), 40000),
            dst_endpoint: Endpoint::new(ip(server), 80),
            connection_info: ConnectionInfo::tcp_from_log(),
            http_request: HttpRequest {
                http_method: "GET".into(),
                url: Url {
                    hostname: None,
                    port: None,
                    path: target.into(),
                    query_string: None,
                    url_string: target.into(),
                },
                version: "HTTP/1.1".into(),
                user_agent: None,
                referrer: None,
                body_length: 0,
            },
            http_response: Some(HttpResponse {
                code: status,
                message: None,
                content_type: None,
                length: 0,
            }),
            transaction: 0,
        }),
    )
}

/// Import `text`, run `events` through its rules, return the meta-events
/// as (rule id, group subject) pairs, and the imported rules.
fn run(text: &str, events: Vec<Event>) -> (Vec<(String, String)>, Vec<ImportedRule>) {
    let report = import(&[Source::new("rules.yml", text)], &Mapping::builtin());
    assert!(report.rejected.is_empty(), "{}", report.summary());
    let specs: Vec<RuleSpec> = report.accepted.iter().map(|r| r.spec.clone()).collect();
    let mut correlator = Correlator::new(&specs, CorrelatorConfig::default())
        .unwrap_or_else(|e| panic!("the engine takes the imported rules: {e:?}"));
    let conditions: Vec<(&str, expr::Condition)> = report
        .accepted
        .iter()
        .filter_map(|r| Some((r.spec.id.as_str(), expr::compile(r.expr.as_ref()?).unwrap())))
        .collect();
    let mut uids = UidAssigner::default();
    let mut meta = Vec::new();
    for mut event in events {
        uids.assign(&mut event);
        for (id, condition) in &conditions {
            if condition.matches(&event) {
                if let Some(h) = correlator.handle(id) {
                    meta.extend(correlator.observe(h, &event));
                }
            }
        }
    }
    meta.extend(correlator.finish());
    let fired = meta
        .iter()
        .map(|m| {
            let Body::Finding(f) = &m.body else {
                panic!("a meta-event is a finding")
            };
            (f.finding_info.analytic.uid.clone(), f.subject.value.clone())
        })
        .collect();
    (fired, report.accepted)
}

#[test]
fn failed_logins_followed_by_success() {
    let mut events = Vec::new();
    // 203.0.113.9: ten failures, then in.
    for s in 0..10 {
        events.push(http(s, "203.0.113.9", "192.0.2.1", "/login", 401));
    }
    events.push(http(60, "203.0.113.9", "192.0.2.1", "/login", 200));
    // 198.51.100.4: three failures, then in: not enough.
    for s in 0..3 {
        events.push(http(100 + s, "198.51.100.4", "192.0.2.1", "/login", 401));
    }
    events.push(http(110, "198.51.100.4", "192.0.2.1", "/login", 200));
    // 203.0.113.50: in first, then ten failures: the wrong order.
    events.push(http(200, "203.0.113.50", "192.0.2.1", "/login", 200));
    for s in 0..10 {
        events.push(http(201 + s, "203.0.113.50", "192.0.2.1", "/login", 401));
    }
    let (fired, rules) = run(BRUTE_FORCE, events);
    // Only the outermost rule emits (no `generate`), once, for the one
    // client that failed ten times and then got in.
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (rule, subject) = fired.first().unwrap();
    assert_eq!(rule, "b180ead8-d58f-40b2-ae54-c8940995b9b6");
    assert!(subject.contains("203.0.113.9"), "{subject}");
    let outer = rules.iter().find(|r| r.spec.id == *rule).unwrap();
    assert_eq!(outer.spec.severity, "high");
}

#[test]
fn generate_lets_the_inner_stage_emit_too() {
    let text = BRUTE_FORCE.replacen("level: high\n", "level: high\ngenerate: true\n", 1);
    let mut events: Vec<Event> = (0..10)
        .map(|s| http(s, "203.0.113.9", "192.0.2.1", "/login", 401))
        .collect();
    events.push(http(60, "203.0.113.9", "192.0.2.1", "/login", 200));
    let (fired, _) = run(&text, events);
    let rules: Vec<&str> = fired.iter().map(|(r, _)| r.as_str()).collect();
    assert!(
        rules.contains(&"a8418a5a-5fc4-46b5-b23b-6c73beb19d41"),
        "{fired:?}"
    );
    assert!(
        rules.contains(&"b180ead8-d58f-40b2-ae54-c8940995b9b6"),
        "{fired:?}"
    );
}

#[test]
fn aliases_join_the_server_of_one_rule_to_the_client_of_another() {
    let events = vec![
        // 10.0.0.5 answers a client with 500 ...
        http(0, "203.0.113.9", "10.0.0.5", "/app", 500),
        // ... and then downloads an executable itself.
        http(20, "10.0.0.5", "198.51.100.80", "/payload.exe", 200),
        // Another server errs; an unrelated host downloads.
        http(30, "203.0.113.9", "10.0.0.6", "/app", 500),
        http(40, "10.0.0.7", "198.51.100.80", "/tool.exe", 200),
    ];
    let (fired, rules) = run(ALIASES, events);
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (rule, subject) = fired.first().unwrap();
    assert_eq!(rule, "6f0c1c55-8e1f-4c8e-9d43-000000000001");
    assert!(subject.contains("10.0.0.5"), "{subject}");
    // The alias became a per-rule field in Vigil's terms.
    let c = rules
        .iter()
        .find_map(|r| r.spec.correlation.as_ref())
        .unwrap();
    assert_eq!(c.group_by, vec!["internal_ip"]);
    let alias = c.aliases.get("internal_ip").unwrap();
    assert_eq!(
        alias.values().map(String::as_str).collect::<Vec<_>>().len(),
        2
    );
    assert!(alias.values().any(|f| f == "dst_endpoint.ip"));
    assert!(alias.values().any(|f| f == "src_endpoint.ip"));
}
