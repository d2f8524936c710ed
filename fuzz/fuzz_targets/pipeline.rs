//! Any bytes as a capture run through the whole pipeline (decode, flows,
//! reassembly, every protocol parser, and the signature engine with Vigil's
//! default ruleset on every inspection point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_net::capture::CaptureReader;
use vigil_net::pipeline::{Pipeline, PipelineConfig};
use vigil_sig::engine::SignatureEngine;
use vigil_sig::load::Loader;
use vigil_sig::vars::Vars;

const DEFAULT_RULES: &str = include_str!("../../rules/vigil-web.rules");

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let mut loader = Loader::new(Vars::default());
    loader.load_text("vigil-web.rules", DEFAULT_RULES);
    let (rules, _) = loader.finish();
    let (engine, _) = SignatureEngine::compile(rules);
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    pipeline.set_inspector(Box::new(engine));
    let events = pipeline.run_capture(&mut reader).events;
    for event in &events {
        let _ = event.to_json_line();
    }
});
