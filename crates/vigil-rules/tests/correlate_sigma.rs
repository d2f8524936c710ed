//! The examples of the Sigma correlation specification (v2.1.0), expressed
//! as Vigil rule specs and run. Sigma's field names (ComputerName, User,
//! WorkstationName, dns.question.name) stand for Windows and ECS fields
//! that Vigil's schema does not have; the tests map them to registry
//! fields of the same shape (an address, a text, a number), which is what
//! the Sigma importer's field mapping does for real log sources.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;
use vigil_rules::correlate::{BuildError, Correlator};
use vigil_rules::spec::{CorrelationSpec, RuleSpec};

/// Stand-ins for the specification's field names.
fn field(sigma: &str) -> String {
    match sigma {
        "ComputerName" | "SourceIP" => "src_endpoint.ip",
        "User" | "dns.question.name" | "Image" => "http_request.url.path",
        "WorkstationName" | "BytesOut" | "bytes_sent" => "class_uid",
        other => panic!("no stand-in for {other}"),
    }
    .to_owned()
}

fn base(id: &str) -> RuleSpec {
    yaml_serde::from_str(&format!("id: '{id}'\ntitle: '{id}'\ncondition: 'true'\n")).expect("base")
}

/// A Sigma correlation document as a RuleSpec (what the importer does,
/// minus the field mapping file).
fn from_sigma(doc: &Value, id: &str) -> RuleSpec {
    let c = &doc["correlation"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut threshold = BTreeMap::new();
    let mut value_field = None;
    if let Some(cond) = c["condition"].as_object() {
        for (k, v) in cond {
            if k == "field" {
                value_field = v.as_str().map(field);
            } else if let Some(n) = v.as_i64() {
                threshold.insert(k.clone(), n);
            }
        }
    }
    RuleSpec {
        id: id.to_owned(),
        title: doc["title"].as_str().unwrap_or("").to_owned(),
        description: None,
        severity: doc["level"].as_str().unwrap_or("medium").to_owned(),
        condition: None,
        correlation: Some(CorrelationSpec {
            kind: c["type"].as_str().unwrap_or("").to_owned(),
            rules: strings(&c["rules"]),
            group_by: strings(&c["group-by"]).iter().map(|f| field(f)).collect(),
            timespan: c["timespan"].as_str().unwrap_or("").to_owned(),
            threshold: (!threshold.is_empty()).then_some(threshold),
            field: value_field,
            after: None,
            lateness: None,
            max_groups: None,
            aliases: BTreeMap::new(),
        }),
        fire: None,
        suppress: None,
        generate: None,
        tags: Vec::new(),
        actions: Vec::new(),
        origin: BTreeMap::new(),
    }
}

fn load(dir: &Path, name: &str) -> (RuleSpec, Vec<RuleSpec>) {
    let text = std::fs::read_to_string(dir.join(name)).expect("read");
    let doc: Value = yaml_serde::from_str(&text).expect("yaml");
    let rule = from_sigma(&doc, "corr");
    let inputs = rule
        .correlation
        .as_ref()
        .map(|c| c.rules.iter().map(|r| base(r)).collect())
        .unwrap_or_default();
    (rule, inputs)
}

fn correlator(rule: &RuleSpec, inputs: &[RuleSpec]) -> H {
    let mut all = inputs.to_vec();
    all.push(rule.clone());
    H {
        c: Correlator::new(&all, config()).unwrap_or_else(|e| panic!("{e}")),
        out: Vec::new(),
    }
}

fn spec_dir() -> Option<std::path::PathBuf> {
    let root = vigil_testkit::require_shared_data("sigma")?;
    Some(root.join("specification/tests/schema/correlation"))
}

#[test]
fn every_schema_example_is_accepted_or_refused_with_a_reason() {
    let Some(dir) = spec_dir() else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    let mut accepted = Vec::new();
    for name in &names {
        let (rule, inputs) = load(&dir, name);
        let mut all = inputs.clone();
        all.push(rule.clone());
        let errors = Correlator::validate(&all);
        let kind = rule
            .correlation
            .as_ref()
            .map(|c| c.kind.clone())
            .unwrap_or_default();
        if ["value_sum", "value_avg", "value_percentile"].contains(&kind.as_str()) {
            assert!(
                matches!(errors.as_slice(), [BuildError::UnknownKind { .. }]),
                "{name}: {errors:?}"
            );
        } else {
            assert!(errors.is_empty(), "{name}: {errors:?}");
            accepted.push(name.as_str());
        }
    }
    assert_eq!(
        accepted,
        [
            "event_count.yml",
            "event_count_ecs.yml",
            "temporal.yml",
            "temporal_ordered.yml",
            "value_count.yml"
        ]
    );
}

#[test]
fn event_count_example_fires_at_the_hundredth_failed_login_in_an_hour() {
    let Some(dir) = spec_dir() else { return };
    let (rule, inputs) = load(&dir, "event_count.yml");
    let input = inputs[0].id.clone();
    let mut h = correlator(&rule, &inputs);
    // 99 failures on one host within the hour, then the 100th at 3599 s.
    for i in 0..99 {
        h.obs(&input, &http(f64::from(i) * 30.0, "10.1.1.1", "/", ""));
    }
    assert!(h.out.is_empty());
    // Another host: 100 failures spread over more than an hour.
    for i in 0..100 {
        h.obs(
            &input,
            &http(2970.0 + f64::from(i) * 40.0, "10.1.1.2", "/", ""),
        );
    }
    assert!(h.out.is_empty(), "{:?}", h.times("corr"));
    h.obs(&input, &http(7000.0, "10.1.1.1", "/", ""));
    assert!(h.out.is_empty(), "the first host's window moved on");
    let mut h = correlator(&rule, &inputs);
    for i in 0..100 {
        h.obs(&input, &http(f64::from(i) * 36.0, "10.1.1.1", "/", ""));
    }
    assert_eq!(h.times("corr"), [3564.0]);
    assert_eq!(count(h.of("corr")[0]), 100);
}

#[test]
fn value_count_example_counts_distinct_users_per_host_pair() {
    let Some(dir) = spec_dir() else { return };
    let (rule, inputs) = load(&dir, "value_count.yml");
    let input = inputs[0].id.clone();
    let mut h = correlator(&rule, &inputs);
    // 150 failures over 99 distinct users within a day: no.
    for i in 0..150 {
        h.obs(
            &input,
            &http(
                f64::from(i) * 60.0,
                "10.2.2.2",
                &format!("/u{}", i % 99),
                "",
            ),
        );
    }
    assert!(h.out.is_empty());
    // The 100th distinct user.
    h.obs(&input, &http(9001.0, "10.2.2.2", "/u-new", ""));
    assert_eq!(h.times("corr"), [9001.0]);
    let e = h.of("corr")[0];
    assert_eq!(count(e), 100);
    assert_eq!(evidence(e, "field"), "http_request.url.path");
}

#[test]
fn temporal_examples_need_all_recon_commands_by_one_user_on_one_host() {
    let Some(dir) = spec_dir() else { return };
    for (name, fires_out_of_order) in [("temporal.yml", true), ("temporal_ordered.yml", false)] {
        let (rule, inputs) = load(&dir, name);
        let mut h = correlator(&rule, &inputs);
        // c, a, b within 5 minutes on one host by one user.
        h.obs("recon_cmd_c", &http(0.0, "10.3.3.3", "/alice", ""));
        h.obs("recon_cmd_a", &http(60.0, "10.3.3.3", "/alice", ""));
        h.obs("recon_cmd_b", &http(120.0, "10.3.3.3", "/bob", ""));
        h.obs("recon_cmd_b", &http(180.0, "10.3.3.3", "/alice", ""));
        assert_eq!(
            h.of("corr").len(),
            usize::from(fires_out_of_order),
            "{name}"
        );
        // a, b, c in order by another user.
        h.obs("recon_cmd_a", &http(400.0, "10.3.3.3", "/carol", ""));
        h.obs("recon_cmd_b", &http(500.0, "10.3.3.3", "/carol", ""));
        h.obs("recon_cmd_c", &http(700.0, "10.3.3.3", "/carol", ""));
        assert_eq!(
            h.of("corr").len(),
            usize::from(fires_out_of_order) + 1,
            "{name}"
        );
        // In order but over more than 5 minutes.
        h.obs("recon_cmd_a", &http(1000.0, "10.3.3.3", "/dave", ""));
        h.obs("recon_cmd_b", &http(1100.0, "10.3.3.3", "/dave", ""));
        h.obs("recon_cmd_c", &http(1300.5, "10.3.3.3", "/dave", ""));
        assert_eq!(
            h.of("corr").len(),
            usize::from(fires_out_of_order) + 1,
            "{name}"
        );
    }
}

/// The specification's full example: "Multiple failed logins followed by
/// successful login", three documents chained by name, written as Vigil
/// rules (the user is the source address here).
const FAILED_THEN_SUCCESS: &str = "\
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
title: Correlation - Multiple Failed Logins Followed by Successful Login
severity: high
correlation:
  type: temporal_ordered
  rules: [multiple_failed_login, successful_login]
  group-by: [src_endpoint.ip]
  timespan: 10m
---
id: multiple_failed_login
title: Multiple failed logons
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [src_endpoint.ip]
  timespan: 10m
  threshold: { gte: 10 }
---
id: failed_login
title: Single failed login
condition: 'true'
---
id: successful_login
title: Successful login
condition: 'true'
";

#[test]
fn failed_logins_followed_by_success_chain() {
    let mut h = H::new(FAILED_THEN_SUCCESS);
    let top = "b180ead8-d58f-40b2-ae54-c8940995b9b6";
    // User 1: success before the tenth failure, then none after: no.
    for i in 0..9 {
        h.hit("failed_login", f64::from(i), "10.4.0.1", &format!("f1-{i}"));
    }
    h.hit("successful_login", 9.5, "10.4.0.1", "s1");
    h.hit("failed_login", 10.0, "10.4.0.1", "f1-9");
    assert!(h.out.is_empty(), "{:?}", h.out);
    // User 2: ten failures, then a success 5 minutes later: yes.
    for i in 0..10 {
        h.hit(
            "failed_login",
            20.0 + f64::from(i),
            "10.4.0.2",
            &format!("f2-{i}"),
        );
    }
    h.hit("successful_login", 329.0, "10.4.0.2", "s2");
    assert_eq!(h.times(top), [329.0]);
    let e = h.of(top)[0];
    // Stage 1 fired for user 1 too (its meta-event 1), unseen outside.
    assert_eq!(uids(e), ["corr:multiple_failed_login:2", "s2"]);
    assert_eq!(e.severity, "High");
    // Only the outermost rule emits (Sigma's generate defaults to false).
    assert!(h.of("multiple_failed_login").is_empty());
    // User 3: ten failures, success 11 minutes after the tenth: no.
    for i in 0..10 {
        h.hit("failed_login", 400.0 + f64::from(i), "10.4.0.3", "");
    }
    h.hit("successful_login", 409.0 + 660.0, "10.4.0.3", "");
    h.finish();
    assert_eq!(h.of(top).len(), 1);
}
