//! Correlation throughput: events/s through one `event_count`, one
//! `value_count` and one `temporal` rule over 10,000 groups (and
//! `event_count` again with 5 s of allowed lateness, so every event passes
//! the reorder buffer), plus the measured bytes per open group of each
//! kind, printed once before the timings.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vigil_event::{
    Body, ConnectionInfo, Endpoint, Event, HttpActivity, HttpRequest, Timestamp, Url,
};
use vigil_rules::correlate::{Correlator, CorrelatorConfig, RuleHandle};
use vigil_rules::spec::RuleSpec;

const EVENTS: usize = 200_000;
const GROUPS: usize = 10_000;
const T0: i64 = 1_700_000_000_000_000_000;

/// One request per millisecond of event time, round-robin over the
/// groups' addresses (so each group sees an event every 10 s), each
/// visit of a group a different one of 50 paths.
fn events() -> Vec<Event> {
    (0..EVENTS)
        .map(|i| {
            let g = i % GROUPS;
            let src = std::net::IpAddr::from([10, 1, (g / 256) as u8, (g % 256) as u8]);
            let path = format!("/p{}", (i / GROUPS * 7 + g) % 50);
            let h = HttpActivity {
                src_endpoint: Endpoint::new(src, 40000),
                dst_endpoint: Endpoint::new("192.0.2.1".parse().expect("ip"), 80),
                connection_info: ConnectionInfo::tcp("F", ""),
                http_request: HttpRequest {
                    http_method: "GET".into(),
                    url: Url {
                        path: path.clone(),
                        url_string: path,
                        ..Url::default()
                    },
                    version: "HTTP/1.1".into(),
                    ..HttpRequest::default()
                },
                http_response: None,
                transaction: 0,
            };
            let mut e = Event::new(
                Timestamp::from_nanos(T0 + i as i64 * 1_000_000),
                Body::Http(h),
            );
            e.metadata.uid = Some(format!("ev-{i}"));
            e
        })
        .collect()
}

fn rules(kind: &str, lateness: &str) -> Vec<RuleSpec> {
    let body = match kind {
        "event_count" => "type: event_count\n  rules: [a]\n  threshold: { gte: 5 }",
        "value_count" => "type: value_count\n  rules: [a]\n  field: http_request.url.path\n  threshold: { gte: 5 }",
        _ => "type: temporal\n  rules: [a, b, c]",
    };
    let text = format!(
        "id: a\ntitle: A\ncondition: 'true'\n---\nid: b\ntitle: B\ncondition: 'true'\n---\n\
         id: c\ntitle: C\ncondition: 'true'\n---\n\
         id: r\ntitle: R\ncorrelation:\n  {body}\n  group_by: [src_endpoint.ip]\n  timespan: 60s\n  lateness: {lateness}\n"
    );
    text.split("\n---\n")
        .map(|d| yaml_serde::from_str(d).expect("rule"))
        .collect()
}

fn run(c: &mut Correlator, handles: &[RuleHandle], evs: &[Event]) -> usize {
    let mut n = 0;
    for (i, e) in evs.iter().enumerate() {
        n += c.observe(handles[i % handles.len()], e).len();
    }
    n + c.finish().len()
}

fn setup(kind: &str, lateness: &str) -> (Correlator, Vec<RuleHandle>) {
    let c = Correlator::new(&rules(kind, lateness), CorrelatorConfig::default()).expect("rules");
    let handles = if kind == "temporal" {
        ["a", "b", "c"]
            .iter()
            .map(|id| c.handle(id).expect("h"))
            .collect()
    } else {
        vec![c.handle("a").expect("h")]
    };
    (c, handles)
}

fn report_memory(evs: &[Event]) {
    for kind in ["event_count", "value_count", "temporal"] {
        let (mut c, handles) = setup(kind, "0s");
        let mut fired = 0;
        for (i, e) in evs.iter().enumerate() {
            fired += c.observe(handles[i % handles.len()], e).len();
        }
        let s = c.stats();
        let r = &s.rules[0];
        eprintln!(
            "{kind}: {} groups open, {} bytes per group, {} meta-events",
            r.groups_open, r.bytes_per_group, fired
        );
    }
}

fn bench(c: &mut Criterion) {
    let evs = events();
    report_memory(&evs);
    let mut group = c.benchmark_group("correlate");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    for (name, kind, lateness) in [
        ("event_count", "event_count", "0s"),
        ("event_count_lateness_5s", "event_count", "5s"),
        ("value_count", "value_count", "0s"),
        ("temporal", "temporal", "0s"),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || setup(kind, lateness),
                |(mut c, handles)| run(&mut c, &handles, &evs),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
