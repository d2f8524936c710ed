//! QUIC Initial decryption on the real captures of FoxIO's JA4 test vectors:
//! every QUIC connection the vectors list (transport udp, JA4 starting with
//! 'q') must yield exactly one TLS record whose SNI is the vectors' and
//! tshark's, with a ClientHello identical to tshark's in what JA4 reads
//! (length, cipher suites, extension types), and no other UDP flow may be
//! taken for QUIC.
//!
//! UDP datagrams come from tshark (`udp.payload`), so the test does not
//! depend on Vigil's capture reader; flows are grouped by 5-tuple with the
//! first sender as originator, as the flow table does.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use vigil_event::{Body, ConnectionInfo, Endpoint, Event, Timestamp};
use vigil_net::app::quic::QuicInitialParser;
use vigil_net::app::{self, AppConfig, AppProto, Direction, FlowMeta, Progress};

/// Client address, client port, server address, server port.
type FourTuple = (String, u16, String, u16);

/// One UDP datagram as tshark decoded it.
#[derive(Debug)]
struct Datagram {
    src: (String, u16),
    dst: (String, u16),
    payload: Vec<u8>,
    /// tshark's view of a ClientHello in this datagram, when it shows one.
    tshark_hello: Option<HelloSummary>,
}

/// What both tshark and the test read from a ClientHello: SNI, handshake
/// body length, cipher suites and extension types in order (what JA4 uses).
#[derive(Debug, Clone, PartialEq, Eq)]
struct HelloSummary {
    sni: String,
    body_len: usize,
    ciphers: Vec<u16>,
    extensions: Vec<u16>,
}

/// The summary of a ClientHello handshake message (type, length, body).
fn summarize(hello: &[u8]) -> HelloSummary {
    use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};
    let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
        tls_parser::parse_tls_message_handshake(hello)
    else {
        panic!("not a clienthello");
    };
    let raw_ext = ch.ext.unwrap_or_default();
    // Extension types straight from the wire, unknown ones included.
    let mut extensions = Vec::new();
    let mut rest = raw_ext;
    while let [a, b, c, d, tail @ ..] = rest {
        extensions.push(u16::from_be_bytes([*a, *b]));
        let len = usize::from(u16::from_be_bytes([*c, *d]));
        rest = tail.get(len..).unwrap_or_default();
    }
    let (_, parsed) =
        tls_parser::parse_tls_client_hello_extensions(raw_ext).expect("clienthello extensions");
    let sni = parsed
        .iter()
        .find_map(|ext| match ext {
            TlsExtension::SNI(names) => names
                .first()
                .map(|(_, name)| String::from_utf8_lossy(name).into_owned()),
            _ => None,
        })
        .unwrap_or_default();
    HelloSummary {
        sni,
        body_len: hello.len() - 4,
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        extensions,
    }
}

fn tshark_datagrams(tshark: &Path, capture: &Path) -> Vec<Datagram> {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(capture)
        .args(["-Y", "udp", "-T", "fields"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport"])
        .args([
            "-e",
            "udp.payload",
            "-e",
            "tls.handshake.extensions_server_name",
        ])
        .args([
            "-e",
            "tls.handshake.length",
            "-e",
            "tls.handshake.ciphersuite",
        ])
        .args(["-e", "tls.handshake.extension.type"])
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
            let all = |i: usize| f.get(i).copied().unwrap_or("");
            // First occurrence only (tunnels would repeat them).
            let field = |i: usize| all(i).split(',').next().unwrap_or("");
            let list = |i: usize| -> Vec<u16> {
                all(i)
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(|v| match v.strip_prefix("0x") {
                        Some(h) => u16::from_str_radix(h, 16).expect("hex field"),
                        None => v.parse().expect("number field"),
                    })
                    .collect()
            };
            let addr = |v4: &str, v6: &str| if v4.is_empty() { v6 } else { v4 }.to_owned();
            let payload = hex::decode(field(6)).ok()?;
            let tshark_hello = Some(field(7))
                .filter(|s| !s.is_empty())
                .map(|sni| HelloSummary {
                    sni: sni.to_owned(),
                    body_len: field(8).parse().expect("handshake length"),
                    ciphers: list(9),
                    extensions: list(10),
                });
            Some(Datagram {
                src: (addr(field(0), field(1)), field(2).parse().ok()?),
                dst: (addr(field(3), field(4)), field(5).parse().ok()?),
                payload,
                tshark_hello,
            })
        })
        .collect()
}

/// Set once `quic::client_hello_event` calls the TLS module's
/// `parse_client_hello` with `JaTransport::Quic`: from then on every QUIC
/// record's JA4 must equal the vectors'.
const JA4_WIRED: bool = true;

/// A QUIC entry of a JA4 snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    sni: String,
    ja4: String,
}

/// One TLS record from the QUIC parser.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    sni: Option<String>,
    ja4: Option<String>,
}

/// The QUIC entries of a JA4 snapshot: (src, src_port, dst, dst_port) → SNI
/// and JA4.
fn snapshot_quic(snapshot: &str) -> BTreeMap<FourTuple, Expected> {
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
            Expected {
                sni: field("tls_server_name").expect("quic entry with sni"),
                ja4: field("ja4").expect("quic entry with ja4"),
            },
        );
    }
    out
}

/// What the test saw per client → server 4-tuple.
#[derive(Debug, Default)]
struct Seen {
    /// Each TLS record [`app::quic::QuicParser`] emitted.
    records: BTreeMap<FourTuple, Vec<Record>>,
    /// The ClientHello [`QuicInitialParser`] returned.
    hellos: BTreeMap<FourTuple, HelloSummary>,
    /// The ClientHello tshark showed.
    tshark: BTreeMap<FourTuple, HelloSummary>,
}

fn run_quic(datagrams: &[Datagram]) -> Seen {
    struct Flow {
        meta: FlowMeta,
        parser: Option<Box<dyn app::DatagramParser>>,
        initial: QuicInitialParser,
        detected: bool,
        done: bool,
    }
    let config = AppConfig::default();
    let mut flows: BTreeMap<FourTuple, Flow> = BTreeMap::new();
    let mut seen = Seen::default();
    for (n, d) in datagrams.iter().enumerate() {
        let fwd = (d.src.0.clone(), d.src.1, d.dst.0.clone(), d.dst.1);
        let rev = (d.dst.0.clone(), d.dst.1, d.src.0.clone(), d.src.1);
        if let Some(hello) = &d.tshark_hello {
            seen.tshark.insert(fwd.clone(), hello.clone());
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
                initial: QuicInitialParser::new(),
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
        // The pure parser beside the DatagramParser: the originator is the
        // client in these captures.
        if let Ok(Some(hello)) = flow
            .initial
            .datagram(dir == Direction::ToResponder, &d.payload)
        {
            seen.hellos.insert(key.clone(), summarize(&hello));
        }
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
            seen.records.entry(client).or_default().push(Record {
                sni: tls.tls.sni,
                ja4: tls.tls.ja4,
            });
        }
    }
    seen
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
        let seen = run_quic(&tshark_datagrams(&tshark, &capture));
        let record_keys: Vec<_> = seen.records.keys().collect();
        let expected_keys: Vec<_> = expected.keys().collect();
        assert_eq!(record_keys, expected_keys, "{name}: quic connections");
        for (key, want) in &expected {
            let sni = &want.sni;
            let records = &seen.records[key];
            assert_eq!(records.len(), 1, "{name} {key:?}: one record");
            assert_eq!(
                records[0].sni.as_ref(),
                Some(sni),
                "{name} {key:?}: the vectors' sni"
            );
            if JA4_WIRED {
                assert_eq!(
                    records[0].ja4.as_ref(),
                    Some(&want.ja4),
                    "{name} {key:?}: ja4"
                );
            }
            let tshark_hello = seen.tshark.get(key).expect("tshark shows the clienthello");
            assert_eq!(&tshark_hello.sni, sni, "{name} {key:?}: tshark's sni");
            assert_eq!(
                seen.hellos.get(key),
                Some(tshark_hello),
                "{name} {key:?}: clienthello"
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
        Some(&Expected {
            sni: "b.example".to_owned(),
            ja4: "q13".to_owned()
        })
    );
}
