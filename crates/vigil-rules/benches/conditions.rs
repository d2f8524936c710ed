//! 1,000 compiled conditions over a realistic mix of events, on one core.
//!
//! Conditions: every value of the SigmaHQ web server, proxy, DNS, Zeek and
//! firewall rules (`../shared/data/sigma`) that maps to a Vigil field, in
//! the rule's own shape (a user agent equal to one of a tool's, a host
//! ending in a dynamic-DNS suffix and a path ending in an executable's
//! extension, a SQL keyword in the URL of a GET that was not a 404, a DNS
//! name ending in a C2 domain, a firewall port or network), case-insensitive
//! as Sigma matches, topped up to 1,000 with flow tests (ports, networks,
//! byte counts). Events: the HTTP requests of the labelled nginx log in
//! `examples/weblog` (browsers, bots and attacks), DNS queries for common
//! and random names, and flows, interleaved 2:1:1.
//!
//! `ConditionSet::matches` is measured on events fresh in the cache (as in
//! the pipeline, where an event is matched right after it is decoded), on
//! the same events read back from memory, and against evaluating every
//! condition one by one.

use std::hint::black_box;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vigil_event::{
    Body, ConnectionInfo, DnsActivity, DnsAnswer, DnsQuery, Endpoint, Event, FlowRecord,
    HttpActivity, HttpRequest, HttpResponse, Timestamp, Traffic, Url,
};
use vigil_rules::expr::{self, ConditionSet};

const CONDITIONS: usize = 1000;
/// Events per freshly cloned batch (about 1 MiB, within a core's L2).
const BATCH: usize = 256;

/// A deterministic generator (xorshift64*), so every run sees the same input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Sigma detection values: field, modifiers, and the values (several only
/// with the `all` modifier, when every one must hold).
struct SigmaValue {
    field: String,
    mods: Vec<String>,
    values: Vec<yaml_serde::Value>,
}

fn sigma_values(dir: &Path) -> Vec<SigmaValue> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yml") {
                let s = p.to_string_lossy();
                if s.contains("/web/")
                    || s.contains("/network/dns/")
                    || s.contains("/network/zeek/")
                    || s.contains("/network/firewall/")
                {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(doc) = yaml_serde::from_str::<yaml_serde::Value>(&text) else {
            continue;
        };
        let Some(det) = doc.get("detection").and_then(|d| d.as_mapping()) else {
            continue;
        };
        for (k, sel) in det {
            if matches!(k.as_str(), Some("condition" | "timeframe")) {
                continue;
            }
            let maps: Vec<&yaml_serde::Mapping> = match sel {
                yaml_serde::Value::Mapping(m) => vec![m],
                yaml_serde::Value::Sequence(items) => {
                    for item in items {
                        if let Some(s) = item.as_str() {
                            out.push(SigmaValue {
                                field: "keywords".into(),
                                mods: vec!["contains".into()],
                                values: vec![yaml_serde::Value::String(s.into())],
                            });
                        }
                    }
                    items.iter().filter_map(|i| i.as_mapping()).collect()
                }
                _ => Vec::new(),
            };
            for m in maps {
                for (fk, fv) in m {
                    let Some(key) = fk.as_str() else { continue };
                    let mut parts = key.split('|');
                    let field = parts.next().unwrap_or_default().to_owned();
                    let mods: Vec<String> = parts.map(str::to_owned).collect();
                    let vals = match fv {
                        yaml_serde::Value::Sequence(v) => v.clone(),
                        other => vec![other.clone()],
                    };
                    if mods.iter().any(|m| m == "all") {
                        out.push(SigmaValue {
                            field,
                            mods,
                            values: vals,
                        });
                        continue;
                    }
                    for value in vals {
                        out.push(SigmaValue {
                            field: field.clone(),
                            mods: mods.clone(),
                            values: vec![value],
                        });
                    }
                }
            }
        }
    }
    out
}

/// Sigma values as a Vigil condition in their rule's shape, when they map.
fn condition_of(v: &SigmaValue, rng: &mut Rng) -> Option<String> {
    let parts: Option<Vec<String>> = v
        .values
        .iter()
        .map(|value| test_of(&v.field, &v.mods, value, rng))
        .collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// One Sigma value as a Vigil test, when it maps.
fn test_of(
    field: &str,
    mods: &[String],
    value: &yaml_serde::Value,
    rng: &mut Rng,
) -> Option<String> {
    let text = match value {
        yaml_serde::Value::String(s) => s.clone(),
        yaml_serde::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    // A text test of one or two characters is a sub-selection that only
    // means something beside its rule's other selections; leave it out.
    let is_text_test = !matches!(
        field,
        "dst_port" | "id.resp_p" | "dst_ip" | "id.resp_h" | "id.orig_h"
    );
    if text.is_empty()
        || (is_text_test && text.chars().count() < 3)
        || mods.iter().any(|m| {
            !matches!(
                m.as_str(),
                "contains" | "startswith" | "endswith" | "all" | "cidr"
            )
        })
    {
        return None;
    }
    let q = |s: &str| format!("{s:?}");
    let has = |m: &str| mods.iter().any(|x| x == m);
    let mods = |default: &str| -> Option<String> {
        let op = if has("contains") {
            "icontains"
        } else if has("startswith") {
            "istartswith"
        } else if has("endswith") {
            "iendswith"
        } else {
            default
        };
        // Sigma wildcards inside a value are not mapped here.
        (!text.contains('*') && !text.contains('?')).then(|| op.to_owned())
    };
    const EXTS: &[&str] = &[".exe", ".dll", ".ps1", ".hta", ".vbs", ".zip", ".bat"];
    let ext = rng.pick::<&str>(EXTS);
    Some(match field {
        "c-useragent" | "cs-user-agent" | "user_agent" => {
            format!("http_request.user_agent {} {}", mods("ieq")?, q(&text))
        }
        "cs-host" | "host" | "r-dns" => format!(
            "http_request.url.hostname {} {} and http_request.url.path iendswith {}",
            mods("ieq")?,
            q(&text),
            q(ext)
        ),
        "keywords" => format!(
            "http_request.url.url_string icontains {} and http_request.http_method == \"GET\" and http_response.code != 404",
            q(&text)
        ),
        "c-uri" | "cs-uri-query" | "cs-uri" | "uri" | "c-uri-query" => {
            format!("http_request.url.url_string {} {}", mods("icontains")?, q(&text))
        }
        "cs-uri-stem" | "path" => format!("http_request.url.path {} {}", mods("icontains")?, q(&text)),
        "c-uri-extension" => format!(
            "http_request.url.path iendswith {} and http_response.code == 200",
            q(&format!(".{}", text.trim_start_matches('.')))
        ),
        "query" | "name" => format!("query.hostname {} {}", mods("ieq")?, q(&text)),
        "answer" | "answers" => format!("answers.rdata {} {}", mods("ieq")?, q(&text)),
        "dst_port" | "id.resp_p" => format!("dst_endpoint.port == {}", text.parse::<u16>().ok()?),
        "dst_ip" | "id.resp_h" if has("cidr") => {
            format!("dst_endpoint.ip in cidr [{}] and traffic.bytes_out > 1000", q(&text))
        }
        "id.orig_h" if has("cidr") => {
            format!("src_endpoint.ip in cidr [{}] and dst_endpoint.port == 445", q(&text))
        }
        _ => return None,
    })
}

/// Flow tests to top the set up: rare ports to public networks, large
/// uploads, connections into given networks.
fn flow_condition(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!(
            "dst_endpoint.port == {} and not dst_endpoint.ip in cidr [\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\"]",
            1024 + rng.below(60000)
        ),
        1 => format!(
            "dst_endpoint.port in [{}, {}, {}] and traffic.bytes_out > {}",
            rng.below(65536),
            rng.below(65536),
            rng.below(65536),
            10_000 + rng.below(10_000_000)
        ),
        2 => format!(
            "dst_endpoint.ip in cidr [\"{}.{}.0.0/16\"] and connection_info.protocol_name == \"tcp\"",
            11 + rng.below(200),
            rng.below(256)
        ),
        _ => format!(
            "src_endpoint.ip == {}.{}.{}.{} and dst_endpoint.port < 1024",
            11 + rng.below(200),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        ),
    }
}

/// The conditions, and how many of them come from Sigma values.
fn conditions(sigma: &Path) -> (Vec<String>, usize) {
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let mut out: Vec<String> = sigma_values(sigma)
        .iter()
        .filter_map(|v| condition_of(v, &mut rng))
        .collect();
    out.sort();
    out.dedup();
    out.truncate(CONDITIONS * 9 / 10);
    let from_sigma = out.len();
    while out.len() < CONDITIONS {
        out.push(flow_condition(&mut rng));
    }
    (out, from_sigma)
}

fn endpoint(ip: IpAddr, port: u16) -> Endpoint {
    Endpoint::new(ip, port)
}

/// One combined-format line as an HTTP event (None when it is not one).
fn http_event(line: &str, t: i64) -> Option<Event> {
    let (ip, rest) = line.split_once(' ')?;
    let (_, rest) = rest.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut req = request.split(' ');
    let method = req.next()?.to_owned();
    let target = req.next()?.to_owned();
    let version = req.next().unwrap_or("HTTP/1.1").to_owned();
    let mut fields = rest.splitn(3, ' ');
    let code: u16 = fields.next()?.parse().ok()?;
    let length: u64 = fields.next()?.parse().unwrap_or(0);
    let quoted: Vec<&str> = fields.next().unwrap_or("").split('"').collect();
    let referrer = quoted
        .get(1)
        .filter(|r| **r != "-")
        .map(|r| (*r).to_owned());
    let user_agent = quoted.get(3).map(|u| (*u).to_owned());
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.clone(), None),
    };
    let body = HttpActivity {
        src_endpoint: endpoint(ip.parse().ok()?, 40000),
        dst_endpoint: endpoint(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 443),
        connection_info: ConnectionInfo::tcp_from_log(),
        http_request: HttpRequest {
            http_method: method,
            url: Url {
                hostname: Some("www.vigil-shop.example".into()),
                port: None,
                path,
                query_string: query,
                url_string: target,
            },
            version,
            user_agent,
            referrer,
            body_length: 0,
        },
        http_response: Some(HttpResponse {
            code,
            message: None,
            content_type: None,
            length,
        }),
        transaction: 0,
    };
    Some(Event::new(Timestamp::from_nanos(t), Body::Http(body)))
}

const DOMAINS: &[&str] = &[
    "google.com",
    "www.google.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "api.github.com",
    "github.com",
    "objects.githubusercontent.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "www.microsoft.com",
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "outlook.office365.com",
    "update.googleapis.com",
    "safebrowsing.googleapis.com",
    "www.youtube.com",
    "i.ytimg.com",
    "www.wikipedia.org",
    "en.wikipedia.org",
    "upload.wikimedia.org",
    "deb.debian.org",
    "security.debian.org",
    "ntp.ubuntu.com",
    "archive.ubuntu.com",
    "registry.npmjs.org",
    "pypi.org",
    "files.pythonhosted.org",
    "crates.io",
    "static.crates.io",
    "index.crates.io",
    "s3.amazonaws.com",
    "ec2.us-east-1.amazonaws.com",
    "www.amazon.com",
    "m.media-amazon.com",
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "twitter.com",
    "abs.twimg.com",
    "www.linkedin.com",
    "slack.com",
    "edgeapi.slack.com",
    "zoom.us",
    "teams.microsoft.com",
    "www.apple.com",
    "gateway.icloud.com",
    "time.apple.com",
    "ocsp.digicert.com",
    "ocsp.pki.goog",
    "r3.o.lencr.org",
    "www.cloudflare.com",
    "one.one.one.one",
    "dns.google",
    "mail.example.org",
    "intranet.corp.example",
    "fileserver.corp.example",
    "printer.corp.example",
];

fn dns_event(rng: &mut Rng, t: i64) -> Event {
    let base = *rng.pick(DOMAINS);
    let hostname = match rng.below(10) {
        // Random labels: CDN shards, tracking, the odd DGA-looking name.
        0 => format!("{:x}.{base}", rng.next() & 0xffff_ffff),
        1 => format!("a{}-{}.{base}", rng.below(100), rng.below(1000)),
        _ => base.to_owned(),
    };
    let qtype = *rng.pick(&["A", "A", "A", "AAAA", "AAAA", "HTTPS", "TXT", "MX"]);
    let answer = DnsAnswer {
        name: hostname.clone(),
        rtype: "A".into(),
        class: "IN".into(),
        ttl: 60 + rng.below(3600) as u32,
        rdata: format!(
            "{}.{}.{}.{}",
            1 + rng.below(223),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        ),
        section: "answer".into(),
    };
    let body = DnsActivity {
        src_endpoint: endpoint(
            IpAddr::V4(Ipv4Addr::new(
                10,
                0,
                rng.below(4) as u8,
                1 + rng.below(250) as u8,
            )),
            30000 + rng.below(30000) as u16,
        ),
        dst_endpoint: endpoint(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)), 53),
        connection_info: ConnectionInfo {
            uid: format!("D{t}"),
            community_uid: String::new(),
            protocol_num: 17,
            protocol_name: "udp".into(),
        },
        query: DnsQuery {
            hostname,
            qtype: qtype.into(),
            type_id: 1,
            class: "IN".into(),
            packet_uid: rng.below(65536) as u16,
            opcode: "Query".into(),
            opcode_id: 0,
        },
        answers: vec![answer],
        rcode: Some("NoError".into()),
        rcode_id: Some(0),
        flags: vec!["qr".into(), "rd".into(), "ra".into()],
        response_time: None,
        rtt_us: Some(1500),
        pairing: "answered".into(),
    };
    Event::new(Timestamp::from_nanos(t), Body::Dns(body))
}

fn flow_event(rng: &mut Rng, t: i64) -> Event {
    let port = *rng.pick(&[
        443, 443, 443, 443, 80, 80, 53, 22, 123, 3389, 445, 8080, 993, 5222,
    ]);
    let port = if rng.below(20) == 0 {
        1024 + rng.below(60000) as u16
    } else {
        port
    };
    let dst = if rng.below(4) == 0 {
        IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            rng.below(8) as u8,
            1 + rng.below(250) as u8,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(
            1 + rng.below(223) as u8,
            rng.below(256) as u8,
            rng.below(256) as u8,
            1 + rng.below(254) as u8,
        ))
    };
    let out = 200 + rng.below(200_000) as u64;
    let inb = 200 + rng.below(2_000_000) as u64;
    let body = FlowRecord {
        src_endpoint: endpoint(
            IpAddr::V4(Ipv4Addr::new(
                10,
                0,
                rng.below(4) as u8,
                1 + rng.below(250) as u8,
            )),
            30000 + rng.below(30000) as u16,
        ),
        dst_endpoint: endpoint(dst, port),
        connection_info: ConnectionInfo::tcp(format!("F{t}"), ""),
        traffic: Traffic {
            packets_out: out / 500,
            packets_in: inb / 1000,
            bytes_out: out,
            bytes_in: inb,
            packets: out / 500 + inb / 1000,
            bytes: out + inb,
            payload_bytes_out: out,
            payload_bytes_in: inb,
        },
        start_time: t / 1_000_000,
        end_time: t / 1_000_000 + 100,
        duration: 100,
        duration_us: 100_000,
        app_name: None,
        conn_state: Some("SF".into()),
        history: None,
        end_reason: "closed".into(),
        reassembly: None,
        icmp: None,
    };
    Event::new(Timestamp::from_nanos(t), Body::Flow(body))
}

fn events(weblog: &Path) -> Vec<Event> {
    let mut gz = String::new();
    let file =
        std::fs::File::open(weblog).expect("examples/weblog/access.log.gz is in the repository");
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut gz)
        .expect("the example log decompresses");
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut out = Vec::new();
    let mut t = 1_700_000_000_000_000_000i64;
    for line in gz.lines() {
        t += 1_000_000;
        let Some(h) = http_event(line, t) else {
            continue;
        };
        out.push(h);
        if out.len() % 2 == 0 {
            out.push(dns_event(&mut rng, t));
            out.push(flow_event(&mut rng, t));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let Some(sigma) = vigil_testkit::require_shared_data("sigma") else {
        return;
    };
    let weblog = vigil_testkit::repo_root().join("examples/weblog/access.log.gz");
    let (texts, from_sigma) = conditions(&sigma.join("rules"));
    let mut set = ConditionSet::new();
    let mut singles = Vec::new();
    for (id, text) in texts.iter().enumerate() {
        let e = expr::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        set.add(id, &e)
            .unwrap_or_else(|err| panic!("{text}: {err}"));
        singles.push(expr::compile(&e).expect("compiles"));
    }
    let evs = events(&weblog);
    let stats = set.stats();
    let mut out = Vec::new();
    let mut hits = 0usize;
    let mut matched_events = 0usize;
    for e in &evs {
        set.matches(e, &mut out);
        hits += out.len();
        matched_events += usize::from(!out.is_empty());
    }
    eprintln!(
        "conditions: {} ({from_sigma} from Sigma values; {} filed by literal, {} by class, {} any class); events: {} ({} matched, {} matches); literals: {} text, {} values",
        stats.conditions, stats.by_literal, stats.by_class, stats.any_class, evs.len(), matched_events, hits,
        stats.text_literals, stats.value_literals
    );
    let mut g = c.benchmark_group("conditions");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.sample_size(10);
    // As in the pipeline, where an event is matched right after it was
    // decoded: each batch is cloned (fresh allocations, in the cache) before
    // the timed pass over it.
    g.bench_function("set_1000_fresh_events", |b| {
        let mut out = Vec::new();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for batch in evs.chunks(BATCH) {
                    let fresh = batch.to_vec();
                    let start = Instant::now();
                    for e in &fresh {
                        set.matches(black_box(e), &mut out);
                        black_box(&out);
                    }
                    total += start.elapsed();
                }
            }
            total
        })
    });
    // The same events read back from memory: 41k events of 3-4 KiB each
    // (the event, its strings and observables) do not fit in any cache, so
    // this adds a few cache misses per event.
    g.bench_function("set_1000_stored_events", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for e in &evs {
                set.matches(black_box(e), &mut out);
                black_box(&out);
            }
        })
    });
    g.bench_function("one_by_one_1000_fresh_events", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for batch in evs.chunks(BATCH) {
                    let fresh = batch.to_vec();
                    let start = Instant::now();
                    for e in &fresh {
                        black_box(singles.iter().filter(|c| c.matches(black_box(e))).count());
                    }
                    total += start.elapsed();
                }
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
