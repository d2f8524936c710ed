//! Correlation semantics: every kind, every fire mode, window edges, late
//! and out-of-order events, absence by tick and at end of input,
//! suppression, chained stages, bounds and the meta-event's shape.

mod common;

use common::*;
use vigil_rules::correlate::{BuildError, Correlator, CorrelatorConfig, UidAssigner};

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";

fn count_rule(extra_corr: &str, extra_rule: &str) -> String {
    format!(
        "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
         id: burst\ntitle: Burst\nseverity: high\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
         group_by: [src_endpoint.ip]\n  timespan: 60s\n{extra_corr}{extra_rule}"
    )
}

fn gte(n: u32) -> String {
    format!("  threshold: {{ gte: {n} }}\n")
}

#[test]
fn event_count_window_is_closed_at_both_ends() {
    let mut h = H::new(&count_rule(&gte(3), ""));
    // A: 0, 30, 60 -> the window [0, 60] holds all three.
    for (s, id) in [(0.0, "a1"), (30.0, "a2"), (60.0, "a3")] {
        h.hit("hit", s, A, id);
    }
    assert_eq!(h.times("burst"), [60.0]);
    let e = h.of("burst")[0];
    assert_eq!(count(e), 3);
    assert_eq!(uids(e), ["a1", "a2", "a3"]);
    // B: 100, 130, 160.001 -> 100 has left the window ending at 160.001.
    for (s, id) in [(100.0, "b1"), (130.0, "b2"), (160.001, "b3")] {
        h.hit("hit", s, B, id);
    }
    assert_eq!(h.of("burst").len(), 1, "{:?}", h.times("burst"));
}

#[test]
fn first_threshold_fires_once_per_crossing() {
    let mut h = H::new(&count_rule(&gte(3), "fire: first_threshold\n"));
    for s in [0.0, 1.0, 2.0, 3.0, 4.0] {
        h.hit("hit", s, A, "");
    }
    assert_eq!(h.times("burst"), [2.0], "held from 2 on: one firing");
    // The window empties, then a new burst crosses again.
    for s in [100.0, 101.0, 102.0] {
        h.hit("hit", s, A, "");
    }
    assert_eq!(h.times("burst"), [2.0, 102.0]);
    // Dropping below by expiry between events is a new crossing too:
    // 200, 205, 259 fire; at 262 the window [202, 262] holds 205, 259, 262.
    for s in [200.0, 205.0, 259.0, 262.0] {
        h.hit("hit", s, B, "");
    }
    assert_eq!(h.of("burst").len(), 4, "{:?}", h.times("burst"));
}

#[test]
fn every_event_fires_while_the_condition_holds() {
    let mut h = H::new(&count_rule(&gte(3), "fire: every_event\n"));
    for s in [0.0, 1.0, 2.0, 3.0, 4.0, 70.0] {
        h.hit("hit", s, A, "");
    }
    // 70: the window [10, 70] holds one event.
    assert_eq!(h.times("burst"), [2.0, 3.0, 4.0]);
    let counts: Vec<u64> = h.of("burst").iter().map(|e| count(e)).collect();
    assert_eq!(counts, [3, 4, 5]);
}

#[test]
fn every_threshold_consumes_the_events_that_fired() {
    let mut h = H::new(&count_rule(&gte(3), "fire: every_threshold\n"));
    for i in 0..10 {
        h.hit("hit", f64::from(i), A, &format!("e{i}"));
    }
    assert_eq!(h.times("burst"), [2.0, 5.0, 8.0]);
    let second = h.of("burst")[1];
    assert_eq!(
        uids(second),
        ["e3", "e4", "e5"],
        "the first three were consumed"
    );
    assert_eq!(count(second), 3);
}

#[test]
fn first_event_fires_on_new_activity_whatever_the_threshold() {
    let mut h = H::new(&count_rule(&gte(100), "fire: first_event\n"));
    for s in [0.0, 10.0, 60.0, 120.0, 180.1] {
        h.hit("hit", s, A, "");
    }
    h.hit("hit", 5.0 + 180.1, B, "");
    // 60 and 120 are within 60 s of the previous event; 180.1 is not.
    assert_eq!(h.times("burst"), [0.0, 180.1, 185.1]);
}

#[test]
fn once_per_fires_at_most_once_per_unit() {
    let mut h = H::new(&count_rule(&gte(2), "fire: { once_per: 1m }\n"));
    // Events every 10 s for 3 minutes; units are aligned minutes.
    for i in 0..18 {
        h.hit("hit", f64::from(i) * 10.0, A, "");
    }
    let times = h.times("burst");
    // T0 is 20 s into a minute: units start at 40, 100, 160.
    assert_eq!(times, [10.0, 40.0, 100.0, 160.0]);
}

#[test]
fn window_end_fires_when_the_window_closes() {
    let mut h = H::new(&count_rule(&gte(3), "fire: window_end\n"));
    for s in [0.0, 10.0, 20.0, 60.0] {
        h.hit("hit", s, A, "");
    }
    assert_eq!(h.advance(60.0), 0, "an event at exactly 60 may still come");
    assert_eq!(h.advance(60.5), 1);
    let e = h.of("burst")[0];
    assert_eq!(secs(e), 60.0, "stamped at the close");
    assert_eq!(count(e), 4, "the window [0, 60] holds the event at 60");
    assert_eq!(
        evidence(e, "window")["start"],
        serde_json::json!((T0) * 1000)
    );
    // A group below the threshold at the close does not fire; the next
    // event opens a new window.
    h.hit("hit", 100.0, B, "");
    h.hit("hit", 170.0, B, "");
    h.hit("hit", 171.0, B, "");
    h.hit("hit", 172.0, B, "");
    assert_eq!(h.of("burst").len(), 1);
    h.finish();
    assert_eq!(h.times("burst"), [60.0, 230.0]);
    assert_eq!(
        evidence(h.of("burst")[1], "closed_by_end_of_input"),
        &serde_json::json!(true)
    );
}

#[test]
fn window_end_tests_lt_on_the_whole_window() {
    let yaml = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: quiet\ntitle: Quiet\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 60s\n  threshold: { lt: 3 }\nfire: window_end\n";
    let mut h = H::new(yaml);
    h.hit("hit", 0.0, A, "");
    h.hit("hit", 1.0, A, "");
    for s in [0.0, 1.0, 2.0] {
        h.hit("hit", s, B, "");
    }
    h.advance(61.0);
    let subjects: Vec<&str> = h
        .of("quiet")
        .iter()
        .map(|e| finding(e).subject.value.as_str())
        .collect();
    assert_eq!(subjects, ["src_endpoint.ip=10.0.0.1"]);
}

#[test]
fn value_count_counts_distinct_values_in_the_window() {
    let yaml = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: scan\ntitle: Many paths\ncorrelation:\n  type: value_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip]\n  field: http_request.url.path\n  timespan: 60s\n  threshold: { gte: 3 }\n";
    let mut h = H::new(yaml);
    for (s, p) in [
        (0.0, "/a"),
        (1.0, "/a"),
        (2.0, "/b"),
        (3.0, "/b"),
        (4.0, "/a"),
    ] {
        h.obs("hit", &http(s, A, p, &format!("a{s}")));
    }
    assert!(h.out.is_empty(), "two distinct paths");
    h.obs("hit", &http(5.0, A, "/c", "a5"));
    assert_eq!(h.times("scan"), [5.0]);
    let e = h.of("scan")[0];
    assert_eq!(count(e), 3);
    assert_eq!(
        evidence(e, "values"),
        &serde_json::json!(["/b", "/a", "/c"])
    );
    assert_eq!(uids(e), ["a3", "a4", "a5"], "each value's latest event");
    // /x at 0 and /y at 61, /z at 62: /x left the window, only 2 remain.
    for (s, p) in [(0.0, "/x"), (61.0, "/y"), (62.0, "/z")] {
        h.obs("hit", &http(s, B, p, ""));
    }
    assert_eq!(h.of("scan").len(), 1);
}

fn temporal_rules(kind: &str, span: &str) -> String {
    format!(
        "id: a\ntitle: A\ncondition: 'true'\n---\nid: b\ntitle: B\ncondition: 'true'\n---\n\
         id: c\ntitle: C\ncondition: 'true'\n---\n\
         id: t\ntitle: T\ncorrelation:\n  type: {kind}\n  rules: [a, b, c]\n  \
         group_by: [src_endpoint.ip]\n  timespan: {span}\n"
    )
}

#[test]
fn temporal_needs_all_rules_in_one_window_any_order() {
    let mut h = H::new(&temporal_rules("temporal", "5m"));
    h.hit("c", 0.0, A, "c0");
    h.hit("a", 100.0, A, "a100");
    h.hit("c", 150.0, A, "c150");
    assert!(h.out.is_empty());
    h.hit("b", 300.0, A, "b300");
    assert_eq!(
        h.times("t"),
        [300.0],
        "c at 0 is exactly 300 s before: inside"
    );
    let e = h.of("t")[0];
    assert_eq!(count(e), 3);
    assert_eq!(uids(e), ["a100", "c150", "b300"]);
    assert_eq!(
        evidence(e, "rules_matched"),
        &serde_json::json!(["a", "b", "c"])
    );
    // Other group: one rule out of the window.
    h.hit("a", 0.0, B, "");
    h.hit("b", 200.0, B, "");
    h.hit("c", 300.5, B, "");
    assert_eq!(h.of("t").len(), 1);
}

#[test]
fn temporal_threshold_counts_rules() {
    let yaml = temporal_rules("temporal", "5m") + "  threshold: { gte: 2 }\n";
    let mut h = H::new(&yaml);
    h.hit("a", 0.0, A, "");
    h.hit("a", 1.0, A, "");
    assert!(h.out.is_empty(), "one rule twice is one rule");
    h.hit("c", 2.0, A, "");
    assert_eq!(h.times("t"), [2.0]);
}

#[test]
fn temporal_ordered_needs_the_order_within_the_span() {
    let mut h = H::new(&temporal_rules("temporal_ordered", "5m"));
    // Wrong order.
    h.hit("c", 0.0, A, "");
    h.hit("b", 1.0, A, "");
    h.hit("a", 2.0, A, "a2");
    assert!(h.out.is_empty());
    h.hit("c", 3.0, A, "");
    assert!(h.out.is_empty(), "c without b after a");
    h.hit("b", 4.0, A, "b4");
    h.hit("c", 302.0, A, "c302");
    assert_eq!(
        h.times("t"),
        [302.0],
        "a at 2 to c at 302 is exactly 5 minutes"
    );
    assert_eq!(uids(h.of("t")[0]), ["a2", "b4", "c302"]);
    // Too long.
    h.hit("a", 0.0, B, "");
    h.hit("b", 1.0, B, "");
    h.hit("c", 300.5, B, "");
    assert_eq!(h.of("t").len(), 1);
    // The latest start is used: a at 10 and at 200 then b, c by 450.
    h.hit("a", 310.0, B, "");
    h.hit("a", 400.0, B, "a400");
    h.hit("b", 450.0, B, "b450");
    h.hit("c", 650.0, B, "c650");
    assert_eq!(uids(h.of("t")[1]), ["a400", "b450", "c650"]);
}

fn absence_rules(after: bool) -> String {
    let after = if after { "  after: login\n" } else { "" };
    format!(
        "id: login\ntitle: Login\ncondition: 'true'\n---\nid: logout\ntitle: Logout\ncondition: 'true'\n---\n\
         id: gone\ntitle: No logout\ncorrelation:\n  type: absence\n  rules: [logout]\n{after}  \
         group_by: [src_endpoint.ip]\n  timespan: 10m\n"
    )
}

#[test]
fn absence_after_fires_when_the_expected_event_does_not_follow() {
    let mut h = H::new(&absence_rules(true));
    h.hit("login", 0.0, A, "l1");
    h.hit("login", 0.0, B, "l2");
    h.hit("logout", 10.0, "10.0.0.3", ""); // nothing waits: no group
    h.hit("login", 100.0, B, "l3"); // joins the open wait
    h.hit("logout", 600.0, A, "o1"); // exactly at the deadline: in time
    assert_eq!(h.advance(600.0), 0, "deadline not passed yet");
    assert_eq!(h.advance(601.0), 1);
    let e = h.of("gone")[0];
    assert_eq!(secs(e), 600.0, "stamped at the deadline");
    assert_eq!(finding(e).subject.value, format!("src_endpoint.ip={B}"));
    assert_eq!(uids(e), ["l2", "l3"]);
    assert_eq!(evidence(e, "after"), "login");
    assert!(!finding(e).evidence.contains_key("closed_by_end_of_input"));
    assert_eq!(h.c.stats().rules[0].groups_open, 0, "nothing left waiting");
}

#[test]
fn absence_fires_at_finish_and_says_so() {
    let mut h = H::new(&absence_rules(true));
    h.hit("login", 0.0, A, "l1");
    h.hit("login", 50.0, B, "l2");
    h.hit("logout", 60.0, B, "");
    assert_eq!(h.finish(), 1);
    let e = h.of("gone")[0];
    assert_eq!(secs(e), 600.0);
    assert_eq!(
        evidence(e, "closed_by_end_of_input"),
        &serde_json::json!(true)
    );
}

#[test]
fn absence_without_after_is_a_group_falling_silent() {
    let mut h = H::new(&absence_rules(false));
    h.hit("logout", 0.0, B, "");
    for s in [0.0, 100.0, 200.0] {
        h.hit("logout", s, A, "");
    }
    h.hit("logout", 650.0, B, ""); // B's silence 0..600 fires first
    assert_eq!(h.times("gone"), [600.0]);
    h.advance(800.0);
    assert_eq!(h.times("gone"), [600.0], "the deadline itself is not past");
    h.advance(800.5);
    assert_eq!(h.times("gone"), [600.0, 800.0], "A silent since 200");
    // Seen again: re-armed.
    h.hit("logout", 900.0, A, "");
    h.advance(1500.5);
    assert_eq!(h.times("gone"), [600.0, 800.0, 1250.0, 1500.0]);
}

#[test]
fn late_events_within_lateness_count_beyond_are_dropped() {
    let mut h = H::new(&count_rule(&(gte(3) + "  lateness: 10s\n"), ""));
    h.hit("hit", 100.0, A, "e100");
    h.hit("hit", 95.0, A, "e95"); // 5 s behind: counts
    h.hit("hit", 89.0, A, "e89"); // 11 s behind the newest: late
    h.hit("hit", 110.0, A, "e110");
    assert!(
        h.out.is_empty(),
        "110 waits until the horizon (newest - 10 s) reaches it"
    );
    h.advance(120.0);
    assert_eq!(h.times("burst"), [110.0]);
    assert_eq!(uids(h.of("burst")[0]), ["e95", "e100", "e110"]);
    assert_eq!(count(h.of("burst")[0]), 3);
    let s = &h.c.stats().rules[0];
    assert_eq!(s.late_dropped, 1);
    assert_eq!(s.events, 3);
}

#[test]
fn out_of_order_input_gives_the_sorted_result() {
    let yaml = count_rule(&(gte(3) + "  lateness: 1m\n"), "fire: every_event\n");
    let times = [3.0, 1.0, 2.0, 0.0, 40.0, 35.0, 61.5, 5.0];
    let mut shuffled = H::new(&yaml);
    for (i, s) in times.iter().enumerate() {
        shuffled.hit("hit", *s, A, &format!("e{i}"));
    }
    shuffled.finish();
    let mut sorted_times: Vec<(usize, f64)> = times.iter().copied().enumerate().collect();
    sorted_times.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut sorted = H::new(&yaml);
    for (i, s) in sorted_times {
        sorted.hit("hit", s, A, &format!("e{i}"));
    }
    sorted.finish();
    assert!(!sorted.out.is_empty());
    let strip = |h: &H| -> Vec<(f64, u64, Vec<String>)> {
        h.of("burst")
            .iter()
            .map(|e| (secs(e), count(e), uids(e)))
            .collect()
    };
    assert_eq!(strip(&shuffled), strip(&sorted));
}

#[test]
fn suppression_counts_and_reports_what_it_muted() {
    let mut h = H::new(&count_rule(&gte(1), "fire: every_event\nsuppress: 30s\n"));
    for s in [0.0, 10.0, 20.0, 29.9, 30.0, 31.0, 65.0] {
        h.hit("hit", s, A, "");
    }
    assert_eq!(
        h.times("burst"),
        [0.0, 30.0, 65.0],
        "quiet for [f, f + 30 s)"
    );
    assert_eq!(
        evidence(h.of("burst")[1], "suppressed_before"),
        &serde_json::json!(3)
    );
    assert_eq!(
        evidence(h.of("burst")[2], "suppressed_before"),
        &serde_json::json!(1)
    );
    let s = &h.c.stats().rules[0];
    assert_eq!((s.fired, s.suppressed), (7, 4));
}

#[test]
fn suppression_outlives_the_window() {
    // The group's window empties long before the suppression ends; the
    // group is kept so the suppression still holds.
    let mut h = H::new(&count_rule(&gte(1), "suppress: 1h\n"));
    h.hit("hit", 0.0, A, "");
    h.hit("hit", 600.0, A, "");
    h.hit("hit", 3600.0, A, "");
    assert_eq!(h.times("burst"), [0.0, 3600.0]);
}

#[test]
fn three_stages_chain_and_evidence_walks_back() {
    // Stage 1: 3 hits from one address in a minute. Stage 2: two stage-1
    // findings for that address within 10 minutes. Stage 3: no stage-2
    // finding for that address for 30 minutes after the last one.
    let yaml = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: s1\ntitle: Burst\ngenerate: true\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 1m\n  threshold: { gte: 3 }\nfire: every_threshold\n---\n\
        id: s2\ntitle: Repeated bursts\ngenerate: true\ncorrelation:\n  type: event_count\n  rules: [s1]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 10m\n  threshold: { gte: 2 }\nfire: every_threshold\n---\n\
        id: s3\ntitle: Campaign went quiet\ncorrelation:\n  type: absence\n  rules: [s2]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 30m\n";
    let mut h = H::new(yaml);
    for i in 0..6 {
        h.hit("hit", f64::from(i), A, &format!("h{i}"));
    }
    // s1 fired at 2 and 5; s2 at 5, in the same call as its input.
    assert_eq!(h.times("s1"), [2.0, 5.0]);
    assert_eq!(h.times("s2"), [5.0]);
    let s1_ids: Vec<String> = h
        .of("s1")
        .iter()
        .map(|e| e.metadata.uid.clone().expect("uid"))
        .collect();
    assert_eq!(s1_ids, ["corr:s1:1", "corr:s1:2"]);
    assert_eq!(
        uids(h.of("s2")[0]),
        s1_ids,
        "stage 2 names stage-1 findings"
    );
    assert_eq!(uids(h.of("s1")[1]), ["h3", "h4", "h5"]);
    // Stage 2 grouped by the address stage 1 put in its group.
    assert_eq!(
        finding(h.of("s2")[0])
            .src_endpoint
            .as_ref()
            .map(|e| e.ip.to_string()),
        Some(A.to_owned())
    );
    assert!(h.of("s3").is_empty());
    h.advance(5.0 + 1800.0 + 1.0);
    assert_eq!(h.times("s3"), [1805.0]);
    assert_eq!(uids(h.of("s3")[0]), ["corr:s2:1"]);
    // The stages' order in one call's output is producer first.
    let order: Vec<&str> = h.out.iter().map(analytic).collect();
    assert_eq!(order, ["s1", "s1", "s2", "s3"]);
}

#[test]
fn intermediate_stages_are_quiet_without_generate() {
    let yaml = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: s1\ntitle: Burst\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 1m\n  threshold: { gte: 2 }\nfire: every_threshold\n---\n\
        id: s2\ntitle: Repeated\ncorrelation:\n  type: event_count\n  rules: [s1]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 10m\n  threshold: { gte: 2 }\n";
    let mut h = H::new(yaml);
    for i in 0..4 {
        h.hit("hit", f64::from(i), A, "");
    }
    let order: Vec<&str> = h.out.iter().map(analytic).collect();
    assert_eq!(order, ["s2"]);
}

#[test]
fn window_end_stage_feeds_a_later_stage_in_order() {
    // Stage 1 fires at window close (timer driven) while stage 2 also sees
    // base events; stage 2 must still see them in time order.
    let yaml = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: s1\ntitle: Window\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 10s\n  threshold: { gte: 1 }\nfire: window_end\n---\n\
        id: s2\ntitle: Then\ncorrelation:\n  type: temporal_ordered\n  rules: [s1, hit]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 1m\n";
    let mut h = H::new(yaml);
    h.hit("hit", 0.0, A, "h0");
    h.hit("hit", 20.0, A, "h20"); // closes s1's window at 10 first
    assert_eq!(h.times("s2"), [20.0]);
    assert_eq!(uids(h.of("s2")[0]), ["corr:s1:1", "h20"]);
    assert_eq!(
        h.c.stats()
            .rules
            .iter()
            .map(|r| r.late_dropped)
            .sum::<u64>(),
        0
    );
}

#[test]
fn groups_are_bounded_and_evictions_counted() {
    let mut h = H::new(&count_rule(&(gte(2) + "  max_groups: 2\n"), ""));
    h.hit("hit", 0.0, "10.0.0.1", "");
    h.hit("hit", 1.0, "10.0.0.2", "");
    h.hit("hit", 2.0, "10.0.0.3", ""); // evicts .1
    h.hit("hit", 3.0, "10.0.0.1", ""); // .1 starts over (evicts .2)
    assert!(h.out.is_empty());
    h.hit("hit", 4.0, "10.0.0.3", "");
    assert_eq!(h.of("burst").len(), 1);
    let s = &h.c.stats().rules[0];
    assert_eq!(s.evictions, 2);
    assert_eq!(s.groups_open, 2);
    assert_eq!(s.groups_peak, 2);
    assert!(s.bytes_per_group > 0);
}

#[test]
fn idle_groups_are_forgotten() {
    let mut h = H::new(&count_rule(&gte(5), ""));
    for i in 0..100 {
        h.hit("hit", f64::from(i), &format!("10.0.1.{i}"), "");
    }
    assert_eq!(
        h.c.stats().rules[0].groups_open,
        61,
        "[39, 99] still in a window"
    );
    h.advance(1000.0);
    assert_eq!(h.c.stats().rules[0].groups_open, 0);
}

#[test]
fn evidence_is_bounded_and_newest() {
    let config = CorrelatorConfig {
        evidence_limit: 5,
        ..config()
    };
    let mut h = H::with(&count_rule(&gte(20), ""), config);
    for i in 0..20 {
        h.hit("hit", f64::from(i), A, &format!("e{i}"));
    }
    let e = h.of("burst")[0];
    assert_eq!(uids(e), ["e15", "e16", "e17", "e18", "e19"]);
    assert_eq!(evidence(e, "events"), &serde_json::json!(20));
}

#[test]
fn window_entries_are_bounded() {
    let config = CorrelatorConfig {
        max_window_entries: 4,
        ..config()
    };
    let mut h = H::with(&count_rule(&gte(1000), ""), config);
    for i in 0..10 {
        h.hit("hit", f64::from(i), A, "");
    }
    assert_eq!(h.c.stats().rules[0].window_overflow, 6);
}

#[test]
fn meta_event_names_rule_group_window_and_evidence() {
    let yaml = count_rule(&gte(2), "tags: [attack.t1110]\n");
    let mut h = H::new(&yaml);
    h.hit("hit", 0.0, A, "x1");
    h.hit("hit", 1.5, A, "x2");
    let e = h.of("burst")[0];
    assert_eq!(e.class_uid, 2004);
    assert_eq!(e.severity, "High");
    assert_eq!(e.metadata.uid.as_deref(), Some("corr:burst:1"));
    let f = finding(e);
    assert_eq!(f.finding_info.uid, "corr:burst:1");
    assert_eq!(f.finding_info.analytic.uid, "burst");
    assert_eq!(f.finding_info.analytic.name, "Burst");
    assert_eq!(f.finding_info.analytic.type_name, "Rule");
    assert_eq!(f.finding_info.title, "Burst");
    assert_eq!(f.finding_info.first_seen_time, Some(T0 * 1000));
    assert_eq!(f.finding_info.last_seen_time, Some(T0 * 1000 + 1500));
    assert_eq!(f.subject.value, "src_endpoint.ip=10.0.0.1");
    assert_eq!(
        f.src_endpoint.as_ref().map(|p| p.ip.to_string()),
        Some(A.into())
    );
    assert_eq!(
        f.evidence["group"],
        serde_json::json!({"src_endpoint.ip": A})
    );
    assert_eq!(f.evidence["condition"], serde_json::json!({"gte": 2}));
    assert_eq!(f.evidence["tags"], serde_json::json!(["attack.t1110"]));
    assert_eq!(f.evidence["fire"], "first_threshold");
    assert!(f
        .finding_info
        .desc
        .as_deref()
        .is_some_and(|d| d.contains("2 events")));
    // Round trip through JSON as every event does.
    let back = vigil_event::Event::from_json_line(&e.to_json_line().expect("json")).expect("parse");
    assert_eq!(&back, e);
    // Meta-event ids are unique.
    h.hit("hit", 100.0, B, "");
    h.hit("hit", 101.0, B, "");
    assert_eq!(
        h.of("burst")[1].metadata.uid.as_deref(),
        Some("corr:burst:2")
    );
}

#[test]
fn group_by_two_fields_and_none() {
    let yaml = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: pair\ntitle: Pair\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip, http_request.url.path]\n  timespan: 1m\n  threshold: { gte: 2 }\n---\n\
        id: all\ntitle: All\ncorrelation:\n  type: event_count\n  rules: [hit]\n  timespan: 1m\n  threshold: { gte: 3 }\n";
    let mut h = H::new(yaml);
    h.obs("hit", &http(0.0, A, "/a", ""));
    h.obs("hit", &http(1.0, A, "/b", ""));
    h.obs("hit", &http(2.0, B, "/a", ""));
    assert_eq!(h.times("all"), [2.0]);
    assert_eq!(finding(h.of("all")[0]).subject.value, "all");
    assert!(h.of("pair").is_empty());
    h.obs("hit", &http(3.0, A, "/b", ""));
    let e = h.of("pair")[0];
    assert_eq!(
        finding(e).evidence["group"],
        serde_json::json!({"src_endpoint.ip": A, "http_request.url.path": "/b"})
    );
}

#[test]
fn events_missing_a_group_field_are_not_counted() {
    let yaml = count_rule(&gte(1), "");
    let mut h = H::new(&yaml);
    let h_id = h.c.handle("hit").expect("handle");
    // A finding event without src_endpoint.
    let mut ev = http(0.0, A, "/", "");
    if let vigil_event::Body::Http(_) = ev.body {
        ev = vigil_event::Event::new(
            ev.time_ns,
            vigil_event::Body::Stats(vigil_event::StatsRecord::default()),
        );
    }
    assert!(h.c.observe(h_id, &ev).is_empty());
    assert_eq!(h.c.stats().rules[0].missing_group_field, 1);
}

#[test]
fn aliases_group_across_differently_named_fields() {
    // The "internal" address is the source in one rule's events and, say,
    // the request path in another's (stand-ins for two real fields).
    let yaml = "id: a\ntitle: A\ncondition: 'true'\n---\nid: b\ntitle: B\ncondition: 'true'\n---\n\
        id: t\ntitle: T\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [host]\n  timespan: 10s\n  \
        aliases:\n    host:\n      a: src_endpoint.ip\n      b: http_request.url.path\n";
    let mut h = H::new(yaml);
    h.obs("a", &http(0.0, "10.9.9.9", "/x", ""));
    h.obs("b", &http(1.0, A, "10.9.9.9", ""));
    assert_eq!(h.times("t"), [1.0]);
    assert_eq!(
        finding(h.of("t")[0]).evidence["group"],
        serde_json::json!({"host": "10.9.9.9"})
    );
}

#[test]
fn own_condition_and_filters() {
    // A correlation over its own condition is observed directly.
    let yaml = "id: own\ntitle: Own\ncondition: 'class_uid == 4002'\ncorrelation:\n  type: event_count\n  \
        group_by: [src_endpoint.ip]\n  timespan: 1m\n  threshold: { gte: 2 }\n---\n\
        id: hit\ntitle: Hit\ncondition: 'true'\n---\n\
        id: filtered\ntitle: Filtered\ncondition: 'http_request.url.path == \"/admin\"'\ncorrelation:\n  type: event_count\n  rules: [hit]\n  \
        group_by: [src_endpoint.ip]\n  timespan: 1m\n  threshold: { gte: 2 }\n";
    let mut h = H::new(yaml);
    assert!(h.c.handle("filtered").is_none(), "input arrives inside");
    assert_eq!(h.c.needs_filter().collect::<Vec<_>>(), ["filtered"]);
    assert!(h.c.set_filter(
        "filtered",
        Box::new(
            |e| matches!(&e.body, vigil_event::Body::Http(x) if x.http_request.url.path == "/admin")
        )
    ));
    h.hit("own", 0.0, A, "");
    h.hit("own", 1.0, A, "");
    assert_eq!(h.times("own"), [1.0]);
    h.obs("hit", &http(10.0, B, "/admin", ""));
    h.obs("hit", &http(11.0, B, "/", ""));
    assert!(h.of("filtered").is_empty());
    h.obs("hit", &http(12.0, B, "/admin", ""));
    assert_eq!(h.times("filtered"), [12.0]);
    let inputs: Vec<&str> = h.c.inputs().map(|(id, _)| id).collect();
    assert_eq!(inputs, ["own", "hit"]);
    let stats = h.c.stats();
    let f = stats
        .rules
        .iter()
        .find(|r| r.id == "filtered")
        .expect("rule");
    assert_eq!(f.filtered, 1);
}

#[test]
fn uid_assigner_is_deterministic_and_keeps_existing_ids() {
    let mut a = UidAssigner::default();
    let mut e1 = http(0.0, A, "/", "");
    let mut e2 = http(1.0, A, "/", "given");
    let mut e3 = http(2.0, A, "/", "");
    assert_eq!(a.assign(&mut e1), "ev-1");
    assert_eq!(a.assign(&mut e2), "given");
    assert_eq!(a.assign(&mut e3), "ev-2");
    assert_eq!(a.assign(&mut e1), "ev-1");
    // Events without ids are counted by the correlator and left out.
    let mut h = H::new(&count_rule(&gte(2), ""));
    h.hit("hit", 0.0, A, "");
    h.hit("hit", 1.0, A, "x");
    assert_eq!(uids(h.of("burst")[0]), ["x"]);
    assert_eq!(h.c.stats().events_without_uid, 1);
}

fn errors(yaml: &str) -> Vec<BuildError> {
    Correlator::validate(&rules(yaml))
}

fn one_error(yaml: &str) -> String {
    let e = errors(yaml);
    assert_eq!(e.len(), 1, "{e:?}");
    e[0].to_string()
}

#[test]
fn validation_names_rule_and_problem() {
    let base = "id: hit\ntitle: Hit\ncondition: 'true'\n---\n";
    let corr = |body: &str| format!("{base}id: r\ntitle: R\ncorrelation:\n{body}");
    let msg = one_error(&corr(
        "  type: event_count\n  rules: [nope]\n  timespan: 1m\n  threshold: { gte: 1 }\n",
    ));
    assert!(msg.contains("rule 'r'") && msg.contains("'nope'"), "{msg}");
    let msg = one_error(&corr(
        "  type: event_count\n  rules: [hit]\n  timespan: 5 minutes\n  threshold: { gte: 1 }\n",
    ));
    assert!(
        msg.contains("timespan") && msg.contains("5 minutes"),
        "{msg}"
    );
    let msg = one_error(&corr(
        "  type: event_count\n  rules: [hit]\n  timespan: 0s\n  threshold: { gte: 1 }\n",
    ));
    assert!(msg.contains("longer than zero"), "{msg}");
    let msg = one_error(&corr(
        "  type: event_count\n  rules: [hit]\n  timespan: 1m\n",
    ));
    assert!(msg.contains("needs a threshold"), "{msg}");
    let msg = one_error(&corr(
        "  type: event_count\n  rules: [hit]\n  timespan: 1m\n  threshold: { more: 1 }\n",
    ));
    assert!(msg.contains("'more'"), "{msg}");
    let msg = one_error(&corr(
        "  type: value_count\n  rules: [hit]\n  timespan: 1m\n  threshold: { gte: 1 }\n",
    ));
    assert!(msg.contains("needs 'field'"), "{msg}");
    let msg = one_error(&corr("  type: event_count\n  rules: [hit]\n  group_by: [src_endpoint.ipp]\n  timespan: 1m\n  threshold: { gte: 1 }\n"));
    assert!(msg.contains("unknown field 'src_endpoint.ipp'"), "{msg}");
    let msg = one_error(&corr("  type: value_sum\n  rules: [hit]\n  timespan: 1m\n"));
    assert!(msg.contains("'value_sum'"), "{msg}");
    let msg = one_error(&corr("  type: temporal\n  rules: [hit]\n  timespan: 1m\n"));
    assert!(msg.contains("at least two"), "{msg}");
    let msg = one_error(&corr(
        "  type: event_count\n  rules: [hit, hit]\n  timespan: 1m\n  threshold: { gte: 1 }\n",
    ));
    assert!(msg.contains("listed twice"), "{msg}");
    let msg = one_error(&corr(
        "  type: event_count\n  timespan: 1m\n  threshold: { gte: 1 }\n",
    ));
    assert!(msg.contains("no input"), "{msg}");
    let msg = one_error(&corr("  type: event_count\n  rules: [hit]\n  after: hit\n  timespan: 1m\n  threshold: { gte: 1 }\n"));
    assert!(msg.contains("'after' does not apply"), "{msg}");
    let msg = one_error(&format!(
        "{}fire: every_event\n",
        corr("  type: absence\n  rules: [hit]\n  timespan: 1m\n")
    ));
    assert!(msg.contains("'fire' does not apply to absence"), "{msg}");
    let msg = one_error(&corr("  type: event_count\n  rules: [hit]\n  timespan: 1m\n  threshold: { gte: 1 }\n  max_groups: 0\n"));
    assert!(msg.contains("max_groups"), "{msg}");
    let msg = one_error(&format!(
        "{}suppress: soon\n",
        corr("  type: event_count\n  rules: [hit]\n  timespan: 1m\n  threshold: { gte: 1 }\n")
    ));
    assert!(msg.contains("suppress") && msg.contains("soon"), "{msg}");
    let msg = one_error(&corr("  type: temporal\n  rules: [hit, r]\n  group_by: [h]\n  timespan: 1m\n  aliases:\n    h:\n      hit: src_endpoint.ip\n").replace("rules: [hit, r]", "rules: [hit, hit2]").replace("id: r\n", "id: hit2\ntitle: H2\ncondition: 'true'\n---\nid: r\n"));
    assert!(msg.contains("alias 'h'") && msg.contains("'hit2'"), "{msg}");
    let msg = one_error(&format!("{base}id: hit\ntitle: Again\n"));
    assert!(msg.contains("duplicate"), "{msg}");
    let msg = one_error(&format!(
        "{}severity: severe\n",
        corr("  type: event_count\n  rules: [hit]\n  timespan: 1m\n  threshold: { gte: 1 }\n")
    ));
    assert!(msg.contains("'severe'"), "{msg}");
}

#[test]
fn cycles_are_errors_naming_the_loop() {
    let yaml = "id: x\ntitle: X\ncorrelation:\n  type: event_count\n  rules: [y]\n  timespan: 1m\n  threshold: { gte: 1 }\n---\n\
        id: y\ntitle: Y\ncorrelation:\n  type: event_count\n  rules: [z]\n  timespan: 1m\n  threshold: { gte: 1 }\n---\n\
        id: z\ntitle: Z\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: 1m\n  threshold: { gte: 1 }\n";
    let msg = one_error(yaml);
    assert!(msg.contains("cycle"), "{msg}");
    for id in ["x", "y", "z"] {
        assert!(msg.contains(id), "{msg}");
    }
    let selfref = "id: s\ntitle: S\ncorrelation:\n  type: event_count\n  rules: [s]\n  timespan: 1m\n  threshold: { gte: 1 }\n";
    assert!(one_error(selfref).contains("s -> s"));
}

#[test]
fn errors_are_all_reported() {
    let yaml =
        "id: r\ntitle: R\ncorrelation:\n  type: event_count\n  rules: [a, b]\n  timespan: 1x\n";
    let e = errors(yaml);
    assert_eq!(e.len(), 4, "{e:?}"); // two inputs, timespan, threshold
}
