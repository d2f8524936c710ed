//! Shared helpers for the correlation tests: events, rule sets, a harness.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use vigil_event::{
    Body, ConnectionInfo, Endpoint, Event, HttpActivity, HttpRequest, Timestamp, Url,
};
use vigil_rules::correlate::{Correlator, CorrelatorConfig};
use vigil_rules::spec::RuleSpec;

/// Event time origin: 2023-11-14T22:13:20Z.
pub const T0: i64 = 1_700_000_000;

/// Nanoseconds of `s` seconds after T0.
pub fn ns(s: f64) -> i64 {
    T0 * 1_000_000_000 + (s * 1e9).round() as i64
}

/// An HTTP request from `src` for `path` at T0 + `s` seconds, id `uid`.
pub fn http(s: f64, src: &str, path: &str, uid: &str) -> Event {
    let h = HttpActivity {
        src_endpoint: Endpoint::new(src.parse().expect("ip"), 40000),
        dst_endpoint: Endpoint::new("192.0.2.1".parse().expect("ip"), 80),
        connection_info: ConnectionInfo::tcp("F", ""),
        http_request: HttpRequest {
            http_method: "GET".into(),
            url: Url {
                path: path.into(),
                url_string: path.into(),
                ..Url::default()
            },
            version: "HTTP/1.1".into(),
            ..HttpRequest::default()
        },
        http_response: None,
        transaction: 0,
    };
    let mut e = Event::new(Timestamp::from_nanos(ns(s)), Body::Http(h));
    if !uid.is_empty() {
        e.metadata.uid = Some(uid.to_owned());
    }
    e
}

/// Rules from YAML documents separated by `---` lines.
pub fn rules(yaml: &str) -> Vec<RuleSpec> {
    yaml.split("\n---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| yaml_serde::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

/// Config with no lateness (tests that want lateness set it per rule).
pub fn config() -> CorrelatorConfig {
    CorrelatorConfig {
        default_lateness: Duration::ZERO,
        ..CorrelatorConfig::default()
    }
}

/// A correlator and everything it emitted.
pub struct H {
    pub c: Correlator,
    pub out: Vec<Event>,
}

impl H {
    pub fn new(yaml: &str) -> Self {
        Self::with(yaml, config())
    }

    pub fn with(yaml: &str, config: CorrelatorConfig) -> Self {
        let c = Correlator::new(&rules(yaml), config).unwrap_or_else(|e| panic!("{e}"));
        Self { c, out: Vec::new() }
    }

    /// `event` matched rule `id`; returns how many meta-events this call emitted.
    pub fn obs(&mut self, id: &str, event: &Event) -> usize {
        let h = self
            .c
            .handle(id)
            .unwrap_or_else(|| panic!("no handle for {id}"));
        let got = self.c.observe(h, event);
        let n = got.len();
        self.out.extend(got);
        n
    }

    /// HTTP event shortcut.
    pub fn hit(&mut self, id: &str, s: f64, src: &str, uid: &str) -> usize {
        self.obs(id, &http(s, src, "/", uid))
    }

    pub fn advance(&mut self, s: f64) -> usize {
        let got = self.c.advance_to(Timestamp::from_nanos(ns(s)));
        let n = got.len();
        self.out.extend(got);
        n
    }

    pub fn finish(&mut self) -> usize {
        let got = self.c.finish();
        let n = got.len();
        self.out.extend(got);
        n
    }

    /// Meta-events of rule `id`.
    pub fn of(&self, id: &str) -> Vec<&Event> {
        self.out.iter().filter(|e| analytic(e) == id).collect()
    }

    /// Seconds after T0 of each meta-event of rule `id`.
    pub fn times(&self, id: &str) -> Vec<f64> {
        self.of(id).iter().map(|e| secs(e)).collect()
    }
}

/// Seconds after T0.
pub fn secs(e: &Event) -> f64 {
    (e.time_ns.nanos() - T0 * 1_000_000_000) as f64 / 1e9
}

pub fn finding(e: &Event) -> &vigil_event::Finding {
    match &e.body {
        Body::Finding(f) => f,
        other => panic!("not a finding: {other:?}"),
    }
}

pub fn analytic(e: &Event) -> &str {
    &finding(e).finding_info.analytic.uid
}

pub fn evidence<'e>(e: &'e Event, key: &str) -> &'e Value {
    finding(e)
        .evidence
        .get(key)
        .unwrap_or_else(|| panic!("no evidence {key} in {:?}", finding(e).evidence))
}

pub fn count(e: &Event) -> u64 {
    evidence(e, "count").as_u64().expect("count")
}

pub fn uids(e: &Event) -> Vec<String> {
    evidence(e, "event_uids")
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("str").to_owned())
        .collect()
}
