//! Capture reading and decoding checked against tshark on the shared corpora,
//! plus truncated and corrupted copies of real captures.

use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_net::capture::{CaptureError, CaptureReader};
use vigil_net::decode::{Decoder, Transport};

/// What tshark says about one frame.
#[derive(Debug)]
struct Frame {
    number: u64,
    len: u32,
    cap_len: usize,
    /// `frame.time_epoch` in nanoseconds.
    nanos: i64,
    ip_src: Vec<String>,
    ip_dst: Vec<String>,
    ip6_src: Vec<String>,
    ip6_dst: Vec<String>,
    ip_proto: Vec<String>,
    tcp_ports: Option<(u16, u16)>,
    udp_ports: Option<(u16, u16)>,
    fragment: bool,
}

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.len",
    "frame.cap_len",
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
];

fn multi(field: &str) -> Vec<String> {
    if field.is_empty() {
        Vec::new()
    } else {
        field.split('|').map(str::to_owned).collect()
    }
}

fn ports(src: &str, dst: &str) -> Option<(u16, u16)> {
    // Only a single transport layer is compared (see `tunnelled`).
    Some((src.parse().ok()?, dst.parse().ok()?))
}

fn epoch_nanos(text: &str) -> i64 {
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let mut frac = frac.to_owned();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    secs.parse::<i64>().unwrap() * 1_000_000_000 + frac.parse::<i64>().unwrap()
}

fn tshark_frames(tshark: &Path, file: &Path) -> Vec<Frame> {
    let mut cmd = Command::new(tshark);
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "separator=/t", "-E", "aggregator=|"]);
    for field in FIELDS {
        cmd.args(["-e", field]);
    }
    let output = cmd.output().expect("run tshark");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), FIELDS.len(), "tshark line {line:?}");
            let set = |s: &str| s.split('|').any(|v| v == "1" || v == "True" || v == "true");
            let nonzero = |s: &str| s.split('|').any(|v| !v.is_empty() && v != "0");
            Frame {
                number: f[0].parse().unwrap(),
                len: f[1].parse().unwrap(),
                cap_len: f[2].parse().unwrap(),
                nanos: epoch_nanos(f[3]),
                ip_src: multi(f[4]),
                ip_dst: multi(f[5]),
                ip6_src: multi(f[6]),
                ip6_dst: multi(f[7]),
                ip_proto: multi(f[8]),
                tcp_ports: ports(f[9], f[10]),
                udp_ports: ports(f[11], f[12]),
                fragment: set(f[13]) || nonzero(f[14]) || nonzero(f[15]) || set(f[16]),
            }
        })
        .collect()
}

fn corpus_files() -> Option<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (corpus, sub) in [("community-id-spec", "pcaps"), ("ja4-vectors", "pcap")] {
        let dir = vigil_testkit::require_shared_data(corpus)?.join(sub);
        for entry in std::fs::read_dir(&dir).expect("read corpus dir") {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            // `combined.pcap.gz` is compressed; Vigil reads uncompressed
            // captures only (tshark reads gzip itself).
            if name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}

/// Compare packet count, frame lengths, times and the IP/transport fields
/// with tshark for every capture of the corpora.
#[test]
fn corpora_match_tshark() {
    let Some(files) = corpus_files() else { return };
    let Some(tshark) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    assert!(
        files.len() > 30,
        "expected the corpora's captures, found {files:?}"
    );
    let mut compared = 0;
    for file in &files {
        let frames = tshark_frames(&tshark, file);
        let mut reader = CaptureReader::new(std::fs::File::open(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut decoder = Decoder::default();
        let mut count = 0usize;
        while let Some(item) = reader.next_packet() {
            let raw = item.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let at = format!("{} frame {}", file.display(), raw.number);
            let frame = frames
                .get(count)
                .unwrap_or_else(|| panic!("{at}: tshark has only {} frames", frames.len()));
            count += 1;
            assert_eq!(raw.number, frame.number, "{at}");
            assert_eq!(raw.orig_len, frame.len, "{at}: frame.len");
            assert_eq!(raw.data.len(), frame.cap_len, "{at}: frame.cap_len");
            assert_eq!(raw.ts.nanos(), frame.nanos, "{at}: frame.time_epoch");

            let decoded = decoder.decode(&raw);
            let ip_layers = frame.ip_src.len() + frame.ip6_src.len();
            if ip_layers == 0 {
                // tshark sees no IP (ARP, LLDP, ...): neither may Vigil.
                assert!(matches!(decoded, Ok(None)), "{at}: {decoded:?}");
                continue;
            }
            if ip_layers > 1 {
                // Tunnels (GRE, VXLAN, Geneve, 6in4, ...) and ICMP errors
                // quoting the offending packet: tshark decodes the inner IP
                // header too, Vigil stops at the outer one (its flow is the
                // tunnel's). Only the outer addresses are compared.
                let packet = decoded.unwrap_or_else(|e| panic!("{at}: {e}"));
                if let Some(packet) = packet {
                    let (src, dst) = match (frame.ip_src.first(), frame.ip6_src.first()) {
                        (Some(_), None) => (&frame.ip_src[0], &frame.ip_dst[0]),
                        (None, Some(_)) => (&frame.ip6_src[0], &frame.ip6_dst[0]),
                        // Both families: which one is outer is not in the
                        // field list; check the address is one of them.
                        _ => {
                            let s = packet.src.to_string();
                            assert!(
                                frame.ip_src.contains(&s) || frame.ip6_src.contains(&s),
                                "{at}"
                            );
                            continue;
                        }
                    };
                    assert_eq!(&packet.src.to_string(), src, "{at}");
                    assert_eq!(&packet.dst.to_string(), dst, "{at}");
                }
                continue;
            }
            if frame.fragment {
                // A fragment: Vigil reports the datagram once, on the frame
                // that completes it (as tshark shows the ports on it).
                match decoded {
                    Ok(None) => continue,
                    Ok(Some(_)) => {}
                    Err(e) => panic!("{at}: fragment: {e}"),
                }
            }
            let packet = match decoded {
                Ok(Some(packet)) => packet,
                other => panic!("{at}: tshark decodes IP, Vigil gives {other:?}"),
            };
            let (src, dst) =
                if let (Some(s), Some(d)) = (frame.ip_src.first(), frame.ip_dst.first()) {
                    let proto: u8 = frame.ip_proto[0].parse().unwrap();
                    assert_eq!(packet.protocol, proto, "{at}: ip.proto");
                    (s, d)
                } else {
                    (&frame.ip6_src[0], &frame.ip6_dst[0])
                };
            assert_eq!(&packet.src.to_string(), src, "{at}: src");
            assert_eq!(&packet.dst.to_string(), dst, "{at}: dst");
            match packet.transport {
                Transport::Tcp {
                    src_port, dst_port, ..
                } => {
                    assert_eq!(
                        Some((src_port, dst_port)),
                        frame.tcp_ports,
                        "{at}: tcp ports"
                    );
                }
                Transport::Udp { src_port, dst_port } => {
                    assert_eq!(
                        Some((src_port, dst_port)),
                        frame.udp_ports,
                        "{at}: udp ports"
                    );
                }
                _ => {
                    assert_eq!(frame.tcp_ports, None, "{at}");
                    assert_eq!(frame.udp_ports, None, "{at}");
                }
            }
            compared += 1;
        }
        assert_eq!(count, frames.len(), "{}: packet count", file.display());
    }
    eprintln!(
        "compared {compared} frames of {} captures with tshark",
        files.len()
    );
    assert!(compared > 1000, "only {compared} frames compared");
}

fn corpus_file(corpus: &str, sub: &str, name: &str) -> Option<PathBuf> {
    let dir = vigil_testkit::require_shared_data(corpus)?;
    Some(dir.join(sub).join(name))
}

/// The bytes of each packet and the reader's offset after it.
fn packets_with_offsets(bytes: &[u8]) -> Vec<(Vec<u8>, u64)> {
    let mut reader = CaptureReader::new(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(item) = reader.next_packet() {
        let data = item.unwrap().data.to_vec();
        out.push((data, reader.bytes_read()));
    }
    out
}

fn cut_mid_record_gives_truncated(bytes: &[u8]) {
    let packets = packets_with_offsets(bytes);
    assert!(packets.len() > 5);
    // Cut 10 bytes into the fifth record (after the fourth packet ends).
    let cut = packets[3].1 as usize + 10;
    let mut reader = CaptureReader::new(&bytes[..cut]).unwrap();
    for (expected, _) in &packets[..4] {
        let packet = reader.next_packet().unwrap().unwrap();
        assert_eq!(&packet.data, expected);
    }
    match reader.next_packet() {
        Some(Err(error @ CaptureError::Truncated { packet: 5 })) => assert!(error.is_fatal()),
        other => panic!("expected truncated at packet 5, got {other:?}"),
    }
    assert!(reader.next_packet().is_none());
}

#[test]
fn truncated_pcap_and_pcapng_name_the_packet() {
    let Some(pcap) = corpus_file("community-id-spec", "pcaps", "tcp.pcap") else {
        return;
    };
    let Some(pcapng) = corpus_file("ja4-vectors", "pcap", "tls-sni.pcapng") else {
        return;
    };
    cut_mid_record_gives_truncated(&std::fs::read(pcap).unwrap());
    cut_mid_record_gives_truncated(&std::fs::read(pcapng).unwrap());
}

#[test]
fn corrupt_pcap_record_header_is_reported_and_skipped() {
    let Some(path) = corpus_file("community-id-spec", "pcaps", "tcp.pcap") else {
        return;
    };
    let mut bytes = std::fs::read(path).unwrap();
    let packets = packets_with_offsets(&bytes);
    assert!(packets.len() > 5);
    // The record header of packet 5 starts where packet 4 ended; its
    // captured length (offset 8, little-endian here) becomes nonsense.
    assert_eq!(
        &bytes[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian pcap expected"
    );
    let at = packets[3].1 as usize;
    bytes[at + 8..at + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let mut reader = CaptureReader::new(bytes.as_slice()).unwrap();
    for _ in 0..4 {
        reader.next_packet().unwrap().unwrap();
    }
    match reader.next_packet() {
        Some(Err(error @ CaptureError::Corrupt { packet: 5, .. })) => {
            assert!(!error.is_fatal());
            assert!(
                error.to_string().starts_with("packet 5: corrupt record"),
                "{error}"
            );
        }
        other => panic!("expected a corrupt packet 5, got {other:?}"),
    }
    // Reading resumes at the next record.
    let next = reader.next_packet().unwrap().unwrap();
    assert_eq!(next.number, 6);
    assert_eq!(next.data, packets[5].0.as_slice());
    let mut rest = 1;
    while let Some(item) = reader.next_packet() {
        item.unwrap();
        rest += 1;
    }
    assert_eq!(rest, packets.len() - 5);
}

#[test]
fn corrupt_pcapng_packet_block_is_reported_and_skipped() {
    let Some(path) = corpus_file("ja4-vectors", "pcap", "tls-sni.pcapng") else {
        return;
    };
    let mut bytes = std::fs::read(path).unwrap();
    let packets = packets_with_offsets(&bytes);
    assert!(packets.len() > 5);
    // Packet 3's block starts where packet 2 ended (if no other block sits
    // between them, which this file's layout has): make its captured length
    // exceed the block.
    let at = packets[1].1 as usize;
    assert_eq!(
        &bytes[at..at + 4],
        &6u32.to_le_bytes(),
        "enhanced packet block expected"
    );
    bytes[at + 20..at + 24].copy_from_slice(&100_000u32.to_le_bytes());
    let mut reader = CaptureReader::new(bytes.as_slice()).unwrap();
    for _ in 0..2 {
        reader.next_packet().unwrap().unwrap();
    }
    match reader.next_packet() {
        Some(Err(error @ CaptureError::Corrupt { packet: 3, .. })) => assert!(!error.is_fatal()),
        other => panic!("expected a corrupt packet 3, got {other:?}"),
    }
    let next = reader.next_packet().unwrap().unwrap();
    assert_eq!(next.number, 4);
    assert_eq!(next.data, packets[3].0.as_slice());
}

#[test]
fn run_capture_keeps_what_came_before_a_truncation_and_counts_it() {
    use vigil_net::pipeline::{Pipeline, PipelineConfig};
    let Some(pcap) = corpus_file("community-id-spec", "pcaps", "tcp.pcap") else {
        return;
    };
    let bytes = std::fs::read(pcap).unwrap();
    let packets = packets_with_offsets(&bytes);
    let cut = packets[3].1 as usize + 10;
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let run = pipeline.run_capture(&mut CaptureReader::new(&bytes[..cut]).unwrap());
    assert!(
        matches!(
            run.capture_errors.as_slice(),
            [CaptureError::Truncated { packet: 5 }]
        ),
        "{:?}",
        run.capture_errors
    );
    let stats = pipeline.stats();
    assert_eq!(stats.get("packets", "total"), 4);
    assert_eq!(stats.get("capture", "truncated_file"), 1);
    let flow_packets: u64 = run
        .events
        .iter()
        .filter_map(|e| match &e.body {
            vigil_event::Body::Flow(f) => Some(f.traffic.packets),
            _ => None,
        })
        .sum();
    assert_eq!(
        flow_packets, 4,
        "the four packets before the cut are in flows"
    );
}
