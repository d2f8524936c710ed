//! End-to-end throughput (issue 5 target: at least 500 k lines/s on one
//! core): combined-format lines parsed, every record through the bot
//! detector, every window judged into a verdict, and the non-human
//! verdicts turned into findings, over vigil-webgen's labelled day of
//! traffic (direct mode: byte for byte what nginx logs) at scale 5, about
//! 100 000 lines. Crawler verification by reverse DNS is off (no network in
//! a benchmark); published ranges are still checked.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vigil_weblog::{AccessRecord, BotDetector, DetectorConfig, Parser};

fn log() -> Vec<u8> {
    let scenario = vigil_webgen::Scenario::generate(
        &vigil_webgen::Config {
            seed: 1,
            scale: 5,
            ..vigil_webgen::Config::default()
        },
        &vigil_webgen::Lists::builtin(),
    );
    let mut out = Vec::new();
    vigil_webgen::write_log(&scenario, false, &mut out).expect("log");
    out
}

fn config() -> DetectorConfig {
    let mut c = DetectorConfig::default();
    c.whitelist.rdns.enabled = false;
    c
}

/// Parse and detect every line; the number of findings.
fn run(parser: &Parser, log: &[u8], mut detector: BotDetector) -> (usize, BotDetector) {
    let mut record = AccessRecord::default();
    let mut findings = 0;
    for line in log.split(|b| *b == b'\n') {
        if parser.parse_into(line, &mut record).is_ok() {
            detector.observe(&record);
            findings += detector
                .take_verdicts()
                .iter()
                .filter_map(|v| v.to_finding())
                .count();
        }
    }
    findings += detector
        .finish()
        .iter()
        .filter_map(|v| v.to_finding())
        .count();
    (findings, detector)
}

fn bench(c: &mut Criterion) {
    let log = log();
    let lines = log.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    let parser = Parser::nginx_combined();
    let mut group = c.benchmark_group("end_to_end");
    group.throughput(Throughput::Elements(lines));
    group.sample_size(10);
    group.bench_function("combined_parse_detect_verdicts", |b| {
        b.iter_batched(
            || BotDetector::new(config()).expect("detector"),
            |d| run(&parser, &log, d).0,
            BatchSize::PerIteration,
        )
    });
    // The parsing share of the same work.
    group.bench_function("combined_parse_only", |b| {
        let mut record = AccessRecord::default();
        b.iter(|| {
            log.split(|b| *b == b'\n')
                .filter(|line| parser.parse_into(line, &mut record).is_ok())
                .count()
        })
    });
    group.finish();
    // Memory per tracked entity, measured at the end of the log (before
    // the table is drained).
    let mut d = BotDetector::new(config()).expect("detector");
    let mut record = AccessRecord::default();
    for line in log.split(|b| *b == b'\n') {
        if parser.parse_into(line, &mut record).is_ok() {
            d.observe(&record);
        }
    }
    let counters = d.counters();
    eprintln!(
        "lines {lines} entities tracked {} peak {} evicted {} bytes/entity {}",
        counters.entities_tracked,
        counters.entities_peak,
        counters.entities_evicted,
        d.bytes_per_entity()
    );
    let (findings, _) = run(&parser, &log, BotDetector::new(config()).expect("detector"));
    eprintln!("findings {findings}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
