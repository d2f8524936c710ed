//! Suricata-compatible EVE JSON: the same records in Suricata's field names
//! and nesting, so tools built for Suricata's `eve.json` read Vigil's output
//! unchanged.
//!
//! Mapping (Suricata 7 "EVE v2" layout):
//! - a flow → `event_type: flow` with `flow.{pkts,bytes}_to{server,client}`,
//!   `start`, `end`, `age`, `state`, `reason`, and `tcp` flags for TCP;
//! - a DNS pair → a `dns` query event and, when answered, a `dns` answer event;
//! - an HTTP transaction → `http` with `hostname`, `url`, `http_method`, ...;
//! - a TLS handshake → `tls` with `sni`, `version`, `ja3`, `ja3s`, `ja4`,
//!   certificate fields;
//! - an SSH exchange → `ssh` with `client`/`server` `proto_version` and
//!   `software_version`;
//! - stats → `stats` with Suricata's `decoder`/`flow` counters and Vigil's
//!   own counters under `vigil`.
//!
//! `flow_id` is an integer in EVE; Vigil derives it from its flow uid with a
//! stable 64-bit FNV-1a hash masked to 51 bits (Suricata keeps flow ids in
//! JavaScript's exact-integer range the same way).

use serde_json::{json, Map, Value};

use crate::event::{Body, Event, Severity};
use crate::network::{Certificate, ConnectionInfo, Endpoint};
use crate::time::Timestamp;

/// The EVE `flow_id` for a Vigil flow uid.
pub fn flow_id(uid: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in uid.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash & ((1 << 51) - 1)
}

/// Suricata's timestamp form: `2024-04-01T12:00:00.123456+0000`.
fn eve_time(ts: Timestamp) -> String {
    let mut text = ts.to_rfc3339_micros();
    // "+00:00" → "+0000"
    if text.ends_with("+00:00") {
        text.truncate(text.len() - 6);
        text.push_str("+0000");
    }
    text
}

fn eve_time_ms(ms: i64) -> String {
    eve_time(Timestamp::from_nanos(ms.saturating_mul(1_000_000)))
}

fn proto_name(conn: &ConnectionInfo) -> String {
    match conn.protocol_num {
        6 => "TCP".to_owned(),
        17 => "UDP".to_owned(),
        1 => "ICMP".to_owned(),
        58 => "IPv6-ICMP".to_owned(),
        132 => "SCTP".to_owned(),
        n => format!("{n:03}"),
    }
}

fn header(
    ts: Timestamp,
    event_type: &str,
    src: &Endpoint,
    dst: &Endpoint,
    conn: &ConnectionInfo,
    app_proto: Option<&str>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("timestamp".into(), json!(eve_time(ts)));
    m.insert("flow_id".into(), json!(flow_id(&conn.uid)));
    m.insert("event_type".into(), json!(event_type));
    m.insert("src_ip".into(), json!(src.ip.to_string()));
    if let Some(port) = src.port {
        m.insert("src_port".into(), json!(port));
    }
    m.insert("dest_ip".into(), json!(dst.ip.to_string()));
    if let Some(port) = dst.port {
        m.insert("dest_port".into(), json!(port));
    }
    m.insert("proto".into(), json!(proto_name(conn)));
    if let Some(app) = app_proto {
        m.insert("app_proto".into(), json!(app));
    }
    m.insert("community_id".into(), json!(conn.community_uid));
    m
}

fn eve_rcode(rcode: &str) -> String {
    rcode.to_ascii_uppercase()
}

fn certificate_fields(tls: &mut Map<String, Value>, cert: &Certificate) {
    tls.insert("subject".into(), json!(cert.subject));
    tls.insert("issuerdn".into(), json!(cert.issuer));
    tls.insert(
        "serial".into(),
        json!(cert.serial_number.to_ascii_uppercase()),
    );
    tls.insert("fingerprint".into(), json!(cert.fingerprint_sha1));
    // Suricata writes notbefore/notafter without a zone: "2024-01-01T00:00:00".
    let day = |ms: i64| {
        let mut t = eve_time_ms(ms);
        t.truncate(19);
        t
    };
    tls.insert("notbefore".into(), json!(day(cert.created_time)));
    tls.insert("notafter".into(), json!(day(cert.expiration_time)));
}

/// "TLSv1.3" → "TLS 1.3" (Suricata's spelling); others unchanged.
fn eve_tls_version(v: &str) -> String {
    match v.strip_prefix("TLSv") {
        Some(rest) => format!("TLS {rest}"),
        None => v.to_owned(),
    }
}

fn ssh_side(version: &Option<String>) -> Value {
    match version {
        Some(v) => {
            // "SSH-2.0-OpenSSH_9.2p1 Debian-2" → proto 2.0, software "OpenSSH_9.2p1 Debian-2"
            let rest = v.strip_prefix("SSH-").unwrap_or(v);
            let (proto, software) = rest.split_once('-').unwrap_or((rest, ""));
            json!({"proto_version": proto, "software_version": software})
        }
        None => json!({}),
    }
}

/// The EVE records for one event (a DNS pair gives two; most give one).
pub fn to_eve(event: &Event) -> Vec<Value> {
    let ts = event.time_ns;
    match &event.body {
        Body::Flow(f) => {
            // A protocol chain ("http,tls": a tunnel followed) is Suricata's
            // `app_proto` (the last) and `app_proto_orig` (the first).
            let chain = f.app_name.as_deref().map(|a| a.split(','));
            let app = chain.clone().and_then(|mut c| c.next_back());
            let orig = chain
                .and_then(|mut c| c.next())
                .filter(|first| Some(*first) != app);
            let mut m = header(
                ts,
                "flow",
                &f.src_endpoint,
                &f.dst_endpoint,
                &f.connection_info,
                app,
            );
            if let Some(orig) = orig {
                m.insert("app_proto_orig".into(), json!(orig));
            }
            let state = match (f.end_reason.as_str(), f.conn_state.as_deref()) {
                (_, Some("SF" | "RSTO" | "RSTR" | "REJ" | "RSTOS0" | "RSTRH" | "S2" | "S3")) => {
                    "closed"
                }
                (_, Some("S0" | "SH" | "SHR")) => "new",
                (_, Some(_)) => "established",
                _ => "new",
            };
            let reason = match f.end_reason.as_str() {
                "timeout" => "timeout",
                "closed" => "shutdown",
                _ => "forced",
            };
            m.insert(
                "flow".into(),
                json!({
                    "pkts_toserver": f.traffic.packets_out,
                    "pkts_toclient": f.traffic.packets_in,
                    "bytes_toserver": f.traffic.bytes_out,
                    "bytes_toclient": f.traffic.bytes_in,
                    "start": eve_time_ms(f.start_time),
                    "end": eve_time_ms(f.end_time),
                    "age": f.duration / 1000,
                    "state": state,
                    "reason": reason,
                    "alerted": false,
                }),
            );
            if f.connection_info.protocol_num == 6 {
                let history = f.history.as_deref().unwrap_or("");
                let has = |c: char| history.contains(c) || history.contains(c.to_ascii_lowercase());
                m.insert(
                    "tcp".into(),
                    json!({
                        "syn": has('S'),
                        "fin": has('F'),
                        "rst": has('R'),
                        "ack": has('A') || has('D'),
                        "state": state,
                    }),
                );
            }
            if let Some(icmp) = &f.icmp {
                m.insert("icmp_type".into(), json!(icmp.icmp_type));
                m.insert("icmp_code".into(), json!(icmp.code));
            }
            vec![Value::Object(m)]
        }
        Body::Dns(d) => {
            let mut out = Vec::with_capacity(2);
            let query_time = match d.rtt_us {
                Some(rtt) => ts.add_nanos(-rtt.saturating_mul(1000)),
                None => ts,
            };
            let mut q = header(
                query_time,
                "dns",
                &d.src_endpoint,
                &d.dst_endpoint,
                &d.connection_info,
                Some("dns"),
            );
            q.insert(
                "dns".into(),
                json!({
                    "type": "query",
                    "id": d.query.packet_uid,
                    "rrname": d.query.hostname,
                    "rrtype": d.query.qtype,
                    "tx_id": 0,
                    "opcode": d.query.opcode_id,
                }),
            );
            if d.pairing != "unsolicited" {
                out.push(Value::Object(q));
            }
            if d.pairing != "unanswered" {
                // The answer travels server → client.
                let mut a = header(
                    ts,
                    "dns",
                    &d.dst_endpoint,
                    &d.src_endpoint,
                    &d.connection_info,
                    Some("dns"),
                );
                let mut dns = Map::new();
                dns.insert("version".into(), json!(2));
                dns.insert("type".into(), json!("answer"));
                dns.insert("id".into(), json!(d.query.packet_uid));
                for flag in &d.flags {
                    dns.insert(flag.clone(), json!(true));
                }
                dns.insert("rrname".into(), json!(d.query.hostname));
                dns.insert("rrtype".into(), json!(d.query.qtype));
                dns.insert(
                    "rcode".into(),
                    json!(eve_rcode(d.rcode.as_deref().unwrap_or("NoError"))),
                );
                let answers: Vec<Value> = d
                    .answers
                    .iter()
                    .filter(|r| r.section == "answer")
                    .map(|r| json!({"rrname": r.name, "rrtype": r.rtype, "ttl": r.ttl, "rdata": r.rdata}))
                    .collect();
                let authorities: Vec<Value> = d
                    .answers
                    .iter()
                    .filter(|r| r.section == "authority")
                    .map(|r| json!({"rrname": r.name, "rrtype": r.rtype, "ttl": r.ttl}))
                    .collect();
                let mut grouped: Map<String, Value> = Map::new();
                for r in d.answers.iter().filter(|r| r.section == "answer") {
                    if let Value::Array(list) = grouped
                        .entry(r.rtype.clone())
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        list.push(json!(r.rdata));
                    }
                }
                if !answers.is_empty() {
                    dns.insert("answers".into(), Value::Array(answers));
                    dns.insert("grouped".into(), Value::Object(grouped));
                }
                if !authorities.is_empty() {
                    dns.insert("authorities".into(), Value::Array(authorities));
                }
                a.insert("dns".into(), Value::Object(dns));
                out.push(Value::Object(a));
            }
            out
        }
        Body::Http(h) => {
            let mut m = header(
                ts,
                "http",
                &h.src_endpoint,
                &h.dst_endpoint,
                &h.connection_info,
                Some("http"),
            );
            let req = &h.http_request;
            let mut http = Map::new();
            if let Some(host) = &req.url.hostname {
                http.insert("hostname".into(), json!(host));
            }
            http.insert("url".into(), json!(req.url.url_string));
            if let Some(ua) = &req.user_agent {
                http.insert("http_user_agent".into(), json!(ua));
            }
            if let Some(r) = &req.referrer {
                http.insert("http_refer".into(), json!(r));
            }
            http.insert("http_method".into(), json!(req.http_method));
            http.insert("protocol".into(), json!(req.version));
            if let Some(resp) = &h.http_response {
                if let Some(ct) = &resp.content_type {
                    http.insert("http_content_type".into(), json!(ct));
                }
                http.insert("status".into(), json!(resp.code));
                http.insert("length".into(), json!(resp.length));
            }
            http.insert("request_body_length".into(), json!(req.body_length));
            m.insert("tx_id".into(), json!(h.transaction));
            m.insert("http".into(), Value::Object(http));
            vec![Value::Object(m)]
        }
        Body::Tls(t) => {
            let mut m = header(
                ts,
                "tls",
                &t.src_endpoint,
                &t.dst_endpoint,
                &t.connection_info,
                Some("tls"),
            );
            let info = &t.tls;
            let mut tls = Map::new();
            if let Some(cert) = &info.certificate {
                certificate_fields(&mut tls, cert);
            }
            if let Some(sni) = &info.sni {
                tls.insert("sni".into(), json!(sni));
            }
            tls.insert("version".into(), json!(eve_tls_version(&info.version)));
            if let Some(ch) = &info.client_hello {
                tls.insert("ja3".into(), json!({"hash": ch.ja3_hash, "string": ch.ja3}));
                if !ch.alpn.is_empty() {
                    tls.insert("client_alpns".into(), json!(ch.alpn));
                }
            }
            if let Some(sh) = &info.server_hello {
                tls.insert(
                    "ja3s".into(),
                    json!({"hash": sh.ja3s_hash, "string": sh.ja3s}),
                );
                if let Some(alpn) = &sh.alpn {
                    tls.insert("server_alpns".into(), json!([alpn]));
                }
            }
            if let Some(ja4) = &info.ja4 {
                tls.insert("ja4".into(), json!(ja4));
            }
            m.insert("tls".into(), Value::Object(tls));
            vec![Value::Object(m)]
        }
        Body::Ssh(s) => {
            let mut m = header(
                ts,
                "ssh",
                &s.src_endpoint,
                &s.dst_endpoint,
                &s.connection_info,
                Some("ssh"),
            );
            m.insert("ssh".into(), json!({"client": ssh_side(&s.client_version), "server": ssh_side(&s.server_version)}));
            vec![Value::Object(m)]
        }
        Body::Finding(f) => {
            // Every finding is an EVE alert; anomalies carry sid 0 and their
            // detector as the category, as Suricata's own non-rule alerts do.
            let severity = match event.severity_level() {
                Severity::Critical | Severity::Fatal | Severity::High => 1,
                Severity::Medium => 2,
                _ => 3,
            };
            let unknown = Endpoint {
                ip: std::net::IpAddr::from([0, 0, 0, 0]),
                port: None,
                hostname: None,
            };
            let src = f.src_endpoint.as_ref().unwrap_or(&unknown);
            let dst = f.dst_endpoint.as_ref().unwrap_or(&unknown);
            let empty_conn = ConnectionInfo {
                uid: f.subject.value.clone(),
                community_uid: String::new(),
                protocol_num: 0,
                protocol_name: String::new(),
            };
            let conn = f.connection_info.as_ref().unwrap_or(&empty_conn);
            let mut m = header(ts, "alert", src, dst, conn, None);
            let rule = f.rule.as_ref();
            let mut alert = Map::new();
            alert.insert("action".into(), json!("allowed"));
            alert.insert("gid".into(), json!(rule.map_or(1, |r| r.gid)));
            alert.insert("signature_id".into(), json!(rule.map_or(0, |r| r.sid)));
            alert.insert("rev".into(), json!(rule.map_or(0, |r| r.rev)));
            alert.insert("signature".into(), json!(f.finding_info.title));
            let category = rule
                .and_then(|r| r.classtype.clone())
                .or_else(|| f.finding_info.analytic.category.clone());
            alert.insert("category".into(), json!(category.unwrap_or_default()));
            alert.insert("severity".into(), json!(severity));
            if let Some(r) = rule {
                if !r.metadata.is_empty() {
                    alert.insert("metadata".into(), json!(r.metadata));
                }
            }
            m.insert("alert".into(), Value::Object(alert));
            if let Some(pcap) = &f.incident_pcap {
                m.insert("capture_file".into(), json!(pcap));
            }
            vec![Value::Object(m)]
        }
        Body::Stats(s) => {
            let mut vigil = Map::new();
            for (group, counters) in &s.counters {
                let mut g = Map::new();
                for (name, value) in counters {
                    g.insert(name.clone(), json!(value));
                }
                vigil.insert(group.clone(), Value::Object(g));
            }
            let undecodable: u64 = s
                .counters
                .get("packets")
                .map(|g| {
                    g.iter()
                        .filter(|(k, _)| k.starts_with("undecodable."))
                        .map(|(_, v)| *v)
                        .sum()
                })
                .unwrap_or(0);
            let stats = json!({
                "decoder": {
                    "pkts": s.get("packets", "total"),
                    "bytes": s.get("bytes", "total"),
                    "invalid": undecodable,
                },
                "flow": {
                    "total": s.get("flows", "created"),
                    "emerg_mode_entered": 0,
                    "mgr": {"flows_evicted": s.get("flows", "evicted"), "flows_timeout": s.get("flows", "timed_out")},
                },
                "tcp": {
                    "reassembly_gap": s.get("reassembly", "gaps"),
                },
                "vigil": Value::Object(vigil),
            });
            let mut m = Map::new();
            m.insert("timestamp".into(), json!(eve_time(ts)));
            m.insert("event_type".into(), json!("stats"));
            m.insert("stats".into(), stats);
            vec![Value::Object(m)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DnsActivity, DnsAnswer, DnsQuery, FlowRecord, Traffic};

    fn conn(proto: u8) -> ConnectionInfo {
        ConnectionInfo {
            uid: "Fabc".into(),
            community_uid: "1:xyz=".into(),
            protocol_num: proto,
            protocol_name: if proto == 6 {
                "tcp".into()
            } else {
                "udp".into()
            },
        }
    }

    #[test]
    fn flow_uses_suricata_names() {
        let flow = FlowRecord {
            src_endpoint: Endpoint::new("10.0.0.1".parse().unwrap(), 40000),
            dst_endpoint: Endpoint::new("10.0.0.2".parse().unwrap(), 80),
            connection_info: conn(6),
            traffic: Traffic {
                packets_out: 5,
                packets_in: 4,
                bytes_out: 500,
                bytes_in: 4000,
                packets: 9,
                bytes: 4500,
                ..Traffic::default()
            },
            start_time: 1_700_000_000_000,
            end_time: 1_700_000_002_500,
            duration: 2500,
            duration_us: 2_500_000,
            app_name: Some("http".into()),
            conn_state: Some("SF".into()),
            history: Some("ShADadFf".into()),
            end_reason: "closed".into(),
            reassembly: None,
            icmp: None,
        };
        let event = Event::new(
            Timestamp::from_nanos(1_700_000_002_500_000_000),
            Body::Flow(flow),
        );
        let eve = to_eve(&event);
        assert_eq!(eve.len(), 1);
        let v = &eve[0];
        assert_eq!(v["event_type"], "flow");
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["app_proto"], "http");
        assert!(v.get("app_proto_orig").is_none());
        assert_eq!(v["flow"]["pkts_toserver"], 5);
        assert_eq!(v["flow"]["bytes_toclient"], 4000);
        assert_eq!(v["flow"]["state"], "closed");
        assert_eq!(v["flow"]["reason"], "shutdown");
        assert_eq!(v["flow"]["age"], 2);
        assert_eq!(v["tcp"]["syn"], true);
        assert_eq!(v["timestamp"], "2023-11-14T22:13:22.500000+0000");
        assert_eq!(v["flow_id"], flow_id("Fabc"));

        // A tunnel followed: the last protocol, and the first as the original.
        let mut event = event;
        if let Body::Flow(f) = &mut event.body {
            f.app_name = Some("http,tls".into());
        }
        let v = &to_eve(&event)[0];
        assert_eq!(v["app_proto"], "tls");
        assert_eq!(v["app_proto_orig"], "http");
    }

    #[test]
    fn dns_pair_becomes_query_and_answer() {
        let dns = DnsActivity {
            src_endpoint: Endpoint::new("10.0.0.1".parse().unwrap(), 5353),
            dst_endpoint: Endpoint::new("10.0.0.53".parse().unwrap(), 53),
            connection_info: conn(17),
            query: DnsQuery {
                hostname: "a.test".into(),
                qtype: "A".into(),
                type_id: 1,
                class: "IN".into(),
                packet_uid: 77,
                opcode: "Query".into(),
                opcode_id: 0,
            },
            answers: vec![DnsAnswer {
                name: "a.test".into(),
                rtype: "A".into(),
                class: "IN".into(),
                ttl: 60,
                rdata: "10.1.2.3".into(),
                section: "answer".into(),
            }],
            rcode: Some("NoError".into()),
            rcode_id: Some(0),
            flags: vec!["qr".into(), "rd".into(), "ra".into()],
            response_time: Some(1_700_000_000_001),
            rtt_us: Some(1000),
            pairing: "answered".into(),
        };
        let eve = to_eve(&Event::new(
            Timestamp::from_nanos(1_700_000_000_001_000_000),
            Body::Dns(dns),
        ));
        assert_eq!(eve.len(), 2);
        assert_eq!(eve[0]["dns"]["type"], "query");
        assert_eq!(eve[0]["src_ip"], "10.0.0.1");
        assert_eq!(eve[1]["dns"]["type"], "answer");
        assert_eq!(eve[1]["src_ip"], "10.0.0.53");
        assert_eq!(eve[1]["dns"]["rcode"], "NOERROR");
        assert_eq!(eve[1]["dns"]["grouped"]["A"][0], "10.1.2.3");
        assert_eq!(eve[1]["dns"]["answers"][0]["ttl"], 60);
        assert_eq!(eve[0]["timestamp"], "2023-11-14T22:13:20.000000+0000");
    }

    #[test]
    fn ssh_version_splits_proto_and_software() {
        assert_eq!(
            ssh_side(&Some("SSH-2.0-OpenSSH_9.2p1 Debian-2".into()))["software_version"],
            "OpenSSH_9.2p1 Debian-2"
        );
        assert_eq!(
            ssh_side(&Some("SSH-1.99-Cisco-1.25".into()))["proto_version"],
            "1.99"
        );
    }

    #[test]
    fn finding_becomes_an_alert() {
        use crate::{Analytic, Finding, FindingInfo, RuleRef, Subject};
        let finding = Finding {
            finding_info: FindingInfo {
                uid: "A1".into(),
                title: "ET WEB_SERVER SQL Injection".into(),
                desc: None,
                types: vec!["signature".into()],
                analytic: Analytic {
                    uid: "sig:2006445".into(),
                    name: "ET WEB_SERVER SQL Injection".into(),
                    type_id: 1,
                    type_name: "Rule".into(),
                    category: None,
                },
                first_seen_time: None,
                last_seen_time: None,
            },
            subject: Subject {
                kind: "flow".into(),
                value: "Fabc".into(),
            },
            src_endpoint: Some(Endpoint::new("10.0.0.9".parse().unwrap(), 5555)),
            dst_endpoint: Some(Endpoint::new("10.0.0.2".parse().unwrap(), 80)),
            connection_info: Some(conn(6)),
            rule: Some(RuleRef {
                gid: 1,
                sid: 2006445,
                rev: 13,
                msg: "x".into(),
                classtype: Some("web-application-attack".into()),
                action: "alert".into(),
                ..RuleRef::default()
            }),
            evidence: Default::default(),
            risk_score: Some(70),
            risk_level: Some("High".into()),
            remediation: None,
            incident_pcap: Some("incidents/Fabc.pcap".into()),
        };
        let event = Event::new(Timestamp::from_nanos(0), Body::Finding(finding))
            .with_severity(crate::Severity::High);
        let line = event.to_json_line().unwrap();
        assert!(line.contains("\"class_uid\":2004"));
        assert_eq!(Event::from_json_line(&line).unwrap(), event);
        let eve = to_eve(&event);
        let v = &eve[0];
        assert_eq!(v["event_type"], "alert");
        assert_eq!(v["alert"]["signature_id"], 2006445);
        assert_eq!(v["alert"]["category"], "web-application-attack");
        assert_eq!(v["alert"]["severity"], 1);
        assert_eq!(v["src_ip"], "10.0.0.9");
        assert_eq!(v["capture_file"], "incidents/Fabc.pcap");
    }
}
