//! Each detector over synthetic event sequences built from vigil_event
//! types: it fires exactly at its threshold and not one below it; the
//! engine is deterministic; its state stays bounded under a flood.

use std::net::IpAddr;

use vigil_anomaly::{AnomalyConfig, AnomalyEngine, Detector};
use vigil_event::{
    Body, ConnectionInfo, DnsActivity, DnsAnswer, DnsQuery, Endpoint, Event, Finding, FlowRecord,
    HttpActivity, HttpRequest, HttpResponse, Severity, Timestamp, Traffic, Url,
};

const T0: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A flow record, built field by field.
#[derive(Clone)]
struct F {
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: u8,
    start: i64,
    dur_us: i64,
    state: Option<&'static str>,
    history: Option<&'static str>,
    packets_out: u64,
    packets_in: u64,
    bytes_out: u64,
    payload_out: u64,
    payload_in: u64,
    app: Option<&'static str>,
}

impl F {
    fn tcp(src: &str, dst: &str, dport: u16, start: i64) -> Self {
        Self {
            src: ip(src),
            sport: 40000,
            dst: ip(dst),
            dport,
            proto: 6,
            start,
            dur_us: 1000,
            state: Some("SF"),
            history: Some("ShADadFf"),
            packets_out: 6,
            packets_in: 5,
            bytes_out: 600,
            payload_out: 100,
            payload_in: 1000,
            app: None,
        }
    }
    fn rej(mut self) -> Self {
        self.state = Some("REJ");
        self.history = Some("Sr");
        self.packets_out = 1;
        self.packets_in = 1;
        self.bytes_out = 60;
        self.payload_out = 0;
        self.payload_in = 0;
        self
    }
    fn s0(mut self) -> Self {
        self.state = Some("S0");
        self.history = Some("S");
        self.packets_out = 1;
        self.packets_in = 0;
        self.bytes_out = 60;
        self.payload_out = 0;
        self.payload_in = 0;
        self
    }
    fn event(&self) -> Event {
        let uid = format!("F{}-{}-{}", self.start, self.sport, self.dport);
        let mut ci = ConnectionInfo::tcp(uid, "1:test=");
        if self.proto == 17 {
            ci.protocol_num = 17;
            ci.protocol_name = "udp".into();
        }
        let t = Traffic {
            packets_out: self.packets_out,
            packets_in: self.packets_in,
            bytes_out: self.bytes_out,
            bytes_in: self.payload_in + 60 * self.packets_in,
            packets: self.packets_out + self.packets_in,
            bytes: 0,
            payload_bytes_out: self.payload_out,
            payload_bytes_in: self.payload_in,
        };
        let ms = self.start / 1_000_000;
        let flow = FlowRecord {
            src_endpoint: Endpoint::new(self.src, self.sport),
            dst_endpoint: Endpoint::new(self.dst, self.dport),
            connection_info: ci,
            traffic: t,
            start_time: ms,
            end_time: ms + self.dur_us / 1000,
            duration: self.dur_us / 1000,
            duration_us: self.dur_us,
            app_name: self.app.map(str::to_owned),
            conn_state: self.state.map(str::to_owned),
            history: self.history.map(str::to_owned),
            end_reason: "closed".into(),
            reassembly: None,
            icmp: None,
        };
        Event::new(Timestamp::from_nanos(self.start), Body::Flow(flow))
    }
}

fn dns(src: &str, name: &str, qtype: (&str, u16), rcode: u16, t: i64) -> Event {
    let record = DnsActivity {
        src_endpoint: Endpoint::new(ip(src), 50000),
        dst_endpoint: Endpoint::new(ip("10.0.0.53"), 53),
        connection_info: ConnectionInfo::tcp(format!("D{t}"), "1:dns="),
        query: DnsQuery {
            hostname: name.to_owned(),
            qtype: qtype.0.to_owned(),
            type_id: qtype.1,
            class: "IN".into(),
            packet_uid: 1,
            opcode: "Query".into(),
            opcode_id: 0,
        },
        answers: if rcode == 0 {
            vec![DnsAnswer {
                name: name.to_owned(),
                rtype: "A".into(),
                class: "IN".into(),
                ttl: 60,
                rdata: "192.0.2.1".into(),
                section: "answer".into(),
            }]
        } else {
            Vec::new()
        },
        rcode: Some(if rcode == 3 { "NXDomain" } else { "NoError" }.into()),
        rcode_id: Some(rcode),
        flags: Vec::new(),
        response_time: None,
        rtt_us: None,
        pairing: "answered".into(),
    };
    Event::new(Timestamp::from_nanos(t), Body::Dns(record))
}

fn http_post(src: &str, path: &str, status: u16, t: i64) -> Event {
    let record = HttpActivity {
        src_endpoint: Endpoint::new(ip(src), 41000),
        dst_endpoint: Endpoint::new(ip("10.0.0.80"), 80),
        connection_info: ConnectionInfo::tcp(format!("H{t}"), "1:http="),
        http_request: HttpRequest {
            http_method: "POST".into(),
            url: Url {
                hostname: Some("shop.example".into()),
                port: None,
                path: path.to_owned(),
                query_string: None,
                url_string: path.to_owned(),
            },
            version: "HTTP/1.1".into(),
            user_agent: Some("hydra".into()),
            referrer: None,
            body_length: 30,
        },
        http_response: Some(HttpResponse {
            code: status,
            message: None,
            content_type: None,
            length: 100,
        }),
        transaction: 0,
    };
    Event::new(Timestamp::from_nanos(t), Body::Http(record))
}

/// A deterministic pseudo-random string of `len` lower-case base32 letters.
fn random_label(seed: u64, len: usize) -> String {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHA[(x % 32) as usize])
        })
        .collect()
}

fn run(config: AnomalyConfig, events: &[Event]) -> (Vec<Event>, AnomalyEngine) {
    let mut engine = AnomalyEngine::new(config);
    let mut out = Vec::new();
    for e in events {
        engine.observe(e, &mut out);
    }
    engine.finish(&mut out);
    (out, engine)
}

fn findings(out: &[Event], d: Detector) -> Vec<&Finding> {
    out.iter()
        .filter_map(|e| match &e.body {
            Body::Finding(f) if f.finding_info.analytic.uid == format!("anomaly:{}", d.name()) => {
                Some(f)
            }
            _ => None,
        })
        .collect()
}

fn counter(engine: &AnomalyEngine, name: &str) -> u64 {
    engine
        .counters()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no counter {name}"))
}

// ── port scans ──────────────────────────────────────────────────────────

fn vertical(ports: u16) -> Vec<Event> {
    (1..=ports)
        .map(|p| {
            let mut f = F::tcp("10.0.0.1", "10.0.0.2", p, T0 + i64::from(p) * 1_000_000).rej();
            f.sport = 50000 + p;
            f.event()
        })
        .collect()
}

#[test]
fn vertical_scan_fires_at_the_port_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.scan.vertical_min_ports as u16;
    let (out, _) = run(cfg.clone(), &vertical(min));
    let f = findings(&out, Detector::PortScanVertical);
    assert_eq!(f.len(), 1, "{out:#?}");
    let f = f[0];
    assert_eq!(f.subject.kind, "host");
    assert_eq!(f.subject.value, "10.0.0.1");
    assert_eq!(f.dst_endpoint.as_ref().map(|e| e.ip), Some(ip("10.0.0.2")));
    assert_eq!(f.evidence["distinct_ports"], u64::from(min));
    assert_eq!(f.evidence["min_ports"], u64::from(min));
    assert_eq!(f.evidence["refused"], u64::from(min));
    assert_eq!(f.finding_info.types, vec!["anomaly", "port_scan_vertical"]);
    assert!(f.connection_info.is_some());
    // Nothing else fires on a scan.
    assert_eq!(out.len(), 1);

    let (out, _) = run(cfg, &vertical(min - 1));
    assert!(findings(&out, Detector::PortScanVertical).is_empty());
}

#[test]
fn vertical_scan_needs_mostly_probes() {
    // 25 ports but 6 of them carried payload: 19/25 = 0.76 < 0.8.
    let mut events = vertical(19);
    for p in 100..106u16 {
        events.push(F::tcp("10.0.0.1", "10.0.0.2", p, T0 + i64::from(p) * 1_000_000).event());
    }
    let (out, _) = run(AnomalyConfig::default(), &events);
    assert!(findings(&out, Detector::PortScanVertical).is_empty());
}

fn horizontal(hosts: u8) -> Vec<Event> {
    (1..=hosts)
        .map(|h| {
            F::tcp(
                "10.0.0.1",
                &format!("10.0.1.{h}"),
                445,
                T0 + i64::from(h) * 1_000_000,
            )
            .s0()
            .event()
        })
        .collect()
}

#[test]
fn horizontal_scan_fires_at_the_host_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.scan.horizontal_min_hosts as u8;
    let (out, _) = run(cfg.clone(), &horizontal(min));
    let f = findings(&out, Detector::PortScanHorizontal);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["distinct_hosts"], u64::from(min));
    assert_eq!(f[0].evidence["port"], 445);
    assert_eq!(f[0].subject.value, "10.0.0.1");
    let (out, _) = run(cfg, &horizontal(min - 1));
    assert!(findings(&out, Detector::PortScanHorizontal).is_empty());
}

#[test]
fn a_scan_going_on_gives_one_finding_per_window_with_the_streak() {
    let mut events = vertical(30);
    // The same scan again 2 minutes later (a new window).
    for p in 1..=40u16 {
        let mut f = F::tcp("10.0.0.1", "10.0.0.2", p, T0 + 120 * SEC + i64::from(p)).rej();
        f.sport = 60000 + p;
        events.push(f.event());
    }
    let (out, engine) = run(AnomalyConfig::default(), &events);
    let f = findings(&out, Detector::PortScanVertical);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].evidence["windows_in_a_row"], 1);
    assert_eq!(f[1].evidence["windows_in_a_row"], 2);
    assert_eq!(f[1].evidence["earlier_windows_total"], 30);
    assert_eq!(f[1].evidence["distinct_ports"], 40);
    assert_ne!(f[0].finding_info.uid, f[1].finding_info.uid);
    assert_eq!(counter(&engine, "scan.vertical.findings"), 2);
}

#[test]
fn tick_closes_a_window_after_its_grace() {
    let cfg = AnomalyConfig::default();
    let grace = i64::from(cfg.grace_secs) * SEC;
    let window = i64::from(cfg.scan.window_secs) * SEC;
    let mut engine = AnomalyEngine::new(cfg);
    let mut out = Vec::new();
    let events = vertical(30);
    for e in &events {
        engine.observe(e, &mut out);
    }
    assert!(out.is_empty(), "the window is still open");
    let start = events[0].time_ns.nanos();
    engine.tick(Timestamp::from_nanos(start + window + grace - 1), &mut out);
    assert!(out.is_empty());
    engine.tick(Timestamp::from_nanos(start + window + grace), &mut out);
    assert_eq!(findings(&out, Detector::PortScanVertical).len(), 1);
    // The finding is stamped with the scan's last record time, not the tick.
    assert_eq!(out[0].time_ns, events[29].time_ns);
}

// ── SYN flood ───────────────────────────────────────────────────────────

fn flood(n: u32) -> Vec<Event> {
    (0..n)
        .map(|i| {
            // Spoofed sources, one SYN each.
            let src = format!("198.51.{}.{}", i / 250, i % 250 + 1);
            let mut f = F::tcp(&src, "10.0.0.80", 80, T0 + i64::from(i) * 1_000_000).s0();
            f.sport = 1024 + (i % 60000) as u16;
            f.event()
        })
        .collect()
}

#[test]
fn syn_flood_fires_at_the_half_open_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.syn_flood.min_half_open as u32;
    let (out, _) = run(cfg.clone(), &flood(min));
    let f = findings(&out, Detector::SynFlood);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].subject.kind, "service");
    assert_eq!(f[0].subject.value, "10.0.0.80:80");
    assert_eq!(f[0].evidence["half_open_packets"], u64::from(min));
    assert_eq!(f[0].evidence["distinct_sources"], u64::from(min));
    assert_eq!(out.len(), 1, "only the flood: {out:#?}");
    assert_eq!(
        out[0].severity_level(),
        Severity::High,
        "a flood is high severity"
    );
    let (out, _) = run(cfg, &flood(min - 1));
    assert!(findings(&out, Detector::SynFlood).is_empty());
}

#[test]
fn syn_flood_counts_syn_packets_of_one_fixed_port_flow() {
    // hping3 -k: one source port, so one flow with every SYN in it.
    let mut f = F::tcp("10.0.0.9", "10.0.0.80", 80, T0).s0();
    f.packets_out = 1000;
    let (out, _) = run(AnomalyConfig::default(), &[f.event()]);
    let f = findings(&out, Detector::SynFlood);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["top_source"], "10.0.0.9");
    assert_eq!(
        f[0].src_endpoint.as_ref().map(|e| e.ip),
        Some(ip("10.0.0.9"))
    );
}

// ── brute force ─────────────────────────────────────────────────────────

fn ssh_attempts(n: u32) -> Vec<Event> {
    // Irregular spacing so that this is not also a beacon.
    (0..n)
        .map(|i| {
            let mut f = F::tcp(
                "10.0.0.66",
                "10.0.0.22",
                22,
                T0 + i64::from(i * i) * 50_000_000 + i64::from(i) * SEC / 3,
            );
            f.sport = 45000 + i as u16;
            f.dur_us = 2_500_000;
            f.app = Some("ssh");
            f.event()
        })
        .collect()
}

#[test]
fn ssh_brute_force_fires_at_the_attempt_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.brute_force.min_attempts as u32;
    let (out, _) = run(cfg.clone(), &ssh_attempts(min));
    let f = findings(&out, Detector::BruteForce);
    assert_eq!(f.len(), 1, "{out:#?}");
    assert_eq!(f[0].subject.value, "10.0.0.66");
    assert_eq!(f[0].evidence["service"], "ssh");
    assert_eq!(f[0].evidence["attempts"], u64::from(min));
    assert_eq!(f[0].dst_endpoint.as_ref().and_then(|e| e.port), Some(22));
    let (out, _) = run(cfg, &ssh_attempts(min - 1));
    assert!(findings(&out, Detector::BruteForce).is_empty());
}

#[test]
fn long_sessions_are_not_attempts() {
    let events: Vec<Event> = ssh_attempts(20)
        .into_iter()
        .map(|mut e| {
            if let Body::Flow(f) = &mut e.body {
                f.duration_us = 600_000_000;
            }
            e
        })
        .collect();
    let (out, _) = run(AnomalyConfig::default(), &events);
    assert!(findings(&out, Detector::BruteForce).is_empty());
}

#[test]
fn web_login_brute_force_fires_at_the_post_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.brute_force.min_http_attempts as i64;
    let posts = |n: i64| -> Vec<Event> {
        (0..n)
            .map(|i| http_post("10.0.0.7", "/wp-login.php", 200, T0 + i * SEC))
            .collect()
    };
    let (out, _) = run(cfg.clone(), &posts(min));
    let f = findings(&out, Detector::BruteForce);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["service"], "http-login");
    assert_eq!(f[0].evidence["statuses"]["200"], min);
    let (out, _) = run(cfg.clone(), &posts(min - 1));
    assert!(findings(&out, Detector::BruteForce).is_empty());
    // Other paths do not count.
    let other: Vec<Event> = (0..20)
        .map(|i| http_post("10.0.0.7", "/api/cart", 200, T0 + i * SEC))
        .collect();
    let (out, _) = run(cfg, &other);
    assert!(out.is_empty());
}

// ── beaconing ───────────────────────────────────────────────────────────

fn beacon(n: i64, period: i64, jitter: impl Fn(i64) -> i64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut f = F::tcp("10.0.0.5", "203.0.113.9", 443, T0 + i * period + jitter(i));
            f.sport = 30000 + i as u16;
            f.event()
        })
        .collect()
}

#[test]
fn beaconing_fires_at_the_connection_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.beacon.min_connections as i64;
    let (out, _) = run(cfg.clone(), &beacon(min, 2 * SEC, |_| 0));
    let f = findings(&out, Detector::Beaconing);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["connections"], min);
    assert_eq!(f[0].evidence["mean_interval_secs"], 2.0);
    assert_eq!(f[0].evidence["interval_cv"], 0.0);
    assert_eq!(
        f[0].dst_endpoint,
        Some(Endpoint::new(ip("203.0.113.9"), 443))
    );
    let (out, _) = run(cfg.clone(), &beacon(min - 1, 2 * SEC, |_| 0));
    assert!(findings(&out, Detector::Beaconing).is_empty());
    // 30 beacons in a minute: one finding (re-alert only after realert_secs).
    let (out, engine) = run(cfg, &beacon(30, 2 * SEC, |i| (i % 3) * 50_000_000));
    assert_eq!(findings(&out, Detector::Beaconing).len(), 1);
    assert_eq!(counter(&engine, "beaconing.findings"), 1);
}

#[test]
fn irregular_or_fast_connections_are_not_beacons() {
    let cfg = AnomalyConfig::default();
    // Intervals alternate 0.5 s and 3.5 s: CV 0.75.
    let (out, _) = run(
        cfg.clone(),
        &beacon(30, 2 * SEC, |i| if i % 2 == 0 { 0 } else { -(3 * SEC) / 2 }),
    );
    assert!(findings(&out, Detector::Beaconing).is_empty());
    // Regular but every 100 ms: a loop, not a beacon.
    let (out, _) = run(cfg, &beacon(30, SEC / 10, |_| 0));
    assert!(findings(&out, Detector::Beaconing).is_empty());
}

// ── DNS ─────────────────────────────────────────────────────────────────

fn tunnel(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let name = format!("{}.t.badparent.example", random_label(i + 1, 40));
            dns("10.0.0.3", &name, ("A", 1), 3, T0 + i as i64 * SEC / 2)
        })
        .collect()
}

#[test]
fn dns_tunnel_fires_at_the_unique_subdomain_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.dns.tunnel_min_unique as u64;
    let (out, _) = run(cfg.clone(), &tunnel(min));
    let f = findings(&out, Detector::DnsTunnel);
    assert_eq!(f.len(), 1, "{out:#?}");
    assert_eq!(f[0].evidence["parent_domain"], "badparent.example");
    assert_eq!(f[0].evidence["unique_subdomains"], min);
    assert_eq!(f[0].evidence["longest_label"], 40);
    assert!(f[0].evidence["mean_entropy"].as_f64().unwrap_or(0.0) >= 3.5);
    // One parent only: not a DGA burst.
    assert!(findings(&out, Detector::DnsDga).is_empty());
    let (out, _) = run(cfg, &tunnel(min - 1));
    assert!(findings(&out, Detector::DnsTunnel).is_empty());
}

#[test]
fn many_short_ordinary_subdomains_are_not_a_tunnel() {
    let words = [
        "www", "api", "cdn", "img", "static", "mail", "login", "docs",
    ];
    let events: Vec<Event> = (0..60)
        .map(|i| {
            let name = format!("{}{}.example.com", words[i % words.len()], i);
            dns("10.0.0.3", &name, ("A", 1), 0, T0 + i as i64 * SEC / 2)
        })
        .collect();
    let (out, _) = run(AnomalyConfig::default(), &events);
    assert!(findings(&out, Detector::DnsTunnel).is_empty());
}

#[test]
fn txt_heavy_queries_make_a_tunnel() {
    let events: Vec<Event> = (0..30)
        .map(|i| {
            dns(
                "10.0.0.3",
                &format!("c{i}.x.example"),
                ("TXT", 16),
                0,
                T0 + i * SEC,
            )
        })
        .collect();
    let (out, _) = run(AnomalyConfig::default(), &events);
    let f = findings(&out, Detector::DnsTunnel);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence["txt_null_queries"], 30);
}

fn dga(n: u64) -> Vec<Event> {
    let tlds = ["com", "net", "org", "info", "biz"];
    (0..n)
        .map(|i| {
            let name = format!("{}.{}", random_label(i + 100, 14), tlds[i as usize % 5]);
            dns("10.0.0.4", &name, ("A", 1), 3, T0 + i as i64 * SEC)
        })
        .collect()
}

#[test]
fn dga_fires_at_the_nxdomain_threshold() {
    let cfg = AnomalyConfig::default();
    let min = cfg.dns.dga_min_nxdomain as u64;
    let (out, _) = run(cfg.clone(), &dga(min));
    let f = findings(&out, Detector::DnsDga);
    assert_eq!(f.len(), 1, "{out:#?}");
    assert_eq!(f[0].evidence["nxdomain_names"], min);
    assert_eq!(f[0].evidence["dga_like_names"], min);
    let (out, _) = run(cfg, &dga(min - 1));
    assert!(findings(&out, Detector::DnsDga).is_empty());
}

// ── large outbound ──────────────────────────────────────────────────────

fn uploads(warm: u64, last: u64) -> Vec<Event> {
    let mut events: Vec<Event> = (0..warm)
        .map(|i| {
            let mut f = F::tcp("10.0.0.8", "203.0.113.10", 443, T0 + i as i64 * SEC);
            f.bytes_out = 1000 + (i % 5) * 100;
            f.event()
        })
        .collect();
    let mut f = F::tcp("10.0.0.8", "203.0.113.66", 443, T0 + warm as i64 * SEC);
    f.bytes_out = last;
    events.push(f.event());
    events
}

#[test]
fn large_outbound_fires_after_the_warmup_and_above_the_floor() {
    let cfg = AnomalyConfig::default();
    let warm = cfg.volume.warmup;
    let floor = cfg.volume.min_bytes;
    let (out, _) = run(cfg.clone(), &uploads(warm, floor));
    let f = findings(&out, Detector::LargeOutbound);
    assert_eq!(f.len(), 1, "{out:#?}");
    assert_eq!(f[0].evidence["bytes_out"], floor);
    assert_eq!(f[0].evidence["baseline_flows"], warm);
    assert!(
        f[0].evidence["threshold_bytes"]
            .as_f64()
            .unwrap_or(f64::MAX)
            < floor as f64
    );
    assert_eq!(
        f[0].dst_endpoint.as_ref().map(|e| e.ip),
        Some(ip("203.0.113.66"))
    );
    // One flow short of the warm-up: nothing.
    let (out, _) = run(cfg.clone(), &uploads(warm - 1, floor));
    assert!(findings(&out, Detector::LargeOutbound).is_empty());
    // One byte under the floor: nothing.
    let (out, _) = run(cfg, &uploads(warm, floor - 1));
    assert!(findings(&out, Detector::LargeOutbound).is_empty());
}

// ── rare destination ────────────────────────────────────────────────────

#[test]
fn rare_destination_fires_after_learning_only() {
    let mut cfg = AnomalyConfig::default();
    cfg.rare.learning_secs = 60;
    let mut events = Vec::new();
    // Learning: two hosts use the same sites.
    for (i, host) in ["10.0.0.10", "10.0.0.11", "10.0.0.12"].iter().enumerate() {
        events.push(dns(
            host,
            "www.common.example",
            ("A", 1),
            0,
            T0 + i as i64 * SEC,
        ));
    }
    // After learning: a host asks for a known site and a new one.
    events.push(dns(
        "10.0.0.10",
        "www.common.example",
        ("A", 1),
        0,
        T0 + 120 * SEC,
    ));
    events.push(dns(
        "10.0.0.10",
        "cdn.common.example",
        ("A", 1),
        0,
        T0 + 121 * SEC,
    ));
    events.push(dns(
        "10.0.0.10",
        "x.never-seen.example",
        ("A", 1),
        0,
        T0 + 122 * SEC,
    ));
    // A new site during learning is never reported.
    events.insert(0, dns("10.0.0.12", "early.example", ("A", 1), 0, T0));
    let (out, _) = run(cfg, &events);
    let f = findings(&out, Detector::RareDestination);
    assert_eq!(f.len(), 1, "{out:#?}");
    assert_eq!(f[0].subject.value, "10.0.0.10");
    assert_eq!(f[0].evidence["rare_contacts"], 1);
    assert_eq!(
        f[0].evidence["destinations_sample"][0],
        "never-seen.example"
    );
}

#[test]
fn a_destination_many_hosts_use_is_not_rare() {
    let mut cfg = AnomalyConfig::default();
    cfg.rare.learning_secs = 0;
    let events: Vec<Event> = (0..5)
        .map(|i| {
            dns(
                &format!("10.0.0.{}", 20 + i),
                "popular.example",
                ("A", 1),
                0,
                T0 + i * SEC,
            )
        })
        .collect();
    let (out, _) = run(cfg, &events);
    // The first two hosts contact it while at most one other host does.
    let f = findings(&out, Detector::RareDestination);
    assert_eq!(f.len(), 2);
}

// ── engine-wide ─────────────────────────────────────────────────────────

fn mixed() -> Vec<Event> {
    let mut events = vertical(40);
    events.extend(flood(300));
    events.extend(ssh_attempts(15));
    events.extend(beacon(20, 2 * SEC, |_| 0));
    events.extend(tunnel(50));
    events.extend(dga(30));
    events.extend(uploads(30, 5_000_000));
    events
}

#[test]
fn same_input_same_findings() {
    let lines = |out: Vec<Event>| -> Vec<String> {
        out.iter()
            .map(|e| e.to_json_line().unwrap_or_default())
            .collect()
    };
    let (a, ea) = run(AnomalyConfig::default(), &mixed());
    let (b, eb) = run(AnomalyConfig::default(), &mixed());
    assert!(a.len() >= 7, "every detector fired: {}", a.len());
    for d in [
        Detector::PortScanVertical,
        Detector::SynFlood,
        Detector::BruteForce,
        Detector::Beaconing,
        Detector::DnsTunnel,
        Detector::DnsDga,
        Detector::LargeOutbound,
    ] {
        assert!(!findings(&a, d).is_empty(), "{} fired", d.name());
    }
    assert_eq!(lines(a), lines(b));
    assert_eq!(ea.counters(), eb.counters());
}

#[test]
fn findings_and_stats_are_not_read_back() {
    let (out, _) = run(AnomalyConfig::default(), &vertical(30));
    let (again, engine) = run(AnomalyConfig::default(), &out);
    assert!(again.is_empty());
    assert_eq!(counter(&engine, "events"), 0);
}

#[test]
fn state_stays_bounded_under_a_flood_of_sources() {
    let mut cfg = AnomalyConfig::default();
    let limit = 10_000;
    cfg.scan.max_keys = limit;
    cfg.syn_flood.max_keys = limit;
    cfg.beacon.max_channels = limit;
    cfg.volume.max_hosts = limit;
    cfg.rare.max_destinations = limit;
    cfg.rare.max_pairs = limit;
    let mut engine = AnomalyEngine::new(cfg);
    let mut out = Vec::new();
    let n: u32 = 1_000_000;
    let mut f = F::tcp("10.0.0.1", "10.9.9.9", 80, T0).rej();
    for i in 0..n {
        // One refused SYN from each of a million sources to its own
        // destination and port, all within one second.
        f.src = IpAddr::from((0x0A00_0000u32 + i).to_be_bytes());
        f.dst = IpAddr::from((0xC000_0000u32 + i).to_be_bytes());
        // Ports 6000..56000: none that beaconing ignores (53, 123, 5353).
        f.dport = (i % 50_000) as u16 + 6000;
        f.start = T0 + i64::from(i) * 1000;
        engine.observe(&f.event(), &mut out);
    }
    assert!(out.is_empty(), "single probes are not findings");
    let c = |name| counter(&engine, name);
    assert_eq!(c("scan.vertical.keys"), limit as u64);
    assert_eq!(c("scan.vertical.evicted"), u64::from(n) - limit as u64);
    assert_eq!(c("scan.horizontal.keys"), limit as u64);
    assert_eq!(c("syn_flood.keys"), limit as u64);
    assert_eq!(c("syn_flood.evicted"), u64::from(n) - limit as u64);
    assert_eq!(c("beaconing.channels"), limit as u64);
    assert_eq!(c("beaconing.evicted"), u64::from(n) - limit as u64);
    assert_eq!(c("large_outbound.hosts"), limit as u64);
    assert_eq!(c("large_outbound.evicted"), u64::from(n) - limit as u64);
    engine.finish(&mut out);
    assert!(out.is_empty());
    assert_eq!(counter(&engine, "scan.vertical.keys"), 0);
}
