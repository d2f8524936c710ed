//! Cleartext HTTP/1.1 on keep-alive connections: browsers, OS services (connectivity
//! checks, certificate trust lists, updates), package managers and scripts, each with its
//! own headers; several transactions per connection (a few pipelined), responses with
//! `Content-Length` or chunked bodies, 304s, redirects, 404s, HEAD requests and the odd
//! large download. JSON bodies are valid JSON; binary bodies are `application/octet-stream`.

use crate::content::{Piece, Pools, Stream};
use crate::dist::{between, chance, lognormal, ns, pick, weighted, Rng};
use crate::hosts::HTTP_HOSTS;
use crate::sched::Tally;
use crate::tcp::{pace, App, AppCx, Message, CLIENT, SERVER};

/// Who is making the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agent {
    Browser,
    CryptoApi,
    Ncsi,
    Apt,
    Curl,
    Python,
}

const AGENTS: [(Agent, u32); 6] = [
    (Agent::Browser, 50),
    (Agent::CryptoApi, 12),
    (Agent::Ncsi, 8),
    (Agent::Apt, 10),
    (Agent::Curl, 12),
    (Agent::Python, 8),
];

const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
];

const SERVERS: &[&str] = &[
    "nginx/1.24.0",
    "nginx",
    "Apache/2.4.62 (Debian)",
    "Microsoft-IIS/10.0",
    "cloudflare",
    "ECAcc (nyd/D11E)",
    "AmazonS3",
];

/// What a request asks for, which decides the response's type and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asset {
    Page,
    Script,
    Style,
    Json,
    Binary,
    Text,
}

#[derive(Debug)]
struct Pending {
    asset: Asset,
    head: bool,
    conditional: bool,
}

/// The script of one HTTP connection.
#[derive(Debug)]
pub(crate) struct HttpApp {
    host: String,
    agent: Agent,
    ua: &'static str,
    left: u32,
    pipelined: bool,
    pending: Vec<Pending>,
    first: bool,
    rate_bps: f64,
}

impl HttpApp {
    /// A connection: the script, the server's name and port.
    pub(crate) fn new(rng: &mut Rng) -> (Self, String, u16) {
        let agent = weighted(rng, &AGENTS);
        let host = match agent {
            Agent::CryptoApi => pick(
                rng,
                &[
                    "ctldl.windowsupdate.com",
                    "crl.example-trust.net",
                    "crt.example-trust.net",
                ],
            )
            .to_string(),
            Agent::Ncsi => "www.msftconnecttest.com".to_string(),
            Agent::Apt => pick(
                rng,
                &[
                    "deb.debian.org",
                    "security.debian.org",
                    "archive.ubuntu.com",
                    "mirror.example.edu",
                ],
            )
            .to_string(),
            _ => pick(rng, HTTP_HOSTS).to_string(),
        };
        let ua = match agent {
            Agent::Browser => *pick(rng, BROWSER_UAS),
            Agent::CryptoApi => "Microsoft-CryptoAPI/10.0",
            Agent::Ncsi => "Microsoft NCSI",
            Agent::Apt => *pick(
                rng,
                &[
                    "Debian APT-HTTP/1.3 (2.6.1)",
                    "Debian APT-HTTP/1.3 (2.7.14)",
                ],
            ),
            Agent::Curl => *pick(rng, &["curl/7.88.1", "curl/8.5.0", "curl/8.11.0"]),
            Agent::Python => *pick(
                rng,
                &[
                    "python-requests/2.31.0",
                    "Go-http-client/1.1",
                    "okhttp/4.12.0",
                ],
            ),
        };
        let left = match agent {
            Agent::Ncsi => 1,
            Agent::Browser => lognormal(rng, 2.5, 0.9, 1, 30) as u32,
            Agent::Apt => lognormal(rng, 3.0, 0.8, 1, 20) as u32,
            _ => lognormal(rng, 1.5, 0.7, 1, 8) as u32,
        };
        let port = if chance(rng, 0.92) { 80 } else { 8080 };
        let name = host.clone();
        let app = Self {
            host,
            agent,
            ua,
            left,
            pipelined: agent == Agent::Apt && chance(rng, 0.3),
            pending: Vec::new(),
            first: true,
            rate_bps: lognormal(rng, 40e6, 0.9, 2_000_000, 800_000_000) as f64,
        };
        (app, name, port)
    }

    fn request(&mut self, rng: &mut Rng) -> (Vec<u8>, Option<Piece>, Pending) {
        let host = &self.host;
        let ua = self.ua;
        let mut body = None;
        let (method, uri, asset) = match self.agent {
            Agent::Ncsi => ("GET", "/connecttest.txt".to_string(), Asset::Text),
            Agent::CryptoApi => {
                let file = pick(
                    rng,
                    &[
                        "disallowedcertstl.cab",
                        "authrootstl.cab",
                        "pinrulesstl.cab",
                    ],
                );
                (
                    "GET",
                    format!(
                        "/msdownload/update/v3/static/trustedr/en/{file}?{:016x}",
                        between(rng, 0, u64::MAX)
                    ),
                    Asset::Binary,
                )
            }
            Agent::Apt => {
                if chance(rng, 0.4) {
                    let suite = pick(
                        rng,
                        &[
                            "bookworm",
                            "bookworm-updates",
                            "bookworm-security",
                            "noble",
                            "noble-updates",
                        ],
                    );
                    (
                        "GET",
                        format!("/debian/dists/{suite}/InRelease"),
                        Asset::Text,
                    )
                } else {
                    let pkg = pick(
                        rng,
                        &[
                            "libssl3",
                            "openssl",
                            "curl",
                            "libcurl4",
                            "tzdata",
                            "linux-image-amd64",
                            "python3.11",
                            "systemd",
                            "nginx-common",
                            "git",
                        ],
                    );
                    (
                        "GET",
                        format!(
                            "/debian/pool/main/{}/{pkg}/{pkg}_{}.{}.{}-1_amd64.deb",
                            &pkg[..1],
                            between(rng, 1, 9),
                            between(rng, 0, 20),
                            between(rng, 0, 9)
                        ),
                        Asset::Binary,
                    )
                }
            }
            Agent::Curl | Agent::Python => {
                if chance(rng, 0.25) {
                    let len = lognormal(rng, 600.0, 1.0, 64, 30_000);
                    body = Some(Piece::Json {
                        left: len,
                        items: 0,
                    });
                    (
                        "POST",
                        format!("/api/v{}/events", between(rng, 1, 3)),
                        Asset::Json,
                    )
                } else if chance(rng, 0.05) {
                    (
                        "HEAD",
                        format!(
                            "/downloads/agent-{}.{}.{}.tar.gz",
                            between(rng, 1, 5),
                            between(rng, 0, 20),
                            between(rng, 0, 9)
                        ),
                        Asset::Binary,
                    )
                } else if chance(rng, 0.6) {
                    (
                        "GET",
                        format!("/api/v2/items?page={}&limit=50", between(rng, 1, 40)),
                        Asset::Json,
                    )
                } else {
                    (
                        "GET",
                        format!(
                            "/downloads/agent-{}.{}.{}.tar.gz",
                            between(rng, 1, 5),
                            between(rng, 0, 20),
                            between(rng, 0, 9)
                        ),
                        Asset::Binary,
                    )
                }
            }
            Agent::Browser => {
                let asset = if self.first {
                    Asset::Page
                } else {
                    weighted(
                        rng,
                        &[
                            (Asset::Page, 10),
                            (Asset::Script, 25),
                            (Asset::Style, 15),
                            (Asset::Json, 25),
                            (Asset::Binary, 10),
                            (Asset::Text, 5),
                        ],
                    )
                };
                let hex = between(rng, 0, u32::MAX as u64);
                let uri = match asset {
                    Asset::Page => match between(rng, 0, 3) {
                        0 => "/".to_string(),
                        1 => "/index.html".to_string(),
                        2 => format!("/news/2026/11/story-{}.html", between(rng, 100, 999)),
                        _ => format!(
                            "/search?q={}&lang=en",
                            pick(rng, &["vpn", "payroll", "release+notes", "weather"])
                        ),
                    },
                    Asset::Script => format!("/static/js/main.{hex:08x}.js"),
                    Asset::Style => format!("/static/css/app.{hex:08x}.css"),
                    Asset::Json => format!("/api/v1/users/{}/profile", between(rng, 1000, 99999)),
                    Asset::Binary => format!("/assets/fonts/inter-var.{hex:08x}.woff2"),
                    Asset::Text => "/robots.txt".to_string(),
                };
                if asset == Asset::Json && chance(rng, 0.2) {
                    body = Some(Piece::Json {
                        left: lognormal(rng, 400.0, 0.8, 64, 8000),
                        items: 0,
                    });
                    ("POST", uri, asset)
                } else {
                    ("GET", uri, asset)
                }
            }
        };
        let mut text = format!("{method} {uri} HTTP/1.1\r\nHost: {host}\r\n");
        let conditional = !self.first && chance(rng, 0.12) && method == "GET";
        match self.agent {
            Agent::Browser => {
                text.push_str("Connection: keep-alive\r\n");
                if asset == Asset::Page {
                    text.push_str("Upgrade-Insecure-Requests: 1\r\n");
                }
                text.push_str(&format!("User-Agent: {ua}\r\n"));
                text.push_str(match asset {
                    Asset::Page => "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n",
                    Asset::Style => "Accept: text/css,*/*;q=0.1\r\n",
                    Asset::Json => "Accept: application/json, text/plain, */*\r\n",
                    _ => "Accept: */*\r\n",
                });
                if !self.first {
                    text.push_str(&format!("Referer: http://{host}/\r\n"));
                }
                text.push_str("Accept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n");
                if chance(rng, 0.4) {
                    text.push_str(&format!("Cookie: sid={:032x}; _ga=GA1.2.{}.{}\r\n", between(rng, 0, u64::MAX), between(rng, 100_000_000, 999_999_999), 1_796_000_000 + between(rng, 0, 100_000)));
                }
                if conditional {
                    text.push_str(&format!("If-None-Match: \"{:x}-{:x}\"\r\n", between(rng, 0, u32::MAX as u64), between(rng, 0, u32::MAX as u64)));
                }
            }
            Agent::CryptoApi => {
                text = format!("{method} {uri} HTTP/1.1\r\nCache-Control: max-age = 86400\r\nConnection: Keep-Alive\r\nAccept: */*\r\nIf-Modified-Since: Tue, 12 Nov 2026 19:04:11 GMT\r\nUser-Agent: {ua}\r\nHost: {host}\r\n");
            }
            Agent::Ncsi => {
                text = format!("{method} {uri} HTTP/1.1\r\nConnection: Close\r\nUser-Agent: {ua}\r\nHost: {host}\r\n");
            }
            Agent::Apt => text.push_str(&format!("User-Agent: {ua}\r\n")),
            Agent::Curl => text.push_str(&format!("User-Agent: {ua}\r\nAccept: */*\r\n")),
            Agent::Python => text.push_str(&format!("User-Agent: {ua}\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\n")),
        }
        if let Some(Piece::Json { left, .. }) = &body {
            text.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {left}\r\n"
            ));
        }
        text.push_str("\r\n");
        let conditional = conditional || (self.agent == Agent::CryptoApi && chance(rng, 0.5));
        (
            text.into_bytes(),
            body,
            Pending {
                asset,
                head: method == "HEAD",
                conditional,
            },
        )
    }

    fn response(
        &self,
        rng: &mut Rng,
        pending: &Pending,
        cx_unix_ns: u64,
        cap: u64,
        stream: &mut Stream,
    ) -> Vec<Tally> {
        let mut tallies = vec![Tally::HttpResponse];
        let date = chrono::DateTime::from_timestamp((cx_unix_ns / 1_000_000_000) as i64, 0)
            .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            .unwrap_or_default();
        let server = pick(rng, SERVERS);
        let roll = between(rng, 0, 99);
        let (status, reason) = if pending.conditional && roll < 70 {
            (304, "Not Modified")
        } else if roll < 3 {
            (404, "Not Found")
        } else if roll < 5 && self.agent == Agent::Browser {
            (301, "Moved Permanently")
        } else if roll < 7 && pending.asset == Asset::Json {
            (204, "No Content")
        } else {
            (200, "OK")
        };
        let mut head =
            format!("HTTP/1.1 {status} {reason}\r\nDate: {date}\r\nServer: {server}\r\n");
        if status == 304 || status == 204 {
            head.push_str(&format!(
                "ETag: \"{:x}\"\r\nCache-Control: max-age=3600\r\n\r\n",
                between(rng, 0, u32::MAX as u64)
            ));
            stream.push_bytes(head.into_bytes());
            return tallies;
        }
        if status == 301 || status == 404 {
            let body = if status == 301 {
                format!("<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n")
            } else {
                format!("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n")
            };
            if status == 301 {
                head.push_str(&format!("Location: https://{}/\r\n", self.host));
            }
            head.push_str(&format!(
                "Content-Type: text/html\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
                body.len()
            ));
            stream.push_bytes(head.into_bytes());
            if !pending.head {
                stream.push_bytes(body.into_bytes());
            }
            return tallies;
        }
        let (ctype, size) = match pending.asset {
            Asset::Page => (
                "text/html; charset=utf-8",
                lognormal(rng, 6_000.0, 0.8, 1_000, 400_000),
            ),
            Asset::Script => (
                "application/javascript",
                lognormal(rng, 8_000.0, 1.0, 500, 2_000_000),
            ),
            Asset::Style => ("text/css", lognormal(rng, 5_000.0, 0.9, 300, 500_000)),
            Asset::Json => (
                "application/json",
                lognormal(rng, 1_500.0, 1.1, 64, 400_000),
            ),
            Asset::Text if self.agent == Agent::Ncsi => ("text/plain", 22),
            Asset::Text => ("text/plain", lognormal(rng, 4_000.0, 1.2, 100, 200_000)),
            Asset::Binary => {
                let median = match self.agent {
                    Agent::Apt => 30_000.0,
                    Agent::CryptoApi => 20_000.0,
                    _ if chance(rng, 0.04) => 1_000_000.0,
                    _ => 30_000.0,
                };
                (
                    "application/octet-stream",
                    lognormal(rng, median, 1.2, 1_000, cap),
                )
            }
        };
        let size = size.min(cap);
        let chunked = !pending.head
            && matches!(pending.asset, Asset::Page | Asset::Script | Asset::Text)
            && self.agent != Agent::Ncsi
            && chance(rng, 0.35);
        head.push_str(&format!("Content-Type: {ctype}\r\n"));
        if chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
            tallies.push(Tally::HttpChunked);
        } else {
            head.push_str(&format!("Content-Length: {size}\r\n"));
        }
        head.push_str(&format!(
            "Last-Modified: Mon, 0{} Nov 2026 1{}:2{}:0{} GMT\r\nETag: \"{:x}-{:x}\"\r\n",
            between(rng, 1, 9),
            between(rng, 0, 9),
            between(rng, 0, 9),
            between(rng, 0, 9),
            between(rng, 0, u32::MAX as u64),
            size
        ));
        head.push_str(if self.agent == Agent::Ncsi {
            "Connection: close\r\n"
        } else {
            "Connection: keep-alive\r\nCache-Control: public, max-age=86400\r\n"
        });
        if self.agent == Agent::Browser && chance(rng, 0.5) {
            head.push_str("X-Content-Type-Options: nosniff\r\nVary: Accept-Encoding\r\n");
        }
        head.push_str("\r\n");
        stream.push_bytes(head.into_bytes());
        if pending.head {
            return tallies;
        }
        let at = Pools::offset(rng);
        match (pending.asset, chunked) {
            (_, true) => stream.push(Piece::Chunked {
                left: size,
                chunk: *pick(rng, &[4096u64, 8192, 8192, 16_384, 32_768]),
            }),
            (Asset::Text, _) if self.agent == Agent::Ncsi => {
                stream.push_bytes(b"Microsoft Connect Test".to_vec())
            }
            (Asset::Json, _) => stream.push(Piece::Json {
                left: size.max(64),
                items: 0,
            }),
            (Asset::Binary, _) => stream.push(Piece::Opaque { left: size, at }),
            _ => stream.push(Piece::Text { left: size, at }),
        }
        tallies
    }
}

impl App for HttpApp {
    fn next(&mut self, cx: &mut AppCx<'_>) -> Option<Message> {
        if !self.pending.is_empty() {
            // Responses to every outstanding request, in order.
            let mut stream = Stream::default();
            let mut tallies = Vec::new();
            let pending = std::mem::take(&mut self.pending);
            for p in &pending {
                tallies.extend(self.response(cx.rng, p, cx.unix_ns, cx.cap, &mut stream));
            }
            // Bodies that may be large leave at the connection's rate, the rest at line rate.
            let long = pending
                .iter()
                .any(|p| matches!(p.asset, Asset::Binary | Asset::Script | Asset::Page));
            return Some(Message {
                from: SERVER,
                delay: ns(lognormal(cx.rng, 4_000.0, 1.0, 100, 400_000) as f64 / 1e6),
                stream,
                ns_per_byte: pace(if long { u64::MAX } else { 0 }, self.rate_bps),
                tallies,
            });
        }
        if self.left == 0 {
            return None;
        }
        // The first request follows the handshake at once; later ones after think time.
        let delay = if self.first {
            0
        } else {
            ns(lognormal(cx.rng, 40_000.0, 1.4, 200, 5_000_000) as f64 / 1e6)
        };
        let count = if self.pipelined {
            self.left.min(between(cx.rng, 2, 4) as u32)
        } else {
            1
        };
        let mut stream = Stream::default();
        let mut tallies = Vec::new();
        for _ in 0..count {
            let (head, body, pending) = self.request(cx.rng);
            stream.push_bytes(head);
            if let Some(body) = body {
                stream.push(body);
            }
            self.pending.push(pending);
            tallies.push(Tally::HttpRequest);
            self.left -= 1;
            self.first = false;
        }
        Some(Message {
            from: CLIENT,
            delay,
            stream,
            ns_per_byte: 8.0,
            tallies,
        })
    }
}
