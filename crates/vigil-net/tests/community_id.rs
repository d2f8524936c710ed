//! Community ID of every flow against the spec's own test vectors: each pcap
//! of `community-id-spec/pcaps` runs through the whole pipeline (capture,
//! decode, flow table), and every flow record must carry the baseline's
//! Community ID for its tuple, and every baseline tuple must have a flow.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;
use vigil_event::{Body, FlowRecord};
use vigil_net::capture::CaptureReader;
use vigil_net::community_id::icmp_counterpart;
use vigil_net::flow::FlowConfig;
use vigil_net::pipeline::{Pipeline, PipelineConfig};

/// (proto, src, dst, sport, dport) as the baseline writes it; ICMP "ports"
/// are (type, reply type) for request/reply types, else (type, code).
type Tuple = (u8, IpAddr, IpAddr, Option<u16>, Option<u16>);

/// The flow's tuple, and its reverse when the flow is bidirectional.
fn tuples(f: &FlowRecord) -> Vec<Tuple> {
    let proto = f.connection_info.protocol_num;
    let (src, dst) = (f.src_endpoint.ip, f.dst_endpoint.ip);
    match f.icmp {
        Some(icmp) => match icmp_counterpart(proto, icmp.icmp_type) {
            Some(c) => vec![
                (proto, src, dst, Some(icmp.icmp_type.into()), Some(c.into())),
                (proto, dst, src, Some(c.into()), Some(icmp.icmp_type.into())),
            ],
            None => vec![(
                proto,
                src,
                dst,
                Some(icmp.icmp_type.into()),
                Some(icmp.code.into()),
            )],
        },
        None => {
            let (sp, dp) = (f.src_endpoint.port, f.dst_endpoint.port);
            vec![(proto, src, dst, sp, dp), (proto, dst, src, dp, sp)]
        }
    }
}

fn flows_of(pcap: &Path, seed: u16) -> Vec<FlowRecord> {
    let file = std::fs::File::open(pcap).unwrap();
    let mut reader = CaptureReader::new(file).unwrap();
    let config = PipelineConfig {
        flow: FlowConfig {
            community_id_seed: seed,
            ..FlowConfig::default()
        },
        ..PipelineConfig::default()
    };
    let run = Pipeline::new(config).run_capture(&mut reader);
    if let Some(error) = run.capture_errors.first() {
        panic!("{}: {error}", pcap.display());
    }
    let events = run.events;
    events
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Flow(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn baseline(path: &Path) -> HashMap<Tuple, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    entries
        .iter()
        .map(|e| {
            let port = |k: &str| e[k].as_u64().map(|p| p as u16);
            let tuple = (
                e["proto"].as_u64().unwrap() as u8,
                e["saddr"].as_str().unwrap().parse().unwrap(),
                e["daddr"].as_str().unwrap().parse().unwrap(),
                port("sport"),
                port("dport"),
            );
            (tuple, e["communityid"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn check(seed: u16, baseline_file: &str) {
    let Some(dir) = vigil_testkit::require_shared_data("community-id-spec") else {
        return;
    };
    let expected = baseline(&dir.join("baseline").join(baseline_file));
    assert!(!expected.is_empty());
    let mut pcaps: Vec<_> = std::fs::read_dir(dir.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 8, "the spec's pcaps are missing");

    let mut seen: HashMap<Tuple, String> = HashMap::new();
    for pcap in &pcaps {
        for flow in flows_of(pcap, seed) {
            let id = flow.connection_info.community_uid.clone();
            let ts = tuples(&flow);
            let want = expected.get(&ts[0]).unwrap_or_else(|| {
                panic!(
                    "{}: flow {:?} is not in the baseline",
                    pcap.display(),
                    ts[0]
                )
            });
            assert_eq!(&id, want, "{}: flow {:?}", pcap.display(), ts[0]);
            for t in ts {
                seen.insert(t, id.clone());
            }
        }
    }
    for (tuple, id) in &expected {
        assert_eq!(
            seen.get(tuple),
            Some(id),
            "baseline tuple {tuple:?} has no flow with its Community ID"
        );
    }
}

#[test]
fn community_id_matches_spec_baseline_default_seed() {
    check(0, "baseline_deflt.json");
}

#[test]
fn community_id_matches_spec_baseline_seed_1() {
    check(1, "baseline_seed1.json");
}
