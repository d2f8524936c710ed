//! The benign sample capture (real curl, dig, openssl and ssh traffic on
//! loopback) through the capture pipeline and the anomaly engine: no
//! finding, and the engine read every record.

use std::fs::File;
use std::io::BufReader;

use vigil_anomaly::{AnomalyConfig, AnomalyEngine};
use vigil_event::{Event, RecordKind};
use vigil_net::capture::CaptureReader;
use vigil_net::pipeline::{Pipeline, PipelineConfig};

fn sample_events() -> Vec<Event> {
    let path = vigil_testkit::repo_root().join("examples/capture/sample.pcap");
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = CaptureReader::new(BufReader::new(file)).expect("a capture");
    let run = Pipeline::new(PipelineConfig::default()).run_capture(&mut reader);
    assert!(run.capture_errors.is_empty());
    run.events
}

fn analyze(config: AnomalyConfig, events: &[Event]) -> (Vec<Event>, AnomalyEngine) {
    let mut engine = AnomalyEngine::new(config);
    let mut out = Vec::new();
    for e in events {
        engine.observe(e, &mut out);
    }
    engine.finish(&mut out);
    (out, engine)
}

#[test]
fn benign_sample_raises_no_anomaly() {
    let events = sample_events();
    let records = events
        .iter()
        .filter(|e| !matches!(e.kind(), RecordKind::Stats | RecordKind::Finding))
        .count() as u64;
    assert!(records > 20, "the sample has traffic: {records}");
    let (out, engine) = analyze(AnomalyConfig::default(), &events);
    let lines: Vec<String> = out
        .iter()
        .map(|e| e.to_json_line().unwrap_or_default())
        .collect();
    assert!(
        lines.is_empty(),
        "findings on benign traffic:\n{}",
        lines.join("\n")
    );
    let counters = engine.counters();
    assert_eq!(counters.first(), Some(&("events", records)));
}

#[test]
fn benign_sample_is_quiet_even_without_learning() {
    // With the rare-destination learning period off, every first contact
    // would be reported; the other detectors must still stay quiet.
    let events = sample_events();
    let mut config = AnomalyConfig::default();
    config.rare.enabled = false;
    config.volume.warmup = 5;
    let (out, _) = analyze(config, &events);
    assert!(out.is_empty(), "{out:#?}");
}
