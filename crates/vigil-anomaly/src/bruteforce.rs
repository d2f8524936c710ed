//! Brute force on a service: many short connections from one source to a
//! login service (SSH, RDP, Telnet, FTP, VNC), or many HTTP POSTs to login
//! URLs, within a window.
//!
//! - Connections, key (src, dst, port): flow records to a port in
//!   `ports`, or whose `app_name` is `ssh`. An *attempt* is a connection
//!   whose handshake completed, whose server sent payload (a banner: a
//!   port scan's empty connects are not attempts) and that lasted at most
//!   `max_attempt_secs`. Verdict at window close: attempts ≥
//!   `min_attempts`.
//! - HTTP, key (src, dst, port): POST requests whose path ends in one of
//!   `login_paths` (case-insensitive) and whose status is one of
//!   `login_statuses`. Verdict at window close: posts ≥ `min_http_attempts`.
//!
//! Severity: Medium, High from 5× the threshold.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{Body, ConnectionInfo, Event, Severity};

use crate::features::{round3, FlowView};
use crate::report::{host, secs, Detector, Verdict};
use crate::scan::service;
use crate::table::{Close, Sample, Slot, Windows};

/// Brute-force thresholds and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// Run the detector. Default true.
    pub enabled: bool,
    /// Window length, seconds of event time. Default 60.
    pub window_secs: u32,
    /// Login service ports. Default 21 (FTP), 22 (SSH), 23 (Telnet),
    /// 3389 (RDP), 5900 (VNC); flows identified as SSH count on any port.
    pub ports: Vec<u16>,
    /// Short connections from one source to one service. Default 10 (20
    /// failed SSH logins in a minute give 20; an admin opens a few).
    pub min_attempts: u64,
    /// Longest connection counted as an attempt, seconds. Default 30.
    pub max_attempt_secs: u32,
    /// HTTP login paths (matched as a suffix of the path, case-insensitive).
    pub login_paths: Vec<String>,
    /// Response statuses of a failed (or probing) login. Default 200, 401, 403.
    pub login_statuses: Vec<u16>,
    /// Login POSTs from one source to one server. Default 10.
    pub min_http_attempts: u64,
    /// Keys held per table. Default 50 000.
    pub max_keys: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            ports: vec![21, 22, 23, 3389, 5900],
            min_attempts: 10,
            max_attempt_secs: 30,
            login_paths: [
                "/login",
                "/signin",
                "/sign-in",
                "/logon",
                "/auth",
                "/wp-login.php",
                "/xmlrpc.php",
                "/user/login",
                "/admin/login",
                "/login.php",
                "/session",
                "/j_security_check",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            login_statuses: vec![200, 401, 403],
            min_http_attempts: 10,
            max_keys: 50_000,
        }
    }
}

#[derive(Debug, Default)]
struct ConnState {
    attempts: u64,
    connections: u64,
    long: u64,
    duration_us_sum: u64,
    first_flow: Option<ConnectionInfo>,
    service: &'static str,
}

#[derive(Debug, Default)]
struct HttpState {
    posts: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
    paths: Sample<String>,
    user_agents: Sample<String>,
    host: Option<String>,
    first_flow: Option<ConnectionInfo>,
}

type Key = (IpAddr, IpAddr, u16);

/// The brute-force detector.
#[derive(Debug)]
pub(crate) struct BruteForceDetector {
    cfg: BruteForceConfig,
    conns: Windows<Key, ConnState>,
    http: Windows<Key, HttpState>,
    findings: u64,
}

impl BruteForceDetector {
    pub fn new(mut cfg: BruteForceConfig, grace_ns: i64) -> Self {
        let len = i64::from(cfg.window_secs) * 1_000_000_000;
        for p in &mut cfg.login_paths {
            p.make_ascii_lowercase();
        }
        Self {
            conns: Windows::new(cfg.max_keys, len, grace_ns),
            http: Windows::new(cfg.max_keys, len, grace_ns),
            cfg,
            findings: 0,
        }
    }

    pub fn observe(&mut self, event: &Event, out: &mut Vec<Event>) {
        if !self.cfg.enabled {
            return;
        }
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        match &event.body {
            Body::Flow(flow) => {
                let v = FlowView::new(event, flow);
                let ssh = flow
                    .app_name
                    .as_deref()
                    .is_some_and(|a| a.split(',').any(|p| p == "ssh"));
                if v.proto != 6 || !(ssh || cfg.ports.contains(&v.dport)) {
                    return;
                }
                let slot = self
                    .conns
                    .record(&(v.src, v.dst, v.dport), v.start, &mut |k, s, c| {
                        close_conns(cfg, k, s, c, findings, out)
                    });
                let st = &mut slot.state;
                st.connections += 1;
                st.service = if ssh { "ssh" } else { port_service(v.dport) };
                let short = flow.duration_us <= i64::from(cfg.max_attempt_secs) * 1_000_000;
                if v.answered && flow.traffic.payload_bytes_in > 0 {
                    if short {
                        st.attempts += 1;
                        st.duration_us_sum += flow.duration_us.max(0) as u64;
                        if st.first_flow.is_none() {
                            st.first_flow = Some(flow.connection_info.clone());
                        }
                    } else {
                        st.long += 1;
                    }
                }
            }
            Body::Http(http) => {
                let req = &http.http_request;
                if !req.http_method.eq_ignore_ascii_case("POST") {
                    return;
                }
                let path = req.url.path.to_ascii_lowercase();
                let path = path.trim_end_matches('/');
                if !cfg.login_paths.iter().any(|p| path.ends_with(p.as_str())) {
                    return;
                }
                let Some(code) = http.http_response.as_ref().map(|r| r.code) else {
                    return;
                };
                if !cfg.login_statuses.contains(&code) {
                    return;
                }
                let (src, dst) = (http.src_endpoint.ip, http.dst_endpoint.ip);
                let port = http.dst_endpoint.port.unwrap_or(0);
                let t = event.time_ns.nanos();
                let slot = self.http.record(&(src, dst, port), t, &mut |k, s, c| {
                    close_http(cfg, k, s, c, findings, out)
                });
                let st = &mut slot.state;
                st.posts += 1;
                *st.statuses.entry(code).or_default() += 1;
                st.paths.offer(req.url.path.clone(), 5);
                if let Some(ua) = &req.user_agent {
                    st.user_agents.offer(ua.clone(), 3);
                }
                if st.host.is_none() {
                    st.host = req.url.hostname.clone();
                }
                if st.first_flow.is_none() {
                    st.first_flow = Some(http.connection_info.clone());
                }
            }
            _ => {}
        }
    }

    pub fn advance(&mut self, now: i64, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        self.conns
            .advance(now, &mut |k, s, c| close_conns(cfg, k, s, c, findings, out));
        self.http
            .advance(now, &mut |k, s, c| close_http(cfg, k, s, c, findings, out));
    }

    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let cfg = &self.cfg;
        let findings = &mut self.findings;
        self.conns
            .finish(&mut |k, s, c| close_conns(cfg, k, s, c, findings, out));
        self.http
            .finish(&mut |k, s, c| close_http(cfg, k, s, c, findings, out));
    }

    pub fn counters(&self, out: &mut Vec<(&'static str, u64)>) {
        out.push(("brute_force.findings", self.findings));
        out.push(("brute_force.conn_windows", self.conns.opened));
        out.push(("brute_force.conn_evicted", self.conns.evicted));
        out.push(("brute_force.conn_keys", self.conns.len() as u64));
        out.push(("brute_force.http_windows", self.http.opened));
        out.push(("brute_force.http_evicted", self.http.evicted));
        out.push(("brute_force.http_keys", self.http.len() as u64));
    }
}

fn port_service(port: u16) -> &'static str {
    match port {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        3389 => "rdp",
        5900 => "vnc",
        _ => "login",
    }
}

fn close_conns(
    cfg: &BruteForceConfig,
    key: &Key,
    s: Slot<ConnState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    if st.attempts < cfg.min_attempts {
        return None;
    }
    let (src, dst, port) = *key;
    let mut v = Verdict::for_window(Detector::BruteForce, "host", src.to_string(), &s);
    let mean_ms = st.duration_us_sum as f64 / st.attempts as f64 / 1000.0;
    v.title = format!(
        "Brute force on {} at {dst}:{port} from {src}: {} attempts",
        st.service, st.attempts
    );
    v.desc = format!(
        "{src} made {} short connections (mean {} ms) to {} at {dst}:{port} in {} s ({} connections in all, {} long); threshold: at least {} connections of at most {} s in {} s",
        st.attempts,
        round3(mean_ms),
        st.service,
        secs(s.last - s.first),
        st.connections,
        st.long,
        cfg.min_attempts,
        cfg.max_attempt_secs,
        cfg.window_secs
    );
    v.src = Some(host(src));
    v.dst = Some(service(dst, port));
    v.connection_info = st.first_flow.clone();
    v.ev("service", st.service)
        .ev("attempts", st.attempts)
        .ev("connections", st.connections)
        .ev("long_connections", st.long)
        .ev("mean_duration_ms", round3(mean_ms))
        .ev("min_attempts", cfg.min_attempts)
        .ev("max_attempt_secs", cfg.max_attempt_secs)
        .ev("window_secs", cfg.window_secs);
    v.window_evidence(&s, close);
    v.severity = if st.attempts >= cfg.min_attempts.saturating_mul(5) {
        Severity::High
    } else {
        Severity::Medium
    };
    *findings += 1;
    out.push(v.into_event());
    Some(st.attempts)
}

fn close_http(
    cfg: &BruteForceConfig,
    key: &Key,
    s: Slot<HttpState>,
    close: Close,
    findings: &mut u64,
    out: &mut Vec<Event>,
) -> Option<u64> {
    let st = &s.state;
    if st.posts < cfg.min_http_attempts {
        return None;
    }
    let (src, dst, port) = *key;
    let mut v = Verdict::for_window(Detector::BruteForce, "host", src.to_string(), &s);
    let paths: Vec<String> = st.paths.0.iter().cloned().collect();
    v.title = format!(
        "Brute force on web login at {dst}:{port} from {src}: {} attempts",
        st.posts
    );
    v.desc = format!(
        "{src} sent {} login POSTs ({}) to {dst}:{port} in {} s; threshold: at least {} in {} s",
        st.posts,
        paths.join(", "),
        secs(s.last - s.first),
        cfg.min_http_attempts,
        cfg.window_secs
    );
    v.src = Some(host(src));
    let mut dst_ep = service(dst, port);
    dst_ep.hostname = st.host.clone();
    v.dst = Some(dst_ep);
    v.connection_info = st.first_flow.clone();
    let statuses: serde_json::Map<String, serde_json::Value> = st
        .statuses
        .iter()
        .map(|(k, n)| (k.to_string(), (*n).into()))
        .collect();
    v.ev("service", "http-login")
        .ev("attempts", st.posts)
        .ev("statuses", serde_json::Value::Object(statuses))
        .ev("paths", paths)
        .ev(
            "user_agents",
            st.user_agents.0.iter().cloned().collect::<Vec<String>>(),
        )
        .ev("min_attempts", cfg.min_http_attempts)
        .ev("window_secs", cfg.window_secs);
    v.window_evidence(&s, close);
    v.severity = if st.posts >= cfg.min_http_attempts.saturating_mul(5) {
        Severity::High
    } else {
        Severity::Medium
    };
    *findings += 1;
    out.push(v.into_event());
    Some(st.posts)
}
