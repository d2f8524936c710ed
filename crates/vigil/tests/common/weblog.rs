//! Web-log end-to-end helpers, shared by `tests/weblog_cli.rs` and the
//! accuracy example (`examples/weblog_accuracy.rs`):
//!
//! - [`CrawlerDns`]: a real dnsmasq on 127.0.0.1 (a free port) that plays
//!   the internet's DNS for the generated crawlers: forward-confirmed PTR
//!   names for the verified Googlebot and Bingbot addresses
//!   (`crawl-66-249-90-150.googlebot.com`, `msnbot-…search.msn.com`, as
//!   Google and Microsoft name theirs), NXDOMAIN for every other reverse
//!   name (so a fake crawler's claim fails as it would on the internet);
//!   killed (only it) on drop.
//! - [`predictions`]: `vigil analyze`'s bot findings as `vigil_webgen`
//!   predictions, for [`vigil_webgen::evaluate`].

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vigil_webgen::eval::{EntityKey, Prediction};
use vigil_webgen::{Class, Label};

/// dnsmasq answering for the verified crawlers.
pub struct CrawlerDns {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Drop for CrawlerDns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PTR name the crawler's operator gives `ip`, by the label's subtype.
pub fn crawler_name(subtype: &str, ip: IpAddr) -> Option<String> {
    let dashed = ip.to_string().replace(['.', ':'], "-");
    match subtype {
        "googlebot" => Some(format!("crawl-{dashed}.googlebot.com")),
        "bingbot" => Some(format!("msnbot-{dashed}.search.msn.com")),
        _ => None,
    }
}

impl CrawlerDns {
    /// Start dnsmasq (`bin`) with a configuration in `dir` holding the
    /// verified crawlers of `labels`; waits until it answers.
    pub fn start(bin: &Path, dir: &Path, labels: &[Label]) -> std::io::Result<Self> {
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut conf = String::from(
            "no-resolv\nno-hosts\nlocal=/in-addr.arpa/\nlocal=/ip6.arpa/\nlocal=/googlebot.com/\nlocal=/search.msn.com/\n",
        );
        let mut seen = std::collections::BTreeSet::new();
        for l in labels.iter().filter(|l| l.class == Class::GoodBot) {
            if let Some(name) = crawler_name(&l.subtype, l.ip) {
                if seen.insert(l.ip) {
                    conf.push_str(&format!("host-record={name},{}\n", l.ip));
                }
            }
        }
        let conf_path = dir.join("dnsmasq.conf");
        std::fs::write(&conf_path, conf)?;
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let child = Command::new(bin)
            .args([
                "--keep-in-foreground",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--pid-file=",
                &format!("--user={user}"),
                &format!("--conf-file={}", conf_path.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let dns = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        // Ready when it answers a query (any answer).
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        // A minimal query for "1.0.0.127.in-addr.arpa PTR".
        let mut query = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["1", "0", "0", "127", "in-addr", "arpa"] {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 12, 0, 1]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            socket.send_to(&query, dns.addr)?;
            if socket.recv_from(&mut buf).is_ok() {
                return Ok(dns);
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("dnsmasq did not answer on {}", dns.addr),
        ))
    }
}

/// The bot findings in `vigil analyze` JSON Lines output as predictions:
/// the entity from `evidence.entity` (ip, ip_ua, session, prefix), the
/// class from `evidence.class` (scanner and credential stuffing are the
/// labels' attacker). Human verdicts are not written, so an entity without
/// a finding is human.
pub fn predictions(jsonl: &str) -> Vec<Prediction> {
    let mut out = Vec::new();
    for line in jsonl.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let uid = v["finding_info"]["analytic"]["uid"].as_str().unwrap_or("");
        if !uid.starts_with("bot:") {
            continue;
        }
        let e = &v["evidence"];
        let class = match e["class"].as_str() {
            Some("good_bot") => Class::GoodBot,
            Some("scraper") => Class::Scraper,
            Some("scanner" | "credential_stuffing") => Class::Attacker,
            Some("unknown") => Class::Unknown,
            _ => continue,
        };
        let Some(ip) = v["src_endpoint"]["ip"]
            .as_str()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            continue;
        };
        let key = match e["entity"].as_str() {
            Some("ip") => EntityKey::Ip(ip),
            Some("ip_ua") => {
                EntityKey::IpUserAgent(ip, e["user_agent"].as_str().unwrap_or("").to_owned())
            }
            Some("session") => match e["session"].as_str() {
                Some(s) => EntityKey::Session(s.to_owned()),
                None => continue,
            },
            Some("prefix") => {
                let subject = v["subject"]["value"].as_str().unwrap_or("");
                let Some((addr, len)) = subject.split_once('/') else {
                    continue;
                };
                match (addr.parse(), len.parse()) {
                    (Ok(addr), Ok(prefix_len)) => EntityKey::Network { addr, prefix_len },
                    _ => continue,
                }
            }
            _ => continue,
        };
        out.push(Prediction { key, class });
    }
    out
}
