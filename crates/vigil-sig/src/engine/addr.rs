//! Rule addresses and ports compiled to sorted interval sets, so a header
//! test is a binary search whatever the list size (the IP reputation rules
//! of ET Open carry hundreds of addresses each). Set algebra follows
//! [`AddrSpec::matches`]: a list is the union of its positive items (all
//! addresses when it has none) minus its negated items.

use std::net::IpAddr;

use crate::rule::{AddrSpec, PortSpec};

/// Sorted, disjoint, inclusive intervals over `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Intervals<T> {
    ranges: Vec<(T, T)>,
}

/// The integer domains the intervals cover.
pub(crate) trait Domain: Copy + Ord + std::fmt::Debug {
    /// Smallest value.
    const MIN: Self;
    /// Largest value.
    const MAX: Self;
    /// `self + 1`, `None` at the top.
    fn succ(self) -> Option<Self>;
    /// `self - 1`, `None` at the bottom.
    fn pred(self) -> Option<Self>;
}

macro_rules! domain {
    ($t:ty) => {
        impl Domain for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    };
}
domain!(u16);
domain!(u32);
domain!(u128);

impl<T: Domain> Intervals<T> {
    /// The empty set.
    pub fn empty() -> Self {
        Self { ranges: Vec::new() }
    }

    /// Every value.
    pub fn all() -> Self {
        Self {
            ranges: vec![(T::MIN, T::MAX)],
        }
    }

    /// `[lo, hi]`.
    pub fn range(lo: T, hi: T) -> Self {
        if lo <= hi {
            Self {
                ranges: vec![(lo, hi)],
            }
        } else {
            Self::empty()
        }
    }

    /// True when the set holds every value.
    pub fn is_all(&self) -> bool {
        self.ranges == [(T::MIN, T::MAX)]
    }

    /// Membership.
    pub fn contains(&self, v: T) -> bool {
        let i = self.ranges.partition_point(|&(lo, _)| lo <= v);
        i > 0 && self.ranges.get(i - 1).is_some_and(|&(_, hi)| v <= hi)
    }

    fn normalize(mut ranges: Vec<(T, T)>) -> Self {
        ranges.sort_unstable();
        let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match out.last_mut() {
                Some(last) if last.1.succ().is_none_or(|n| lo <= n) => {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                }
                _ => out.push((lo, hi)),
            }
        }
        Self { ranges: out }
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &Self) -> Self {
        Self::normalize(self.ranges.iter().chain(&other.ranges).copied().collect())
    }

    /// The complement.
    pub fn complement(&self) -> Self {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = Some(T::MIN);
        for &(lo, hi) in &self.ranges {
            if let Some(n) = next {
                if n < lo {
                    if let Some(p) = lo.pred() {
                        out.push((n, p));
                    }
                }
            }
            next = hi.succ();
        }
        if let Some(n) = next {
            out.push((n, T::MAX));
        }
        Self { ranges: out }
    }

    /// `self ∖ other`.
    pub fn minus(&self, other: &Self) -> Self {
        self.complement().union(other).complement()
    }
}

/// A compiled address set.
#[derive(Debug, Clone)]
pub(crate) struct AddrSet {
    v4: Intervals<u32>,
    v6: Intervals<u128>,
    any: bool,
}

impl AddrSet {
    /// Compile a rule's address spec.
    pub fn new(spec: &AddrSpec) -> Self {
        let (v4, v6) = Self::sets(spec);
        let any = v4.is_all() && v6.is_all();
        Self { v4, v6, any }
    }

    fn sets(spec: &AddrSpec) -> (Intervals<u32>, Intervals<u128>) {
        match spec {
            AddrSpec::Any => (Intervals::all(), Intervals::all()),
            AddrSpec::Net(net) => match net.addr {
                IpAddr::V4(a) => {
                    let lo = u32::from(a);
                    let host = u32::MAX.checked_shr(u32::from(net.prefix)).unwrap_or(0);
                    (Intervals::range(lo, lo | host), Intervals::empty())
                }
                IpAddr::V6(a) => {
                    let lo = u128::from(a);
                    let host = u128::MAX.checked_shr(u32::from(net.prefix)).unwrap_or(0);
                    (Intervals::empty(), Intervals::range(lo, lo | host))
                }
            },
            AddrSpec::Not(inner) => {
                let (a, b) = Self::sets(inner);
                (a.complement(), b.complement())
            }
            AddrSpec::List(items) => {
                let (mut p4, mut p6) = (Intervals::empty(), Intervals::empty());
                let (mut n4, mut n6) = (Intervals::empty(), Intervals::empty());
                let mut any_positive = false;
                for item in items {
                    match item {
                        AddrSpec::Not(inner) => {
                            let (a, b) = Self::sets(inner);
                            n4 = n4.union(&a);
                            n6 = n6.union(&b);
                        }
                        other => {
                            any_positive = true;
                            let (a, b) = Self::sets(other);
                            p4 = p4.union(&a);
                            p6 = p6.union(&b);
                        }
                    }
                }
                if !any_positive {
                    p4 = Intervals::all();
                    p6 = Intervals::all();
                }
                (p4.minus(&n4), p6.minus(&n6))
            }
        }
    }

    /// True when every address is in the set.
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Membership; an IPv4-mapped IPv6 address is looked up as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.any {
            return true;
        }
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.contains(u32::from(v4)),
                None => self.v6.contains(u128::from(a)),
            },
        }
    }
}

/// A compiled port set.
#[derive(Debug, Clone)]
pub(crate) struct PortSet {
    set: Intervals<u16>,
    any: bool,
}

impl PortSet {
    /// Compile a rule's port spec.
    pub fn new(spec: &PortSpec) -> Self {
        let set = Self::set(spec);
        let any = set.is_all();
        Self { set, any }
    }

    fn set(spec: &PortSpec) -> Intervals<u16> {
        match spec {
            PortSpec::Any => Intervals::all(),
            PortSpec::Range(lo, hi) => Intervals::range(*lo, *hi),
            PortSpec::Not(inner) => Self::set(inner).complement(),
            PortSpec::List(items) => {
                let mut pos = Intervals::empty();
                let mut neg = Intervals::empty();
                let mut any_positive = false;
                for item in items {
                    match item {
                        PortSpec::Not(inner) => neg = neg.union(&Self::set(inner)),
                        other => {
                            any_positive = true;
                            pos = pos.union(&Self::set(other));
                        }
                    }
                }
                if !any_positive {
                    pos = Intervals::all();
                }
                pos.minus(&neg)
            }
        }
    }

    /// Membership; a port-less endpoint (ICMP) matches any port spec, as
    /// Suricata ignores ports there.
    pub fn contains(&self, port: Option<u16>) -> bool {
        self.any || port.is_none_or(|p| self.set.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Cidr;

    fn net(s: &str, p: u8) -> AddrSpec {
        AddrSpec::Net(Cidr::new(s.parse().unwrap(), p).unwrap())
    }

    #[test]
    fn sets_agree_with_spec_matches() {
        let specs = [
            AddrSpec::Any,
            net("10.0.0.0", 8),
            AddrSpec::Not(Box::new(net("10.0.0.0", 8))),
            AddrSpec::List(vec![
                net("10.0.0.0", 8),
                AddrSpec::Not(Box::new(net("10.1.1.1", 32))),
            ]),
            AddrSpec::List(vec![
                AddrSpec::Not(Box::new(net("1.1.1.1", 32))),
                net("2001:db8::", 32),
            ]),
            AddrSpec::List(vec![AddrSpec::Not(Box::new(AddrSpec::List(vec![net(
                "10.0.0.0", 8,
            )])))]),
            AddrSpec::List(vec![net("0.0.0.0", 0), net("::", 0)]),
        ];
        let ips = [
            "10.1.1.1",
            "10.2.3.4",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "2001:db8::5",
            "::1",
            "::ffff:10.9.9.9",
            "0.0.0.0",
            "255.255.255.255",
        ];
        for spec in &specs {
            let set = AddrSet::new(spec);
            for ip in ips {
                let ip: IpAddr = ip.parse().unwrap();
                assert_eq!(set.contains(ip), spec.matches(ip), "{spec} {ip}");
            }
        }
    }

    #[test]
    fn port_sets_agree_with_spec_matches() {
        let specs = [
            PortSpec::Any,
            PortSpec::Range(80, 90),
            PortSpec::Not(Box::new(PortSpec::Range(0, 1023))),
            PortSpec::List(vec![
                PortSpec::Range(80, 90),
                PortSpec::Not(Box::new(PortSpec::Range(85, 85))),
            ]),
            PortSpec::List(vec![PortSpec::Not(Box::new(PortSpec::Range(443, 443)))]),
        ];
        for spec in &specs {
            let set = PortSet::new(spec);
            for p in [0u16, 79, 80, 85, 90, 91, 443, 1023, 1024, 65535] {
                assert_eq!(set.contains(Some(p)), spec.matches(p), "{spec} {p}");
            }
            assert!(set.contains(None));
        }
    }
}
