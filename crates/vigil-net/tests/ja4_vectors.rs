//! FoxIO's JA4 test vectors, end to end: every capture in
//! `../shared/data/ja4-vectors/pcap` runs through the whole pipeline
//! (capture reader, decoder, flows, reassembly, TLS parser), and every JA4
//! (and, with JA4+ on, JA4S) that FoxIO's snapshot lists for a TCP stream
//! must appear, exactly, on a TLS record of the same client/server
//! addresses and ports. JA3 and JA3S are compared with tshark's
//! `tls.handshake.ja3`/`ja3s` on the same files. Captures whose TLS runs
//! inside a tunnel (SOCKS 4/4a, HTTP CONNECT) are checked like the others:
//! the pipeline follows the protocol switch into the tunnel.
//!
//! QUIC streams (`transport: udp` in the snapshots) are checked only when
//! the QUIC parser (`crates/vigil-net/src/app/quic.rs`) exists, and their
//! JA4S only once the QUIC parser gives any record a JA4S (it needs the
//! server's Initial); until then they are skipped with a note.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_event::{Body, TlsActivity};
use vigil_net::app::AppConfig;
use vigil_net::capture::CaptureReader;
use vigil_net::pipeline::{Pipeline, PipelineConfig};

/// (client ip, server ip, client port, server port)
type Key = (String, String, u16, u16);

/// One stream of a FoxIO snapshot.
#[derive(Debug, Default, Clone)]
struct Expected {
    transport: String,
    src: String,
    dst: String,
    src_port: u16,
    dst_port: u16,
    ja4: Option<String>,
    ja4s: Option<String>,
}

impl Expected {
    fn key(&self) -> Key {
        (
            self.src.clone(),
            self.dst.clone(),
            self.src_port,
            self.dst_port,
        )
    }
}

/// The top-level keys of each `- stream:` entry of an insta YAML snapshot
/// (nested lists such as `tls_certs` are skipped).
fn parse_snapshot(text: &str) -> Vec<Expected> {
    let mut out: Vec<Expected> = Vec::new();
    for line in text.lines() {
        let (entry_start, body) = if let Some(rest) = line.strip_prefix("- ") {
            (true, rest)
        } else if let Some(rest) = line.strip_prefix("  ") {
            if rest.starts_with(' ') || rest.starts_with('-') {
                continue;
            }
            (false, rest)
        } else {
            continue;
        };
        if entry_start {
            out.push(Expected::default());
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        let Some((key, value)) = body.split_once(": ") else {
            continue;
        };
        let value = value.trim().trim_matches('\'').to_owned();
        match key {
            "transport" => current.transport = value,
            "src" => current.src = value,
            "dst" => current.dst = value,
            "src_port" => current.src_port = value.parse().unwrap_or(0),
            "dst_port" => current.dst_port = value.parse().unwrap_or(0),
            "ja4" => current.ja4 = Some(value),
            "ja4s" => current.ja4s = Some(value),
            _ => {}
        }
    }
    out
}

/// Every TLS record the pipeline writes for a capture.
fn tls_records(path: &Path) -> Vec<TlsActivity> {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader = CaptureReader::new(file)
        .unwrap_or_else(|e| panic!("{}: not a capture: {e}", path.display()));
    let config = PipelineConfig {
        app: AppConfig {
            ja4plus: true,
            ..AppConfig::default()
        },
        ..PipelineConfig::default()
    };
    // Undecodable packets and damaged records are counted by the pipeline;
    // the vectors do not depend on them.
    let events = Pipeline::new(config).run_capture(&mut reader).events;
    events
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Tls(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn key_of(t: &TlsActivity) -> Key {
    (
        t.src_endpoint.ip.to_string(),
        t.dst_endpoint.ip.to_string(),
        t.src_endpoint.port.unwrap_or(0),
        t.dst_endpoint.port.unwrap_or(0),
    )
}

fn quic_parser_exists() -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/app/quic.rs")
        .exists()
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("pcap"))
        .expect("ja4-vectors/pcap is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn ja4_matches_foxio_vectors() {
    let Some(dir) = vigil_testkit::require_shared_data("ja4-vectors") else {
        return;
    };
    let check_quic = quic_parser_exists();
    let mut checked = 0;
    let mut skipped_quic = 0;
    // The QUIC parser reads the client's Initial; JA4S needs the server's.
    // Checked as soon as the QUIC parser gives any record a JA4S.
    let mut quic_ja4s = false;
    let mut skipped_quic_ja4s = 0;
    let mut failures = Vec::new();
    let mut runs = Vec::new();
    for path in captures(&dir) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let snap = dir.join(format!("rust/ja4/src/snapshots/ja4__insta@{name}.snap"));
        let Ok(text) = std::fs::read_to_string(&snap) else {
            continue;
        };
        let expected: Vec<Expected> = parse_snapshot(&text)
            .into_iter()
            .filter(|e| e.ja4.is_some() || e.ja4s.is_some())
            .collect();
        if expected.is_empty() {
            continue;
        }
        let records = tls_records(&path);
        quic_ja4s |= records
            .iter()
            .any(|r| r.connection_info.protocol_num == 17 && r.tls.ja4s.is_some());
        runs.push((name, expected, records));
    }
    for (name, expected, records) in &runs {
        let mut by_key: BTreeMap<Key, Vec<&TlsActivity>> = BTreeMap::new();
        for r in records {
            by_key.entry(key_of(r)).or_default().push(r);
        }
        for exp in expected {
            if exp.transport == "udp" && !check_quic {
                skipped_quic += 1;
                continue;
            }
            let found = by_key.get(&exp.key()).cloned().unwrap_or_default();
            let ja4s: BTreeSet<String> = found.iter().filter_map(|r| r.tls.ja4.clone()).collect();
            let ja4ss: BTreeSet<String> = found.iter().filter_map(|r| r.tls.ja4s.clone()).collect();
            if let Some(want) = &exp.ja4 {
                checked += 1;
                if !ja4s.contains(want) {
                    failures.push(format!(
                        "{name} {:?}: ja4 want {want}, got {ja4s:?}",
                        exp.key()
                    ));
                }
            }
            if let Some(want) = &exp.ja4s {
                if exp.transport == "udp" && !quic_ja4s {
                    skipped_quic_ja4s += 1;
                    continue;
                }
                checked += 1;
                if !ja4ss.contains(want) {
                    failures.push(format!(
                        "{name} {:?}: ja4s want {want}, got {ja4ss:?}",
                        exp.key()
                    ));
                }
            }
        }
    }
    if !check_quic {
        eprintln!(
            "note: {skipped_quic} QUIC (udp) vector entries skipped: src/app/quic.rs does not exist yet"
        );
    }
    if !quic_ja4s {
        eprintln!(
            "note: {skipped_quic_ja4s} QUIC JA4S vector entries skipped: no QUIC record carries a JA4S (server Initial not read)"
        );
    }
    assert!(checked > 150, "only {checked} fingerprints checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} fingerprints differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// tshark's JA3 and JA3S per (client, server, ports) for TCP ClientHellos
/// and ServerHellos: the first of each per stream, as Vigil reports. The
/// innermost IP header names the endpoints (tunnelled captures).
fn tshark_ja3(tshark: &Path, path: &Path, hello: u8) -> BTreeMap<Key, String> {
    let field = if hello == 1 {
        "tls.handshake.ja3"
    } else {
        "tls.handshake.ja3s"
    };
    let output = Command::new(tshark)
        .arg("-r")
        .arg(path)
        .args(["-Y", &format!("tcp && tls.handshake.type == {hello}")])
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=l"])
        .args([
            "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
        ])
        .args(["-e", "tcp.srcport", "-e", "tcp.dstport", "-e", field])
        .output()
        .expect("tshark runs");
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [src4, src6, dst4, dst6, sport, dport, hash] = f[..] else {
            continue;
        };
        if hash.is_empty() {
            continue;
        }
        let (src, dst) = if src4.is_empty() {
            (src6, dst6)
        } else {
            (src4, dst4)
        };
        let (sport, dport): (u16, u16) = (sport.parse().unwrap_or(0), dport.parse().unwrap_or(0));
        // Key as client → server: a ServerHello travels server → client.
        let key = if hello == 1 {
            (src.to_owned(), dst.to_owned(), sport, dport)
        } else {
            (dst.to_owned(), src.to_owned(), dport, sport)
        };
        out.entry(key).or_insert_with(|| hash.to_owned());
    }
    out
}

#[test]
fn ja3_and_ja3s_match_tshark() {
    let Some(dir) = vigil_testkit::require_shared_data("ja4-vectors") else {
        return;
    };
    let Some(tshark) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in captures(&dir) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ja3 = tshark_ja3(&tshark, &path, 1);
        let ja3s = tshark_ja3(&tshark, &path, 2);
        if ja3.is_empty() && ja3s.is_empty() {
            continue;
        }
        let records = tls_records(&path);
        let mut ours: BTreeMap<Key, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for r in &records {
            let entry = ours.entry(key_of(r)).or_default();
            entry.0.extend(r.tls.ja3_hash.clone());
            entry.1.extend(r.tls.ja3s_hash.clone());
        }
        for (key, want) in &ja3 {
            checked += 1;
            let got = ours.get(key).map(|o| &o.0);
            if !got.is_some_and(|g| g.contains(want)) {
                failures.push(format!("{name} {key:?}: ja3 tshark {want}, vigil {got:?}"));
            }
        }
        for (key, want) in &ja3s {
            checked += 1;
            let got = ours.get(key).map(|o| &o.1);
            if !got.is_some_and(|g| g.contains(want)) {
                failures.push(format!("{name} {key:?}: ja3s tshark {want}, vigil {got:?}"));
            }
        }
    }
    assert!(checked > 100, "only {checked} hashes checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn snapshot_parser_reads_top_level_keys_only() {
    let text = "---\nsource: x\n---\n- stream: 0\n  transport: tcp\n  src: 1.2.3.4\n  dst: 5.6.7.8\n  src_port: 1\n  dst_port: 443\n  ja4: t13d_a_b\n  tls_certs:\n  - x509:\n    - ja4x: nope\n      issuerCommonName: 'x: y'\n- stream: 1\n  transport: udp\n  src: ::1\n  dst: ::2\n  src_port: 2\n  dst_port: 443\n";
    let got = parse_snapshot(text);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].key(), ("1.2.3.4".into(), "5.6.7.8".into(), 1, 443));
    assert_eq!(got[0].ja4.as_deref(), Some("t13d_a_b"));
    assert_eq!(got[1].transport, "udp");
    assert_eq!(got[1].ja4, None);
}
