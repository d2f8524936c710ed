use vigil_event::{ConnectionInfo, Endpoint, FlowRecord, Traffic};

use super::*;

fn meta(uid: &str, a: &str, b: &str) -> FlowMeta {
    FlowMeta {
        originator: Endpoint::new(a.parse().unwrap(), 40000),
        responder: Endpoint::new(b.parse().unwrap(), 80),
        connection_info: ConnectionInfo::tcp(uid, "1:x"),
    }
}

fn raw(ms: i64, data: &[u8]) -> RawPacket<'_> {
    RawPacket {
        number: 0,
        ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + ms * 1_000_000),
        linktype: LinkType::RAW,
        orig_len: data.len() as u32,
        data,
    }
}

fn config(dir: &Path) -> EvidenceConfig {
    EvidenceConfig {
        ring_packets: 4,
        ring_bytes: 1000,
        budget_bytes: 10_000,
        ..EvidenceConfig::new(dir)
    }
}

fn flow_end(uid: &str) -> Event {
    let m = meta(uid, "10.0.0.1", "10.0.0.2");
    Event::new(
        Timestamp::default(),
        Body::Flow(FlowRecord {
            src_endpoint: m.originator,
            dst_endpoint: m.responder,
            connection_info: m.connection_info,
            traffic: Traffic::default(),
            start_time: 0,
            end_time: 0,
            duration: 0,
            duration_us: 0,
            app_name: None,
            conn_state: None,
            history: None,
            end_reason: "closed".into(),
            reassembly: None,
            icmp: None,
        }),
    )
}

#[test]
fn ring_keeps_the_last_packets_and_bytes_of_a_flow() {
    let dir = std::env::temp_dir();
    let mut ev = Evidence::new(config(&dir));
    let m = meta("F1", "10.0.0.1", "10.0.0.2");
    let frame = [7u8; 100];
    for i in 0..10 {
        ev.packet(&raw(i, &frame), Some(&m), &[]);
    }
    assert_eq!(ev.ring_len("F1"), 4);
    assert_eq!(ev.buffered_bytes(), 400);
    let s = ev.stats();
    assert_eq!((s.packets_buffered, s.ring_overwritten), (10, 6));

    // The byte limit: 300-byte frames, 1000 bytes → 3 kept.
    let big = [1u8; 300];
    let m2 = meta("F2", "10.0.0.1", "10.0.0.3");
    for i in 0..5 {
        ev.packet(&raw(20 + i, &big), Some(&m2), &[]);
    }
    assert_eq!(ev.ring_len("F2"), 3);
    assert_eq!(ev.stats().ring_overwritten, 6 + 2);
    // A frame larger than a whole ring is not kept.
    let huge = [0u8; 1001];
    ev.packet(&raw(30, &huge), Some(&m2), &[]);
    assert_eq!(ev.stats().ring_too_large, 1);
    assert_eq!(ev.buffered_bytes(), 400 + 900);
}

#[test]
fn global_budget_evicts_oldest_packets_of_least_recent_flows() {
    let dir = std::env::temp_dir();
    let mut ev = Evidence::new(EvidenceConfig {
        ring_packets: 10,
        budget_bytes: 500,
        ..config(&dir)
    });
    let frame = [0u8; 100];
    for (k, uid) in ["A", "B", "C"].iter().enumerate() {
        let m = meta(uid, "10.0.0.1", "10.0.0.2");
        for i in 0..3 {
            ev.packet(&raw(k as i64 * 10 + i, &frame), Some(&m), &[]);
            assert!(ev.buffered_bytes() <= 500);
        }
    }
    // 900 bytes offered, 500 kept: A lost all 3 (its ring is gone), B one.
    assert_eq!(ev.buffered_bytes(), 500);
    assert_eq!(ev.stats().budget_evicted, 4);
    assert_eq!(
        (ev.ring_len("A"), ev.ring_len("B"), ev.ring_len("C")),
        (0, 2, 3)
    );
    assert_eq!(ev.rings(), 2);
}

#[test]
fn rings_per_flow_are_bounded_and_dropped_after_the_flow_ends() {
    let dir = std::env::temp_dir();
    let mut ev = Evidence::new(EvidenceConfig {
        max_rings: 2,
        ..config(&dir)
    });
    let frame = [0u8; 10];
    for (i, uid) in ["A", "B", "C"].iter().enumerate() {
        ev.packet(
            &raw(i as i64, &frame),
            Some(&meta(uid, "10.0.0.1", "10.0.0.2")),
            &[],
        );
    }
    assert_eq!(ev.rings(), 2);
    assert_eq!(ev.ring_len("A"), 0);
    assert_eq!(ev.stats().rings_evicted, 1);
    assert_eq!(ev.buffered_bytes(), 20);
    // B ends with the next packet; its ring stays until the packet after.
    let c = meta("C", "10.0.0.1", "10.0.0.2");
    ev.packet(&raw(5, &frame), Some(&c), &[flow_end("B")]);
    assert_eq!(ev.ring_len("B"), 1);
    ev.packet(&raw(6, &frame), Some(&c), &[]);
    assert_eq!(ev.ring_len("B"), 0);
    assert_eq!(ev.stats().rings_ended, 1);
    assert_eq!(ev.buffered_bytes(), 30);
}

#[test]
fn flow_incident_holds_packets_before_and_after_the_trigger() {
    let tmp = tempdir();
    let mut ev = Evidence::new(config(&tmp));
    let m = meta("F1", "10.0.0.1", "10.0.0.2");
    let other = meta("F2", "10.0.0.7", "10.0.0.8");
    for i in 0..6u8 {
        ev.packet(&raw(i64::from(i), &[0x45, i]), Some(&m), &[]);
        ev.packet(&raw(i64::from(i), &[0x45, 0xff]), Some(&other), &[]);
    }
    let path = ev
        .start(CaptureTarget::Flow("F1".into()), raw(5, &[]).ts)
        .unwrap()
        .unwrap();
    assert!(path.ends_with("incident-0001-flow-F1.pcap"));
    // Starting again returns the same incident.
    assert_eq!(
        ev.start(CaptureTarget::Flow("F1".into()), raw(6, &[]).ts)
            .unwrap(),
        Some(path.clone())
    );
    assert_eq!(ev.incident_for(Some("F1"), &[]), Some(path.as_path()));
    for i in 6..9u8 {
        ev.packet(&raw(i64::from(i), &[0x45, i]), Some(&m), &[]);
        ev.packet(&raw(i64::from(i), &[0x45, 0xff]), Some(&other), &[]);
    }
    // The flow ends: the incident closes.
    ev.packet(&raw(10, &[0x45, 0xee]), Some(&other), &[flow_end("F1")]);
    assert_eq!(ev.incident_for(Some("F1"), &[]), None);
    let all = ev.finish();
    assert_eq!(all.len(), 1);
    let r = &all[0];
    // The ring held the last 4 of the 6 packets before the trigger.
    assert_eq!((r.packets_before, r.packets_after), (4, 3));
    assert_eq!(r.end_reason, "flow_ended");
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = crate::capture::CaptureReader::new(bytes.as_slice()).unwrap();
    let mut seen = Vec::new();
    while let Some(Ok(p)) = reader.next_packet() {
        seen.push(p.data[1]);
    }
    assert_eq!(seen, vec![2, 3, 4, 5, 6, 7, 8]);
    let index = std::fs::read_to_string(tmp.join("incidents.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(index.lines().next().unwrap()).unwrap();
    assert_eq!(line["packets_before_trigger"], 4);
    assert_eq!(line["kind"], "flow");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn trigger_with_the_flow_end_still_finds_the_ring() {
    let tmp = tempdir();
    let mut ev = Evidence::new(config(&tmp));
    let m = meta("F1", "10.0.0.1", "10.0.0.2");
    ev.packet(&raw(0, &[0x45, 1]), Some(&m), &[]);
    // The next packet (another flow's) ends F1; the finding comes after.
    let o = meta("F2", "10.0.0.3", "10.0.0.4");
    ev.packet(&raw(1, &[0x45, 2]), Some(&o), &[flow_end("F1")]);
    ev.start(CaptureTarget::Flow("F1".into()), raw(1, &[]).ts)
        .unwrap()
        .unwrap();
    let r = ev.finish();
    assert_eq!((r[0].packets_before, r[0].end_reason), (1, "flow_ended"));
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn host_incident_merges_flows_splits_link_types_and_ends_when_idle() {
    let tmp = tempdir();
    let mut ev = Evidence::new(EvidenceConfig {
        host_idle_secs: 10,
        ..config(&tmp)
    });
    let a = meta("FA", "10.0.0.5", "10.0.0.2");
    let b = meta("FB", "10.0.0.9", "10.0.0.5");
    let c = meta("FC", "10.0.0.7", "10.0.0.8");
    ev.packet(&raw(0, &[0x45, 1]), Some(&a), &[]);
    ev.packet(&raw(1, &[0x45, 2]), Some(&b), &[]);
    ev.packet(&raw(2, &[0x45, 3]), Some(&c), &[]);
    ev.packet(&raw(3, &[0x45, 4]), Some(&a), &[]);
    let host: IpAddr = "10.0.0.5".parse().unwrap();
    let path = ev
        .start(CaptureTarget::Host(host), raw(3, &[]).ts)
        .unwrap()
        .unwrap();
    assert!(path.ends_with("incident-0001-host-10.0.0.5.pcap"));
    // A later packet of the host on another link type.
    let mut sll = raw(4, &[0, 0, 0, 0, 9]);
    sll.linktype = LinkType::LINUX_SLL;
    ev.packet(&sll, Some(&b), &[]);
    assert_eq!(ev.incident_for(None, &[host]), Some(path.as_path()));
    // 20 s without the host: the incident ends.
    ev.packet(&raw(20_000, &[0x45, 5]), Some(&c), &[]);
    assert_eq!(ev.incident_for(None, &[host]), None);
    let r = ev.finish();
    assert_eq!(r[0].end_reason, "host_idle");
    assert_eq!((r[0].packets_before, r[0].packets_after), (3, 1));
    assert_eq!(r[0].files.len(), 2);
    assert!(r[0].files[1].ends_with("incident-0001-host-10.0.0.5-linktype-113.pcap"));
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = crate::capture::CaptureReader::new(bytes.as_slice()).unwrap();
    let mut seen = Vec::new();
    while let Some(Ok(p)) = reader.next_packet() {
        seen.push(p.data[1]);
    }
    assert_eq!(
        seen,
        vec![1, 2, 4],
        "both flows of the host, in capture order"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn incidents_are_bounded() {
    let tmp = tempdir();
    let mut ev = Evidence::new(EvidenceConfig {
        max_incidents: 1,
        max_incident_bytes: 24 + 18,
        ..config(&tmp)
    });
    let m = meta("F1", "10.0.0.1", "10.0.0.2");
    ev.packet(&raw(0, &[0x45, 1]), Some(&m), &[]);
    ev.packet(&raw(1, &[0x45, 2]), Some(&m), &[]);
    ev.start(CaptureTarget::Flow("F1".into()), raw(1, &[]).ts)
        .unwrap()
        .unwrap();
    assert_eq!(
        ev.start(
            CaptureTarget::Host("10.0.0.1".parse().unwrap()),
            raw(1, &[]).ts
        )
        .unwrap(),
        None
    );
    let s = ev.stats();
    assert_eq!(s.incidents_refused, 1);
    assert_eq!((s.packets_before, s.packets_over_limit), (1, 1));
    std::fs::remove_dir_all(&tmp).unwrap();
}

fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vigil-evidence-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
