//! Synthetic access records for the detector's scenario tests and bench:
//! people browsing (pages with their assets, referers, heavy-tailed think
//! times) and the bots and attackers the scenarios add to them.
#![allow(dead_code)]

use std::net::IpAddr;

use vigil_event::Timestamp;
use vigil_weblog::detector::DetectorConfig;
use vigil_weblog::AccessRecord;

/// Epoch of the scenarios: 2026-07-01 10:00:00 UTC.
pub const T0: f64 = 1_782_900_000.0;
pub const SITE: &str = "shop.example";

pub const BROWSERS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
];

/// A small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Pareto think time: scale `xm` seconds, shape 1.5, capped.
    pub fn think(&mut self, xm: f64, cap: f64) -> f64 {
        (xm / (1.0 - self.unit()).powf(1.0 / 1.5)).min(cap)
    }
}

#[allow(clippy::too_many_arguments)]
pub fn rec(
    t: f64,
    ip: IpAddr,
    method: &str,
    target: &str,
    status: u16,
    referer: Option<String>,
    ua: Option<&str>,
    session: Option<&str>,
) -> AccessRecord {
    AccessRecord {
        time: Timestamp::from_nanos((t * 1e9) as i64),
        client: ip,
        method: method.into(),
        target: target.into(),
        protocol: "HTTP/1.1".into(),
        status,
        bytes_sent: 1234,
        referer,
        user_agent: ua.map(str::to_owned),
        fields: session
            .map(|s| vec![("cookie_session".to_owned(), s.to_owned())])
            .unwrap_or_default(),
        ..AccessRecord::default()
    }
}

pub fn url(path: &str) -> String {
    format!("https://{SITE}{path}")
}

/// One person: `pages` page views, each followed by its assets within a
/// second (with the page as referer), then a heavy-tailed think time.
pub fn person(
    out: &mut Vec<AccessRecord>,
    rng: &mut Rng,
    ip: IpAddr,
    ua: &str,
    session: Option<&str>,
    start: f64,
    pages: usize,
) {
    let mut t = start;
    let mut prev: Option<String> = Some("https://www.google.com/".into());
    for _ in 0..pages {
        let page = match rng.below(4) {
            0 => "/".to_owned(),
            1 => format!("/category/{}", rng.below(8)),
            _ => format!("/product/{}", rng.below(300)),
        };
        out.push(rec(
            t,
            ip,
            "GET",
            &page,
            200,
            prev.clone(),
            Some(ua),
            session,
        ));
        let assets = [
            "/static/app.css",
            "/static/app.js",
            "/static/logo.svg",
            "/fonts/inter.woff2",
        ];
        for a in assets {
            t += rng.range(0.01, 0.3);
            out.push(rec(
                t,
                ip,
                "GET",
                a,
                200,
                Some(url(&page)),
                Some(ua),
                session,
            ));
        }
        t += rng.range(0.05, 0.3);
        out.push(rec(
            t,
            ip,
            "GET",
            &format!("/img/p{}.jpg", rng.below(300)),
            200,
            Some(url(&page)),
            Some(ua),
            session,
        ));
        prev = Some(url(&page));
        t += rng.think(4.0, 900.0);
    }
}

/// `n` people on distinct addresses of 172.16.0.0/12, over ~20 minutes.
pub fn background(out: &mut Vec<AccessRecord>, rng: &mut Rng, n: u32) {
    for i in 0..n {
        let ip = IpAddr::from([172, 16 + (i / 250) as u8, (i % 250) as u8, 10]);
        let ua = BROWSERS[rng.below(BROWSERS.len() as u64) as usize];
        let start = T0 + rng.range(0.0, 1200.0);
        let pages = 3 + rng.below(12) as usize;
        person(out, rng, ip, ua, None, start, pages);
    }
}

pub fn config() -> DetectorConfig {
    let mut c = DetectorConfig::default();
    c.site.hosts = vec![SITE.into()];
    // No DNS in scenario tests (tests/rdns.rs uses a real local resolver).
    c.whitelist.rdns.enabled = false;
    c
}

pub fn sorted(mut recs: Vec<AccessRecord>) -> Vec<AccessRecord> {
    recs.sort_by_key(|r| r.time);
    recs
}
