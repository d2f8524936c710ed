//! Any text as rule files: the parser and loader report per-rule reasons,
//! never panic; what they accept the engine compiles without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_sig::engine::SignatureEngine;
use vigil_sig::load::Loader;
use vigil_sig::parse::parse_rule;
use vigil_sig::vars::Vars;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars = Vars::default();
    for line in text.lines() {
        if let Ok(rule) = parse_rule(line, &vars) {
            // What parses prints back to something that parses the same.
            let again = parse_rule(&rule.to_string(), &vars).expect("a printed rule parses");
            assert_eq!(again, rule);
        }
    }
    let mut loader = Loader::new(vars);
    loader.load_text("fuzz.rules", &text);
    let (rules, _summary) = loader.finish();
    let _ = SignatureEngine::compile(rules);
});
