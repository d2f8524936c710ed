//! Any text as a rule condition: the parser never panics and points its
//! errors inside the text; what parses prints back to the same tree, and
//! its tree view prints; what checks compiles, and the compiled condition
//! agrees with a one-condition set on every sample event.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_event::Event;
use vigil_rules::expr::{self, ConditionSet};

fn samples() -> &'static [Event] {
    static SAMPLES: OnceLock<Vec<Event>> = OnceLock::new();
    SAMPLES.get_or_init(vigil_event::fields::samples)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (e, spans) = match expr::parse_spanned(&text) {
        Ok(parsed) => parsed,
        Err(err) => {
            let column = err.column();
            assert!(column >= 1 && column <= text.chars().count() + 1, "{err}");
            return;
        }
    };
    let printed = expr::to_infix(&e);
    assert_eq!(expr::parse(&printed).as_ref(), Ok(&e), "printed as {printed}");
    assert!(!expr::to_tree(&e).is_empty());
    if expr::check_spanned(&e, &spans).is_err() {
        return;
    }
    let condition = expr::compile(&e).expect("a condition that checks compiles");
    let mut set = ConditionSet::new();
    set.add(7, &e).expect("a condition that checks compiles");
    let mut out = Vec::new();
    for event in samples() {
        set.matches(event, &mut out);
        assert_eq!(condition.matches(event), out == [7], "{printed}");
    }
});
