//! Address and port variables (`$HOME_NET`, `$HTTP_PORTS`, ...) and the
//! grammar of address and port specifications in a rule header.
//!
//! [`Vars::default`] holds Vigil's defaults: Suricata's `suricata.yaml`
//! groups, except that `HOME_NET` and `EXTERNAL_NET` are both `any` (offline
//! analysis of a capture does not know which side is home). Setting
//! `HOME_NET` with [`Vars::set_addr`] makes `EXTERNAL_NET` `!$HOME_NET`,
//! Suricata's default, unless `EXTERNAL_NET` is set too.
//!
//! Grammar (Suricata's): `any`, an address (`10.0.0.1`, `::1`), a network
//! (`10.0.0.0/8`, `10.0.0.0/255.0.0.0`), `$VAR`, `!spec`, and lists
//! `[spec, spec, ...]` which may nest. Ports: `any`, `80`, `1024:65535`,
//! `1024:`, `:1023`, `$VAR`, `!spec`, lists. Variables may refer to other
//! variables, up to [`MAX_DEPTH`] levels.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::rule::{AddrSpec, Cidr, PortSpec};

/// How deeply variables and lists may nest.
pub const MAX_DEPTH: usize = 16;

/// Errors resolving an address or port specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VarError {
    /// A `$NAME` that is not defined.
    #[error("unknown variable ${0}")]
    Unknown(String),
    /// Variables or lists nest deeper than [`MAX_DEPTH`] (or refer to
    /// themselves).
    #[error("variable nesting too deep at {0}")]
    TooDeep(String),
    /// Text that is no address specification.
    #[error("bad address {0:?}")]
    BadAddr(String),
    /// Text that is no port specification.
    #[error("bad port {0:?}")]
    BadPort(String),
}

/// Address and port variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    addrs: BTreeMap<String, String>,
    ports: BTreeMap<String, String>,
    external_set: bool,
}

/// Suricata's address groups (with Vigil's `any` for home and external).
const DEFAULT_ADDRS: &[(&str, &str)] = &[
    ("HOME_NET", "any"),
    ("EXTERNAL_NET", "any"),
    ("HTTP_SERVERS", "$HOME_NET"),
    ("SMTP_SERVERS", "$HOME_NET"),
    ("SQL_SERVERS", "$HOME_NET"),
    ("DNS_SERVERS", "$HOME_NET"),
    ("TELNET_SERVERS", "$HOME_NET"),
    ("AIM_SERVERS", "$EXTERNAL_NET"),
    ("DC_SERVERS", "$HOME_NET"),
    ("DNP3_SERVER", "$HOME_NET"),
    ("DNP3_CLIENT", "$HOME_NET"),
    ("MODBUS_CLIENT", "$HOME_NET"),
    ("MODBUS_SERVER", "$HOME_NET"),
    ("ENIP_CLIENT", "$HOME_NET"),
    ("ENIP_SERVER", "$HOME_NET"),
];

/// Suricata's port groups.
const DEFAULT_PORTS: &[(&str, &str)] = &[
    ("HTTP_PORTS", "80"),
    ("SHELLCODE_PORTS", "!80"),
    ("ORACLE_PORTS", "1521"),
    ("SSH_PORTS", "22"),
    ("DNP3_PORTS", "20000"),
    ("MODBUS_PORTS", "502"),
    ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
    ("FTP_PORTS", "21"),
    ("GENEVE_PORTS", "6081"),
    ("VXLAN_PORTS", "4789"),
    ("TEREDO_PORTS", "3544"),
];

impl Default for Vars {
    fn default() -> Self {
        let own = |table: &[(&str, &str)]| {
            table
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        Self {
            addrs: own(DEFAULT_ADDRS),
            ports: own(DEFAULT_PORTS),
            external_set: false,
        }
    }
}

impl Vars {
    /// No variables at all (every `$NAME` is unknown).
    pub fn empty() -> Self {
        Self {
            addrs: BTreeMap::new(),
            ports: BTreeMap::new(),
            external_set: false,
        }
    }

    /// Define or override an address variable (`name` without `$`). The
    /// value is checked when a rule uses it. Setting `HOME_NET` also makes
    /// `EXTERNAL_NET` `!$HOME_NET` unless it was set explicitly.
    pub fn set_addr(&mut self, name: &str, value: &str) {
        let name = name.trim_start_matches('$');
        if name == "EXTERNAL_NET" {
            self.external_set = true;
        }
        if name == "HOME_NET" && !self.external_set && value.trim() != "any" {
            self.addrs
                .insert("EXTERNAL_NET".to_owned(), "!$HOME_NET".to_owned());
        }
        self.addrs.insert(name.to_owned(), value.to_owned());
    }

    /// Define or override a port variable (`name` without `$`).
    pub fn set_port(&mut self, name: &str, value: &str) {
        self.ports
            .insert(name.trim_start_matches('$').to_owned(), value.to_owned());
    }

    /// The text of an address variable.
    pub fn addr(&self, name: &str) -> Option<&str> {
        self.addrs.get(name).map(String::as_str)
    }

    /// The text of a port variable.
    pub fn port(&self, name: &str) -> Option<&str> {
        self.ports.get(name).map(String::as_str)
    }

    /// Parse an address specification, resolving variables.
    pub fn resolve_addr(&self, text: &str) -> Result<AddrSpec, VarError> {
        self.addr_spec(text.trim(), 0)
    }

    /// Parse a port specification, resolving variables.
    pub fn resolve_port(&self, text: &str) -> Result<PortSpec, VarError> {
        self.port_spec(text.trim(), 0)
    }

    fn addr_spec(&self, text: &str, depth: usize) -> Result<AddrSpec, VarError> {
        if depth > MAX_DEPTH {
            return Err(VarError::TooDeep(text.to_owned()));
        }
        let bad = || VarError::BadAddr(text.to_owned());
        if let Some(rest) = text.strip_prefix('!') {
            let inner = self.addr_spec(rest.trim(), depth + 1)?;
            if inner == AddrSpec::Any {
                return Err(bad());
            }
            return Ok(AddrSpec::Not(Box::new(inner)));
        }
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(bad)?;
            let items = split_list(inner).ok_or_else(bad)?;
            let specs = items
                .into_iter()
                .map(|item| self.addr_spec(item, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(simplify_addr(specs));
        }
        if let Some(name) = text.strip_prefix('$') {
            let value = self
                .addr(name)
                .ok_or_else(|| VarError::Unknown(name.to_owned()))?;
            return self.addr_spec(value.trim(), depth + 1);
        }
        if text.eq_ignore_ascii_case("any") {
            return Ok(AddrSpec::Any);
        }
        parse_net(text).map(AddrSpec::Net).ok_or_else(bad)
    }

    fn port_spec(&self, text: &str, depth: usize) -> Result<PortSpec, VarError> {
        if depth > MAX_DEPTH {
            return Err(VarError::TooDeep(text.to_owned()));
        }
        let bad = || VarError::BadPort(text.to_owned());
        if let Some(rest) = text.strip_prefix('!') {
            let inner = self.port_spec(rest.trim(), depth + 1)?;
            if inner == PortSpec::Any {
                return Err(bad());
            }
            return Ok(PortSpec::Not(Box::new(inner)));
        }
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(bad)?;
            let items = split_list(inner).ok_or_else(bad)?;
            let specs = items
                .into_iter()
                .map(|item| self.port_spec(item, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(simplify_port(specs));
        }
        if let Some(name) = text.strip_prefix('$') {
            let value = self
                .port(name)
                .ok_or_else(|| VarError::Unknown(name.to_owned()))?;
            return self.port_spec(value.trim(), depth + 1);
        }
        if text.eq_ignore_ascii_case("any") {
            return Ok(PortSpec::Any);
        }
        let num = |s: &str| s.trim().parse::<u16>().ok();
        match text.split_once(':') {
            None => num(text).map(|p| PortSpec::Range(p, p)).ok_or_else(bad),
            Some((lo, hi)) => {
                let lo = if lo.trim().is_empty() {
                    Some(0)
                } else {
                    num(lo)
                };
                let hi = if hi.trim().is_empty() {
                    Some(u16::MAX)
                } else {
                    num(hi)
                };
                match (lo, hi) {
                    (Some(lo), Some(hi)) if lo <= hi => Ok(PortSpec::Range(lo, hi)),
                    _ => Err(bad()),
                }
            }
        }
    }
}

/// A list of one item is that item; a list containing `any` (and no
/// negation) is `any`.
fn simplify_addr(mut specs: Vec<AddrSpec>) -> AddrSpec {
    if specs.len() == 1 {
        if let Some(only) = specs.pop() {
            return only;
        }
    }
    AddrSpec::List(specs)
}

fn simplify_port(mut specs: Vec<PortSpec>) -> PortSpec {
    if specs.len() == 1 {
        if let Some(only) = specs.pop() {
            return only;
        }
    }
    PortSpec::List(specs)
}

/// Split the inside of `[...]` at top-level commas; `None` when brackets do
/// not balance or an item is empty.
fn split_list(inner: &str) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => {
                items.push(inner.get(start..i)?.trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    items.push(inner.get(start..)?.trim());
    if items.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(items)
}

/// `addr`, `addr/len` or `addr/netmask`.
fn parse_net(text: &str) -> Option<Cidr> {
    match text.split_once('/') {
        None => {
            let addr: IpAddr = text.parse().ok()?;
            Cidr::new(addr, if addr.is_ipv4() { 32 } else { 128 })
        }
        Some((addr, len)) => {
            let addr: IpAddr = addr.trim().parse().ok()?;
            let len = len.trim();
            let prefix = match len.parse::<u8>() {
                Ok(p) => p,
                Err(_) => {
                    // A dotted netmask: must be contiguous ones.
                    let mask: std::net::Ipv4Addr = len.parse().ok()?;
                    let bits = u32::from(mask);
                    let ones = bits.leading_ones();
                    if bits.checked_shl(ones).unwrap_or(0) != 0 {
                        return None;
                    }
                    u8::try_from(ones).ok()?
                }
            };
            Cidr::new(addr, prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_resolve_to_any() {
        let v = Vars::default();
        assert_eq!(v.resolve_addr("$HOME_NET").unwrap(), AddrSpec::Any);
        assert_eq!(v.resolve_addr("$EXTERNAL_NET").unwrap(), AddrSpec::Any);
        assert_eq!(v.resolve_addr("$HTTP_SERVERS").unwrap(), AddrSpec::Any);
        assert_eq!(
            v.resolve_port("$HTTP_PORTS").unwrap(),
            PortSpec::Range(80, 80)
        );
        assert_eq!(
            v.resolve_port("$SSH_PORTS").unwrap(),
            PortSpec::Range(22, 22)
        );
        let sc = v.resolve_port("$SHELLCODE_PORTS").unwrap();
        assert!(!sc.matches(80) && sc.matches(81));
        let fd = v.resolve_port("$FILE_DATA_PORTS").unwrap();
        assert!(fd.matches(80) && fd.matches(110) && fd.matches(143) && !fd.matches(25));
    }

    #[test]
    fn home_net_override_makes_external_its_complement() {
        let mut v = Vars::default();
        v.set_addr("HOME_NET", "[10.0.0.0/8,192.168.0.0/16]");
        let home = v.resolve_addr("$HOME_NET").unwrap();
        let ext = v.resolve_addr("$EXTERNAL_NET").unwrap();
        assert!(home.matches(ip("10.1.1.1")) && !ext.matches(ip("10.1.1.1")));
        assert!(!home.matches(ip("8.8.8.8")) && ext.matches(ip("8.8.8.8")));
        // An explicit EXTERNAL_NET wins, in either order.
        let mut v = Vars::default();
        v.set_addr("EXTERNAL_NET", "any");
        v.set_addr("HOME_NET", "10.0.0.0/8");
        assert_eq!(v.resolve_addr("$EXTERNAL_NET").unwrap(), AddrSpec::Any);
    }

    #[test]
    fn address_grammar() {
        let v = Vars::default();
        let cases: &[(&str, &[(&str, bool)])] = &[
            ("10.0.0.0/8", &[("10.9.9.9", true), ("11.0.0.0", false)]),
            (
                "10.0.0.0/255.0.0.0",
                &[("10.9.9.9", true), ("11.0.0.0", false)],
            ),
            ("!10.0.0.1", &[("10.0.0.1", false), ("10.0.0.2", true)]),
            (
                "[10.0.0.0/8, !10.0.0.1]",
                &[("10.0.0.1", false), ("10.0.0.2", true), ("1.1.1.1", false)],
            ),
            (
                "[1.1.1.1,[2.2.2.2,3.3.3.3]]",
                &[("3.3.3.3", true), ("4.4.4.4", false)],
            ),
            (
                "![1.1.1.1,2.2.2.2]",
                &[("2.2.2.2", false), ("4.4.4.4", true)],
            ),
            (
                "2001:db8::/32",
                &[("2001:db8::5", true), ("2001:db9::", false)],
            ),
        ];
        for (text, probes) in cases {
            let spec = v
                .resolve_addr(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            for (addr, want) in *probes {
                assert_eq!(spec.matches(ip(addr)), *want, "{text} vs {addr}");
            }
        }
    }

    #[test]
    fn port_grammar() {
        let v = Vars::default();
        let cases: &[(&str, &[(u16, bool)])] = &[
            ("80", &[(80, true), (81, false)]),
            ("1024:", &[(1023, false), (1024, true), (65535, true)]),
            (":1023", &[(0, true), (1023, true), (1024, false)]),
            (
                "[80,443,8000:8100]",
                &[(443, true), (8050, true), (444, false)],
            ),
            (
                "[1:100,!$HTTP_PORTS]",
                &[(80, false), (81, true), (101, false)],
            ),
            ("!$HTTP_PORTS", &[(80, false), (8080, true)]),
        ];
        for (text, probes) in cases {
            let spec = v
                .resolve_port(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            for (port, want) in *probes {
                assert_eq!(spec.matches(*port), *want, "{text} vs {port}");
            }
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let v = Vars::default();
        let cases: &[(&str, VarError)] = &[
            ("$NOPE", VarError::Unknown("NOPE".into())),
            ("!any", VarError::BadAddr("!any".into())),
            ("10.0.0.0/33", VarError::BadAddr("10.0.0.0/33".into())),
            (
                "10.0.0.0/255.0.255.0",
                VarError::BadAddr("10.0.0.0/255.0.255.0".into()),
            ),
            ("[1.1.1.1,", VarError::BadAddr("[1.1.1.1,".into())),
            (
                "[1.1.1.1,,2.2.2.2]",
                VarError::BadAddr("[1.1.1.1,,2.2.2.2]".into()),
            ),
            ("host", VarError::BadAddr("host".into())),
        ];
        for (text, want) in cases {
            assert_eq!(&v.resolve_addr(text).unwrap_err(), want, "{text}");
        }
        assert_eq!(
            v.resolve_port("70000").unwrap_err(),
            VarError::BadPort("70000".into())
        );
        assert_eq!(
            v.resolve_port("90:80").unwrap_err(),
            VarError::BadPort("90:80".into())
        );
        let mut looped = Vars::default();
        looped.set_addr("A", "$B");
        looped.set_addr("B", "$A");
        assert!(matches!(
            looped.resolve_addr("$A"),
            Err(VarError::TooDeep(_))
        ));
    }
}
