//! Any bytes as a capture run through the whole pipeline (decode, flows,
//! reassembly, every protocol parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_net::capture::CaptureReader;
use vigil_net::pipeline::{Pipeline, PipelineConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let mut events = Vec::new();
    while let Some(item) = reader.next_packet() {
        match item {
            Ok(packet) => {
                let _ = pipeline.process(&packet, &mut events);
                events.clear();
            }
            Err(e) if e.is_fatal() => break,
            Err(_) => {}
        }
    }
    pipeline.finish(&mut events);
    for event in &events {
        let _ = event.to_json_line();
    }
});
