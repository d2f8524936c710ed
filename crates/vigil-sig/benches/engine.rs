//! Inspection throughput with all of ET Open loaded, over realistic HTTP,
//! DNS and TLS inspection points (the buffers the pipeline hands over for
//! one request/response, one query, one handshake). Throughput counts the
//! wire payload bytes (packet and stream data) of each workload; the
//! protocol buffers derived from them are inspected on top.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil_event::{ConnectionInfo, Endpoint, Timestamp};
use vigil_net::app::{AppProto, Direction, FlowMeta};
use vigil_net::inspect::{Buffer, InspectCtx, PayloadInspector};
use vigil_sig::engine::SignatureEngine;
use vigil_sig::load::load_files;
use vigil_sig::vars::Vars;

fn et_engine() -> Option<SignatureEngine> {
    let dir = std::env::var_os("VIGIL_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        })
        .join("et-open-2024-04");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    let t = Instant::now();
    let (rules, load) = load_files(&files, &Vars::default()).ok()?;
    let parsed = t.elapsed();
    let (engine, summary) = SignatureEngine::compile(rules);
    eprintln!(
        "et-open: parsed {} rules in {parsed:?}; total load {:?}",
        load.accepted(),
        t.elapsed()
    );
    eprint!("{summary}");
    // Resident memory once loaded (Linux), for BENCHMARKS.md.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        {
            eprintln!("after load: {line}");
        }
    }
    Some(engine)
}

fn meta(tcp: bool, port: u16) -> FlowMeta {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    FlowMeta {
        originator: Endpoint::new(ip("10.1.2.3"), 51000),
        responder: Endpoint::new(ip("93.184.216.34"), port),
        connection_info: ConnectionInfo {
            uid: format!("Cbench{port}"),
            community_uid: "1:bench".to_owned(),
            protocol_num: if tcp { 6 } else { 17 },
            protocol_name: if tcp { "tcp" } else { "udp" }.to_owned(),
        },
    }
}

/// Deterministic filler that looks like text (HTML-ish) or binary.
fn filler(n: usize, text: bool, seed: u64) -> Vec<u8> {
    let words: &[&[u8]] = &[
        b"<div class=\"content\">",
        b"the ",
        b"quick ",
        b"brown ",
        b"fox ",
        b"<a href=\"/page/",
        b"\">link</a>",
        b"function(e){return e}",
        b"var x = document.getElementById('main');",
        b"</div>\n",
        b"<p>",
        b"lorem ipsum ",
    ];
    let mut out = Vec::with_capacity(n);
    let mut s = seed | 1;
    while out.len() < n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if text {
            out.extend_from_slice(words[(s % words.len() as u64) as usize]);
        } else {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out.truncate(n);
    out
}

struct Point {
    flow: FlowMeta,
    to_client: bool,
    app: Option<AppProto>,
    offset: u64,
    bufs: Vec<(Buffer, Vec<u8>)>,
}

fn workload() -> Vec<Point> {
    let http = meta(true, 80);
    let req_line = b"GET /static/js/app.min.js?v=20240401 HTTP/1.1\r\n".to_vec();
    let req_headers = b"Host: www.example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate\r\nCookie: session=abcdef0123456789; theme=dark\r\nConnection: keep-alive\r\n".to_vec();
    let mut request = req_line.clone();
    request.extend_from_slice(&req_headers);
    request.extend_from_slice(b"\r\n");
    let body = filler(16 * 1024, true, 7);
    let resp_headers = b"Content-Type: text/html; charset=utf-8\r\nContent-Length: 16384\r\nServer: nginx\r\nCache-Control: max-age=600\r\nDate: Mon, 01 Apr 2024 10:00:00 GMT\r\n".to_vec();
    let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
    response.extend_from_slice(&resp_headers);
    response.extend_from_slice(b"\r\n");
    response.extend_from_slice(&body);
    let dns = meta(false, 53);
    let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["www", "example", "com"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let tls = meta(true, 443);
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend_from_slice(&filler(500, false, 3));
    let cert = filler(4000, false, 5);
    let mut points = Vec::new();
    // HTTP: stream chunks (packet-sized), then the transaction buffers.
    for (i, chunk) in request.chunks(1448).enumerate() {
        points.push(Point {
            flow: http.clone(),
            to_client: false,
            app: Some(AppProto::Http),
            offset: (i * 1448) as u64,
            bufs: vec![(Buffer::Stream, chunk.to_vec())],
        });
    }
    points.push(Point {
        flow: http.clone(),
        to_client: false,
        app: Some(AppProto::Http),
        offset: 0,
        bufs: vec![
            (Buffer::HttpMethod, b"GET".to_vec()),
            (Buffer::HttpUri, b"/static/js/app.min.js?v=20240401".to_vec()),
            (Buffer::HttpRawUri, b"/static/js/app.min.js?v=20240401".to_vec()),
            (Buffer::HttpHost, b"www.example.com".to_vec()),
            (Buffer::HttpUserAgent, b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36".to_vec()),
            (Buffer::HttpHeader, req_headers.clone()),
        ],
    });
    for (i, chunk) in response.chunks(1448).enumerate() {
        points.push(Point {
            flow: http.clone(),
            to_client: true,
            app: Some(AppProto::Http),
            offset: (i * 1448) as u64,
            bufs: vec![(Buffer::Stream, chunk.to_vec())],
        });
    }
    points.push(Point {
        flow: http.clone(),
        to_client: true,
        app: Some(AppProto::Http),
        offset: 0,
        bufs: vec![
            (Buffer::HttpStatCode, b"200".to_vec()),
            (Buffer::HttpResponseHeader, resp_headers.clone()),
            (Buffer::FileData, body.clone()),
        ],
    });
    points.push(Point {
        flow: dns.clone(),
        to_client: false,
        app: Some(AppProto::Dns),
        offset: 0,
        bufs: vec![(Buffer::Packet, query.clone())],
    });
    points.push(Point {
        flow: dns,
        to_client: false,
        app: Some(AppProto::Dns),
        offset: 0,
        bufs: vec![(Buffer::DnsQuery, b"www.example.com".to_vec())],
    });
    points.push(Point {
        flow: tls.clone(),
        to_client: false,
        app: Some(AppProto::Tls),
        offset: 0,
        bufs: vec![(Buffer::Stream, hello)],
    });
    points.push(Point {
        flow: tls.clone(),
        to_client: false,
        app: Some(AppProto::Tls),
        offset: 0,
        bufs: vec![
            (Buffer::TlsSni, b"www.example.com".to_vec()),
            (
                Buffer::Ja3Hash,
                b"0123456789abcdef0123456789abcdef".to_vec(),
            ),
        ],
    });
    for (i, chunk) in cert.chunks(1448).enumerate() {
        points.push(Point {
            flow: tls.clone(),
            to_client: true,
            app: Some(AppProto::Tls),
            offset: (i * 1448) as u64,
            bufs: vec![(Buffer::Stream, chunk.to_vec())],
        });
    }
    points
}

fn wire_bytes(points: &[Point]) -> u64 {
    points
        .iter()
        .flat_map(|p| &p.bufs)
        .filter(|(b, _)| matches!(b, Buffer::Packet | Buffer::Stream))
        .map(|(_, d)| d.len() as u64)
        .sum()
}

fn bench_engine(c: &mut Criterion) {
    let Some(mut engine) = et_engine() else {
        eprintln!("et-open-2024-04 not found: set VIGIL_SHARED_DATA");
        return;
    };
    let points = workload();
    let mut group = c.benchmark_group("engine_et_open");
    group.throughput(Throughput::Bytes(wire_bytes(&points)));
    let mut out = Vec::new();
    let mut round: u64 = 0;
    // What this benign workload raises (ET Open has INFO/policy rules that fire on ordinary traffic).
    {
        let mut first = Vec::new();
        for p in &points {
            let slices: Vec<(Buffer, &[u8])> =
                p.bufs.iter().map(|(k, v)| (*k, v.as_slice())).collect();
            let ctx = InspectCtx {
                flow: &p.flow,
                dir: if p.to_client {
                    Direction::ToOriginator
                } else {
                    Direction::ToResponder
                },
                to_server: !p.to_client,
                established: true,
                app: p.app,
                ip_protocol: p.flow.connection_info.protocol_num,
                ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
                packet: 0,
                stream_offset: p.offset,
                payload_encrypted: false,
            };
            engine.inspect(&ctx, &slices, &mut first);
        }
        for ev in &first {
            if let vigil_event::Body::Finding(f) = &ev.body {
                eprintln!(
                    "workload alert: {} ({:?})",
                    f.finding_info.title,
                    f.evidence.get("buffer")
                );
            }
        }
        for p in &points {
            engine.flow_end(&p.flow.connection_info.uid);
        }
    }
    let all_slices: Vec<Vec<(Buffer, &[u8])>> = points
        .iter()
        .map(|p| p.bufs.iter().map(|(k, v)| (*k, v.as_slice())).collect())
        .collect();
    group.bench_function("mixed_http_dns_tls", |b| {
        b.iter(|| {
            round += 1;
            for (p, slices) in points.iter().zip(&all_slices) {
                let ctx = InspectCtx {
                    flow: &p.flow,
                    dir: if p.to_client {
                        Direction::ToOriginator
                    } else {
                        Direction::ToResponder
                    },
                    to_server: !p.to_client,
                    established: true,
                    app: p.app,
                    ip_protocol: p.flow.connection_info.protocol_num,
                    ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + round as i64),
                    packet: round,
                    stream_offset: p.offset,
                    payload_encrypted: false,
                };
                engine.inspect(&ctx, slices, &mut out);
                out.clear();
            }
            for p in &points {
                engine.flow_end(&p.flow.connection_info.uid);
            }
            black_box(&out);
        })
    });
    group.finish();
    let counters = engine.counters();
    eprintln!("counters: {counters:?}");
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
