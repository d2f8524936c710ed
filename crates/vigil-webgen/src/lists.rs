//! The outside data the scenarios draw from: crawler address ranges, scanner user-agent
//! tokens and probe paths. [`Lists::builtin`] is a small embedded excerpt (so the
//! generator runs anywhere); [`Lists::from_sec_lists`] reads the full CrowdSec
//! `sec-lists` files (`../shared/data/sec-lists`). Both excerpts and files are MIT
//! licensed (CrowdSec sec-lists, Mitchell Krog's bad user agents).
//!
//! Scanners' path-traversal probes go in the query string (`/index.php?file=../../etc/
//! passwd`): nginx rejects a path that climbs above the root with a 400 before it reads
//! the headers, and such a line carries neither the forwarded client address nor the
//! simulated time, so it could not be labelled. Probes nginx would reject are dropped.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::str::FromStr;

use crate::dist::{self, Rng};
use crate::site::Site;
use crate::Error;

/// An address block, e.g. `66.249.87.0/27`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The first address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
}

impl Cidr {
    /// A uniformly random address inside the block (host bits random, the network and
    /// broadcast-like all-zero and all-one host parts avoided when the block is large
    /// enough).
    pub(crate) fn random_member(&self, rng: &mut Rng) -> IpAddr {
        match self.addr {
            IpAddr::V4(base) => {
                let host_bits = 32 - u32::from(self.len.min(32));
                let base = u32::from(base) & mask32(self.len);
                let span = if host_bits >= 32 {
                    u64::from(u32::MAX)
                } else {
                    (1u64 << host_bits) - 1
                };
                let host = if span >= 3 {
                    dist::between(rng, 1, span - 1)
                } else {
                    dist::between(rng, 0, span)
                };
                IpAddr::V4(Ipv4Addr::from(base | host as u32))
            }
            IpAddr::V6(base) => {
                let host_bits = 128 - u32::from(self.len.min(128));
                let base = u128::from(base) & mask128(self.len);
                let random = (u128::from(dist::between(rng, 1, u64::MAX)) << 64)
                    | u128::from(dist::between(rng, 1, u64::MAX));
                let host = if host_bits >= 128 {
                    random
                } else {
                    random & ((1u128 << host_bits) - 1)
                };
                IpAddr::V6(Ipv6Addr::from(base | host.max(1)))
            }
        }
    }

    /// True when `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                u32::from(base) & mask32(self.len) == u32::from(ip) & mask32(self.len)
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                u128::from(base) & mask128(self.len) == u128::from(ip) & mask128(self.len)
            }
            _ => false,
        }
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::Cidr(text.to_owned());
        let (addr, len) = text.trim().split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(bad());
        }
        Ok(Cidr { addr, len })
    }
}

/// Everything the scenarios take from outside data.
#[derive(Debug, Clone)]
pub struct Lists {
    /// Googlebot's addresses (sec-lists' Google crawler ranges).
    pub googlebot_ranges: Vec<Cidr>,
    /// Bingbot's addresses. sec-lists has none (it verifies Bingbot by reverse DNS), so
    /// these are from Microsoft's published `bingbot.json`.
    pub bingbot_ranges: Vec<Cidr>,
    /// DuckDuckBot's published addresses.
    pub duckduckbot_ranges: Vec<Cidr>,
    /// Scanner and bad-bot user-agent tokens (`Nikto`, `sqlmap`, `zgrab`, ...).
    pub scanner_agents: Vec<String>,
    /// Probe request targets (backdoors, sensitive files, admin interfaces, traversal).
    pub probes: Vec<String>,
}

/// Bingbot ranges from <https://www.bing.com/toolbox/bingbot.json> (not in sec-lists).
const BINGBOT: &[&str] = &[
    "157.55.39.0/24",
    "207.46.13.0/24",
    "40.77.167.0/24",
    "52.167.144.0/24",
];

const BUILTIN_GOOGLE: &[&str] = &[
    "66.249.87.0/27",
    "66.249.89.64/27",
    "66.249.90.128/27",
    "66.249.91.32/27",
    "2001:4860:4801:2008::/64",
    "2001:4860:4801:200c::/64",
];
const BUILTIN_DUCKDUCKBOT: &[&str] = &[
    "23.21.227.69/32",
    "40.88.21.235/32",
    "50.16.241.113/32",
    "52.5.190.19/32",
];
const BUILTIN_AGENTS: &[&str] = &[
    "Nikto",
    "sqlmap",
    "Nuclei",
    "zgrab",
    "masscan",
    "Nmap",
    "WPScan",
    "gobuster",
    "Dirbuster",
    "Acunetix",
    "ZmEu",
    "404checker",
    "BackDoorBot",
    "HTTrack",
];
const BUILTIN_BACKDOORS: &[&str] = &[
    "1.php",
    "c99.php",
    "r57.php",
    "shell.php",
    "wso.php",
    "alfa3.php",
    "b374k.php",
    "cmd.asp",
    "aspxshell.aspx",
    "browser.jsp",
    "bypass.php",
    "up.php",
];
const BUILTIN_SENSITIVE: &[&str] = &[
    ".sql",
    ".sql.gz",
    ".sql.zip",
    ".bak",
    ".env",
    ".env.production.local",
    ".git/HEAD",
    ".git/config",
    ".htpasswd",
    ".aws/credentials",
    "secrets.yml",
    "composer.json",
    "debug.log",
    ".DS_Store",
    ".svn/entries",
    ".bash_history",
];
const BUILTIN_ADMIN: &[&str] = &[
    "/admin",
    "/manager",
    "/phpmyadmin",
    "/pma",
    "/wp-admin",
    "/wp-login",
    "/phpinfo",
    "/boaform/",
    "/+cscoe+/",
    "/dana-na/",
    "/solr/",
    "/remote/login",
];
const BUILTIN_TRAVERSAL: &[&str] = &[
    "../",
    "..\\",
    "%2e%2e%2f",
    "%252e%252e%252f",
    "/etc/passwd",
    "/etc/shadow",
    "%2fetc%2fpasswd",
    "=file://",
    "=php://",
    "/proc/self/",
    "windows/win.ini",
    "C:\\boot.ini",
];

impl Lists {
    /// The embedded excerpt.
    pub fn builtin() -> Self {
        Self::assemble(
            BUILTIN_GOOGLE
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect(),
            BUILTIN_DUCKDUCKBOT
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect(),
            BUILTIN_AGENTS.iter().map(|s| (*s).to_owned()).collect(),
            &to_owned(BUILTIN_BACKDOORS),
            &to_owned(BUILTIN_SENSITIVE),
            &to_owned(BUILTIN_ADMIN),
            &to_owned(BUILTIN_TRAVERSAL),
        )
    }

    /// The full lists from a `sec-lists` checkout (`web/` and
    /// `whitelists/benign_bots/search_engine_crawlers/`).
    pub fn from_sec_lists(dir: &Path) -> Result<Self, Error> {
        let crawlers = dir.join("whitelists/benign_bots/search_engine_crawlers");
        let mut google = Vec::new();
        for name in [
            "google_special_crawlers_ipv4.txt",
            "google_special_crawlers_ipv6.txt",
        ] {
            for line in read_lines(&crawlers.join(name))? {
                google.push(line.parse()?);
            }
        }
        // ip_seo_bots.txt: sections headed by `#crawler:seo:NAME` comments.
        let mut duck = Vec::new();
        let seo = crawlers.join("ip_seo_bots.txt");
        let text = fs::read_to_string(&seo).map_err(|source| Error::io("reading", &seo, source))?;
        let mut section = String::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(comment) = line.strip_prefix('#') {
                section = comment.to_ascii_lowercase();
            } else if section.contains("duckduckbot") {
                duck.push(line.parse()?);
            }
        }
        let web = dir.join("web");
        let agents = read_lines(&web.join("bad_user_agents.txt"))?;
        Ok(Self::assemble(
            google,
            duck,
            agents,
            &read_lines(&web.join("backdoors.txt"))?,
            &read_lines(&web.join("sensitive_data.txt"))?,
            &read_lines(&web.join("admin_interfaces.txt"))?,
            &read_lines(&web.join("path_traversal.txt"))?,
        ))
    }

    fn assemble(
        googlebot_ranges: Vec<Cidr>,
        duckduckbot_ranges: Vec<Cidr>,
        scanner_agents: Vec<String>,
        backdoors: &[String],
        sensitive: &[String],
        admin: &[String],
        traversal: &[String],
    ) -> Self {
        let mut probes = Vec::new();
        for name in backdoors {
            probes.push(format!("/{name}"));
            probes.push(format!("/wp-content/plugins/{name}"));
            probes.push(format!("/uploads/{name}"));
        }
        for entry in sensitive {
            let is_extension = entry.starts_with(".sql")
                || [".bak", ".exe", ".bat", ".dll", ".printer", ".pac"].contains(&entry.as_str());
            if is_extension {
                for stem in ["backup", "dump", "www", "site"] {
                    probes.push(format!("/{stem}{entry}"));
                }
            } else {
                probes.push(format!("/{}", entry.trim_start_matches('/')));
            }
        }
        for path in admin {
            probes.push(path.clone());
            probes.push(format!("{}/index.php", path.trim_end_matches('/')));
        }
        for pattern in traversal {
            let target = if let Some(scheme) = pattern.strip_prefix('=') {
                format!("/index.php?page={scheme}/etc/passwd")
            } else if pattern.starts_with("..") || pattern.starts_with('%') {
                format!("/download.php?file={}etc/passwd", pattern.repeat(6))
            } else {
                format!(
                    "/index.php?file=../../../../{}",
                    pattern.trim_start_matches('/')
                )
            };
            probes.push(target);
        }
        probes.retain(|p| Site::accepts(p));
        probes.sort();
        probes.dedup();
        Lists {
            googlebot_ranges,
            bingbot_ranges: BINGBOT.iter().filter_map(|c| c.parse().ok()).collect(),
            duckduckbot_ranges,
            scanner_agents,
            probes,
        }
    }

    /// True when `ip` is in one of the verified crawlers' ranges.
    pub fn is_crawler_address(&self, ip: IpAddr) -> bool {
        self.googlebot_ranges
            .iter()
            .chain(&self.bingbot_ranges)
            .chain(&self.duckduckbot_ranges)
            .any(|c| c.contains(ip))
    }
}

fn to_owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The non-empty, non-comment lines of a list file.
fn read_lines(path: &Path) -> Result<Vec<String>, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::io("reading", path, source))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_members_stay_inside() {
        let mut rng = dist::rng(1, 1);
        for text in [
            "66.249.87.0/27",
            "23.21.227.69/32",
            "2001:4860:4801:2008::/64",
            "10.0.0.0/8",
        ] {
            let cidr: Cidr = text.parse().unwrap();
            for _ in 0..200 {
                let ip = cidr.random_member(&mut rng);
                assert!(cidr.contains(ip), "{ip} not in {text}");
            }
        }
        let cidr: Cidr = "66.249.87.0/27".parse().unwrap();
        assert!(!cidr.contains("66.249.87.32".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
        assert!("1.2.3.4".parse::<Cidr>().is_err());
    }

    #[test]
    fn builtin_probes_are_accepted_by_nginx() {
        let lists = Lists::builtin();
        assert!(lists.probes.len() > 50, "{}", lists.probes.len());
        assert!(lists.probes.iter().all(|p| Site::accepts(p)));
        assert!(lists.probes.iter().any(|p| p.contains("etc/passwd")));
        assert!(lists.probes.iter().any(|p| p == "/.env"));
        assert!(lists.probes.iter().any(|p| p == "/backup.sql.gz"));
        assert!(lists.is_crawler_address("66.249.87.5".parse().unwrap()));
        assert!(!lists.is_crawler_address("66.249.86.5".parse().unwrap()));
    }

    #[test]
    fn reads_the_shared_sec_lists() {
        let Some(dir) = vigil_testkit::require_shared_data("sec-lists") else {
            return;
        };
        let lists = Lists::from_sec_lists(&dir).unwrap();
        assert!(lists.googlebot_ranges.len() > 100);
        assert!(!lists.duckduckbot_ranges.is_empty());
        assert!(lists.scanner_agents.iter().any(|a| a == "Nikto"));
        assert!(lists.probes.len() > 500, "{}", lists.probes.len());
        assert!(lists.probes.iter().all(|p| Site::accepts(p)));
    }
}
