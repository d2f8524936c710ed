//! docs/events.md stays true: every JSON example in it parses as a Vigil
//! event, survives a round trip unchanged, and every record kind has one.

use std::collections::BTreeSet;

use vigil_event::Event;

#[test]
fn every_example_in_docs_events_is_a_valid_event() {
    let path = vigil_testkit::repo_root().join("docs").join("events.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut kinds = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```json\n") {
        let after = &rest[start + 8..];
        let end = after.find("\n```").expect("unterminated json block");
        let json = &after[..end];
        let event: Event = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("example does not parse as an event: {e}\n{json}"));
        // Round trip: what Vigil would write for it is the same JSON value.
        let back: serde_json::Value = serde_json::from_str(&event.to_json_line().unwrap()).unwrap();
        let original: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back, original, "example changes on a round trip");
        kinds.insert(event.kind().name());
        rest = &after[end..];
    }
    let want: BTreeSet<&str> = ["flow", "dns", "http", "tls", "ssh", "finding", "stats"]
        .into_iter()
        .collect();
    assert_eq!(
        kinds, want,
        "docs/events.md has one example of every record kind"
    );
}
