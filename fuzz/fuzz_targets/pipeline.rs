//! Any bytes as a capture run through the whole pipeline (decode, flows,
//! reassembly, every protocol parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_net::capture::CaptureReader;
use vigil_net::pipeline::{Pipeline, PipelineConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let events = Pipeline::new(PipelineConfig::default()).run_capture(&mut reader).events;
    for event in &events {
        let _ = event.to_json_line();
    }
});
