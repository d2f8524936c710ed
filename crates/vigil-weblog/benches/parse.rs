//! Parse throughput of the combined format (issue 5 target: at least 1 M
//! lines/s on one core), over realistic lines generated deterministically:
//! varied clients (IPv4 and IPv6), paths with and without queries, static
//! assets, referers, browser/crawler/library user agents, a few escaped
//! quotes, and `-` fields.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use vigil_weblog::{AccessRecord, Parser};

/// A small deterministic generator (xorshift64*), so every run parses the
/// same lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/products",
    "/products/shoes/running",
    "/cart",
    "/checkout/payment",
    "/search",
    "/api/v1/items",
    "/login",
    "/account/orders",
    "/blog/2024/03/how-to-choose-shoes",
    "/static/css/main.4f2a1c.css",
    "/static/js/app.9b1e7d.js",
    "/images/hero-banner@2x.jpg",
    "/favicon.ico",
    "/robots.txt",
    "/sitemap.xml",
    "/wp-login.php",
    "/.env",
];
const QUERIES: &[&str] = &[
    "",
    "",
    "",
    "?q=trail+running+shoes",
    "?page=2&sort=price_asc",
    "?id=18273",
    "?utm_source=newsletter&utm_medium=email",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "sqlmap/1.7.2#stable (https://sqlmap.org)",
    r"Mozilla/5.0 \x22quoted\x22 agent",
    "-",
];
const REFERERS: &[&str] = &[
    "-",
    "-",
    "https://www.google.com/",
    "https://shop.example.com/products",
    "https://shop.example.com/cart",
    "https://duckduckgo.com/?q=running+shoes",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "GET", "GET", "POST", "HEAD"];
const STATUSES: &[&str] = &[
    "200", "200", "200", "200", "304", "301", "404", "403", "500",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn lines(n: usize) -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let client = if rng.next() % 10 == 0 {
                format!("2001:db8:{:x}::{:x}", rng.next() % 0xffff, rng.next() % 0xffff)
            } else {
                format!("{}.{}.{}.{}", rng.next() % 223 + 1, rng.next() % 256, rng.next() % 256, rng.next() % 254 + 1)
            };
            let user = if rng.next() % 20 == 0 { "alice" } else { "-" };
            format!(
                r#"{client} - {user} [{:02}/{}/2024:{:02}:{:02}:{:02} +0000] "{} {}{} HTTP/1.1" {} {} "{}" "{}""#,
                i % 28 + 1,
                rng.pick(MONTHS),
                rng.next() % 24,
                rng.next() % 60,
                rng.next() % 60,
                rng.pick(METHODS),
                rng.pick(PATHS),
                rng.pick(QUERIES),
                rng.pick(STATUSES),
                rng.next() % 200_000,
                rng.pick(REFERERS),
                rng.pick(AGENTS),
            )
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let lines = lines(10_000);
    let parser = Parser::nginx_combined();
    // Every generated line must parse, or the figure would flatter errors.
    let mut record = AccessRecord::default();
    for line in &lines {
        if let Err(e) = parser.parse_into(line.as_bytes(), &mut record) {
            panic!("generated line does not parse: {e}: {line}");
        }
    }
    let mut group = c.benchmark_group("weblog_parse");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("combined_reused_record", |b| {
        let mut record = AccessRecord::default();
        b.iter(|| {
            for line in &lines {
                let _ = black_box(parser.parse_into(black_box(line.as_bytes()), &mut record));
            }
        })
    });
    group.bench_function("combined_new_record", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(parser.parse(black_box(line.as_bytes())));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
