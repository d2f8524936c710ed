//! Bot detector throughput over synthetic records (people with assets, a
//! fast scraper, a stuffer and a scanner), records already parsed: the
//! detector's share of the end-to-end budget.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::IpAddr;

use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vigil_weblog::BotDetector;

fn records() -> Vec<vigil_weblog::AccessRecord> {
    let mut rng = Rng(42);
    let mut recs = Vec::new();
    background(&mut recs, &mut rng, 2000);
    let scraper: IpAddr = "198.51.100.10".parse().unwrap();
    for i in 0..20_000 {
        let t = T0 + f64::from(i) * 0.05;
        recs.push(rec(
            t,
            scraper,
            "GET",
            &format!("/product/{i}"),
            200,
            None,
            Some("python-requests/2.31.0"),
            None,
        ));
    }
    let stuffer: IpAddr = "192.0.2.50".parse().unwrap();
    for i in 0..5_000 {
        let t = T0 + f64::from(i) * 0.2;
        recs.push(rec(
            t,
            stuffer,
            "POST",
            "/login",
            401,
            Some(url("/login")),
            Some(BROWSERS[0]),
            None,
        ));
    }
    sorted(recs)
}

fn bench(c: &mut Criterion) {
    let recs = records();
    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Elements(recs.len() as u64));
    group.sample_size(10);
    group.bench_function("observe_finish", |b| {
        b.iter_batched(
            || BotDetector::new(config()).expect("detector"),
            |mut d| {
                for r in &recs {
                    d.observe(r);
                }
                d.finish().len()
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let mut d = BotDetector::new(config()).expect("detector");
    for r in &recs {
        d.observe(r);
    }
    eprintln!(
        "records {} entities tracked {} bytes/entity {}",
        recs.len(),
        d.counters().entities_tracked,
        d.bytes_per_entity()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
