//! Decisions as files the web server and the firewall load: an nginx
//! include and an nftables set definition.
//!
//! Both are pure functions of the active decisions and the time they are
//! written for (`now`, event time): the same decisions give the same text.
//!
//! **nginx** ([`nginx`]): an include for the `http { }` block that defines
//! `$vigil_decision` (`ban`, `challenge`, `throttle` or empty) from
//!
//! - `geo $vigil_ban_ip`: address and block decisions, matched on
//!   `$remote_addr` (longest prefix wins; an address inside a decided block
//!   gets the stronger of the two), so put `realip` in front when nginx sits
//!   behind a proxy;
//! - `map "$remote_addr $http_user_agent" $vigil_ipua_decision`: address +
//!   user agent decisions (nginx compares map keys case-insensitively; a
//!   user agent the detector cut at its label limit becomes a prefix regex);
//! - `map $<session variable> $vigil_session_decision`: session decisions,
//!   the session key read from a variable such as `$cookie_session`;
//! - and a last `map` that takes the strongest of the three.
//!
//! The server then acts on it, e.g. `if ($vigil_decision = ban) { return
//! 403; }`. Long user agents need bigger map hash buckets than nginx's
//! default, so the file sets `map_hash_bucket_size` and `map_hash_max_size`
//! (remove them if the main config sets its own, which must then be at least
//! as large). Keys with control characters are left out (counted in the
//! header comment): nginx could not be given them back byte for byte.
//!
//! **nftables** ([`nftables`]): `table inet vigil` with the interval sets
//! `vigil_ban_v4` and `vigil_ban_v6` holding every banned address and block
//! with its remaining time as the element timeout. The sets are declared,
//! flushed and filled, so loading the file again replaces the bans instead
//! of adding to them; other objects in the table are left alone. Interval
//! sets refuse overlapping elements, so an address or block inside a banned
//! block is folded into it (the block's timeout becomes the longer of the
//! two). Only bans go to the firewall (it cannot challenge), and only
//! address subjects (it does not see user agents or sessions). Check a file
//! with `nft -c -f FILE` (changes nothing); applying it comes with the host
//! sensor.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

use vigil_event::Timestamp;

use crate::decisions::{mask, Action, Decision, Subject};
use crate::entity::MAX_LABEL;

/// Options of the nginx export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxOptions {
    /// The nginx variable holding the session key, without `$`
    /// (`cookie_session`: the `session` cookie).
    pub session_variable: String,
}

impl Default for NginxOptions {
    fn default() -> Self {
        Self {
            session_variable: "cookie_session".into(),
        }
    }
}

/// A string as an nginx double-quoted token; `None` with control characters.
fn nginx_quote(s: &str) -> Option<String> {
    if s.chars().any(char::is_control) {
        return None;
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

/// A map source key: quoted, with a leading `\` when nginx would otherwise
/// read it as a regex or a parameter name. A value the detector may have
/// cut ([`MAX_LABEL`] bytes) becomes a case-insensitive prefix regex.
fn map_key(s: &str, label: &str) -> Option<String> {
    if label.len() >= MAX_LABEL {
        // PCRE takes any escaped non-alphanumeric ASCII character literally.
        let mut re = String::from("~*^");
        for c in s.chars() {
            if c.is_ascii() && !c.is_ascii_alphanumeric() {
                re.push('\\');
            }
            re.push(c);
        }
        return nginx_quote(&re);
    }
    let special = s.starts_with('~')
        || s.starts_with('\\')
        || ["default", "hostnames", "include", "volatile"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(s));
    if special {
        nginx_quote(&format!("\\{s}"))
    } else {
        nginx_quote(s)
    }
}

fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && mask(ip, len) == net
}

/// The strongest action of a covering block for each address decision.
fn covering(blocks: &[(IpAddr, u8, Action)], ip: IpAddr) -> Option<Action> {
    blocks
        .iter()
        .filter(|(net, len, _)| contains(*net, *len, ip))
        .map(|(_, _, a)| *a)
        .max()
}

/// The nginx include for `decisions` (active ones; see the module docs).
pub fn nginx(decisions: &[&Decision], now: Timestamp, options: &NginxOptions) -> String {
    let active: Vec<&Decision> = decisions
        .iter()
        .copied()
        .filter(|d| d.active(now))
        .collect();
    let blocks: Vec<(IpAddr, u8, Action)> = active
        .iter()
        .filter_map(|d| match d.subject {
            Subject::Cidr(net, len) => Some((net, len, d.action)),
            _ => None,
        })
        .collect();
    let mut geo: BTreeMap<String, Action> = BTreeMap::new();
    let mut ipua: BTreeMap<String, Action> = BTreeMap::new();
    let mut session: BTreeMap<String, Action> = BTreeMap::new();
    let mut skipped = 0u64;
    let mut longest = 0usize;
    for d in &active {
        match &d.subject {
            Subject::Ip(ip) => {
                let a = covering(&blocks, *ip).map_or(d.action, |b| b.max(d.action));
                geo.insert(ip.to_string(), a);
            }
            Subject::Cidr(net, len) => {
                geo.insert(format!("{net}/{len}"), d.action);
            }
            Subject::IpUa(ip, ua) => match map_key(&format!("{ip} {ua}"), ua) {
                Some(k) => {
                    longest = longest.max(k.len());
                    let e = ipua.entry(k).or_insert(d.action);
                    *e = (*e).max(d.action);
                }
                None => skipped += 1,
            },
            Subject::Session(s) => match map_key(s, s).filter(|_| !s.is_empty()) {
                Some(k) => {
                    longest = longest.max(k.len());
                    let e = session.entry(k).or_insert(d.action);
                    *e = (*e).max(d.action);
                }
                None => skipped += 1,
            },
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Vigil bot decisions for nginx, {} active at {} (event time).",
        active.len(),
        now.to_rfc3339_micros()
    );
    if skipped > 0 {
        let _ = writeln!(
            out,
            "# {skipped} decisions left out: their user agent or session key has control characters."
        );
    }
    out.push_str(
        "# Include inside http { }; then act on $vigil_decision (ban, challenge, throttle or \"\"),\n\
         # e.g. in a server: if ($vigil_decision = ban) { return 403; }\n",
    );
    // Each hash element holds a pointer, a length and the key, aligned;
    // room for the longest key, a power of two, at least nginx's 64.
    let bucket = (longest + 16).next_power_of_two().max(64);
    let entries = ipua.len().max(session.len());
    let max_size = (entries * 2).next_power_of_two().max(2048);
    let _ = writeln!(
        out,
        "# Hash sizes for the maps below (remove if your nginx.conf sets its own, at least as large).\n\
         map_hash_bucket_size {bucket};\nmap_hash_max_size {max_size};"
    );
    out.push_str(
        "\n# Client addresses and blocks ($remote_addr: use realip behind a proxy).\n\
         geo $vigil_ban_ip {\n    default \"\";\n",
    );
    for (k, a) in &geo {
        let _ = writeln!(out, "    {k} {};", a.name());
    }
    out.push_str(
        "}\n\n# Client address and user agent.\n\
         map \"$remote_addr $http_user_agent\" $vigil_ipua_decision {\n    default \"\";\n",
    );
    for (k, a) in &ipua {
        let _ = writeln!(out, "    {k} {};", a.name());
    }
    let var = &options.session_variable;
    let _ = write!(
        out,
        "}}\n\n# Session key.\nmap ${var} $vigil_session_decision {{\n    default \"\";\n"
    );
    for (k, a) in &session {
        let _ = writeln!(out, "    {k} {};", a.name());
    }
    out.push_str(
        "}\n\n# The strongest of the three (regexes are tried in order).\n\
         map \"$vigil_ban_ip:$vigil_ipua_decision:$vigil_session_decision\" $vigil_decision {\n\
         \x20   default \"\";\n    ~ban ban;\n    ~challenge challenge;\n    ~throttle throttle;\n}\n",
    );
    out
}

/// The nftables set definition for the bans among `decisions` (see the
/// module docs).
pub fn nftables(decisions: &[&Decision], now: Timestamp) -> String {
    // (network, prefix length) → remaining seconds; shortest prefixes first
    // so a block absorbs what it covers.
    let mut bans: Vec<(IpAddr, u8, u64)> = decisions
        .iter()
        .filter(|d| d.action == Action::Ban && d.active(now))
        .filter_map(|d| {
            let t = d.remaining_secs(now);
            match d.subject {
                Subject::Ip(ip) => Some((ip, if ip.is_ipv4() { 32 } else { 128 }, t)),
                Subject::Cidr(net, len) => Some((net, len, t)),
                _ => None,
            }
        })
        .collect();
    bans.sort_by_key(|a| (a.1, a.0));
    let mut kept: Vec<(IpAddr, u8, u64)> = Vec::new();
    let mut index: HashMap<(IpAddr, u8), usize> = HashMap::new();
    let mut lengths: Vec<u8> = Vec::new();
    for (net, len, t) in bans {
        let cover = lengths
            .iter()
            .filter(|l| **l <= len)
            .find_map(|l| index.get(&(mask(net, *l), *l)).copied());
        match cover.and_then(|i| kept.get_mut(i)) {
            Some(k) => k.2 = k.2.max(t),
            None => {
                index.insert((net, len), kept.len());
                kept.push((net, len, t));
                if !lengths.contains(&len) {
                    lengths.push(len);
                }
            }
        }
    }
    kept.sort_by_key(|a| (a.0, a.1));
    let element = |(net, len, t): &(IpAddr, u8, u64)| {
        let full = if net.is_ipv4() { 32 } else { 128 };
        if *len == full {
            format!("{net} timeout {t}s")
        } else {
            format!("{net}/{len} timeout {t}s")
        }
    };
    let v4: Vec<String> = kept.iter().filter(|k| k.0.is_ipv4()).map(element).collect();
    let v6: Vec<String> = kept.iter().filter(|k| k.0.is_ipv6()).map(element).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Vigil bot bans for nftables, {} elements at {} (event time).\n\
         # Check with `nft -c -f FILE`; loading it replaces the sets' elements.",
        kept.len(),
        now.to_rfc3339_micros()
    );
    let set = |name: &str, ty: &str, elements: Option<&[String]>| {
        let mut s = format!("\tset {name} {{\n\t\ttype {ty}\n\t\tflags interval, timeout\n");
        if let Some(e) = elements.filter(|e| !e.is_empty()) {
            let _ = writeln!(
                s,
                "\t\telements = {{\n\t\t\t{}\n\t\t}}",
                e.join(",\n\t\t\t")
            );
        }
        s.push_str("\t}\n");
        s
    };
    let _ = write!(
        out,
        "table inet vigil {{\n{}{}}}\nflush set inet vigil vigil_ban_v4\nflush set inet vigil vigil_ban_v6\n",
        set("vigil_ban_v4", "ipv4_addr", None),
        set("vigil_ban_v6", "ipv6_addr", None)
    );
    let _ = write!(
        out,
        "table inet vigil {{\n{}{}}}\n",
        set("vigil_ban_v4", "ipv4_addr", Some(&v4)),
        set("vigil_ban_v6", "ipv6_addr", Some(&v6))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_782_900_000_000_000_000;
    const S: i64 = 1_000_000_000;

    fn d(subject: &str, action: Action, secs: i64) -> Decision {
        Decision {
            subject: subject.parse().unwrap(),
            action,
            class: "scraper".into(),
            reason: "test".into(),
            probability: 0.9,
            created_ns: T,
            updated_ns: T,
            expires_ns: T + secs * S,
            evidence: Vec::new(),
            model_version: 1,
            hits: 1,
        }
    }

    fn sample() -> Vec<Decision> {
        vec![
            d("198.51.100.7", Action::Ban, 3600),
            d("203.0.113.0/24", Action::Ban, 600),
            d("203.0.113.9", Action::Challenge, 7200),
            d("203.0.113.10", Action::Ban, 60),
            d("2001:db8::7", Action::Ban, 90),
            d("2001:db8:1::/64", Action::Throttle, 900),
            d(
                r#"192.0.2.5 ua="python-requests/2.31 \"x\"""#,
                Action::Challenge,
                900,
            ),
            d("session=default", Action::Ban, 900),
            d("session=a\u{1}b", Action::Ban, 900),
            d("session=s3cr3t", Action::Throttle, 900),
            d("10.1.1.1", Action::Ban, -5),
        ]
    }

    #[test]
    fn nginx_golden() {
        let all = sample();
        let refs: Vec<&Decision> = all.iter().collect();
        let text = nginx(&refs, Timestamp::from_nanos(T), &NginxOptions::default());
        let want = r#"# Vigil bot decisions for nginx, 10 active at 2026-07-01T10:00:00.000000+00:00 (event time).
# 1 decisions left out: their user agent or session key has control characters.
# Include inside http { }; then act on $vigil_decision (ban, challenge, throttle or ""),
# e.g. in a server: if ($vigil_decision = ban) { return 403; }
# Hash sizes for the maps below (remove if your nginx.conf sets its own, at least as large).
map_hash_bucket_size 64;
map_hash_max_size 2048;

# Client addresses and blocks ($remote_addr: use realip behind a proxy).
geo $vigil_ban_ip {
    default "";
    198.51.100.7 ban;
    2001:db8:1::/64 throttle;
    2001:db8::7 ban;
    203.0.113.0/24 ban;
    203.0.113.10 ban;
    203.0.113.9 ban;
}

# Client address and user agent.
map "$remote_addr $http_user_agent" $vigil_ipua_decision {
    default "";
    "192.0.2.5 python-requests/2.31 \"x\"" challenge;
}

# Session key.
map $cookie_session $vigil_session_decision {
    default "";
    "\\default" ban;
    "s3cr3t" throttle;
}

# The strongest of the three (regexes are tried in order).
map "$vigil_ban_ip:$vigil_ipua_decision:$vigil_session_decision" $vigil_decision {
    default "";
    ~ban ban;
    ~challenge challenge;
    ~throttle throttle;
}
"#;
        assert_eq!(text, want, "{text}");
    }

    #[test]
    fn nftables_golden() {
        let all = sample();
        let refs: Vec<&Decision> = all.iter().collect();
        let text = nftables(&refs, Timestamp::from_nanos(T));
        let want = "# Vigil bot bans for nftables, 3 elements at 2026-07-01T10:00:00.000000+00:00 (event time).
# Check with `nft -c -f FILE`; loading it replaces the sets' elements.
table inet vigil {
\tset vigil_ban_v4 {
\t\ttype ipv4_addr
\t\tflags interval, timeout
\t}
\tset vigil_ban_v6 {
\t\ttype ipv6_addr
\t\tflags interval, timeout
\t}
}
flush set inet vigil vigil_ban_v4
flush set inet vigil vigil_ban_v6
table inet vigil {
\tset vigil_ban_v4 {
\t\ttype ipv4_addr
\t\tflags interval, timeout
\t\telements = {
\t\t\t198.51.100.7 timeout 3600s,
\t\t\t203.0.113.0/24 timeout 600s
\t\t}
\t}
\tset vigil_ban_v6 {
\t\ttype ipv6_addr
\t\tflags interval, timeout
\t\telements = {
\t\t\t2001:db8::7 timeout 90s
\t\t}
\t}
}
";
        assert_eq!(text, want, "{text}");
    }

    #[test]
    fn a_covered_ban_that_lasts_longer_extends_its_block() {
        let all = [
            d("203.0.113.0/24", Action::Ban, 600),
            d("203.0.113.10", Action::Ban, 7200),
        ];
        let refs: Vec<&Decision> = all.iter().collect();
        let text = nftables(&refs, Timestamp::from_nanos(T + 500 * S));
        assert!(text.contains("203.0.113.0/24 timeout 6700s\n"), "{text}");
        assert!(!text.contains("203.0.113.10"), "{text}");
    }

    #[test]
    fn long_keys_get_big_enough_buckets() {
        let ua = "x.".repeat(79);
        let all = [d(&format!("192.0.2.5 ua={ua:?}"), Action::Ban, 60)];
        let refs: Vec<&Decision> = all.iter().collect();
        let text = nginx(&refs, Timestamp::from_nanos(T), &NginxOptions::default());
        assert!(text.contains("map_hash_bucket_size 256;"), "{text}");
        // At the detector's cut: a prefix regex, dots escaped.
        let ua = "x.".repeat(80);
        let all = [d(&format!("192.0.2.5 ua={ua:?}"), Action::Ban, 60)];
        let refs: Vec<&Decision> = all.iter().collect();
        let text = nginx(&refs, Timestamp::from_nanos(T), &NginxOptions::default());
        assert!(
            text.contains(r#"    "~*^192\\.0\\.2\\.5\\ x\\.x\\."#),
            "{text}"
        );
    }
}
