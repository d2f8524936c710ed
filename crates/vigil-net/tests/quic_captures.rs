//! QUIC Initial decryption on the real captures of FoxIO's JA4 test vectors:
//! every QUIC connection the vectors list (transport udp, JA4 starting with
//! 'q') must yield exactly one TLS record whose SNI is the vectors' and
//! tshark's, and no other UDP flow may be taken for QUIC.
//!
//! UDP datagrams come from tshark (`udp.payload`), so the test does not
//! depend on Vigil's capture reader; flows are grouped by 5-tuple with the
//! first sender as originator, as the flow table does.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use vigil_event::{Body, ConnectionInfo, Endpoint, Event, Timestamp};
use vigil_net::app::{self, AppConfig, AppProto, Direction, FlowMeta, Progress};

/// One UDP datagram as tshark decoded it.
#[derive(Debug)]
struct Datagram {
    src: (String, u16),
    dst: (String, u16),
    payload: Vec<u8>,
    tshark_sni: Option<String>,
}

fn tshark_datagrams(tshark: &Path, capture: &Path) -> Vec<Datagram> {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(capture)
        .args(["-Y", "udp", "-T", "fields", "-E", "occurrence=f"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport"])
        .args([
            "-e",
            "udp.payload",
            "-e",
            "tls.handshake.extensions_server_name",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}",
        capture.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("");
            let addr = |v4: &str, v6: &str| if v4.is_empty() { v6 } else { v4 }.to_owned();
            let payload = hex::decode(field(6)).ok()?;
            Some(Datagram {
                src: (addr(field(0), field(1)), field(2).parse().ok()?),
                dst: (addr(field(3), field(4)), field(5).parse().ok()?),
                payload,
                tshark_sni: Some(field(7).to_owned()).filter(|s| !s.is_empty()),
            })
        })
        .collect()
}

/// The QUIC entries of a JA4 snapshot: (src, src_port, dst, dst_port) → SNI.
fn snapshot_quic(snapshot: &str) -> BTreeMap<FourTuple, String> {
    let mut out = BTreeMap::new();
    for entry in snapshot.split("\n- stream:").skip(1) {
        let field = |key: &str| {
            entry.lines().find_map(|l| {
                l.strip_prefix("  ")
                    .and_then(|l| l.strip_prefix(key))
                    .and_then(|l| l.strip_prefix(": "))
                    .map(|v| v.trim().trim_matches('\'').to_owned())
            })
        };
        let is_quic = field("transport").as_deref() == Some("udp")
            && field("ja4").is_some_and(|j| j.starts_with('q'));
        if !is_quic {
            continue;
        }
        let port = |key| {
            field(key)
                .and_then(|p| p.parse().ok())
                .expect("snapshot port")
        };
        out.insert(
            (
                field("src").expect("src"),
                port("src_port"),
                field("dst").expect("dst"),
                port("dst_port"),
            ),
            field("tls_server_name").expect("quic entry with sni"),
        );
    }
    out
}

/// Client address, client port, server address, server port.
type FourTuple = (String, u16, String, u16);

/// The SNIs of the TLS records of every UDP flow detected as QUIC, and
/// tshark's SNI, per client → server 4-tuple.
fn run_quic(
    datagrams: &[Datagram],
) -> (
    BTreeMap<FourTuple, Vec<String>>,
    BTreeMap<FourTuple, String>,
) {
    struct Flow {
        meta: FlowMeta,
        parser: Option<Box<dyn app::DatagramParser>>,
        detected: bool,
        done: bool,
    }
    let config = AppConfig::default();
    let mut flows: BTreeMap<FourTuple, Flow> = BTreeMap::new();
    let mut found: BTreeMap<FourTuple, Vec<String>> = BTreeMap::new();
    let mut tshark = BTreeMap::new();
    for (n, d) in datagrams.iter().enumerate() {
        let fwd = (d.src.0.clone(), d.src.1, d.dst.0.clone(), d.dst.1);
        let rev = (d.dst.0.clone(), d.dst.1, d.src.0.clone(), d.src.1);
        if let Some(sni) = &d.tshark_sni {
            tshark.insert(fwd.clone(), sni.clone());
        }
        let (key, dir) = if flows.contains_key(&rev) {
            (rev, Direction::ToOriginator)
        } else {
            (fwd, Direction::ToResponder)
        };
        let flow = flows.entry(key.clone()).or_insert_with(|| {
            let ep = |(ip, port): &(String, u16)| Endpoint::new(ip.parse().expect("ip"), *port);
            Flow {
                meta: FlowMeta {
                    originator: ep(&d.src),
                    responder: ep(&d.dst),
                    connection_info: ConnectionInfo {
                        uid: format!("flow-{n}"),
                        community_uid: String::new(),
                        protocol_num: 17,
                        protocol_name: "udp".to_owned(),
                    },
                },
                parser: None,
                detected: false,
                done: false,
            }
        });
        if flow.done {
            continue;
        }
        if !flow.detected {
            flow.detected = true;
            if app::detect_datagram(&d.payload) == Some(AppProto::Quic) {
                flow.parser = app::new_datagram_parser(AppProto::Quic, &config);
                assert!(flow.parser.is_some(), "a parser for quic");
            }
        }
        let Some(parser) = flow.parser.as_mut() else {
            continue;
        };
        let mut out: Vec<Event> = Vec::new();
        let ts = Timestamp::from_nanos(n as i64);
        match parser.datagram(&flow.meta, dir, ts, &d.payload, &mut out) {
            Progress::Continue => {}
            Progress::Done | Progress::Mismatch => flow.done = true,
        }
        for event in out {
            let Body::Tls(tls) = event.body else {
                panic!("quic gives tls records");
            };
            let client = (
                tls.src_endpoint.ip.to_string(),
                tls.src_endpoint.port.expect("port"),
                tls.dst_endpoint.ip.to_string(),
                tls.dst_endpoint.port.expect("port"),
            );
            found
                .entry(client)
                .or_default()
                .push(tls.tls.sni.unwrap_or_default());
        }
    }
    (found, tshark)
}

/// Captures with QUIC connections in the vectors, and captures with other
/// UDP traffic that must not be taken for QUIC.
const CAPTURES: &[&str] = &[
    "quic-tls-handshake.pcapng",
    "quic-with-several-tls-frames.pcapng",
    "chrome-cloudflare-quic-with-secrets.pcapng",
    "tls-handshake.pcapng",
    "tls-sni.pcapng",
    "tls3.pcapng",
    "ssh2.pcapng",
    "https3-301-get.pcap",
    "dhcp.pcapng",
    "dhcpv6.pcap",
];

#[test]
fn quic_client_hellos_match_the_ja4_vectors_and_tshark() {
    let Some(vectors) = vigil_testkit::require_shared_data("ja4-vectors") else {
        return;
    };
    let Some(tshark) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let mut connections = 0;
    for name in CAPTURES {
        let capture = vectors.join("pcap").join(name);
        let snapshot_path = vectors
            .join("rust/ja4/src/snapshots")
            .join(format!("ja4__insta@{name}.snap"));
        let snapshot = std::fs::read_to_string(&snapshot_path).expect("read snapshot");
        let expected = snapshot_quic(&snapshot);
        let datagrams = tshark_datagrams(&tshark, &capture);
        let (found, tshark_sni) = run_quic(&datagrams);
        let found_keys: Vec<_> = found.keys().collect();
        let expected_keys: Vec<_> = expected.keys().collect();
        assert_eq!(found_keys, expected_keys, "{name}: quic connections");
        for (key, sni) in &expected {
            assert_eq!(
                found[key],
                vec![sni.clone()],
                "{name} {key:?}: one record, the vectors' sni"
            );
            assert_eq!(
                tshark_sni.get(key),
                Some(sni),
                "{name} {key:?}: tshark's sni"
            );
        }
        connections += expected.len();
    }
    // The vectors list 51 QUIC connections in these captures; checked so a
    // snapshot reader that found none cannot pass vacuously.
    assert_eq!(connections, 51, "quic connections checked");
}

#[test]
fn snapshot_reader_finds_quic_entries() {
    let snap = "---\n- stream: 0\n  transport: tcp\n  src: 1.1.1.1\n  dst: 2.2.2.2\n  src_port: 1\n  dst_port: 443\n  tls_server_name: a\n  ja4: t13\n- stream: 0\n  transport: udp\n  src: 1.1.1.1\n  dst: 2.2.2.2\n  src_port: 5\n  dst_port: 443\n  tls_server_name: b.example\n  ja4: q13\n";
    let quic = snapshot_quic(snap);
    assert_eq!(quic.len(), 1);
    assert_eq!(
        quic.get(&("1.1.1.1".to_owned(), 5, "2.2.2.2".to_owned(), 443)),
        Some(&"b.example".to_owned())
    );
}
