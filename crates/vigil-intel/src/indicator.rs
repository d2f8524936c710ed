//! What an indicator is: its [`Kind`], its normalized value, and the
//! attributes a feed gives it (confidence, severity, tags, times, reference).
//!
//! Values are normalized once, on import, by [`normalize`] (and
//! [`classify`] when the feed does not say what a value is); queries go
//! through the same functions, so an indicator and an observed value that
//! mean the same thing compare equal as text.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use vigil_event::Severity;

/// The kinds of indicator Vigil matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An IPv4 address or network (`192.0.2.1`, `198.51.100.0/24`).
    Ipv4,
    /// An IPv6 address or network.
    Ipv6,
    /// One domain name, exactly.
    Domain,
    /// A domain and every name under it (`evil.example` matches
    /// `evil.example` and `a.b.evil.example`); written `*.evil.example` or
    /// `.evil.example` in plain lists.
    DomainSuffix,
    /// A URL, normalized (see [`normalize_url`]).
    Url,
    /// An MD5 file hash (lowercase hex).
    Md5,
    /// A SHA-1 file hash (lowercase hex).
    Sha1,
    /// A SHA-256 file hash (lowercase hex).
    Sha256,
    /// A JA3 (or JA3S) TLS fingerprint: the MD5 of the JA3 string.
    Ja3,
    /// A JA4 (or JA4S) TLS fingerprint.
    Ja4,
    /// An e-mail address.
    Email,
    /// An HTTP user agent, exactly.
    UserAgent,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 12] = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Domain,
        Kind::DomainSuffix,
        Kind::Url,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Ja3,
        Kind::Ja4,
        Kind::Email,
        Kind::UserAgent,
    ];

    /// The name used on the command line and in the store.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Domain => "domain",
            Kind::DomainSuffix => "domain_suffix",
            Kind::Url => "url",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Ja3 => "ja3",
            Kind::Ja4 => "ja4",
            Kind::Email => "email",
            Kind::UserAgent => "user_agent",
        }
    }

    /// True for the two IP kinds.
    pub const fn is_ip(self) -> bool {
        matches!(self, Kind::Ipv4 | Kind::Ipv6)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = String;

    /// The kind for a name: Vigil's own ([`Kind::name`]) and the usual
    /// spellings of feeds (`ip`, `ip-dst`, `hostname`, `sha-256`, `md5_hash`,
    /// `ja3-fingerprint-md5`, `email-src`, `user-agent`, ...). `ip` is
    /// `ipv4` here; values are checked against the kind on import, and an
    /// IPv6 value under an IP type is taken as IPv6.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Ok(match t.as_str() {
            "ipv4" | "ip" | "ipv4_addr" | "ip_src" | "ip_dst" | "ip_port" | "ip:port"
            | "ipv4_net" | "cidr" | "net" | "network" | "netset" => Kind::Ipv4,
            "ipv6" | "ipv6_addr" | "ipv6_net" => Kind::Ipv6,
            "domain" | "hostname" | "domain_name" | "fqdn" | "host" => Kind::Domain,
            "domain_suffix" | "zone" | "wildcard_domain" | "domain_wildcard" | "subdomains" => {
                Kind::DomainSuffix
            }
            "url" | "uri" | "link" => Kind::Url,
            "md5" | "md5_hash" | "file_md5" | "filename|md5" => Kind::Md5,
            "sha1" | "sha_1" | "sha1_hash" | "file_sha1" | "filename|sha1" => Kind::Sha1,
            "sha256" | "sha_256" | "sha256_hash" | "file_sha256" | "filename|sha256" => {
                Kind::Sha256
            }
            "ja3" | "ja3_fingerprint_md5" | "ja3_hash" | "ja3s" | "ja3s_hash" => Kind::Ja3,
            "ja4" | "ja4_fingerprint" | "ja4s" => Kind::Ja4,
            "email" | "email_addr" | "email_src" | "email_dst" | "e_mail" | "mail" => Kind::Email,
            "user_agent" | "useragent" | "ua" | "http_user_agent" => Kind::UserAgent,
            _ => return Err(format!("unknown indicator type {s:?}")),
        })
    }
}

/// One indicator as stored: what to match and what the feed says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// What kind of value.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The normalized value ([`normalize`]).
    pub value: String,
    /// The feed it came from (`--feed NAME`).
    pub feed: String,
    /// How sure the feed is, 0–100.
    pub confidence: u8,
    /// How bad a match is.
    #[serde(with = "severity_name")]
    pub severity: Severity,
    /// The feed's labels (malware family, threat type, TLP, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// First seen by the feed, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<i64>,
    /// Last seen by the feed, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
    /// When it stops matching, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Where to read more (a URL, a report id, the entry's id in its feed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl Indicator {
    /// True when the indicator has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires.is_some_and(|e| e <= now_ms)
    }
}

/// Severity written as its lowercase OCSF caption (`"high"`).
pub mod severity_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use vigil_event::Severity;

    /// Serialize as the lowercase caption.
    pub fn serialize<S: Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&s.caption().to_ascii_lowercase())
    }

    /// Deserialize a caption (any case) or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Severity, D::Error> {
        let text = String::deserialize(de)?;
        super::parse_severity(&text).ok_or_else(|| serde::de::Error::custom("unknown severity"))
    }
}

/// A severity from its caption (`high`, any case), an OCSF id (`4`), or the
/// usual feed words (`info`, `moderate`, `severe`).
pub fn parse_severity(s: &str) -> Option<Severity> {
    let t = s.trim().to_ascii_lowercase();
    if let Ok(id) = t.parse::<u8>() {
        return (id <= 6).then(|| Severity::from_id(id));
    }
    Some(match t.as_str() {
        "unknown" | "undefined" => Severity::Unknown,
        "informational" | "info" | "information" | "none" => Severity::Informational,
        "low" => Severity::Low,
        "medium" | "moderate" => Severity::Medium,
        "high" | "severe" => Severity::High,
        "critical" => Severity::Critical,
        "fatal" => Severity::Fatal,
        _ => return None,
    })
}

/// The value of an indicator of `kind`, normalized; why not when it is not
/// a valid value of that kind.
///
/// - IP: the address, or the network with host bits cleared (`/32` and
///   `/128` written as the bare address); an IPv4-mapped IPv6 value is IPv4.
/// - Domain: lowercase ASCII (internationalized names in punycode), no
///   trailing dot; a leading `*.` or `.` makes it a [`Kind::DomainSuffix`]
///   when that is the kind asked for.
/// - URL: see [`normalize_url`].
/// - Hashes and JA3: lowercase hex of the right length. JA4: lowercase.
/// - E-mail: lowercase, one `@`, a valid domain after it.
/// - User agent: trimmed, otherwise exact.
pub fn normalize(kind: Kind, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty value".into());
    }
    match kind {
        Kind::Ipv4 | Kind::Ipv6 => {
            let net = IpNet::parse(raw)?;
            let want_v4 = kind == Kind::Ipv4;
            if net.is_v4() != want_v4 {
                return Err(format!("{raw:?} is not an {kind} value"));
            }
            Ok(net.to_string())
        }
        Kind::Domain => normalize_domain(raw),
        Kind::DomainSuffix => {
            let bare = raw
                .strip_prefix("*.")
                .or_else(|| raw.strip_prefix('.'))
                .unwrap_or(raw);
            normalize_domain(bare)
        }
        Kind::Url => normalize_url(raw),
        Kind::Md5 | Kind::Ja3 => hex_of_len(raw, 32),
        Kind::Sha1 => hex_of_len(raw, 40),
        Kind::Sha256 => hex_of_len(raw, 64),
        Kind::Ja4 => {
            let v = raw.to_ascii_lowercase();
            if is_ja4(&v) {
                Ok(v)
            } else {
                Err(format!("{raw:?} is not a JA4 fingerprint"))
            }
        }
        Kind::Email => normalize_email(raw),
        Kind::UserAgent => Ok(raw.to_owned()),
    }
}

/// The kind and normalized value of a bare value whose feed does not say
/// what it is: an IP or network, a hash (by length: 32 MD5, 40 SHA-1, 64
/// SHA-256), a JA4 fingerprint, an e-mail address, a URL (a scheme, or a
/// `/` after the host), `*.domain` / `.domain` (domain and subdomains),
/// else a domain (it must have a dot).
pub fn classify(raw: &str) -> Result<(Kind, String), String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty value".into());
    }
    if let Ok(net) = IpNet::parse(raw) {
        let kind = if net.is_v4() { Kind::Ipv4 } else { Kind::Ipv6 };
        return Ok((kind, net.to_string()));
    }
    if raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        let kind = match raw.len() {
            32 => Some(Kind::Md5),
            40 => Some(Kind::Sha1),
            64 => Some(Kind::Sha256),
            _ => None,
        };
        if let Some(kind) = kind {
            return Ok((kind, raw.to_ascii_lowercase()));
        }
    }
    let lower = raw.to_ascii_lowercase();
    if is_ja4(&lower) {
        return Ok((Kind::Ja4, lower));
    }
    if raw.contains('@') && !raw.contains('/') {
        return normalize_email(raw).map(|v| (Kind::Email, v));
    }
    if raw.contains("://") || raw.contains('/') {
        return normalize_url(raw).map(|v| (Kind::Url, v));
    }
    if raw.starts_with("*.") || (raw.starts_with('.') && raw.len() > 1) {
        return normalize(Kind::DomainSuffix, raw).map(|v| (Kind::DomainSuffix, v));
    }
    if raw.contains('.') {
        return normalize_domain(raw).map(|v| (Kind::Domain, v));
    }
    Err(format!(
        "{raw:?} is not an IP, domain, URL, hash or e-mail address"
    ))
}

fn hex_of_len(raw: &str, len: usize) -> Result<String, String> {
    if raw.len() == len && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(format!("{raw:?} is not {len} hex digits"))
    }
}

/// A JA4 (or JA4S) fingerprint: `[tqd]` + version + ... `_` 12 hex `_` 12
/// hex (JA4), or three parts where the last is 12 hex (JA4S:
/// `t130200_1301_a56c5b993250`).
fn is_ja4(v: &str) -> bool {
    let mut parts = v.split('_');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let first = a.as_bytes().first().copied();
    matches!(first, Some(b't' | b'q' | b'd'))
        && a.len() >= 7
        && a.bytes().all(|x| x.is_ascii_alphanumeric())
        && !b.is_empty()
        && b.bytes().all(|x| x.is_ascii_hexdigit())
        && c.len() == 12
        && c.bytes().all(|x| x.is_ascii_hexdigit())
}

/// A domain name: lowercase ASCII, internationalized names in punycode, no
/// trailing dot, labels of letters, digits, `-` and `_`.
pub fn normalize_domain(raw: &str) -> Result<String, String> {
    let raw = raw.trim().trim_end_matches('.');
    if raw.is_empty() || raw.len() > 253 {
        return Err(format!("{raw:?} is not a domain name"));
    }
    let ascii = if raw.is_ascii() {
        raw.to_ascii_lowercase()
    } else {
        match url::Host::parse(raw) {
            Ok(url::Host::Domain(d)) => d,
            _ => return Err(format!("{raw:?} is not a domain name")),
        }
    };
    let labels_ok = ascii.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    // A top-level label is never all digits (`999.1.2.3` is a bad address,
    // not a name).
    let numeric_tld = ascii
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if !labels_ok || numeric_tld || ascii.parse::<IpAddr>().is_ok() {
        return Err(format!("{raw:?} is not a domain name"));
    }
    Ok(ascii)
}

/// A URL, normalized for matching: parsed as WHATWG URLs are (`url`
/// crate: lowercase scheme and host, punycode, default port dropped,
/// `.`/`..` segments resolved, percent-encoding made uniform), then written
/// without its scheme, user info and fragment: `host[:port]/path[?query]`.
/// Dropping the scheme makes `http://` and `https://` forms of one resource
/// the same indicator; a value without a scheme is read as `http://`.
pub fn normalize_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let parsed = if raw.contains("://") {
        url::Url::parse(raw)
    } else {
        url::Url::parse(&format!("http://{raw}"))
    }
    .map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    let Some(host) = parsed.host_str() else {
        return Err(format!("{raw:?} is not a URL: no host"));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(host);
    if let Some(port) = parsed.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(parsed.path());
    if let Some(q) = parsed.query() {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn normalize_email(raw: &str) -> Result<String, String> {
    let raw = raw.trim().trim_start_matches("mailto:");
    let mut parts = raw.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{raw:?} is not an e-mail address"));
    };
    if local.is_empty() || local.len() > 64 || local.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(format!("{raw:?} is not an e-mail address"));
    }
    let domain =
        normalize_domain(domain).map_err(|_| format!("{raw:?} is not an e-mail address"))?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}

/// An IP network: address (host bits cleared) and prefix length.
/// Hand-written: a few lines, and ordering by (family, address, prefix) is
/// what the range tables need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpNet {
    /// IPv4 network: address as `u32`, prefix 0..=32.
    V4(u32, u8),
    /// IPv6 network: address as `u128`, prefix 0..=128.
    V6(u128, u8),
}

impl IpNet {
    /// The network of `addr/prefix` with host bits cleared; `None` when the
    /// prefix is too long. IPv4-mapped IPv6 networks become IPv4.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(a) if prefix <= 32 => Some(IpNet::V4(u32::from(a) & mask32(prefix), prefix)),
            IpAddr::V6(a) if prefix <= 128 => {
                if let Some(v4) = a.to_ipv4_mapped() {
                    if prefix >= 96 {
                        return IpNet::new(IpAddr::V4(v4), prefix - 96);
                    }
                }
                Some(IpNet::V6(u128::from(a) & mask128(prefix), prefix))
            }
            _ => None,
        }
    }

    /// The host network of one address (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => IpNet::V4(u32::from(a), 32),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => IpNet::V4(u32::from(v4), 32),
                None => IpNet::V6(u128::from(a), 128),
            },
        }
    }

    /// Parse `addr` or `addr/prefix` (host bits are cleared).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let prefix = match prefix {
            None => return Ok(IpNet::host(ip)),
            Some(p) => p
                .parse::<u8>()
                .map_err(|_| format!("{s:?}: bad prefix length"))?,
        };
        IpNet::new(ip, prefix).ok_or_else(|| format!("{s:?}: prefix length too long"))
    }

    /// True for an IPv4 network.
    pub const fn is_v4(&self) -> bool {
        matches!(self, IpNet::V4(..))
    }

    /// The prefix length.
    pub const fn prefix(&self) -> u8 {
        match self {
            IpNet::V4(_, p) | IpNet::V6(_, p) => *p,
        }
    }

    /// True when `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, IpNet::host(ip)) {
            (IpNet::V4(net, p), IpNet::V4(a, _)) => a & mask32(*p) == *net,
            (IpNet::V6(net, p), IpNet::V6(a, _)) => a & mask128(*p) == *net,
            _ => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpNet::V4(a, 32) => write!(f, "{}", std::net::Ipv4Addr::from(a)),
            IpNet::V4(a, p) => write!(f, "{}/{p}", std::net::Ipv4Addr::from(a)),
            IpNet::V6(a, 128) => write!(f, "{}", std::net::Ipv6Addr::from(a)),
            IpNet::V6(a, p) => write!(f, "{}/{p}", std::net::Ipv6Addr::from(a)),
        }
    }
}

/// The IPv4 netmask of `prefix` (0..=32).
pub(crate) const fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

/// The IPv6 netmask of `prefix` (0..=128).
pub(crate) const fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_recognizes_every_kind() {
        let cases = [
            ("192.0.2.1", Kind::Ipv4, "192.0.2.1"),
            ("198.51.100.7/24", Kind::Ipv4, "198.51.100.0/24"),
            ("2001:DB8::1", Kind::Ipv6, "2001:db8::1"),
            ("::ffff:192.0.2.9", Kind::Ipv4, "192.0.2.9"),
            ("Evil.Example.", Kind::Domain, "evil.example"),
            ("*.evil.example", Kind::DomainSuffix, "evil.example"),
            (
                "HTTPS://Evil.Example:443/a/../b?x=1#frag",
                Kind::Url,
                "evil.example/b?x=1",
            ),
            (
                "evil.example/payload.exe",
                Kind::Url,
                "evil.example/payload.exe",
            ),
            (
                "D41D8CD98F00B204E9800998ECF8427E",
                Kind::Md5,
                "d41d8cd98f00b204e9800998ecf8427e",
            ),
            (
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                Kind::Sha1,
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ),
            (
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                Kind::Sha256,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                "t13d1516h2_8daaf6152771_b186095e22b6",
                Kind::Ja4,
                "t13d1516h2_8daaf6152771_b186095e22b6",
            ),
            ("Phish@Evil.Example", Kind::Email, "phish@evil.example"),
        ];
        for (raw, kind, value) in cases {
            assert_eq!(classify(raw), Ok((kind, value.to_owned())), "{raw}");
        }
        assert!(classify("not a value").is_err());
        assert!(classify("localhost").is_err());
        assert!(classify("300.1.1.1/8").is_err());
        assert!(classify("999.1.2.3").is_err());
    }

    #[test]
    fn normalize_checks_the_kind() {
        assert!(normalize(Kind::Ipv4, "2001:db8::/32").is_err());
        assert_eq!(
            normalize(Kind::Ipv6, "2001:db8:0:0::/32").as_deref(),
            Ok("2001:db8::/32")
        );
        assert!(normalize(Kind::Sha256, "abc").is_err());
        assert_eq!(
            normalize(Kind::Ja3, "E7D705A3286E19EA42F587B344EE6865").as_deref(),
            Ok("e7d705a3286e19ea42f587b344ee6865")
        );
        assert_eq!(
            normalize(Kind::Domain, "bücher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize(Kind::UserAgent, "  sqlmap/1.7 ").as_deref(),
            Ok("sqlmap/1.7")
        );
        assert!(normalize(Kind::Domain, "bad domain.example").is_err());
        assert_eq!(
            normalize_url("http://a.example").as_deref(),
            Ok("a.example/")
        );
        assert_eq!(
            normalize_url("http://a.example:8080/x").as_deref(),
            Ok("a.example:8080/x")
        );
    }

    #[test]
    fn ipnet_contains_and_prints() {
        let net = IpNet::parse("10.1.2.3/8").unwrap();
        assert_eq!(net.to_string(), "10.0.0.0/8");
        assert!(net.contains("10.200.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert_eq!(IpNet::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert!(IpNet::parse("::/0")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>(), Ok(k));
        }
        assert_eq!("ip-dst".parse::<Kind>(), Ok(Kind::Ipv4));
        assert_eq!("SHA-256".parse::<Kind>(), Ok(Kind::Sha256));
        assert_eq!(parse_severity("4"), Some(Severity::High));
        assert_eq!(parse_severity("Moderate"), Some(Severity::Medium));
    }
}
