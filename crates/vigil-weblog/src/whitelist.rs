//! Who is never judged a bot, and how claimed crawlers are verified.
//!
//! - Configured allow-lists ([`WhitelistConfig`]): CIDRs (never judged),
//!   internal gateways (their address entity is never judged; the clients
//!   behind them are, per IP + user agent or session), health-check paths
//!   and user agents (those requests are skipped).
//! - Good bots ([`GoodBots`]): CrowdSec's legitimate-bot list, embedded
//!   (`data/sec-lists/legit_bots.jsonl`): a user-agent pattern per bot and
//!   either reverse-DNS patterns or published address ranges.
//! - Verification ([`Verifier`]): a client whose user agent claims a good
//!   bot is verified by the bot's published ranges, or by reverse DNS with
//!   forward confirmation as Google and Bing document it: the PTR name of
//!   the address must match the bot's domain pattern (e.g. end in
//!   `.googlebot.com`) and that name must resolve back to the same address.
//!   Outcomes are cached (bounded, with a TTL in event time). Lookups go to
//!   a configured resolver (or the first `nameserver` of
//!   `/etc/resolv.conf`) over UDP with a timeout; no async runtime.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

const LEGIT_BOTS: &str = include_str!("../data/sec-lists/legit_bots.jsonl");

/// An address block, e.g. `66.249.64.0/19` or `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

/// A CIDR that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad cidr {0:?}: expected address/prefix-length")]
pub struct CidrError(pub String);

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(s.to_owned());
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l.parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if len > max {
            return Err(bad());
        }
        Ok(Cidr::new(net, len))
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(value: u128, width: u8, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let keep = u32::from(width.min(128) - len.min(width));
        (value >> keep) << keep
    }
}

impl Cidr {
    /// The block of `len` leading bits of `ip` (host bits cleared).
    pub fn new(ip: IpAddr, len: u8) -> Self {
        let (value, width) = bits(ip);
        let len = len.min(width);
        let masked = mask(value, width, len);
        let net = if width == 32 {
            IpAddr::V4(Ipv4Addr::from(masked as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(masked))
        };
        Self { net, len }
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.net
    }

    /// Whether `ip` is inside (never across families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (value, width) = bits(ip);
        let (net, net_width) = bits(self.net);
        width == net_width && mask(value, width, self.len) == net
    }
}

/// One verifiable good bot.
#[derive(Debug, Clone)]
pub struct GoodBot {
    /// Its name, e.g. `googlebot`.
    pub name: String,
    /// Reverse-DNS name patterns (matched on the lowercase PTR name without
    /// its trailing dot; ASCII, case-insensitive).
    pub rdns: Vec<Regex>,
    /// Published address ranges.
    pub ranges: Vec<Cidr>,
}

#[derive(Deserialize)]
struct GoodBotLine {
    name: String,
    user_agent: String,
    #[serde(default)]
    rdns: Vec<String>,
    #[serde(default)]
    ranges: Vec<String>,
}

/// The good-bot list and a matcher of the user agents that claim one.
#[derive(Debug, Clone)]
pub struct GoodBots {
    bots: Vec<GoodBot>,
    user_agents: RegexSet,
}

/// Error in a good-bot list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GoodBotsError {
    /// A line is not a bot object.
    #[error("good-bot list line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

impl GoodBots {
    /// The embedded list.
    pub fn builtin() -> Result<Self, GoodBotsError> {
        Self::parse(LEGIT_BOTS)
    }

    /// No good bots at all.
    pub fn empty() -> Self {
        Self {
            bots: Vec::new(),
            user_agents: RegexSet::empty(),
        }
    }

    /// Parse a list in the legit-bots format: one JSON object per line
    /// (`name`, `user_agent` regex, `rdns` regexes and/or `ranges`), `#`
    /// comments and blank lines ignored.
    pub fn parse(text: &str) -> Result<Self, GoodBotsError> {
        let mut bots = Vec::new();
        let mut uas = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: String| GoodBotsError::Line {
                line: line_no,
                reason,
            };
            let raw: GoodBotLine = serde_json::from_str(line).map_err(|e| err(e.to_string()))?;
            let rdns = raw
                .rdns
                .iter()
                .map(|p| {
                    RegexBuilder::new(p)
                        .unicode(false)
                        .case_insensitive(true)
                        .build()
                        .map_err(|e| err(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let ranges = raw
                .ranges
                .iter()
                .map(|r| r.parse::<Cidr>().map_err(|e| err(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            uas.push(raw.user_agent);
            bots.push(GoodBot {
                name: raw.name,
                rdns,
                ranges,
            });
        }
        let user_agents = RegexSetBuilder::new(&uas)
            .unicode(false)
            .case_insensitive(true)
            .build()
            .map_err(|e| GoodBotsError::Line {
                line: 0,
                reason: e.to_string(),
            })?;
        Ok(Self { bots, user_agents })
    }

    /// The first bot whose user-agent pattern the user agent matches.
    pub fn claimed_by(&self, ua: &str) -> Option<u16> {
        self.user_agents
            .matches(ua.as_bytes())
            .iter()
            .next()
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The bot at an index.
    pub fn get(&self, index: u16) -> Option<&GoodBot> {
        self.bots.get(usize::from(index))
    }

    /// How many bots.
    pub fn len(&self) -> usize {
        self.bots.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.bots.is_empty()
    }
}

/// Reverse-DNS verification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RdnsConfig {
    /// Verify claimed crawlers by reverse DNS at all (when off, a claim that
    /// only rDNS could prove stays "unverified", never "fake").
    pub enabled: bool,
    /// The resolver (`ip:port`); `None`: the first `nameserver` of
    /// `/etc/resolv.conf`, port 53.
    pub resolver: Option<SocketAddr>,
    /// Per-query timeout, milliseconds.
    pub timeout_ms: u64,
    /// How long an outcome is cached, seconds of event time.
    pub cache_ttl_secs: u64,
    /// Most cached outcomes (the one expiring first is dropped when full).
    pub cache_size: usize,
}

impl RdnsConfig {
    /// Defaults: enabled, system resolver, 500 ms timeout (offline analysis
    /// must not wait long on an unreachable resolver), 1 h TTL, 4096
    /// entries.
    pub const fn new() -> Self {
        Self {
            enabled: true,
            resolver: None,
            timeout_ms: 500,
            cache_ttl_secs: 3600,
            cache_size: 4096,
        }
    }
}

impl Default for RdnsConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Allow-lists and crawler verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhitelistConfig {
    /// Client blocks never judged, e.g. `10.0.0.0/8` (monitoring, office).
    pub cidrs: Vec<String>,
    /// Internal gateways and proxies: their address entity (and /24 or /64)
    /// is never judged; clients behind them are judged per IP + user agent
    /// or session.
    pub gateways: Vec<String>,
    /// Health-check paths (exact, query ignored); such requests are skipped.
    pub health_paths: Vec<String>,
    /// Health-check user-agent substrings (case-insensitive); skipped.
    pub health_user_agents: Vec<String>,
    /// Use the embedded good-bot list.
    pub builtin_good_bots: bool,
    /// Reverse-DNS verification.
    pub rdns: RdnsConfig,
}

impl WhitelistConfig {
    /// Defaults: no allow-listed blocks, common health paths, the embedded
    /// good bots, rDNS verification on.
    pub fn new() -> Self {
        Self {
            cidrs: Vec::new(),
            gateways: Vec::new(),
            health_paths: vec![
                "/healthz".into(),
                "/health".into(),
                "/livez".into(),
                "/readyz".into(),
            ],
            health_user_agents: vec!["kube-probe".into(), "ELB-HealthChecker".into()],
            builtin_good_bots: true,
            rdns: RdnsConfig::new(),
        }
    }
}

impl Default for WhitelistConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The compiled allow-lists.
#[derive(Debug, Clone)]
pub struct Whitelist {
    cidrs: Vec<Cidr>,
    gateways: Vec<Cidr>,
    health_paths: Vec<String>,
    health_uas: Vec<String>,
}

impl Whitelist {
    /// Compile a config; a bad CIDR is an error naming it.
    pub fn new(config: &WhitelistConfig) -> Result<Self, CidrError> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|c| c.parse())
                .collect::<Result<Vec<Cidr>, _>>()
        };
        Ok(Self {
            cidrs: parse(&config.cidrs)?,
            gateways: parse(&config.gateways)?,
            health_paths: config.health_paths.clone(),
            health_uas: config
                .health_user_agents
                .iter()
                .map(|u| u.to_ascii_lowercase())
                .collect(),
        })
    }

    /// Whether the client is in an allow-listed block.
    #[inline]
    pub fn allowed(&self, ip: IpAddr) -> bool {
        !self.cidrs.is_empty() && self.cidrs.iter().any(|c| c.contains(ip))
    }

    /// Whether the client is a configured gateway.
    #[inline]
    pub fn gateway(&self, ip: IpAddr) -> bool {
        !self.gateways.is_empty() && self.gateways.iter().any(|c| c.contains(ip))
    }

    /// Whether the request is a health check (by path or user agent).
    #[inline]
    pub fn health_check(&self, path: &str, ua: Option<&str>) -> bool {
        if self.health_paths.iter().any(|p| p == path) {
            return true;
        }
        match ua {
            // Compared in place: no lowercase copy of every user agent.
            Some(ua) if !self.health_uas.is_empty() => self.health_uas.iter().any(|h| {
                !h.is_empty()
                    && ua
                        .as_bytes()
                        .windows(h.len())
                        .any(|w| w.eq_ignore_ascii_case(h.as_bytes()))
            }),
            _ => false,
        }
    }
}

/// A failed DNS exchange (no answer could be had; not "no such name").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// Socket error talking to the resolver.
    #[error("dns query to {server} failed: {source}")]
    Io {
        /// The resolver.
        server: SocketAddr,
        /// The socket error (timeouts included).
        source: std::io::Error,
    },
    /// The answer did not parse or the query could not be built.
    #[error("dns message for {name} is malformed: {reason}")]
    Malformed {
        /// The queried name.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// No resolver is configured or found.
    #[error("no dns resolver configured and none in /etc/resolv.conf")]
    NoResolver,
}

/// Name lookups the verifier needs; [`UdpResolver`] is the real one.
pub trait Resolve: std::fmt::Debug {
    /// PTR names of an address (lowercase, no trailing dot); empty when the
    /// name does not exist or has no PTR.
    fn ptr(&mut self, ip: IpAddr) -> Result<Vec<String>, DnsError>;
    /// Addresses of a name (A for IPv4 `family`, AAAA for IPv6); empty when
    /// none.
    fn addrs(&mut self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsError>;
}

/// A stub resolver over UDP (one server, one try, a timeout).
#[derive(Debug)]
pub struct UdpResolver {
    server: SocketAddr,
    timeout: Duration,
    next_id: u16,
}

/// The reverse-lookup name of an address (`4.3.2.1.in-addr.arpa`, nibbles
/// under `ip6.arpa`).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0xf, byte >> 4] {
                    s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    s.push('.');
                }
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

impl UdpResolver {
    /// A resolver at `server` with a per-query timeout.
    pub fn new(server: SocketAddr, timeout: Duration) -> Self {
        Self {
            server,
            timeout,
            next_id: 0x5a5a,
        }
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The first `nameserver` of `/etc/resolv.conf`, port 53.
    pub fn system(timeout: Duration) -> Result<Self, DnsError> {
        let text = std::fs::read_to_string("/etc/resolv.conf").map_err(|_| DnsError::NoResolver)?;
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .find_map(|a| a.trim().parse::<IpAddr>().ok())
            .map(|ip| Self::new(SocketAddr::new(ip, 53), timeout))
            .ok_or(DnsError::NoResolver)
    }

    /// Parse a reply; NOERROR and NXDOMAIN are answers (maybe empty), any
    /// other code (REFUSED, SERVFAIL, ...) means no answer could be had.
    fn answer<'a>(&self, name: &str, reply: &'a [u8]) -> Result<simple_dns::Packet<'a>, DnsError> {
        let packet = simple_dns::Packet::parse(reply).map_err(|e| DnsError::Malformed {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        match packet.rcode() {
            simple_dns::RCODE::NoError | simple_dns::RCODE::NameError => Ok(packet),
            code => Err(DnsError::Malformed {
                name: name.to_owned(),
                reason: format!("resolver answered {code:?}"),
            }),
        }
    }

    fn query(&mut self, name: &str, qtype: simple_dns::TYPE) -> Result<Vec<u8>, DnsError> {
        use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE};
        let malformed = |reason: String| DnsError::Malformed {
            name: name.to_owned(),
            reason,
        };
        let io = |source| DnsError::Io {
            server: self.server,
            source,
        };
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let mut packet = Packet::new_query(id);
        packet.set_flags(PacketFlag::RECURSION_DESIRED);
        let qname = Name::new(name).map_err(|e| malformed(e.to_string()))?;
        packet.questions.push(Question::new(
            qname,
            QTYPE::TYPE(qtype),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let bytes = packet
            .build_bytes_vec()
            .map_err(|e| malformed(e.to_string()))?;
        let local: SocketAddr = if self.server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).map_err(io)?;
        socket.set_read_timeout(Some(self.timeout)).map_err(io)?;
        socket.connect(self.server).map_err(io)?;
        socket.send(&bytes).map_err(io)?;
        let mut buf = vec![0u8; 1500];
        // Skip stray datagrams with another id (at most a few).
        for _ in 0..4 {
            let n = socket.recv(&mut buf).map_err(io)?;
            let reply = buf.get(..n).unwrap_or_default();
            if reply.len() >= 2 && u16::from_be_bytes([reply[0], reply[1]]) == id {
                return Ok(reply.to_vec());
            }
        }
        Err(malformed("no reply with the query id".into()))
    }
}

impl Resolve for UdpResolver {
    fn ptr(&mut self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        let name = reverse_name(ip);
        let reply = self.query(&name, simple_dns::TYPE::PTR)?;
        let packet = self.answer(&name, &reply)?;
        Ok(packet
            .answers
            .iter()
            .filter_map(|rr| match &rr.rdata {
                simple_dns::rdata::RData::PTR(ptr) => {
                    Some(ptr.0.to_string().trim_end_matches('.').to_ascii_lowercase())
                }
                _ => None,
            })
            .collect())
    }

    fn addrs(&mut self, name: &str, v6: bool) -> Result<Vec<IpAddr>, DnsError> {
        let qtype = if v6 {
            simple_dns::TYPE::AAAA
        } else {
            simple_dns::TYPE::A
        };
        let reply = self.query(name, qtype)?;
        let packet = self.answer(name, &reply)?;
        Ok(packet
            .answers
            .iter()
            .filter_map(|rr| match &rr.rdata {
                simple_dns::rdata::RData::A(a) => Some(IpAddr::V4(Ipv4Addr::from(a.address))),
                simple_dns::rdata::RData::AAAA(a) => Some(IpAddr::V6(Ipv6Addr::from(a.address))),
                _ => None,
            })
            .collect())
    }
}

/// The outcome of verifying a claimed good bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verification {
    /// The address is in the bot's published ranges.
    Range {
        /// The range.
        range: String,
    },
    /// PTR name matches the bot's domain and resolves back to the address.
    Rdns {
        /// The confirmed PTR name.
        name: String,
    },
    /// The claim is false: the reason says which check failed.
    Failed {
        /// E.g. "no PTR record", "PTR x.example.com is not googlebot's
        /// domain", "x.googlebot.com does not resolve to 203.0.113.9".
        reason: String,
    },
    /// Could not be checked (rDNS off, no resolver, or the lookup failed).
    Unverified {
        /// Why.
        reason: String,
    },
}

impl Verification {
    /// Whether the bot is verified.
    pub fn verified(&self) -> bool {
        matches!(self, Verification::Range { .. } | Verification::Rdns { .. })
    }
}

/// Verifies claimed good bots, caching outcomes.
#[derive(Debug)]
pub struct Verifier {
    resolver: Option<Box<dyn Resolve + Send>>,
    no_resolver_reason: String,
    cache: foldhash::HashMap<(IpAddr, u16), (Verification, i64)>,
    ttl_ns: i64,
    capacity: usize,
    /// DNS lookups done (PTR plus forward).
    pub lookups: u64,
    /// Outcomes answered from the cache.
    pub cache_hits: u64,
    /// Cache entries dropped because the cache was full.
    pub cache_evictions: u64,
}

impl Verifier {
    /// A verifier from config: with rDNS enabled, a [`UdpResolver`] to the
    /// configured or system resolver.
    pub fn new(config: &RdnsConfig) -> Self {
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let (resolver, reason): (Option<Box<dyn Resolve + Send>>, String) = if !config.enabled {
            (None, "reverse-DNS verification is off".into())
        } else {
            match config.resolver {
                Some(server) => (
                    Some(Box::new(UdpResolver::new(server, timeout))),
                    String::new(),
                ),
                None => match UdpResolver::system(timeout) {
                    Ok(r) => (Some(Box::new(r)), String::new()),
                    Err(e) => (None, e.to_string()),
                },
            }
        };
        Self::with_resolver(resolver, reason, config)
    }

    /// A verifier with a given resolver (`None`: rDNS claims stay unverified
    /// with `reason`).
    pub fn with_resolver(
        resolver: Option<Box<dyn Resolve + Send>>,
        reason: String,
        config: &RdnsConfig,
    ) -> Self {
        Self {
            resolver,
            no_resolver_reason: reason,
            cache: foldhash::HashMap::default(),
            ttl_ns: i64::try_from(config.cache_ttl_secs)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            capacity: config.cache_size.max(1),
            lookups: 0,
            cache_hits: 0,
            cache_evictions: 0,
        }
    }

    /// Verify that `ip` is the good bot `bot` (index into `bots`) at event
    /// time `now_ns`.
    pub fn verify(&mut self, bots: &GoodBots, bot: u16, ip: IpAddr, now_ns: i64) -> Verification {
        let Some(entry) = bots.get(bot) else {
            return Verification::Unverified {
                reason: "unknown bot".into(),
            };
        };
        if let Some(range) = entry.ranges.iter().find(|r| r.contains(ip)) {
            return Verification::Range {
                range: range.to_string(),
            };
        }
        if entry.rdns.is_empty() {
            return if entry.ranges.is_empty() {
                Verification::Unverified {
                    reason: format!("{} publishes no ranges or rDNS names", entry.name),
                }
            } else {
                Verification::Failed {
                    reason: format!("{ip} is outside {}'s published ranges", entry.name),
                }
            };
        }
        if let Some((outcome, expires)) = self.cache.get(&(ip, bot)) {
            if *expires > now_ns {
                self.cache_hits += 1;
                return outcome.clone();
            }
        }
        let outcome = self.rdns(entry, ip);
        if !matches!(outcome, Verification::Unverified { .. }) || self.resolver.is_some() {
            if self.cache.len() >= self.capacity {
                let oldest = self
                    .cache
                    .iter()
                    .min_by_key(|(_, (_, exp))| *exp)
                    .map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.cache.remove(&k);
                    self.cache_evictions += 1;
                }
            }
            self.cache.insert(
                (ip, bot),
                (outcome.clone(), now_ns.saturating_add(self.ttl_ns)),
            );
        }
        outcome
    }

    fn rdns(&mut self, bot: &GoodBot, ip: IpAddr) -> Verification {
        let Some(resolver) = self.resolver.as_mut() else {
            return Verification::Unverified {
                reason: self.no_resolver_reason.clone(),
            };
        };
        self.lookups += 1;
        let names = match resolver.ptr(ip) {
            Ok(names) => names,
            Err(e) => {
                tracing::debug!(%ip, error = %e, "reverse lookup failed");
                return Verification::Unverified {
                    reason: e.to_string(),
                };
            }
        };
        if names.is_empty() {
            return Verification::Failed {
                reason: format!("no PTR record for {ip}"),
            };
        }
        let Some(name) = names
            .iter()
            .find(|n| bot.rdns.iter().any(|re| re.is_match(n.as_bytes())))
        else {
            return Verification::Failed {
                reason: format!(
                    "PTR {} is not in {}'s domain",
                    names.first().map_or("", String::as_str),
                    bot.name
                ),
            };
        };
        self.lookups += 1;
        match resolver.addrs(name, ip.is_ipv6()) {
            Ok(addrs) if addrs.contains(&ip) => Verification::Rdns { name: name.clone() },
            Ok(_) => Verification::Failed {
                reason: format!("{name} does not resolve back to {ip}"),
            },
            Err(e) => Verification::Unverified {
                reason: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_contain() {
        let c: Cidr = "66.249.64.0/19".parse().unwrap();
        assert!(c.contains("66.249.66.1".parse().unwrap()));
        assert!(!c.contains("66.249.96.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c.contains("2001:db8:1::5".parse().unwrap()));
        let host: Cidr = "10.1.2.3".parse().unwrap();
        assert!(host.contains("10.1.2.3".parse().unwrap()));
        assert!(!host.contains("10.1.2.4".parse().unwrap()));
        assert_eq!(
            Cidr::new("203.0.113.77".parse().unwrap(), 24).to_string(),
            "203.0.113.0/24"
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }

    #[test]
    fn builtin_good_bots_load() {
        let bots = GoodBots::builtin().unwrap();
        assert!(bots.len() >= 20);
        let g = bots
            .claimed_by("Mozilla/5.0 (compatible; bingbot/2.0)")
            .and_then(|i| bots.get(i));
        assert_eq!(g.map(|b| b.name.as_str()), Some("bingbot"));
        assert_eq!(bots.claimed_by("Mozilla/5.0 (X11) Firefox/120.0"), None);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("66.249.66.1".parse().unwrap()),
            "1.66.249.66.in-addr.arpa"
        );
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0."));
        assert!(v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
    }

    #[test]
    fn whitelist_health_checks_and_blocks() {
        let cfg = WhitelistConfig {
            cidrs: vec!["192.0.2.0/24".into()],
            gateways: vec!["198.51.100.1".into()],
            ..WhitelistConfig::new()
        };
        let w = Whitelist::new(&cfg).unwrap();
        assert!(w.allowed("192.0.2.9".parse().unwrap()));
        assert!(!w.allowed("192.0.3.9".parse().unwrap()));
        assert!(w.gateway("198.51.100.1".parse().unwrap()));
        assert!(w.health_check("/healthz", None));
        assert!(w.health_check("/", Some("kube-probe/1.29")));
        assert!(!w.health_check("/", Some("Mozilla/5.0")));
        let bad = WhitelistConfig {
            cidrs: vec!["1.2.3.0/99".into()],
            ..WhitelistConfig::new()
        };
        assert!(Whitelist::new(&bad).is_err());
    }

    /// A table of names for the verification logic (the real resolver is
    /// tested against dnsmasq in `tests/rdns.rs`).
    #[derive(Debug, Default)]
    struct Table {
        ptr: Vec<(IpAddr, String)>,
        a: Vec<(String, IpAddr)>,
    }

    impl Resolve for Table {
        fn ptr(&mut self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
            Ok(self
                .ptr
                .iter()
                .filter(|(i, _)| *i == ip)
                .map(|(_, n)| n.clone())
                .collect())
        }
        fn addrs(&mut self, name: &str, _v6: bool) -> Result<Vec<IpAddr>, DnsError> {
            Ok(self
                .a
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, i)| *i)
                .collect())
        }
    }

    #[test]
    fn verification_needs_ptr_domain_and_forward_confirmation() {
        let bots = GoodBots::builtin().unwrap();
        let google = bots.claimed_by("Googlebot/2.1").unwrap();
        let real: IpAddr = "66.249.66.1".parse().unwrap();
        let spoofed_ptr: IpAddr = "203.0.113.5".parse().unwrap();
        let wrong_domain: IpAddr = "203.0.113.6".parse().unwrap();
        let table = Table {
            ptr: vec![
                (real, "crawl-66-249-66-1.googlebot.com".into()),
                (spoofed_ptr, "crawl-1.googlebot.com".into()),
                (wrong_domain, "host.example.net".into()),
            ],
            a: vec![
                ("crawl-66-249-66-1.googlebot.com".into(), real),
                ("crawl-1.googlebot.com".into(), real),
            ],
        };
        let mut v =
            Verifier::with_resolver(Some(Box::new(table)), String::new(), &RdnsConfig::new());
        assert!(matches!(
            v.verify(&bots, google, real, 0),
            Verification::Rdns { .. }
        ));
        let Verification::Failed { reason } = v.verify(&bots, google, spoofed_ptr, 0) else {
            panic!("a PTR that does not resolve back must fail");
        };
        assert!(reason.contains("does not resolve back"), "{reason}");
        assert!(matches!(
            v.verify(&bots, google, wrong_domain, 0),
            Verification::Failed { .. }
        ));
        let unknown: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(matches!(
            v.verify(&bots, google, unknown, 0),
            Verification::Failed { .. }
        ));
        let lookups = v.lookups;
        // Cached within the TTL, looked up again after it.
        v.verify(&bots, google, real, 1_000_000_000);
        assert_eq!(v.lookups, lookups);
        assert_eq!(v.cache_hits, 1);
        v.verify(&bots, google, real, 3601 * 1_000_000_000);
        assert!(v.lookups > lookups);
    }

    #[test]
    fn range_bots_are_verified_by_range_only() {
        let bots = GoodBots::builtin().unwrap();
        let tw = bots.claimed_by("Twitterbot/1.0").unwrap();
        let mut v = Verifier::with_resolver(None, "off".into(), &RdnsConfig::new());
        assert!(v
            .verify(&bots, tw, "199.16.156.10".parse().unwrap(), 0)
            .verified());
        assert!(matches!(
            v.verify(&bots, tw, "203.0.113.1".parse().unwrap(), 0),
            Verification::Failed { .. }
        ));
        let google = bots.claimed_by("Googlebot/2.1").unwrap();
        assert!(matches!(
            v.verify(&bots, google, "203.0.113.1".parse().unwrap(), 0),
            Verification::Unverified { .. }
        ));
    }

    #[test]
    fn cache_is_bounded() {
        let bots = GoodBots::builtin().unwrap();
        let google = bots.claimed_by("Googlebot/2.1").unwrap();
        let cfg = RdnsConfig {
            cache_size: 2,
            ..RdnsConfig::new()
        };
        let mut v = Verifier::with_resolver(Some(Box::new(Table::default())), String::new(), &cfg);
        for i in 1..=5u8 {
            v.verify(&bots, google, IpAddr::from([203, 0, 113, i]), i64::from(i));
        }
        assert!(v.cache.len() <= 2);
        assert_eq!(v.cache_evictions, 3);
    }
}
