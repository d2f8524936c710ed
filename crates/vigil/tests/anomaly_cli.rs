//! `vigil analyze` with the anomaly detectors: a hand-built SYN scan of
//! 40 ports is reported as one vertical port scan finding naming the
//! scanner, and `--no-anomalies` turns the detectors off.

use assert_cmd::Command;
use etherparse::PacketBuilder;
use serde_json::Value;

/// A classic microsecond pcap; frames are (µs since the first, frame).
fn pcap(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (us, frame) in frames {
        let secs = 1_700_000_000u64 + us / 1_000_000;
        out.extend_from_slice(&(secs as u32).to_le_bytes());
        out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, syn: bool) -> Vec<u8> {
    let base = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, if syn { 1000 } else { 0 }, 1024);
    let builder = if syn {
        base.syn()
    } else {
        base.rst().ack(1001)
    };
    let mut frame = Vec::with_capacity(builder.size(0));
    builder.write(&mut frame, &[]).unwrap();
    frame
}

/// 10.0.0.1 sends a SYN to 40 ports of 10.0.0.2, 1 ms apart; each is refused.
fn syn_scan() -> Vec<u8> {
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut frames = Vec::new();
    for port in 1..=40u16 {
        let t = u64::from(port) * 1000;
        frames.push((t, tcp(a, b, 50000, port, true)));
        frames.push((t + 100, tcp(b, a, port, 50000, false)));
    }
    pcap(&frames)
}

fn run(args: &[&str]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pcap");
    std::fs::write(&path, syn_scan()).unwrap();
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&path)
        .args(args)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_syn_scan_is_one_vertical_scan_finding() {
    let events = run(&[]);
    let findings: Vec<&Value> = events.iter().filter(|e| e["record"] == "finding").collect();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = findings[0];
    assert_eq!(f["class_uid"], 2004);
    assert_eq!(
        f["finding_info"]["analytic"]["uid"],
        "anomaly:port_scan_vertical"
    );
    assert_eq!(f["subject"]["value"], "10.0.0.1");
    assert_eq!(f["dst_endpoint"]["ip"], "10.0.0.2");
    assert_eq!(f["evidence"]["distinct_ports"], 40);
    assert_eq!(f["evidence"]["refused"], 40);
    assert!(f["connection_info"]["community_uid"].is_string());
    let stats = events.last().unwrap();
    assert_eq!(stats["record"], "stats");
    assert_eq!(stats["counters"]["anomaly"]["scan.vertical.findings"], 1);
    assert_eq!(stats["counters"]["anomaly"]["scan.flows"], 40);
}

#[test]
fn no_anomalies_turns_the_detectors_off() {
    let events = run(&["--no-anomalies"]);
    assert!(events.iter().all(|e| e["record"] != "finding"));
    let stats = events.last().unwrap();
    assert_eq!(stats["record"], "stats");
    assert!(stats["counters"].get("anomaly").is_none());
    assert_eq!(events.iter().filter(|e| e["record"] == "flow").count(), 40);
}
