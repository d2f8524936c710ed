//! The compiled indicator set: what every lookup reads.
//!
//! A [`Matcher`] is built once from indicators (expired ones left out) and
//! never changed; an update builds a new one and swaps it in
//! ([`crate::SharedMatcher`]). Inside:
//!
//! - IP networks of each family in a [`RangeTable`] (longest-prefix
//!   match; see `iptable.rs` for why it is hand-written);
//! - domains in one hash table keyed by name, each entry saying whether the
//!   name itself and/or every name under it is an indicator. A query probes
//!   the name and then each parent (`a.b.evil.example`, `b.evil.example`,
//!   `evil.example`, `example`): one probe per label, no allocation for a
//!   lowercase name. This is the suffix structure: a reversed-label trie
//!   would walk the same labels with a pointer chase per label;
//! - every other kind (URLs, hashes, JA3/JA4, e-mail, user agents) in an
//!   exact hash set per kind.
//!
//! Every key points into one list of indicator attributes, so a value that
//! several feeds list answers with all of them. Attribute sets are shared
//! between indicators that have the same ones (a feed imported with one
//! confidence, severity and tags stores them once).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use foldhash::fast::RandomState;
use vigil_event::{Observable, ObservableType, Severity};

use crate::indicator::{self, normalize_url, Indicator, IpNet, Kind};
use crate::iptable::{RangeTable, NONE};

/// What a feed says about an indicator (everything but its kind and value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attrs {
    /// The feed.
    pub feed: String,
    /// 0–100.
    pub confidence: u8,
    /// Severity of a match.
    pub severity: Severity,
    /// Labels.
    pub tags: Vec<String>,
    /// First seen (ms).
    pub first_seen: Option<i64>,
    /// Last seen (ms).
    pub last_seen: Option<i64>,
    /// Expiry (ms).
    pub expires: Option<i64>,
    /// Reference.
    pub reference: Option<String>,
}

impl Attrs {
    fn of(i: &Indicator) -> Self {
        Self {
            feed: i.feed.clone(),
            confidence: i.confidence,
            severity: i.severity,
            tags: i.tags.clone(),
            first_seen: i.first_seen,
            last_seen: i.last_seen,
            expires: i.expires,
            reference: i.reference.clone(),
        }
    }
}

/// One matching indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The indicator's kind.
    pub kind: Kind,
    value: HitValue<'a>,
    /// What its feed says about it.
    pub attrs: &'a Attrs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HitValue<'a> {
    Net(IpNet),
    Text(&'a str),
}

impl Hit<'_> {
    /// The indicator's value (a network for IP indicators, which may be
    /// wider than the address looked up).
    pub fn value(&self) -> String {
        match self.value {
            HitValue::Net(n) => n.to_string(),
            HitValue::Text(t) => t.to_owned(),
        }
    }

    /// The whole indicator.
    pub fn indicator(&self) -> Indicator {
        let a = self.attrs;
        Indicator {
            kind: self.kind,
            value: self.value(),
            feed: a.feed.clone(),
            confidence: a.confidence,
            severity: a.severity,
            tags: a.tags.clone(),
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            expires: a.expires,
            reference: a.reference.clone(),
        }
    }

    /// Ordering key: most severe, then most confident first.
    fn rank(&self) -> (std::cmp::Reverse<Severity>, std::cmp::Reverse<u8>) {
        (
            std::cmp::Reverse(self.attrs.severity),
            std::cmp::Reverse(self.attrs.confidence),
        )
    }
}

/// One indicator in a key's list: its attributes and the next indicator.
#[derive(Debug, Clone, Copy)]
struct Link {
    attrs: u32,
    next: u32,
}

#[derive(Debug, Clone, Copy)]
struct DomainSlot {
    /// Indicators of this exact name.
    exact: u32,
    /// Indicators of this name and every name under it.
    suffix: u32,
}

type Map<V> = HashMap<Box<str>, V, RandomState>;

/// Kinds kept in an exact set, in slot order.
const EXACT_KINDS: [Kind; 8] = [
    Kind::Url,
    Kind::Md5,
    Kind::Sha1,
    Kind::Sha256,
    Kind::Ja3,
    Kind::Ja4,
    Kind::Email,
    Kind::UserAgent,
];

fn exact_slot(kind: Kind) -> Option<usize> {
    EXACT_KINDS.iter().position(|k| *k == kind)
}

/// Counts of a compiled set, per kind and per feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatcherStats {
    /// Indicators per kind.
    pub by_kind: BTreeMap<Kind, usize>,
    /// Indicators per feed.
    pub by_feed: BTreeMap<String, usize>,
    /// Indicators left out because they had expired.
    pub expired: usize,
    /// Indicators given twice (same kind, value and attributes): kept once.
    pub duplicates: usize,
    /// Distinct attribute sets.
    pub attribute_sets: usize,
    /// Approximate heap bytes of the compiled tables.
    pub heap_bytes: usize,
}

impl MatcherStats {
    /// All indicators held.
    pub fn total(&self) -> usize {
        self.by_kind.values().sum()
    }
}

/// The compiled, immutable indicator set.
#[derive(Debug, Clone)]
pub struct Matcher {
    attrs: Vec<Attrs>,
    links: Vec<Link>,
    v4: RangeTable<u32>,
    v6: RangeTable<u128>,
    domains: Map<DomainSlot>,
    exact: Vec<Map<u32>>,
    stats: MatcherStats,
    next_expiry: Option<i64>,
}

impl Default for Matcher {
    fn default() -> Self {
        Self::build(std::iter::empty::<Indicator>(), 0)
    }
}

impl Matcher {
    /// Compile `indicators` as of `now_ms` (ms since the epoch): those
    /// expired by then are left out. Values must be normalized
    /// ([`indicator::normalize`]); an IP value that does not parse is
    /// skipped (the store only holds normalized values).
    pub fn build<I, B>(indicators: I, now_ms: i64) -> Self
    where
        I: IntoIterator<Item = B>,
        B: std::borrow::Borrow<Indicator>,
    {
        let mut attr_ids: HashMap<Attrs, u32, RandomState> = HashMap::default();
        let mut attrs: Vec<Attrs> = Vec::new();
        let mut stats = MatcherStats::default();
        let mut next_expiry: Option<i64> = None;
        let mut v4: Vec<(u32, u8, u32)> = Vec::new();
        let mut v6: Vec<(u128, u8, u32)> = Vec::new();
        let mut domain_exact: Vec<(Box<str>, u32)> = Vec::new();
        let mut domain_suffix: Vec<(Box<str>, u32)> = Vec::new();
        let mut exact: Vec<Vec<(Box<str>, u32)>> = vec![Vec::new(); EXACT_KINDS.len()];
        for item in indicators {
            let ind = item.borrow();
            if ind.is_expired(now_ms) {
                stats.expired += 1;
                continue;
            }
            if let Some(e) = ind.expires {
                next_expiry = Some(next_expiry.map_or(e, |n| n.min(e)));
            }
            let a = Attrs::of(ind);
            let id = match attr_ids.get(&a) {
                Some(id) => *id,
                None => {
                    let id = attrs.len() as u32;
                    attr_ids.insert(a.clone(), id);
                    attrs.push(a);
                    id
                }
            };
            match ind.kind {
                Kind::Ipv4 | Kind::Ipv6 => match IpNet::parse(&ind.value) {
                    Ok(IpNet::V4(addr, p)) => v4.push((addr, p, id)),
                    Ok(IpNet::V6(addr, p)) => v6.push((addr, p, id)),
                    Err(_) => continue,
                },
                Kind::Domain => domain_exact.push((ind.value.as_str().into(), id)),
                Kind::DomainSuffix => domain_suffix.push((ind.value.as_str().into(), id)),
                kind => {
                    let Some(slot) = exact_slot(kind) else {
                        continue;
                    };
                    exact[slot].push((ind.value.as_str().into(), id));
                }
            }
        }
        drop(attr_ids);
        let mut links: Vec<Link> = Vec::new();
        let mut dups = 0usize;
        // Sort one kind's (key, attrs) pairs and turn each run of equal keys
        // into a list of links; `emit` receives (key, head).
        fn chain<T: Ord + Clone>(
            mut items: Vec<(T, u32)>,
            links: &mut Vec<Link>,
            dups: &mut usize,
            mut emit: impl FnMut(T, u32),
        ) -> usize {
            items.sort_unstable();
            let before = items.len();
            items.dedup();
            *dups += before - items.len();
            let kept = items.len();
            let mut iter = items.into_iter().peekable();
            while let Some((key, id)) = iter.next() {
                let mut head = links.len() as u32;
                links.push(Link {
                    attrs: id,
                    next: NONE,
                });
                while let Some((_, next_id)) = iter.next_if(|(k, _)| *k == key) {
                    let i = links.len() as u32;
                    links.push(Link {
                        attrs: next_id,
                        next: head,
                    });
                    head = i;
                }
                emit(key, head);
            }
            kept
        }
        let mut v4_nets = Vec::new();
        let n4 = chain(
            v4.into_iter().map(|(a, p, id)| ((a, p), id)).collect(),
            &mut links,
            &mut dups,
            |(a, p), head| v4_nets.push((a, p, head, 0)),
        );
        let mut v6_nets = Vec::new();
        let n6 = chain(
            v6.into_iter().map(|(a, p, id)| ((a, p), id)).collect(),
            &mut links,
            &mut dups,
            |(a, p), head| v6_nets.push((a, p, head, 0)),
        );
        let mut domains: Map<DomainSlot> = HashMap::default();
        let nd = chain(domain_exact, &mut links, &mut dups, |k, head| {
            domains
                .entry(k)
                .or_insert(DomainSlot {
                    exact: NONE,
                    suffix: NONE,
                })
                .exact = head;
        });
        let ns = chain(domain_suffix, &mut links, &mut dups, |k, head| {
            domains
                .entry(k)
                .or_insert(DomainSlot {
                    exact: NONE,
                    suffix: NONE,
                })
                .suffix = head;
        });
        let mut exact_maps: Vec<Map<u32>> = Vec::with_capacity(EXACT_KINDS.len());
        for (slot, items) in exact.into_iter().enumerate() {
            let mut map: Map<u32> = HashMap::default();
            let n = chain(items, &mut links, &mut dups, |k, head| {
                map.insert(k, head);
            });
            map.shrink_to_fit();
            if n > 0 {
                stats.by_kind.insert(EXACT_KINDS[slot], n);
            }
            exact_maps.push(map);
        }
        domains.shrink_to_fit();
        links.shrink_to_fit();
        for (kind, n) in [
            (Kind::Ipv4, n4),
            (Kind::Ipv6, n6),
            (Kind::Domain, nd),
            (Kind::DomainSuffix, ns),
        ] {
            if n > 0 {
                stats.by_kind.insert(kind, n);
            }
        }
        for link in &links {
            if let Some(a) = attrs.get(link.attrs as usize) {
                *stats.by_feed.entry(a.feed.clone()).or_default() += 1;
            }
        }
        stats.duplicates = dups;
        stats.attribute_sets = attrs.len();
        // Each network carries its first indicator's attributes, so the
        // hot path reads no list.
        for n in v4_nets.iter_mut() {
            n.3 = links.get(n.2 as usize).map_or(NONE, |l| l.attrs);
        }
        for n in v6_nets.iter_mut() {
            n.3 = links.get(n.2 as usize).map_or(NONE, |l| l.attrs);
        }
        let mut m = Self {
            attrs,
            links,
            v4: RangeTable::build(v4_nets),
            v6: RangeTable::build(v6_nets),
            domains,
            exact: exact_maps,
            stats,
            next_expiry,
        };
        m.stats.heap_bytes = m.heap_bytes();
        m
    }

    /// Approximate heap bytes of the tables (hash tables counted by
    /// capacity, keys by length).
    fn heap_bytes(&self) -> usize {
        let map_bytes = |cap: usize, entry: usize| cap * (entry + 1);
        let mut n = self.links.capacity() * std::mem::size_of::<Link>()
            + self.v4.heap_bytes()
            + self.v6.heap_bytes()
            + map_bytes(
                self.domains.capacity(),
                std::mem::size_of::<(Box<str>, DomainSlot)>(),
            )
            + self.domains.keys().map(|k| k.len()).sum::<usize>();
        for m in &self.exact {
            n += map_bytes(m.capacity(), std::mem::size_of::<(Box<str>, u32)>())
                + m.keys().map(|k| k.len()).sum::<usize>();
        }
        n + self.attrs.capacity() * std::mem::size_of::<Attrs>()
    }

    /// Counts per kind and feed.
    pub fn stats(&self) -> &MatcherStats {
        &self.stats
    }

    /// Indicators held.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The earliest expiry among the indicators held: the set should be
    /// rebuilt then.
    pub fn next_expiry(&self) -> Option<i64> {
        self.next_expiry
    }

    fn push_chain<'a>(
        &'a self,
        kind: Kind,
        value: HitValue<'a>,
        head: u32,
        out: &mut Vec<Hit<'a>>,
    ) {
        let mut i = head;
        // Bounded by the number of links: every list ends in NONE.
        while let Some(link) = self.links.get(i as usize) {
            if let Some(attrs) = self.attrs.get(link.attrs as usize) {
                out.push(Hit { kind, value, attrs });
            }
            i = link.next;
        }
    }

    fn first<'a>(&'a self, kind: Kind, value: HitValue<'a>, head: u32) -> Option<Hit<'a>> {
        let link = self.links.get(head as usize)?;
        let attrs = self.attrs.get(link.attrs as usize)?;
        Some(Hit { kind, value, attrs })
    }

    /// The most specific indicator network containing `ip` (one of its
    /// indicators), without allocating: the hot path.
    #[inline]
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<Hit<'_>> {
        match IpNet::host(ip) {
            IpNet::V4(a, _) => {
                let r = self.v4.range(a)?;
                let attrs = self.attrs.get(r.extra() as usize)?;
                let net = r.start() & indicator::mask32(r.prefix());
                Some(Hit {
                    kind: Kind::Ipv4,
                    value: HitValue::Net(IpNet::V4(net, r.prefix())),
                    attrs,
                })
            }
            IpNet::V6(a, _) => {
                let r = self.v6.range(a)?;
                let attrs = self.attrs.get(r.extra() as usize)?;
                let net = r.start() & indicator::mask128(r.prefix());
                Some(Hit {
                    kind: Kind::Ipv6,
                    value: HitValue::Net(IpNet::V6(net, r.prefix())),
                    attrs,
                })
            }
        }
    }

    /// Every indicator network containing `ip`, longest prefix first.
    pub fn ip_hits<'a>(&'a self, ip: IpAddr, out: &mut Vec<Hit<'a>>) {
        match IpNet::host(ip) {
            IpNet::V4(a, _) => {
                let mut i = self.v4.lookup(a);
                while let Some(net) = self.v4.net(i) {
                    let v = HitValue::Net(IpNet::V4(net.addr, net.prefix));
                    self.push_chain(Kind::Ipv4, v, net.value, out);
                    i = net.parent;
                }
            }
            IpNet::V6(a, _) => {
                let mut i = self.v6.lookup(a);
                while let Some(net) = self.v6.net(i) {
                    let v = HitValue::Net(IpNet::V6(net.addr, net.prefix));
                    self.push_chain(Kind::Ipv6, v, net.value, out);
                    i = net.parent;
                }
            }
        }
    }

    /// The first domain indicator matching `name` (the name itself, else
    /// the nearest parent listed with its subdomains). `name` should be
    /// lowercase without a trailing dot; other forms are normalized (with
    /// an allocation).
    #[inline]
    pub fn lookup_domain(&self, name: &str) -> Option<Hit<'_>> {
        if needs_folding(name) {
            let folded = name.trim_end_matches('.').to_ascii_lowercase();
            return self.domain_first(&folded);
        }
        self.domain_first(name)
    }

    fn domain_first(&self, name: &str) -> Option<Hit<'_>> {
        if let Some((key, slot)) = self.domains.get_key_value(name) {
            if slot.exact != NONE {
                return self.first(Kind::Domain, HitValue::Text(key), slot.exact);
            }
            if slot.suffix != NONE {
                return self.first(Kind::DomainSuffix, HitValue::Text(key), slot.suffix);
            }
        }
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some((key, slot)) = self.domains.get_key_value(parent) {
                if slot.suffix != NONE {
                    return self.first(Kind::DomainSuffix, HitValue::Text(key), slot.suffix);
                }
            }
            rest = parent;
        }
        None
    }

    /// Every domain indicator matching `name`: the name itself, and each
    /// parent (and the name) listed with its subdomains, nearest first.
    pub fn domain_hits<'a>(&'a self, name: &str, out: &mut Vec<Hit<'a>>) {
        let folded;
        let name = if needs_folding(name) {
            folded = name.trim_end_matches('.').to_ascii_lowercase();
            folded.as_str()
        } else {
            name
        };
        let mut probe = Some(name);
        let mut first = true;
        while let Some(n) = probe {
            if let Some((key, slot)) = self.domains.get_key_value(n) {
                if first && slot.exact != NONE {
                    self.push_chain(Kind::Domain, HitValue::Text(key), slot.exact, out);
                }
                if slot.suffix != NONE {
                    self.push_chain(Kind::DomainSuffix, HitValue::Text(key), slot.suffix, out);
                }
            }
            first = false;
            probe = n.split_once('.').map(|(_, p)| p);
        }
    }

    /// The indicators of `kind` (not IP or domain) whose value is exactly
    /// `value` (already normalized).
    pub fn exact_hits<'a>(&'a self, kind: Kind, value: &str, out: &mut Vec<Hit<'a>>) {
        let Some(map) = exact_slot(kind).and_then(|s| self.exact.get(s)) else {
            return;
        };
        if let Some((key, head)) = map.get_key_value(value) {
            self.push_chain(kind, HitValue::Text(key), *head, out);
        }
    }

    /// Every indicator matching an observable of an event, by its OCSF
    /// type: IP addresses against networks, host names against domains,
    /// URLs (normalized) against URLs, user agents exactly, fingerprints
    /// against JA3 or JA4 (by the observable's name), hashes by length,
    /// e-mail addresses exactly. Other types match nothing.
    pub fn observable_hits<'a>(&'a self, obs: &Observable, out: &mut Vec<Hit<'a>>) {
        let v = obs.value.trim();
        if v.is_empty() {
            return;
        }
        match obs.type_id {
            t if t == ObservableType::IpAddress.id() => {
                if let Ok(ip) = v.parse::<IpAddr>() {
                    self.ip_hits(ip, out);
                }
            }
            t if t == ObservableType::Hostname.id() => self.domain_hits(v, out),
            t if t == ObservableType::UrlString.id() => {
                if self.exact[0].is_empty() {
                    return;
                }
                if let Ok(u) = normalize_url(v) {
                    self.exact_hits(Kind::Url, &u, out);
                }
            }
            t if t == ObservableType::UserAgent.id() => self.exact_hits(Kind::UserAgent, v, out),
            t if t == ObservableType::Fingerprint.id() => {
                let kind = if obs.name.contains("ja3") {
                    Kind::Ja3
                } else if obs.name.contains("ja4") {
                    Kind::Ja4
                } else {
                    return;
                };
                self.exact_hits(kind, &v.to_ascii_lowercase(), out);
            }
            t if t == ObservableType::Hash.id() => {
                let hex: String = v
                    .chars()
                    .filter(|c| *c != ':')
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                let kind = match hex.len() {
                    32 => Kind::Md5,
                    40 => Kind::Sha1,
                    64 => Kind::Sha256,
                    _ => return,
                };
                self.exact_hits(kind, &hex, out);
            }
            t if t == ObservableType::Email.id() => {
                if let Ok(e) = indicator::normalize(Kind::Email, v) {
                    self.exact_hits(Kind::Email, &e, out);
                }
            }
            _ => {}
        }
    }

    /// Every indicator matching a value given as text, whatever it is: an
    /// IP address, a domain (and its parents), a URL (and its host), a hash
    /// or fingerprint (each kind its length allows), an e-mail address (and
    /// its domain), else a user agent. Most severe, then most confident,
    /// first.
    pub fn lookup(&self, value: &str) -> Vec<Hit<'_>> {
        let mut out = Vec::new();
        let v = value.trim();
        if v.is_empty() {
            return out;
        }
        if let Ok(net) = IpNet::parse(v) {
            if net.prefix() == if net.is_v4() { 32 } else { 128 } {
                if let Ok(ip) = v.parse::<IpAddr>() {
                    self.ip_hits(ip, &mut out);
                }
            } else {
                // A network: the indicators for exactly it and those around it.
                let (addr, kind) = match net {
                    IpNet::V4(a, _) => (IpAddr::V4(a.into()), Kind::Ipv4),
                    IpNet::V6(a, _) => (IpAddr::V6(a.into()), Kind::Ipv6),
                };
                let mut all = Vec::new();
                self.ip_hits(addr, &mut all);
                out.extend(all.into_iter().filter(|h| {
                    h.kind == kind
                        && matches!(h.value, HitValue::Net(n) if n.prefix() <= net.prefix())
                }));
            }
        } else if let Ok((kind, norm)) = indicator::classify(v) {
            match kind {
                Kind::Domain | Kind::DomainSuffix => self.domain_hits(&norm, &mut out),
                Kind::Url => {
                    self.exact_hits(Kind::Url, &norm, &mut out);
                    let host = norm.split(['/', '?']).next().unwrap_or_default();
                    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
                    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
                        Ok(ip) => self.ip_hits(ip, &mut out),
                        Err(_) => self.domain_hits(host, &mut out),
                    }
                }
                Kind::Md5 => {
                    self.exact_hits(Kind::Md5, &norm, &mut out);
                    self.exact_hits(Kind::Ja3, &norm, &mut out);
                }
                Kind::Email => {
                    self.exact_hits(Kind::Email, &norm, &mut out);
                    if let Some((_, d)) = norm.split_once('@') {
                        self.domain_hits(d, &mut out);
                    }
                }
                kind => self.exact_hits(kind, &norm, &mut out),
            }
            // A user agent can look like anything ("sqlmap/1.7" is a URL).
            self.exact_hits(Kind::UserAgent, v, &mut out);
        } else {
            self.exact_hits(Kind::UserAgent, v, &mut out);
        }
        out.sort_by_key(|h| h.rank());
        out
    }

    /// The best indicator matching `value` ([`Matcher::lookup`]'s first):
    /// what a rule's `intel(value)` asks.
    pub fn contains(&self, value: &str) -> Option<Hit<'_>> {
        self.lookup(value).into_iter().next()
    }
}

/// True when a name has an uppercase letter or a trailing dot.
fn needs_folding(name: &str) -> bool {
    name.ends_with('.') || name.bytes().any(|b| b.is_ascii_uppercase())
}

/// Hits ordered most severe, then most confident, first (stable).
pub fn rank(hits: &mut [Hit<'_>]) {
    hits.sort_by_key(|h| h.rank());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn ind(kind: Kind, value: &str, feed: &str) -> Indicator {
        Indicator {
            kind,
            value: indicator::normalize(kind, value).unwrap(),
            feed: feed.into(),
            confidence: 70,
            severity: Severity::Medium,
            tags: vec![],
            first_seen: None,
            last_seen: None,
            expires: None,
            reference: None,
        }
    }

    fn values(hits: &[Hit<'_>]) -> Vec<String> {
        hits.iter()
            .map(|h| format!("{}:{}:{}", h.kind, h.value(), h.attrs.feed))
            .collect()
    }

    #[test]
    fn every_kind_matches_its_values() {
        let m = Matcher::build(
            [
                ind(Kind::Ipv4, "198.51.100.0/24", "a"),
                ind(Kind::Ipv4, "198.51.100.7", "b"),
                ind(Kind::Ipv6, "2001:db8::/32", "a"),
                ind(Kind::Domain, "evil.example", "a"),
                ind(Kind::DomainSuffix, "bad.example", "b"),
                ind(Kind::Url, "http://evil.example/x.exe", "a"),
                ind(
                    Kind::Sha256,
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                    "a",
                ),
                ind(Kind::Ja3, "e7d705a3286e19ea42f587b344ee6865", "a"),
                ind(Kind::Ja4, "t13d1516h2_8daaf6152771_b186095e22b6", "a"),
                ind(Kind::Email, "phish@evil.example", "a"),
                ind(Kind::UserAgent, "sqlmap/1.7", "a"),
            ],
            0,
        );
        assert_eq!(m.len(), 11);
        assert_eq!(
            values(&m.lookup("198.51.100.7")),
            ["ipv4:198.51.100.7:b", "ipv4:198.51.100.0/24:a"]
        );
        assert_eq!(
            values(&m.lookup("198.51.100.8")),
            ["ipv4:198.51.100.0/24:a"]
        );
        assert!(m.lookup("198.51.101.1").is_empty());
        assert_eq!(values(&m.lookup("2001:db8:1::5")), ["ipv6:2001:db8::/32:a"]);
        assert_eq!(
            values(&m.lookup("Evil.Example.")),
            ["domain:evil.example:a"]
        );
        assert!(
            m.lookup("www.evil.example").is_empty(),
            "exact domains do not cover subdomains"
        );
        assert_eq!(
            values(&m.lookup("a.b.bad.example")),
            ["domain_suffix:bad.example:b"]
        );
        assert_eq!(
            values(&m.lookup("bad.example")),
            ["domain_suffix:bad.example:b"]
        );
        assert!(m.lookup("notbad.example").is_empty());
        let url = values(&m.lookup("https://EVIL.example/x.exe#top"));
        assert_eq!(url, ["url:evil.example/x.exe:a", "domain:evil.example:a"]);
        assert_eq!(
            m.lookup("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
                .len(),
            1
        );
        assert_eq!(
            values(&m.lookup("e7d705a3286e19ea42f587b344ee6865")),
            ["ja3:e7d705a3286e19ea42f587b344ee6865:a"]
        );
        assert_eq!(m.lookup("t13d1516h2_8daaf6152771_b186095e22b6").len(), 1);
        assert_eq!(
            values(&m.lookup("Phish@evil.example")),
            ["email:phish@evil.example:a", "domain:evil.example:a"]
        );
        assert_eq!(m.lookup("sqlmap/1.7").len(), 1);
        assert!(m.contains("sqlmap/1.8").is_none());
        assert_eq!(
            m.lookup_ip("198.51.100.7".parse().unwrap())
                .map(|h| h.value())
                .as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            m.lookup_domain("X.Bad.Example")
                .map(|h| h.value())
                .as_deref(),
            Some("bad.example")
        );
        assert_eq!(
            m.lookup_domain("x.bad.example").map(|h| h.kind),
            Some(Kind::DomainSuffix)
        );
    }

    #[test]
    fn expired_and_duplicate_indicators() {
        let mut old = ind(Kind::Ipv4, "192.0.2.1", "a");
        old.expires = Some(1_000);
        let mut later = ind(Kind::Ipv4, "192.0.2.2", "a");
        later.expires = Some(5_000);
        let dup = ind(Kind::Domain, "evil.example", "a");
        let m = Matcher::build(
            [old.clone(), later.clone(), dup.clone(), dup.clone()],
            2_000,
        );
        assert!(m.lookup("192.0.2.1").is_empty());
        assert_eq!(m.lookup("192.0.2.2").len(), 1);
        assert_eq!(m.lookup("evil.example").len(), 1);
        assert_eq!(m.stats().expired, 1);
        assert_eq!(m.stats().duplicates, 1);
        assert_eq!(m.next_expiry(), Some(5_000));
        let m = Matcher::build([old, later], 0);
        assert_eq!(m.lookup("192.0.2.1").len(), 1);
    }

    #[test]
    fn hits_rank_by_severity_then_confidence() {
        let mut low = ind(Kind::Ipv4, "192.0.2.0/24", "low");
        low.severity = Severity::Low;
        let mut high = ind(Kind::Ipv4, "192.0.2.0/24", "high");
        high.severity = Severity::High;
        high.confidence = 10;
        let mut high_sure = ind(Kind::Ipv4, "192.0.2.9", "high_sure");
        high_sure.severity = Severity::High;
        high_sure.confidence = 90;
        let m = Matcher::build([low, high, high_sure], 0);
        let feeds: Vec<_> = m
            .lookup("192.0.2.9")
            .iter()
            .map(|h| h.attrs.feed.clone())
            .collect();
        assert_eq!(feeds, ["high_sure", "high", "low"]);
    }

    fn domain_strategy() -> impl Strategy<Value = String> {
        // Few labels from a tiny alphabet so that names nest often.
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "ab"]), 1..4)
            .prop_map(|labels| format!("{}.example", labels.join(".")))
    }

    proptest! {
        #[test]
        fn domains_agree_with_a_naive_scan(
            indicators in prop::collection::vec((domain_strategy(), any::<bool>()), 0..40),
            queries in prop::collection::vec(domain_strategy(), 1..40),
        ) {
            let list: Vec<Indicator> = indicators.iter().map(|(d, sub)| {
                ind(if *sub { Kind::DomainSuffix } else { Kind::Domain }, d, "f")
            }).collect();
            let m = Matcher::build(&list, 0);
            for q in queries.iter().chain(indicators.iter().map(|(d, _)| d)) {
                let mut got: Vec<(Kind, String)> = m.lookup(q).iter().map(|h| (h.kind, h.value())).collect();
                let mut want: Vec<(Kind, String)> = list.iter().filter(|i| match i.kind {
                    Kind::Domain => i.value == *q,
                    _ => *q == i.value || q.ends_with(&format!(".{}", i.value)),
                }).map(|i| (i.kind, i.value.clone())).collect();
                got.sort();
                want.sort();
                want.dedup();
                prop_assert_eq!(&got, &want, "query {}", q);
                let first = m.lookup_domain(q).map(|h| (h.kind, h.value()));
                prop_assert_eq!(first.is_some(), !want.is_empty());
            }
        }

        #[test]
        fn ips_agree_with_a_naive_scan(
            v4 in prop::collection::vec((any::<u32>(), 8u8..=32), 0..60),
            v6 in prop::collection::vec((any::<u128>(), 16u8..=128), 0..30),
            q4 in prop::collection::vec(any::<u32>(), 1..60),
            q6 in prop::collection::vec(any::<u128>(), 1..30),
        ) {
            let c4 = |a: u32| a & 0xff03_0f0f | 0x0a00_0000;
            let c6 = |a: u128| a & 0xffff_0000_0000_0000_0000_0000_0000_00ff | (0x2001_0db8u128 << 96);
            let mut list: Vec<Indicator> = v4.iter().map(|(a, p)| {
                ind(Kind::Ipv4, &format!("{}/{p}", std::net::Ipv4Addr::from(c4(*a))), "f")
            }).collect();
            list.extend(v6.iter().map(|(a, p)| {
                ind(Kind::Ipv6, &format!("{}/{p}", std::net::Ipv6Addr::from(c6(*a))), "f")
            }));
            let m = Matcher::build(&list, 0);
            let queries: Vec<IpAddr> = q4.iter().map(|a| IpAddr::V4(c4(*a).into()))
                .chain(q6.iter().map(|a| IpAddr::V6(c6(*a).into())))
                .collect();
            for q in queries {
                let mut got: Vec<String> = m.lookup(&q.to_string()).iter().map(|h| h.value()).collect();
                let mut want: Vec<String> = list.iter()
                    .filter(|i| IpNet::parse(&i.value).unwrap().contains(q))
                    .map(|i| i.value.clone()).collect();
                want.sort();
                want.dedup();
                // Longest prefix first from the fast path too.
                let best = list.iter()
                    .filter(|i| IpNet::parse(&i.value).unwrap().contains(q))
                    .map(|i| IpNet::parse(&i.value).unwrap().prefix()).max();
                prop_assert_eq!(m.lookup_ip(q).map(|h| IpNet::parse(&h.value()).unwrap().prefix()), best);
                got.sort();
                prop_assert_eq!(got, want, "query {}", q);
            }
        }
    }
}
