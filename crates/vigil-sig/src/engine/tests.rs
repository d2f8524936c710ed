//! Engine tests: rules as text through the parser, inspected at hand-made
//! inspection points.

use std::net::IpAddr;

use vigil_event::{Body, ConnectionInfo, Endpoint, Event, Severity, Timestamp};
use vigil_net::app::{AppProto, Direction, FlowMeta};
use vigil_net::inspect::{Buffer, InspectCtx, PayloadInspector};

use super::SignatureEngine;
use crate::parse::parse_rule;
use crate::vars::Vars;

fn engine(rules: &[&str]) -> SignatureEngine {
    let vars = Vars::default();
    let parsed = rules
        .iter()
        .map(|r| parse_rule(r, &vars).expect("rule parses"))
        .collect();
    let (e, summary) = SignatureEngine::compile(parsed);
    assert!(summary.rejected.is_empty(), "{summary}");
    e
}

fn flow(proto: u8) -> FlowMeta {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    FlowMeta {
        originator: Endpoint::new(ip("10.0.0.1"), 40000),
        responder: Endpoint::new(ip("192.0.2.80"), 80),
        connection_info: ConnectionInfo {
            uid: "CflowA".to_owned(),
            community_uid: "1:abc".to_owned(),
            protocol_num: proto,
            protocol_name: if proto == 6 { "tcp" } else { "udp" }.to_owned(),
        },
    }
}

/// A point: to_server from the originator (client) unless `to_client`.
fn ctx<'a>(f: &'a FlowMeta, to_client: bool, app: Option<AppProto>, secs: i64) -> InspectCtx<'a> {
    InspectCtx {
        flow: f,
        dir: if to_client {
            Direction::ToOriginator
        } else {
            Direction::ToResponder
        },
        to_server: !to_client,
        established: true,
        app,
        ip_protocol: f.connection_info.protocol_num,
        ts: Timestamp::from_nanos(secs * 1_000_000_000),
        packet: 7,
        stream_offset: 0,
        payload_encrypted: false,
    }
}

fn sids(events: &[Event]) -> Vec<u32> {
    let mut v: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Finding(f) => f.rule.as_ref().map(|r| r.sid),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v
}

fn run(e: &mut SignatureEngine, c: &InspectCtx<'_>, bufs: &[(Buffer, &[u8])]) -> Vec<u32> {
    let mut out = Vec::new();
    e.inspect(c, bufs, &mut out);
    sids(&out)
}

#[test]
fn http_uri_rule_matches_and_finding_is_complete() {
    let mut e = engine(&[
        r#"alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"SQLi union"; flow:established,to_server; http.uri; content:"union"; nocase; content:"select"; nocase; distance:0; classtype:web-application-attack; reference:url,example.com; sid:100; rev:2;)"#,
    ]);
    let f = flow(6);
    let c = ctx(&f, false, Some(AppProto::Http), 1);
    let mut out = Vec::new();
    e.inspect(
        &c,
        &[
            (Buffer::HttpUri, b"/x?id=1 UNION SELECT pw"),
            (Buffer::HttpMethod, b"GET"),
        ],
        &mut out,
    );
    assert_eq!(sids(&out), [100]);
    let ev = &out[0];
    assert_eq!(ev.severity_level(), Severity::High);
    let Body::Finding(fi) = &ev.body else {
        panic!("not a finding")
    };
    assert_eq!(fi.finding_info.analytic.uid, "sig:1:100");
    assert_eq!(fi.finding_info.title, "SQLi union");
    assert_eq!(
        fi.finding_info.analytic.category.as_deref(),
        Some("web-application-attack")
    );
    assert_eq!(fi.subject.value, "CflowA");
    assert_eq!(
        fi.src_endpoint.as_ref().map(|e| e.port),
        Some(Some(40000)),
        "attacker is the client"
    );
    assert_eq!(fi.dst_endpoint.as_ref().map(|e| e.port), Some(Some(80)));
    let rule = fi.rule.as_ref().expect("rule ref");
    assert_eq!((rule.rev, rule.action.as_str()), (2, "alert"));
    assert_eq!(rule.references, ["url,example.com"]);
    assert_eq!(fi.evidence["buffer"], "http.uri");
    assert_eq!(fi.evidence["match"], "UNION");
    assert_eq!(fi.evidence["match_offset"], 8);
    assert_eq!(fi.evidence["fast_pattern"], "select");
    // Same input again: the uid is deterministic.
    let mut out2 = Vec::new();
    e.inspect(
        &c,
        &[(Buffer::HttpUri, b"/x?id=1 UNION SELECT pw")],
        &mut out2,
    );
    let Body::Finding(f2) = &out2[0].body else {
        panic!()
    };
    assert_eq!(f2.finding_info.uid, fi.finding_info.uid);
    // Wrong order, wrong direction, missing buffer: no match.
    assert!(run(&mut e, &c, &[(Buffer::HttpUri, b"/select union")]).is_empty());
    let back = ctx(&f, true, Some(AppProto::Http), 1);
    assert!(run(&mut e, &back, &[(Buffer::HttpUri, b"/union select")]).is_empty());
    assert!(run(&mut e, &c, &[(Buffer::HttpHeader, b"X: union select\r\n")]).is_empty());
    // Not yet identified as HTTP: the app-protocol rule does not apply.
    let c2 = ctx(&f, false, None, 1);
    assert!(run(&mut e, &c2, &[(Buffer::HttpUri, b"/union select")]).is_empty());
}

#[test]
fn rule_needs_all_its_buffers_at_one_point() {
    let mut e = engine(&[
        r#"alert http any any -> any any (msg:"two buffers"; http.method; content:"POST"; http.uri; content:"/login"; sid:1;)"#,
    ]);
    let f = flow(6);
    let c = ctx(&f, false, Some(AppProto::Http), 1);
    assert!(run(&mut e, &c, &[(Buffer::HttpUri, b"/login")]).is_empty());
    assert_eq!(
        run(
            &mut e,
            &c,
            &[(Buffer::HttpMethod, b"POST"), (Buffer::HttpUri, b"/login")]
        ),
        [1]
    );
    assert!(run(
        &mut e,
        &c,
        &[(Buffer::HttpMethod, b"GET"), (Buffer::HttpUri, b"/login")]
    )
    .is_empty());
}

#[test]
fn case_sensitive_and_nocase_share_a_prefilter_pattern() {
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"exact"; content:"EvIl"; sid:1;)"#,
        r#"alert tcp any any -> any any (msg:"nocase"; content:"evil"; nocase; sid:2;)"#,
    ]);
    let f = flow(6);
    let mut c = ctx(&f, false, None, 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::Stream, b"xx EVIL xx")]), [2]);
    // The first occurrence has the wrong case; the second is exact.
    c.stream_offset = 10;
    assert_eq!(
        run(&mut e, &c, &[(Buffer::Stream, b"evil ... EvIl")]),
        [1, 2]
    );
}

#[test]
fn tcp_payload_rules_use_the_stream_and_packet_rules_the_packet() {
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"stream"; content:"hello"; sid:1;)"#,
        r#"alert tcp any any -> any any (msg:"packet"; content:"hello"; dsize:<100; sid:2;)"#,
        r#"alert udp any any -> any any (msg:"udp"; content:"hello"; sid:3;)"#,
    ]);
    let f = flow(6);
    let c = ctx(&f, false, None, 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::Packet, b"hello")]), [2]);
    assert_eq!(run(&mut e, &c, &[(Buffer::Stream, b"hello")]), [1]);
    let u = flow(17);
    let mut cu = ctx(&u, false, None, 1);
    cu.flow = &u;
    assert_eq!(run(&mut e, &cu, &[(Buffer::Packet, b"hello")]), [3]);
}

#[test]
fn encrypted_payload_skips_content_rules_but_not_header_rules() {
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"packet"; content:"hello"; dsize:<100; sid:2;)"#,
        r#"alert tcp any any -> any any (msg:"no content"; isdataat:1; dsize:<100; sid:4;)"#,
        r#"alert tcp any any -> any 80 (msg:"header"; flow:established; dsize:5; sid:5;)"#,
    ]);
    let f = flow(6);
    let mut c = ctx(&f, false, None, 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::Packet, b"hello")]), [2, 4, 5]);
    c.payload_encrypted = true;
    assert_eq!(run(&mut e, &c, &[(Buffer::Packet, b"hello")]), [5]);
}

#[test]
fn stream_tail_matches_are_not_reported_twice() {
    let mut e = engine(&[r#"alert tcp any any -> any any (msg:"s"; content:"abc"; sid:1;)"#]);
    let f = flow(6);
    let mut c = ctx(&f, false, None, 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::Stream, b"..abc..")]), [1]);
    // Next chunk repeats the 7 earlier bytes as its tail: "abc" is old.
    c.stream_offset = 0;
    assert!(run(&mut e, &c, &[(Buffer::Stream, b"..abc....")]).is_empty());
    // A new occurrence in the new bytes alerts, found past the old one by
    // the match position (the old one ends within what was seen).
    c.stream_offset = 5;
    assert!(run(&mut e, &c, &[(Buffer::Stream, b"..xyabc")]).len() == 1);
    // Straddling the boundary counts as new.
    let mut e = engine(&[r#"alert tcp any any -> any any (msg:"s"; content:"abc"; sid:1;)"#]);
    c.stream_offset = 0;
    assert!(run(&mut e, &c, &[(Buffer::Stream, b"....ab")]).is_empty());
    c.stream_offset = 2;
    assert_eq!(run(&mut e, &c, &[(Buffer::Stream, b"..abc")]), [1]);
    e.flow_end("CflowA");
    assert_eq!(e.flows.len(), 0);
}

#[test]
fn a_fast_pattern_in_the_repeated_tail_still_makes_its_rule_a_candidate() {
    // The fast pattern ("longer-pattern") comes in the first chunk; the
    // rule completes only with the second chunk's "end". The second point
    // scans only its new bytes, so the rule must come from the carried hit.
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"s"; content:"longer-pattern"; content:"end"; distance:0; sid:1;)"#,
    ]);
    let f = flow(6);
    let mut c = ctx(&f, false, None, 1);
    let mut first = vec![b'.'; 100];
    first.extend_from_slice(b"longer-pattern");
    first.extend_from_slice(&[b'.'; 100]);
    assert!(run(&mut e, &c, &[(Buffer::Stream, &first)]).is_empty());
    // Second point: the last 150 bytes as tail, then new bytes; twice
    // without "end" (the hit is carried on), then with it.
    let mut offset = 0u64;
    let mut buf = first.clone();
    for (new, alerts) in [(&b"......"[..], false), (b"..", false), (b"..end", true)] {
        let tail = buf.get(buf.len() - 150..).unwrap_or_default().to_vec();
        offset += (buf.len() - 150) as u64;
        buf = [tail, new.to_vec()].concat();
        c.stream_offset = offset;
        assert_eq!(
            run(&mut e, &c, &[(Buffer::Stream, &buf)]).len() == 1,
            alerts,
            "{new:?}"
        );
    }
    // Once the hit left the tail, the rule is no candidate any more.
    c.stream_offset = offset + 200;
    assert!(run(&mut e, &c, &[(Buffer::Stream, b"....end")]).is_empty());
}

#[test]
fn header_addresses_ports_and_bidirectional() {
    let mut e = engine(&[
        r#"alert tcp 10.0.0.0/8 any -> 192.0.2.0/24 80 (msg:"fwd"; content:"x"; sid:1;)"#,
        r#"alert tcp 192.0.2.80 80 <> 10.0.0.1 any (msg:"both"; content:"x"; sid:2;)"#,
        r#"alert tcp !10.0.0.0/8 any -> any any (msg:"not"; content:"x"; sid:3;)"#,
        r#"alert tcp any any -> any [443,8443] (msg:"ports"; content:"x"; sid:4;)"#,
    ]);
    let f = flow(6);
    assert_eq!(
        run(&mut e, &ctx(&f, false, None, 1), &[(Buffer::Stream, b"x")]),
        [1, 2]
    );
    // Server → client: only the bidirectional rule (and "not", the sender is outside 10/8).
    assert_eq!(
        run(&mut e, &ctx(&f, true, None, 1), &[(Buffer::Stream, b"x")]),
        [2, 3]
    );
}

#[test]
fn flow_options_established_and_direction() {
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"est"; flow:established,to_client; content:"x"; sid:1;)"#,
        r#"alert tcp any any -> any any (msg:"not est"; flow:not_established; content:"x"; sid:2;)"#,
    ]);
    let f = flow(6);
    let mut c = ctx(&f, true, None, 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::Stream, b"x")]), [1]);
    c.established = false;
    c.stream_offset = 10;
    assert_eq!(run(&mut e, &c, &[(Buffer::Stream, b"x")]), [2]);
}

#[test]
fn flowbits_across_two_inspections() {
    let mut e = engine(&[
        r#"alert http any any -> any any (msg:"login page"; flow:to_server; http.uri; content:"/login"; flowbits:set,login; flowbits:noalert; sid:1;)"#,
        r#"alert http any any -> any any (msg:"login failed"; flow:to_client; flowbits:isset,login; http.stat_code; content:"401"; sid:2;)"#,
        r#"alert http any any -> any any (msg:"no login"; flow:to_client; flowbits:isnotset,login; http.stat_code; content:"401"; sid:3;)"#,
        r#"alert http any any -> any any (msg:"logout"; flow:to_server; http.uri; content:"/logout"; flowbits:unset,login; flowbits:noalert; sid:4;)"#,
    ]);
    let f = flow(6);
    let req = ctx(&f, false, Some(AppProto::Http), 1);
    let resp = ctx(&f, true, Some(AppProto::Http), 2);
    assert_eq!(run(&mut e, &resp, &[(Buffer::HttpStatCode, b"401")]), [3]);
    assert!(
        run(&mut e, &req, &[(Buffer::HttpUri, b"/login")]).is_empty(),
        "noalert"
    );
    assert_eq!(run(&mut e, &resp, &[(Buffer::HttpStatCode, b"401")]), [2]);
    assert!(run(&mut e, &req, &[(Buffer::HttpUri, b"/logout")]).is_empty());
    assert_eq!(run(&mut e, &resp, &[(Buffer::HttpStatCode, b"401")]), [3]);
    // Bits are per flow and dropped at flow end.
    assert!(run(&mut e, &req, &[(Buffer::HttpUri, b"/login")]).is_empty());
    e.flow_end("CflowA");
    assert_eq!(run(&mut e, &resp, &[(Buffer::HttpStatCode, b"401")]), [3]);
}

#[test]
fn flowbit_setter_runs_before_checker_at_the_same_point() {
    // The checker comes first in the file; the engine orders setters first.
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"check"; flowbits:isset,b; content:"two"; sid:2;)"#,
        r#"alert tcp any any -> any any (msg:"set"; content:"one"; flowbits:set,b; sid:1;)"#,
    ]);
    let f = flow(6);
    assert_eq!(
        run(
            &mut e,
            &ctx(&f, false, None, 1),
            &[(Buffer::Stream, b"one two")]
        ),
        [1, 2]
    );
}

#[test]
fn thresholds_count_in_event_time() {
    let mut e = engine(&[
        r#"alert tcp any any -> any any (msg:"limit"; content:"a"; threshold:type limit, track by_src, count 2, seconds 60; sid:1;)"#,
        r#"alert tcp any any -> any any (msg:"thr"; content:"b"; threshold:type threshold, track by_dst, count 3, seconds 60; sid:2;)"#,
        r#"alert tcp any any -> any any (msg:"both"; content:"c"; threshold:type both, track by_src, count 2, seconds 60; sid:3;)"#,
        r#"alert tcp any any -> any any (msg:"df"; content:"d"; detection_filter:track by_src, count 2, seconds 60; sid:4;)"#,
    ]);
    let f = flow(6);
    let mut alerts = [0u32; 5];
    // Five matches of each within a minute, each at its own stream position.
    for i in 0..5u64 {
        let mut c = ctx(&f, false, None, 10 + i as i64);
        c.stream_offset = i * 4;
        for sid in run(&mut e, &c, &[(Buffer::Stream, b"abcd")]) {
            alerts[sid as usize] += 1;
        }
    }
    assert_eq!(alerts[1], 2, "limit: first 2");
    assert_eq!(alerts[2], 1, "threshold: every 3rd");
    assert_eq!(alerts[3], 1, "both: once at the 2nd");
    assert_eq!(alerts[4], 3, "detection_filter: after the first 2");
    // A new window an hour later (event time) alerts again.
    let mut c = ctx(&f, false, None, 4000);
    c.stream_offset = 100;
    let later = run(&mut e, &c, &[(Buffer::Stream, b"abcd")]);
    assert!(later.contains(&1) && !later.contains(&4));
    let counters: std::collections::HashMap<_, _> = e.counters().into_iter().collect();
    assert!(counters["sig.threshold_suppressed"] > 0);
}

#[test]
fn pcre_rules_with_buffer_flags_and_relative() {
    let mut e = engine(&[
        r#"alert http any any -> any any (msg:"pcre U"; content:"cmd="; http_uri; pcre:"/cmd=[^&]*(?:\x3b|\x7c)\s*(?:cat|id)\b/Ui"; sid:1;)"#,
        r#"alert tcp any any -> any any (msg:"pcre R"; content:"len:"; pcre:"/^\s*\d{4,}/R"; sid:2;)"#,
        r#"alert tcp any any -> any any (msg:"lookahead"; content:"user="; pcre:"/user=(?!admin)\w+/"; sid:3;)"#,
    ]);
    let f = flow(6);
    let c = ctx(&f, false, Some(AppProto::Http), 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::HttpUri, b"/a?cmd=x;ID")]), [1]);
    assert!(run(&mut e, &c, &[(Buffer::HttpUri, b"/a?cmd=x&id")]).is_empty());
    let c = ctx(&f, false, None, 1);
    assert_eq!(
        run(&mut e, &c, &[(Buffer::Stream, b"len:x len: 12345")]),
        [2]
    );
    let mut c2 = c;
    c2.stream_offset = 100;
    assert!(run(&mut e, &c2, &[(Buffer::Stream, b"len: 12 user=admin")]).is_empty());
    c2.stream_offset = 200;
    assert_eq!(
        run(&mut e, &c2, &[(Buffer::Stream, b"user=admin user=bob")]),
        [3]
    );
}

#[test]
fn byte_test_and_isdataat_rules() {
    let mut e = engine(&[
        r#"alert udp any any -> any any (msg:"bt"; content:"|00 01|"; depth:2; byte_test:2,>,1000,0,relative; sid:1;)"#,
        r#"alert udp any any -> any any (msg:"isd"; content:"HDR"; isdataat:10,relative; sid:2;)"#,
    ]);
    let f = flow(17);
    let c = ctx(&f, false, None, 1);
    assert_eq!(
        run(&mut e, &c, &[(Buffer::Packet, b"\x00\x01\x04\x00")]),
        [1]
    );
    assert!(run(&mut e, &c, &[(Buffer::Packet, b"\x00\x01\x00\x10")]).is_empty());
    assert_eq!(run(&mut e, &c, &[(Buffer::Packet, b"HDR0123456789")]), [2]);
    assert!(run(&mut e, &c, &[(Buffer::Packet, b"HDR012345678")]).is_empty());
}

#[test]
fn no_content_rules_ip_only_once_per_direction() {
    let mut e = engine(&[
        r#"alert ip 10.0.0.1 any -> any any (msg:"bad host"; sid:1;)"#,
        r#"alert http any any -> any any (msg:"pcre only"; http.uri; pcre:"/\.php$/"; sid:2;)"#,
    ]);
    let f = flow(6);
    let c = ctx(&f, false, Some(AppProto::Http), 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::Packet, b"x")]), [1]);
    assert!(run(&mut e, &c, &[(Buffer::Packet, b"x")]).is_empty());
    assert_eq!(run(&mut e, &c, &[(Buffer::HttpUri, b"/a.php")]), [2]);
    let counters: std::collections::HashMap<_, _> = e.counters().into_iter().collect();
    assert_eq!(counters["sig.rules"], 2);
}

#[test]
fn dotprefix_transform_and_dns_query() {
    let mut e = engine(&[
        r#"alert dns any any -> any any (msg:"domain"; dns.query; dotprefix; content:".evil.example"; endswith; nocase; sid:1;)"#,
    ]);
    let f = flow(17);
    let c = ctx(&f, false, Some(AppProto::Dns), 1);
    assert_eq!(
        run(&mut e, &c, &[(Buffer::DnsQuery, b"a.EVIL.example")]),
        [1]
    );
    assert_eq!(run(&mut e, &c, &[(Buffer::DnsQuery, b"evil.example")]), [1]);
    assert!(run(&mut e, &c, &[(Buffer::DnsQuery, b"notevil.example")]).is_empty());
}

#[test]
fn unsupported_pcre_is_rejected_with_a_reason() {
    let vars = Vars::default();
    let rule = parse_rule(
        r#"alert tcp any any -> any any (msg:"bad"; content:"a"; pcre:"/a(?<!b+)\K/"; sid:9;)"#,
        &vars,
    )
    .expect("parses");
    let ok = parse_rule(
        r#"alert tcp any any -> any any (msg:"ok"; content:"a"; sid:10;)"#,
        &vars,
    )
    .expect("parses");
    let (e, summary) = SignatureEngine::compile(vec![rule, ok]);
    assert_eq!(summary.compiled, 1);
    assert_eq!(e.rule_count(), 1);
    assert_eq!(summary.rejected.values().sum::<usize>(), 1);
    assert_eq!(summary.rejected_rules[0].1, 9);
}

#[test]
fn pass_rule_silences_the_point() {
    let mut e = engine(&[
        r#"alert http any any -> any any (msg:"admin"; http.uri; content:"/admin"; sid:1;)"#,
        r#"pass http 10.0.0.1 any -> any any (msg:"trusted scanner"; http.uri; content:"/admin"; sid:2;)"#,
    ]);
    let f = flow(6);
    let c = ctx(&f, false, Some(AppProto::Http), 1);
    assert!(run(&mut e, &c, &[(Buffer::HttpUri, b"/admin")]).is_empty());
    let counters: std::collections::HashMap<_, _> = e.counters().into_iter().collect();
    assert_eq!(counters["sig.passed"], 1);
    // Another client is not passed.
    let mut g = flow(6);
    g.originator = Endpoint::new("10.9.9.9".parse().expect("ip"), 1234);
    let c = ctx(&g, false, Some(AppProto::Http), 1);
    assert_eq!(run(&mut e, &c, &[(Buffer::HttpUri, b"/admin")]), [1]);
}
