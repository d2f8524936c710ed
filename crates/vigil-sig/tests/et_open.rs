//! The real-world corpus: every rule file of ET Open (2024-04) loads, and at
//! least 95% of its active rules are accepted.

use std::path::PathBuf;

use vigil_sig::load::load_files;
use vigil_sig::vars::Vars;

#[test]
fn et_open_active_rules_are_accepted() {
    let Some(dir) = vigil_testkit::require_shared_data("et-open-2024-04") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    assert!(
        files.len() > 40,
        "expected the whole ruleset, found {} files",
        files.len()
    );
    let (rules, summary) = load_files(&files, &Vars::default()).unwrap();

    println!(
        "et-open: {} files, {} active, {} accepted ({:.2}%), {} inactive, {} duplicates, load {:?}",
        summary.files.len(),
        summary.active(),
        summary.accepted(),
        summary.ratio() * 100.0,
        summary.inactive(),
        summary.duplicates,
        summary.elapsed
    );
    for (reason, count) in summary.reasons() {
        let example = count.examples.first().map_or("", |e| e.detail.as_str());
        println!(
            "  {:6} {reason}    e.g. {}",
            count.count,
            example.chars().take(160).collect::<String>()
        );
    }
    assert_eq!(rules.len(), summary.accepted());
    assert_eq!(
        summary.accepted() + summary.skipped_total(),
        summary.active()
    );
    assert!(
        summary.active() > 20_000,
        "ET Open has over 20k active rules"
    );
    assert!(
        summary.ratio() >= 0.95,
        "accepted {:.2}% of active rules",
        summary.ratio() * 100.0
    );
}
