//! Evidence capture and the rolling pcap backup over a real capture
//! (`examples/capture/sample.pcap`: HTTP, TLS over IPv4 and IPv6, SSH, DNS
//! on loopback), with what they write read back by tshark.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vigil_event::{Body, Timestamp};
use vigil_net::capture::CaptureReader;
use vigil_net::evidence::{CaptureTarget, Evidence, EvidenceConfig};
use vigil_net::pcap_ring::{extract, read_index, ExtractRequest, PcapRing, RingConfig};
use vigil_net::pipeline::{Pipeline, PipelineConfig};

fn sample() -> PathBuf {
    vigil_testkit::repo_root().join("examples/capture/sample.pcap")
}

fn reader(path: &Path) -> CaptureReader<BufReader<File>> {
    CaptureReader::new(BufReader::new(File::open(path).unwrap())).unwrap()
}

/// tshark's fields for each frame of `file`, one line per frame.
fn tshark(tshark: &Path, file: &Path, filter: Option<&str>, fields: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(tshark);
    cmd.arg("-n").arg("-r").arg(file).args(["-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    if let Some(filter) = filter {
        cmd.args(["-Y", filter]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The uid of the flow whose originator port is `port`.
fn flow_uid(port: u16) -> String {
    let mut p = Pipeline::new(PipelineConfig::default());
    let run = p.run_capture(&mut reader(&sample()));
    run.events
        .iter()
        .find_map(|e| match &e.body {
            Body::Flow(f) if f.src_endpoint.port == Some(port) => {
                Some(f.connection_info.uid.clone())
            }
            _ => None,
        })
        .expect("flow in sample")
}

/// Run the sample through a pipeline with evidence capture; when the ring
/// of flow `uid` holds `after` packets, start `target`.
fn capture_incident(
    dir: &Path,
    uid: &str,
    after: usize,
    target: CaptureTarget,
) -> (PathBuf, vigil_net::evidence::IncidentRecord) {
    let mut p = Pipeline::new(PipelineConfig::default());
    p.set_evidence(Evidence::new(EvidenceConfig::new(dir)));
    let mut events = Vec::new();
    let mut path = None;
    let mut r = reader(&sample());
    while let Some(item) = r.next_packet() {
        let packet = item.unwrap();
        p.process(&packet, &mut events).unwrap();
        let ev = p.evidence_mut().unwrap();
        if path.is_none() && ev.ring_len(uid) == after {
            path = ev.start(target.clone(), packet.ts).unwrap();
        }
    }
    p.finish(&mut events);
    let records = p.evidence_mut().unwrap().finish();
    assert_eq!(records.len(), 1);
    (path.expect("triggered"), records[0].clone())
}

#[test]
fn flow_incident_pcap_holds_the_packets_before_and_after_the_trigger() {
    let Some(tshark_bin) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let uid = flow_uid(59824);
    let (path, record) = capture_incident(dir.path(), &uid, 20, CaptureTarget::Flow(uid.clone()));
    assert!(path.starts_with(dir.path()));
    // tshark counts this conversation's frames in the original.
    let expected = tshark(
        &tshark_bin,
        &sample(),
        Some("tcp.port == 59824"),
        &["frame.time_epoch", "frame.len"],
    );
    assert_eq!(expected.len(), 64);
    assert_eq!(record.packets_before, 20);
    assert_eq!(record.packets_after, 44);
    let got = tshark(&tshark_bin, &path, None, &["frame.time_epoch", "frame.len"]);
    assert_eq!(got, expected, "same frames, same times, same order");
    let tuples = tshark(
        &tshark_bin,
        &path,
        None,
        &["ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport"],
    );
    for t in &tuples {
        assert!(
            t == "127.0.0.1\t127.0.0.1\t6\t59824\t8080"
                || t == "127.0.0.1\t127.0.0.1\t6\t8080\t59824",
            "frame of another flow: {t}"
        );
    }
    let index = std::fs::read_to_string(dir.path().join("incidents.jsonl")).unwrap();
    assert!(index.contains(&uid));
}

#[test]
fn host_incident_pcap_holds_every_frame_of_the_host() {
    let Some(tshark_bin) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let uid = flow_uid(45044);
    let host = "::1".parse().unwrap();
    let (path, record) = capture_incident(dir.path(), &uid, 5, CaptureTarget::Host(host));
    assert!(path.ends_with("incident-0001-host-__1.pcap"));
    let expected = tshark(
        &tshark_bin,
        &sample(),
        Some("ipv6.addr == ::1"),
        &["frame.time_epoch", "frame.len"],
    );
    assert_eq!(expected.len(), 16);
    assert_eq!((record.packets_before, record.packets_after), (5, 11));
    let got = tshark(&tshark_bin, &path, None, &["frame.time_epoch", "frame.len"]);
    assert_eq!(got, expected);
    let tuples = tshark(
        &tshark_bin,
        &path,
        None,
        &["ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport"],
    );
    assert!(tuples
        .iter()
        .all(|t| t == "::1\t::1\t45044\t8443" || t == "::1\t::1\t8443\t45044"));
}

/// Write the whole sample into a ring.
fn ring(config: RingConfig) -> PcapRing {
    let mut ring = PcapRing::open(config).unwrap();
    let mut r = reader(&sample());
    while let Some(item) = r.next_packet() {
        ring.write(&item.unwrap()).unwrap();
    }
    ring.finish().unwrap();
    ring
}

fn sample_times() -> Vec<i64> {
    let mut r = reader(&sample());
    let mut out = Vec::new();
    while let Some(item) = r.next_packet() {
        out.push(item.unwrap().ts.nanos());
    }
    out
}

fn pcaps_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    names
}

#[test]
fn ring_rotates_by_size_and_indexes_every_packet() {
    let Some(tshark_bin) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = RingConfig {
        max_file_bytes: 20_000,
        ..RingConfig::new(dir.path())
    };
    let ring = ring(config);
    let index = read_index(dir.path()).unwrap();
    let s = ring.stats();
    assert!(index.len() >= 5, "{index:?}");
    assert_eq!(s.files, index.len() as u64);
    assert_eq!(s.rotated_size, s.files - 1);
    assert_eq!((s.rotated_time, s.files_deleted), (0, 0));
    assert_eq!(index.iter().map(|e| e.packets).sum::<u64>(), 303);
    let times = sample_times();
    assert_eq!(index[0].first_ns, times[0]);
    assert_eq!(index.last().unwrap().last_ns, *times.last().unwrap());
    for pair in index.windows(2) {
        assert!(pair[0].last_ns <= pair[1].first_ns);
    }
    for e in &index {
        let path = dir.path().join(&e.file);
        assert!(e.bytes <= 20_000);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), e.bytes);
        let frames = tshark(&tshark_bin, &path, None, &["frame.number"]);
        assert_eq!(frames.len() as u64, e.packets, "{}", e.file);
    }
    assert_eq!(pcaps_in(dir.path()).len(), index.len());
}

#[test]
fn ring_rotates_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let span = Duration::from_millis(200);
    let ring = ring(RingConfig {
        max_file_span: span,
        ..RingConfig::new(dir.path())
    });
    let index = read_index(dir.path()).unwrap();
    let s = ring.stats();
    // 1.16 s of capture in 200 ms files.
    assert!(index.len() >= 6, "{index:?}");
    assert_eq!(s.rotated_time, s.files - 1);
    assert_eq!(s.rotated_size, 0);
    for e in &index {
        assert!(e.last_ns - e.first_ns < span.as_nanos() as i64, "{e:?}");
    }
    assert_eq!(index.iter().map(|e| e.packets).sum::<u64>(), 303);
}

#[test]
fn ring_keeps_at_most_k_files_and_b_bytes_deleting_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let ring_k = ring(RingConfig {
        max_file_bytes: 20_000,
        max_files: 3,
        ..RingConfig::new(dir.path())
    });
    let index = read_index(dir.path()).unwrap();
    let s = ring_k.stats();
    assert_eq!(index.len(), 3);
    assert_eq!(pcaps_in(dir.path()).len(), 3);
    assert_eq!(s.files_deleted, s.files - 3);
    let kept: u64 = index.iter().map(|e| e.packets).sum();
    assert_eq!(s.packets_deleted + kept, 303);
    assert_eq!(
        index.last().unwrap().last_ns,
        *sample_times().last().unwrap()
    );
    // The newest files are the ones kept.
    let names: Vec<&str> = index.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(names, pcaps_in(dir.path()));
    let last_seq = s.files;
    assert_eq!(names[2], format!("vigil-{last_seq:06}.pcap"));

    let dir = tempfile::tempdir().unwrap();
    let ring_b = ring(RingConfig {
        max_file_bytes: 20_000,
        max_total_bytes: 50_000,
        ..RingConfig::new(dir.path())
    });
    let index = read_index(dir.path()).unwrap();
    let total: u64 = index.iter().map(|e| e.bytes).sum();
    assert!(total <= 50_000 && total > 30_000, "{total}");
    assert!(ring_b.stats().files_deleted > 0);
    assert_eq!(
        ring_b.stats().bytes_deleted + total,
        ring_b.stats().bytes,
        "every byte written is kept or counted as deleted"
    );
}

#[test]
fn ring_continues_an_existing_index() {
    let dir = tempfile::tempdir().unwrap();
    let config = RingConfig {
        max_file_bytes: 50_000,
        ..RingConfig::new(dir.path())
    };
    let first = ring(config.clone()).stats().files;
    ring(config);
    let index = read_index(dir.path()).unwrap();
    assert_eq!(index.len() as u64, first * 2);
    assert_eq!(index.iter().map(|e| e.packets).sum::<u64>(), 606);
    assert_eq!(pcaps_in(dir.path()).len(), index.len());
}

fn epoch(ns: i64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

#[test]
fn extract_returns_exactly_the_packets_in_the_window() {
    let Some(tshark_bin) = vigil_testkit::require_tool("tshark") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    ring(RingConfig {
        max_file_bytes: 20_000,
        ..RingConfig::new(dir.path())
    });
    let times = sample_times();
    let (from, to) = (times[49], times[249]);
    let out = dir.path().join("window.pcap");
    let req = ExtractRequest {
        from: Timestamp::from_nanos(from),
        to: Timestamp::from_nanos(to),
        host: None,
    };
    let stats = extract(dir.path(), &req, &out).unwrap();
    let filter = format!(
        "frame.time_epoch >= {} && frame.time_epoch <= {}",
        epoch(from),
        epoch(to)
    );
    // Not frame.protocols: tshark's TCP reassembly labels a segment
    // differently when the window starts mid-stream.
    let fields = [
        "frame.time_epoch",
        "frame.len",
        "ip.src",
        "ipv6.src",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
    ];
    let expected = tshark(&tshark_bin, &sample(), Some(&filter), &fields);
    let expected_n = times.iter().filter(|&&t| t >= from && t <= to).count();
    assert_eq!(expected.len(), expected_n);
    assert_eq!(stats.packets_written as usize, expected_n);
    assert!(stats.files_read < read_index(dir.path()).unwrap().len() as u64);
    assert_eq!(tshark(&tshark_bin, &out, None, &fields), expected);

    // With a host: only the IPv6 conversation.
    let out6 = dir.path().join("host.pcap");
    let req = ExtractRequest {
        from: Timestamp::from_nanos(times[0]),
        to: Timestamp::from_nanos(*times.last().unwrap()),
        host: Some("::1".parse().unwrap()),
    };
    let stats = extract(dir.path(), &req, &out6).unwrap();
    let expected = tshark(&tshark_bin, &sample(), Some("ipv6.addr == ::1"), &fields);
    assert_eq!(stats.packets_written, 16);
    assert_eq!(tshark(&tshark_bin, &out6, None, &fields), expected);

    // A window with nothing in it gives an empty, valid pcap.
    let empty = dir.path().join("empty.pcap");
    let req = ExtractRequest {
        from: Timestamp::from_nanos(0),
        to: Timestamp::from_nanos(1),
        host: None,
    };
    assert_eq!(
        extract(dir.path(), &req, &empty).unwrap().packets_written,
        0
    );
    assert!(tshark(&tshark_bin, &empty, None, &["frame.number"]).is_empty());
}
