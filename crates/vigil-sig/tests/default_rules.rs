//! Vigil's own default ruleset (`rules/vigil-web.rules`) loads completely,
//! with sids in the private range and every rule documented by group.

use std::path::PathBuf;

use vigil_sig::load::load_files;
use vigil_sig::vars::Vars;

fn ruleset() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules/vigil-web.rules")
}

#[test]
fn every_default_rule_loads() {
    let (rules, summary) = load_files(&[ruleset()], &Vars::default()).unwrap();
    assert_eq!(summary.skipped_total(), 0, "skipped: {:?}", summary.skipped);
    assert!(rules.len() >= 40, "only {} rules", rules.len());
    let mut groups = std::collections::BTreeSet::new();
    for rule in &rules {
        assert!(
            (9_000_001..9_001_000).contains(&rule.sid),
            "sid {} outside the private range",
            rule.sid
        );
        assert!(
            rule.classtype.is_some(),
            "sid {} has no classtype",
            rule.sid
        );
        assert!(
            !rule.detection.is_empty(),
            "sid {} inspects nothing",
            rule.sid
        );
        let group = rule
            .metadata
            .get("vigil_group")
            .and_then(|v| v.first())
            .cloned();
        groups.insert(group.unwrap_or_else(|| panic!("sid {} has no vigil_group", rule.sid)));
    }
    let want = [
        "command_injection",
        "log4shell",
        "path_traversal",
        "scanner",
        "shellshock",
        "sql_injection",
    ];
    assert_eq!(groups.iter().map(String::as_str).collect::<Vec<_>>(), want);
}
