//! `vigil analyze` as a user runs it: hand-built captures with known contents,
//! bad inputs, output directory and EVE format.

use std::path::Path;

use assert_cmd::Command;
use etherparse::PacketBuilder;
use serde_json::Value;

/// A classic little-endian microsecond pcap with Ethernet frames.
fn pcap(frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, (usec, frame)) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&usec.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).unwrap();
    frame
}

/// Two datagrams one way, one back: one UDP flow, 3 packets.
fn udp_exchange() -> Vec<u8> {
    let a = [10, 0, 0, 1];
    let b = [10, 0, 0, 2];
    pcap(&[
        (0, udp(a, b, 40000, 7777, b"hello there")),
        (10, udp(a, b, 40000, 7777, b"again")),
        (20, udp(b, a, 7777, 40000, b"reply")),
    ])
}

fn lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_clean_capture_gives_flows_then_stats_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "udp.pcap", &udp_exchange());
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out.stdout);
    let flows: Vec<&Value> = events.iter().filter(|e| e["record"] == "flow").collect();
    assert_eq!(flows.len(), 1);
    let flow = flows[0];
    assert_eq!(flow["class_uid"], 4001);
    assert_eq!(flow["src_endpoint"]["ip"], "10.0.0.1");
    assert_eq!(flow["src_endpoint"]["port"], 40000);
    assert_eq!(flow["dst_endpoint"]["port"], 7777);
    assert_eq!(flow["traffic"]["packets_out"], 2);
    assert_eq!(flow["traffic"]["packets_in"], 1);
    // Frame bytes: 14 Ethernet + 20 IPv4 + 8 UDP + payload.
    assert_eq!(flow["traffic"]["bytes_out"], (42 + 11) + (42 + 5));
    assert_eq!(flow["traffic"]["bytes_in"], 42 + 5);
    assert!(flow["connection_info"]["community_uid"]
        .as_str()
        .unwrap()
        .starts_with("1:"));
    let last = events.last().unwrap();
    assert_eq!(last["record"], "stats");
    assert_eq!(last["counters"]["packets"]["total"], 3);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("10.0.0.1"),
        "summary names top talkers: {summary}"
    );
}

#[test]
fn not_a_capture_is_named_and_the_rest_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(
        dir.path(),
        "junk.pcap",
        b"this is not a capture file at all, just text\n",
    );
    let good = write(dir.path(), "good.pcap", &udp_exchange());
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&junk)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("junk.pcap"),
        "error names the file: {stderr}"
    );
    let events = lines(&out.stdout);
    assert_eq!(
        events.iter().filter(|e| e["record"] == "flow").count(),
        1,
        "the good file is still analyzed"
    );
}

#[test]
fn a_truncated_capture_names_the_packet_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = udp_exchange();
    bytes.truncate(bytes.len() - 7); // cut inside the third record
    let file = write(dir.path(), "cut.pcap", &bytes);
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut.pcap") && stderr.contains("packet 3"),
        "stderr: {stderr}"
    );
    let events = lines(&out.stdout);
    let flow = events
        .iter()
        .find(|e| e["record"] == "flow")
        .expect("a flow from the first two packets");
    assert_eq!(flow["traffic"]["packets_out"], 2);
    // The stats record counts the problem under the reader's own reason.
    let stats = events.last().unwrap();
    assert_eq!(stats["record"], "stats");
    assert_eq!(stats["counters"]["capture"]["truncated_file"], 1, "{stats}");
}

#[test]
fn out_dir_gets_one_file_per_record_kind() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "udp.pcap", &udp_exchange());
    let out_dir = dir.path().join("out");
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let flows = std::fs::read_to_string(out_dir.join("flow.jsonl")).unwrap();
    assert_eq!(flows.lines().count(), 1);
    let stats = std::fs::read_to_string(out_dir.join("stats.jsonl")).unwrap();
    assert_eq!(stats.lines().count(), 1);
}

#[test]
fn eve_format_uses_suricata_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "udp.pcap", &udp_exchange());
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .arg("analyze")
        .arg(&file)
        .args(["--format", "eve", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let events = lines(&out.stdout);
    let flow = events.iter().find(|e| e["event_type"] == "flow").unwrap();
    assert_eq!(flow["proto"], "UDP");
    assert_eq!(flow["src_ip"], "10.0.0.1");
    assert_eq!(flow["dest_port"], 7777);
    assert_eq!(flow["flow"]["pkts_toserver"], 2);
    assert_eq!(flow["flow"]["pkts_toclient"], 1);
    assert!(flow["flow_id"].is_u64());
    assert_eq!(events.last().unwrap()["event_type"], "stats");
    assert_eq!(events.last().unwrap()["stats"]["decoder"]["pkts"], 3);
}

#[test]
fn a_missing_file_is_reported() {
    let out = Command::cargo_bin("vigil")
        .unwrap()
        .args(["analyze", "/nonexistent/vigil-no-such.pcap", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("vigil-no-such.pcap"));
}
