//! Longest-prefix match over IP networks, one table per address family.
//!
//! Hand-written, because what the crates of the field offer does not meet
//! the target (20 M lookups/s on one core with a million indicators, under
//! 100 bytes per IP indicator): binary tries (`prefix-trie`, `ip_network_table`)
//! walk a pointer per bit, and a DIR-24-8 array costs 64 MiB whatever the
//! feed. Here the networks are flattened, once, into the disjoint address
//! ranges they cover (a nested network splits its parent into at most
//! three ranges), each range labelled with its most specific network. A
//! lookup is then "the last range starting at or below the address": an
//! index of about one bucket per range (2^8 to 2^20) over the span of addresses the ranges start in (so
//! IPv6 indicators clustered under a few prefixes still spread over the
//! buckets) gives the few ranges that can hold it, and a binary search
//! finds it. One array of (start, label) pairs, 8 bytes per range for IPv4
//! (the label read shares the start's cache line), plus the index; every
//! network keeps a link to the next shorter one that contains it, so all
//! the covering networks are listed longest first, and the caller's two
//! values (for the matcher: the indicator list and its first entry's
//! attributes, so the hot path reads no list).

/// No network.
pub(crate) const NONE: u32 = u32::MAX;

/// An address family's key: `u32` (IPv4) or `u128` (IPv6).
pub(crate) trait Key: Copy + Ord + std::fmt::Debug {
    /// The lowest address.
    const ZERO: Self;
    /// The key as a `u128` (for the index arithmetic).
    fn wide(self) -> u128;
    /// The next address, `None` after the last.
    fn succ(self) -> Option<Self>;
    /// The last address of the network `self/prefix`.
    fn last(self, prefix: u8) -> Self;
}

impl Key for u32 {
    const ZERO: Self = 0;
    fn wide(self) -> u128 {
        u128::from(self)
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn last(self, prefix: u8) -> Self {
        self | !crate::indicator::mask32(prefix)
    }
}

impl Key for u128 {
    const ZERO: Self = 0;
    fn wide(self) -> u128 {
        self
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn last(self, prefix: u8) -> Self {
        self | !crate::indicator::mask128(prefix)
    }
}

/// Index buckets: about one per range (a lookup then searches one or two
/// ranges), a power of two between these bounds.
const MIN_BUCKET_BITS: u32 = 8;
const MAX_BUCKET_BITS: u32 = 20;

/// One network in a table: its address and prefix, the next shorter
/// network containing it ([`NONE`] if none) and the caller's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Net<K> {
    /// Network address (host bits clear).
    pub addr: K,
    /// Prefix length.
    pub prefix: u8,
    /// Index of the enclosing network, or [`NONE`].
    pub parent: u32,
    /// The caller's value (the head of the indicator list).
    pub value: u32,
    /// The caller's second value (the first indicator's attributes).
    pub extra: u32,
}

/// A range of addresses from `start` to the next range's start, and the
/// most specific network covering it ([`NONE`] for a gap), with that
/// network's prefix and second value copied in: a lookup that wants only
/// the best match reads the index and this array, nothing else (the
/// network's address is `start` with its host bits cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range<K> {
    start: K,
    label: u32,
    extra: u32,
    prefix: u8,
}

impl<K: Key> Range<K> {
    /// The network's second value.
    pub fn extra(&self) -> u32 {
        self.extra
    }
    /// The network's prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    /// An address inside the network (the range's start).
    pub fn start(&self) -> K {
        self.start
    }
}

/// The compiled table of one family.
#[derive(Debug, Clone)]
pub(crate) struct RangeTable<K> {
    /// Every distinct network, sorted by (address, prefix).
    nets: Vec<Net<K>>,
    /// The ranges, by start; the first starts at [`Key::ZERO`].
    ranges: Vec<Range<K>>,
    /// `index[b]`: the range holding the first address of bucket `b`;
    /// `index[buckets]` is the last range. Empty when there are no nets.
    index: Vec<u32>,
    /// The second range's start: the index covers `lo..`.
    lo: u128,
    /// Bucket `b` starts at `lo + (b << shift)`.
    shift: u32,
}

impl<K: Key> RangeTable<K> {
    /// Build from networks `(addr, prefix, value, extra)`; `addr` must have
    /// its host bits clear. When one network is given twice, the first
    /// values are kept (callers chain duplicates themselves).
    pub fn build(mut input: Vec<(K, u8, u32, u32)>) -> Self {
        input.sort_unstable_by_key(|a| (a.0, a.1));
        input.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
        let mut nets: Vec<Net<K>> = Vec::with_capacity(input.len());
        let mut ranges: Vec<Range<K>> = Vec::with_capacity(input.len() * 2 + 1);
        if input.is_empty() {
            return Self {
                nets,
                ranges,
                index: Vec::new(),
                lo: 0,
                shift: 0,
            };
        }
        push(&mut ranges, K::ZERO, NONE);
        // The networks open at this point, outermost first: (last address, index).
        let mut open: Vec<(K, u32)> = Vec::new();
        for (addr, prefix, value, extra) in input {
            let i = nets.len() as u32;
            close_before(&mut open, Some(addr), &mut ranges);
            let parent = open.last().map_or(NONE, |o| o.1);
            nets.push(Net {
                addr,
                prefix,
                parent,
                value,
                extra,
            });
            push(&mut ranges, addr, i);
            open.push((addr.last(prefix), i));
        }
        close_before(&mut open, None, &mut ranges);
        for r in ranges.iter_mut() {
            if let Some(n) = nets.get(r.label as usize) {
                r.extra = n.extra;
                r.prefix = n.prefix;
            }
        }
        ranges.shrink_to_fit();
        let lo = ranges.get(1).map_or(0, |r| r.start.wide());
        let hi = ranges.last().map_or(0, |r| r.start.wide());
        let span_bits = 128 - (hi - lo).leading_zeros();
        let bits =
            (usize::BITS - ranges.len().leading_zeros()).clamp(MIN_BUCKET_BITS, MAX_BUCKET_BITS);
        let buckets = 1usize << bits;
        let shift = span_bits.saturating_sub(bits);
        let mut index = Vec::with_capacity(buckets + 1);
        let mut r = 0usize;
        for b in 0..buckets {
            let first = lo.saturating_add((b as u128).checked_shl(shift).unwrap_or(u128::MAX));
            while ranges.get(r + 1).is_some_and(|x| x.start.wide() <= first) {
                r += 1;
            }
            index.push(r as u32);
        }
        index.push((ranges.len() - 1) as u32);
        Self {
            nets,
            ranges,
            index,
            lo,
            shift,
        }
    }

    /// The most specific network containing `addr` (an index for
    /// [`RangeTable::net`]), or [`NONE`].
    #[inline]
    pub fn lookup(&self, addr: K) -> u32 {
        self.range(addr).map_or(NONE, |r| r.label)
    }

    /// The range holding `addr` (its label [`NONE`] when no network
    /// covers it).
    #[inline]
    pub fn range(&self, addr: K) -> Option<&Range<K>> {
        let k = addr.wide();
        if k < self.lo {
            // Only the first range starts at or below it.
            return self.ranges.first();
        }
        // The index has buckets + 1 entries; the last bucket takes the rest.
        let last = self.index.len().saturating_sub(2) as u128;
        let b = ((k - self.lo).checked_shr(self.shift).unwrap_or(0)).min(last) as usize;
        let (Some(&from), Some(&to)) = (self.index.get(b), self.index.get(b + 1)) else {
            return None;
        };
        let run = self.ranges.get(from as usize..=to as usize)?;
        // The last start <= addr; run[0].start <= addr holds by
        // construction of the index (the range holding the bucket's first
        // address).
        let mut base = 0usize;
        let mut size = run.len();
        while size > 1 {
            let half = size / 2;
            let mid = base + half;
            if run.get(mid).is_some_and(|r| r.start <= addr) {
                base = mid;
            }
            size -= half;
        }
        run.get(base)
    }

    /// Network `i` (from [`RangeTable::lookup`] or [`Net::parent`]).
    #[inline]
    pub fn net(&self, i: u32) -> Option<&Net<K>> {
        self.nets.get(i as usize)
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.nets.capacity() * std::mem::size_of::<Net<K>>()
            + self.ranges.capacity() * std::mem::size_of::<Range<K>>()
            + self.index.capacity() * 4
    }
}

/// Append a range starting at `start` labelled `label`; a later range with
/// the same start replaces the one before (it is more specific), and a
/// range labelled as the one before it merges into it.
fn push<K: Key>(ranges: &mut Vec<Range<K>>, start: K, label: u32) {
    if ranges.last().is_some_and(|r| r.start == start) {
        ranges.pop();
    }
    if ranges.last().is_some_and(|r| r.label == label) {
        return;
    }
    ranges.push(Range {
        start,
        label,
        extra: NONE,
        prefix: 0,
    });
}

/// Close the open networks that end before `next` (all of them when
/// `next` is `None`), starting the range after each one's end labelled
/// with the network that encloses it.
fn close_before<K: Key>(open: &mut Vec<(K, u32)>, next: Option<K>, ranges: &mut Vec<Range<K>>) {
    while let Some(&(last, _)) = open.last() {
        if next.is_some_and(|n| n <= last) {
            break;
        }
        open.pop();
        if let Some(after) = last.succ() {
            let label = open.last().map_or(NONE, |o| o.1);
            push(ranges, after, label);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicator::IpNet;
    use proptest::prelude::*;

    fn v4(s: &str) -> (u32, u8) {
        match IpNet::parse(s).unwrap() {
            IpNet::V4(a, p) => (a, p),
            IpNet::V6(..) => panic!("not v4"),
        }
    }

    fn table(nets: &[&str]) -> RangeTable<u32> {
        RangeTable::build(
            nets.iter()
                .enumerate()
                .map(|(i, n)| {
                    let (a, p) = v4(n);
                    (a, p, i as u32, 0)
                })
                .collect(),
        )
    }

    fn hit(t: &RangeTable<u32>, ip: &str) -> Option<String> {
        let a = u32::from(ip.parse::<std::net::Ipv4Addr>().unwrap());
        let i = t.lookup(a);
        t.net(i).map(|n| IpNet::V4(n.addr, n.prefix).to_string())
    }

    #[test]
    fn nested_networks_give_the_longest_prefix() {
        let t = table(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.3",
            "0.0.0.0/0",
            "255.255.255.255",
        ]);
        assert_eq!(hit(&t, "10.1.2.3").as_deref(), Some("10.1.2.3"));
        assert_eq!(hit(&t, "10.1.2.4").as_deref(), Some("10.1.0.0/16"));
        assert_eq!(hit(&t, "10.2.0.0").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(hit(&t, "11.0.0.0").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(
            hit(&t, "255.255.255.255").as_deref(),
            Some("255.255.255.255")
        );
        assert_eq!(hit(&t, "255.255.255.254").as_deref(), Some("0.0.0.0/0"));
        // The chain of parents lists every covering network.
        let a = u32::from("10.1.2.3".parse::<std::net::Ipv4Addr>().unwrap());
        let mut i = t.lookup(a);
        let mut chain = Vec::new();
        while let Some(n) = t.net(i) {
            chain.push(n.prefix);
            i = n.parent;
        }
        assert_eq!(chain, vec![32, 16, 8, 0]);
    }

    #[test]
    fn gaps_and_empty_tables_miss() {
        let t = table(&["192.0.2.0/24"]);
        assert_eq!(hit(&t, "192.0.1.255"), None);
        assert_eq!(hit(&t, "192.0.3.0"), None);
        assert_eq!(hit(&t, "192.0.2.128").as_deref(), Some("192.0.2.0/24"));
        let empty = table(&[]);
        assert_eq!(hit(&empty, "1.2.3.4"), None);
    }

    fn naive<K: Key>(nets: &[(K, u8)], addr: K) -> Option<u8> {
        nets.iter()
            .filter(|(a, p)| *a <= addr && addr <= a.last(*p))
            .map(|(_, p)| *p)
            .max()
    }

    proptest! {
        #[test]
        fn v4_agrees_with_a_naive_scan(
            raw in prop::collection::vec((any::<u32>(), 0u8..=32), 0..200),
            queries in prop::collection::vec(any::<u32>(), 0..200),
        ) {
            // Cluster addresses so that nesting and adjacency happen often.
            let nets: Vec<(u32, u8)> = raw.iter()
                .map(|(a, p)| (a & 0xff0f_00ff & crate::indicator::mask32(*p), *p))
                .collect();
            let t = RangeTable::build(nets.iter().map(|(a, p)| (*a, *p, 0, 0)).collect());
            let probes = queries.iter().map(|q| q & 0xff0f_00ff)
                .chain(nets.iter().flat_map(|(a, p)| [*a, a.last(*p), a.wrapping_sub(1), a.last(*p).wrapping_add(1)]));
            for q in probes {
                let got = t.net(t.lookup(q)).map(|n| n.prefix);
                prop_assert_eq!(got, naive(&nets, q), "query {:#x}", q);
            }
        }

        #[test]
        fn v6_agrees_with_a_naive_scan(
            raw in prop::collection::vec((any::<u128>(), 0u8..=128), 0..100),
            queries in prop::collection::vec(any::<u128>(), 0..100),
        ) {
            let squeeze = |a: u128| a & 0xffff_0000_0000_0000_0000_0000_0000_00ff | 0x2001_0000_0000_0000_0000_0000_0000_0000;
            let nets: Vec<(u128, u8)> = raw.iter()
                .map(|(a, p)| (squeeze(*a) & crate::indicator::mask128(*p), *p))
                .collect();
            let t = RangeTable::build(nets.iter().map(|(a, p)| (*a, *p, 0, 0)).collect());
            let probes = queries.iter().map(|q| squeeze(*q))
                .chain(nets.iter().flat_map(|(a, p)| [*a, a.last(*p), a.wrapping_sub(1), a.last(*p).wrapping_add(1)]));
            for q in probes {
                let got = t.net(t.lookup(q)).map(|n| n.prefix);
                prop_assert_eq!(got, naive(&nets, q), "query {:#x}", q);
            }
        }
    }
}
