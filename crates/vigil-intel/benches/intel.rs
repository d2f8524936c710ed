//! One million mixed indicators: import time (parse a plain list, apply
//! the feed's defaults, compile), memory per indicator (a counting global
//! allocator around the compile), and IP and domain lookups per second on
//! one core.
//!
//! Mix (deterministic): 600,000 IPv4 (90 % hosts, 10 % networks /12–/30),
//! 100,000 IPv6 (80 % hosts, 20 % /32–/64), 200,000 domains (half with
//! their subdomains), 40,000 URLs, 40,000 SHA-256, 20,000 MD5.
//! Queries: half drawn from the indicators (an address inside a network,
//! a name under a listed domain), half random.
//!
//! `cargo bench -p vigil-intel --bench intel`; the memory and store
//! figures are printed before criterion's.

use std::alloc::System;
use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use vigil_intel::format::{self, Format, ParseOptions};
use vigil_intel::import::FeedDefaults;
use vigil_intel::{Indicator, Matcher};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// splitmix64: a small deterministic generator (no dependency, same
/// numbers every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TLDS: [&str; 8] = ["com", "net", "org", "io", "ru", "cn", "xyz", "info"];

fn name(r: &mut Rng) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let len = 5 + r.below(10) as usize;
    let label: String = (0..len)
        .map(|_| A[r.below(A.len() as u64) as usize] as char)
        .collect();
    format!("{label}.{}", TLDS[r.below(TLDS.len() as u64) as usize])
}

struct Corpus {
    text: String,
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
    domains: Vec<(String, bool)>,
}

fn corpus() -> Corpus {
    let mut r = Rng(7);
    let mut text = String::with_capacity(40 << 20);
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    let mut domains = Vec::new();
    for _ in 0..600_000 {
        let a = r.next() as u32;
        let p = if r.below(10) == 0 {
            12 + r.below(19) as u8
        } else {
            32
        };
        let net = a & (u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0));
        v4.push((net, p));
        text.push_str(&format!("{}/{p}\n", std::net::Ipv4Addr::from(net)));
    }
    for _ in 0..100_000 {
        let a = (0x2001_0db8u128 << 96)
            | (u128::from(r.next()) << 32 | u128::from(r.next() as u32)) & ((1u128 << 96) - 1);
        let a = a ^ (u128::from(r.below(4096) as u16) << 100);
        let p = if r.below(5) == 0 {
            32 + r.below(33) as u8
        } else {
            128
        };
        let net = a & (u128::MAX.checked_shl(128 - u32::from(p)).unwrap_or(0));
        v6.push((net, p));
        text.push_str(&format!("{}/{p}\n", std::net::Ipv6Addr::from(net)));
    }
    for i in 0..200_000 {
        let d = name(&mut r);
        let sub = i % 2 == 0;
        text.push_str(if sub { "*." } else { "" });
        text.push_str(&d);
        text.push('\n');
        domains.push((d, sub));
    }
    for _ in 0..40_000 {
        text.push_str(&format!(
            "http://{}/p/{:x}.php?id={}\n",
            name(&mut r),
            r.next(),
            r.below(1000)
        ));
    }
    for _ in 0..40_000 {
        text.push_str(&format!(
            "{:016x}{:016x}{:016x}{:016x}\n",
            r.next(),
            r.next(),
            r.next(),
            r.next()
        ));
    }
    for _ in 0..20_000 {
        text.push_str(&format!("{:016x}{:016x}\n", r.next(), r.next()));
    }
    Corpus {
        text,
        v4,
        v6,
        domains,
    }
}

fn import(text: &str) -> (Vec<Indicator>, Matcher) {
    let parsed = format::parse(Format::Plain, text.as_bytes(), &ParseOptions::default())
        .expect("plain never fails whole");
    let indicators = FeedDefaults::new("bench", 0).apply(&parsed);
    let m = Matcher::build(&indicators, 0);
    (indicators, m)
}

/// Bytes the compiled set keeps (allocated minus freed during the build).
fn retained(indicators: &[Indicator]) -> (Matcher, usize) {
    let region = Region::new(GLOBAL);
    let m = Matcher::build(indicators, 0);
    let c = region.change();
    (m, c.bytes_allocated.saturating_sub(c.bytes_deallocated))
}

fn benches(c: &mut Criterion) {
    let corpus = corpus();
    let (indicators, matcher) = import(&corpus.text);
    assert_eq!(matcher.len() + matcher.stats().duplicates, indicators.len());

    // Memory: the whole mixed set, and the IPv4 part alone.
    let (_, all_bytes) = retained(&indicators);
    let ipv4: Vec<Indicator> = indicators
        .iter()
        .filter(|i| i.kind == vigil_intel::Kind::Ipv4)
        .cloned()
        .collect();
    let (_, v4_bytes) = retained(&ipv4);
    let ips: Vec<Indicator> = indicators
        .iter()
        .filter(|i| i.kind.is_ip())
        .cloned()
        .collect();
    let (_, ip_bytes) = retained(&ips);
    println!(
        "memory: {} indicators: {:.1} MiB, {:.1} bytes/indicator; {} IPv4: {:.1} bytes/indicator; {} IPv4+IPv6: {:.1} bytes/indicator",
        indicators.len(),
        all_bytes as f64 / (1 << 20) as f64,
        all_bytes as f64 / indicators.len() as f64,
        ipv4.len(),
        v4_bytes as f64 / ipv4.len() as f64,
        ips.len(),
        ip_bytes as f64 / ips.len() as f64,
    );
    drop((ipv4, ips));

    // The store on disk: write the feed file, read it back and compile
    // (what `vigil intel import` adds after parsing, and what every
    // command pays at start). Timed once each: seconds, not microseconds.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = vigil_intel::Store::new(dir.path());
    let header = vigil_intel::store::FeedHeader {
        feed: "bench".into(),
        format: "plain".into(),
        source: "generated".into(),
        imported_at: 0,
        indicators: indicators.len(),
        errors: 0,
    };
    let t = std::time::Instant::now();
    let path = store.write_feed(&header, &indicators).expect("write feed");
    let write_s = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let t = std::time::Instant::now();
    let (loaded, _) = store.compile(0).expect("compile store");
    let load_s = t.elapsed().as_secs_f64();
    assert_eq!(loaded.len(), matcher.len());
    println!(
        "store: write {write_s:.2} s ({:.0} MiB), read and compile {load_s:.2} s",
        size as f64 / (1 << 20) as f64
    );
    drop((loaded, dir));

    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    g.throughput(Throughput::Elements(indicators.len() as u64));
    g.bench_function("1M_mixed_plain_list", |b| {
        b.iter(|| black_box(import(black_box(&corpus.text)).1.len()))
    });
    g.bench_function("1M_mixed_compile_only", |b| {
        b.iter(|| black_box(Matcher::build(black_box(&indicators), 0).len()))
    });
    g.finish();

    // Queries: half inside an indicator, half random.
    let mut r = Rng(99);
    let n = 1_000_000usize;
    let q4: Vec<IpAddr> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let (a, p) = corpus.v4[r.below(corpus.v4.len() as u64) as usize];
                let host = if p == 32 {
                    0
                } else {
                    (r.next() as u32) & (u32::MAX >> p)
                };
                IpAddr::V4((a | host).into())
            } else {
                IpAddr::V4((r.next() as u32).into())
            }
        })
        .collect();
    let q6: Vec<IpAddr> = (0..n)
        .map(|i| {
            let (a, p) = corpus.v6[r.below(corpus.v6.len() as u64) as usize];
            if i % 2 == 0 {
                let host = if p == 128 {
                    0
                } else {
                    (u128::from(r.next()) << 64 | u128::from(r.next())) & (u128::MAX >> p)
                };
                IpAddr::V6((a | host).into())
            } else {
                // Same prefix region, random low bits: mostly misses.
                IpAddr::V6((a ^ u128::from(r.next())).into())
            }
        })
        .collect();
    let qd: Vec<String> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let (d, sub) = &corpus.domains[r.below(corpus.domains.len() as u64) as usize];
                if *sub {
                    format!("www.cdn{}.{d}", r.below(100))
                } else {
                    d.clone()
                }
            } else {
                format!("host{}.{}", r.below(1000), name(&mut r))
            }
        })
        .collect();
    let hits = |f: &dyn Fn() -> usize| f();
    println!(
        "hit rates: ipv4 {:.2}, ipv6 {:.2}, domain {:.2}",
        hits(&|| q4
            .iter()
            .filter(|q| matcher.lookup_ip(**q).is_some())
            .count()) as f64
            / n as f64,
        hits(&|| q6
            .iter()
            .filter(|q| matcher.lookup_ip(**q).is_some())
            .count()) as f64
            / n as f64,
        hits(&|| qd
            .iter()
            .filter(|q| matcher.lookup_domain(q).is_some())
            .count()) as f64
            / n as f64,
    );

    let mut g = c.benchmark_group("lookup");
    g.sample_size(20);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("ipv4", |b| {
        b.iter(|| {
            q4.iter()
                .filter(|q| matcher.lookup_ip(black_box(**q)).is_some())
                .count()
        })
    });
    g.bench_function("ipv6", |b| {
        b.iter(|| {
            q6.iter()
                .filter(|q| matcher.lookup_ip(black_box(**q)).is_some())
                .count()
        })
    });
    g.bench_function("domain", |b| {
        b.iter(|| {
            qd.iter()
                .filter(|q| matcher.lookup_domain(black_box(q)).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(intel, benches);
criterion_main!(intel);
