//! Bounded state shared by the detectors: keyed event-time windows
//! ([`Windows`]), a least-recently-used map ([`Lru`]) and a capped distinct
//! set ([`CappedSet`]). Every structure has a limit; what goes over it is
//! evicted (and counted) or saturates (and says so), never kept.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::Hash;

/// The hash maps of the tables: foldhash, randomly seeded per process, is
/// several times faster than SipHash on these small keys (addresses, names)
/// and still not predictable from the traffic.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// Per-key bookkeeping of one window, around the detector's state `S`.
#[derive(Debug, Clone)]
pub(crate) struct Slot<S> {
    /// Event time (ns) the window was opened at: its first record's time.
    pub start: i64,
    /// Earliest record time in the window (a late record can precede `start`).
    pub first: i64,
    /// Latest record time in the window.
    pub last: i64,
    /// Windows in a row before this one that raised a finding for the key.
    pub streak: u32,
    /// The detector's count summed over those earlier alerted windows.
    pub earlier_total: u64,
    /// The detector's state.
    pub state: S,
}

/// Why a window closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Event time moved past its end (a later record of the key, a tick or
    /// a record of another key), or the input ended.
    Ended,
    /// The table was full and this was the oldest window.
    Evicted,
}

/// Tumbling windows per key, in event time, with at most `limit` keys.
///
/// A key's window opens at its first record and covers `len` ns from there.
/// A record of the key at or after the end closes the window and opens the
/// next (which inherits the streak when the closed one alerted). A record
/// earlier than the window's start (flow records arrive when the flow ends,
/// stamped with its start) is folded into the open window. Windows with no
/// record past their end close once event time is `grace` ns past it. When
/// the table is full the window that opened first is closed early and
/// counted as evicted: its verdict is still given, over what it holds.
#[derive(Debug)]
pub(crate) struct Windows<K, S> {
    slots: HashMap<K, Slot<S>>,
    by_start: BTreeSet<(i64, K)>,
    limit: usize,
    len: i64,
    grace: i64,
    /// Windows opened.
    pub opened: u64,
    /// Windows closed early because the table was full.
    pub evicted: u64,
}

impl<K: Clone + Ord + Hash, S: Default> Windows<K, S> {
    /// A table of windows `len_ns` long, closed `grace_ns` after their end.
    pub fn new(limit: usize, len_ns: i64, grace_ns: i64) -> Self {
        Self {
            slots: HashMap::default(),
            by_start: BTreeSet::new(),
            limit: limit.max(1),
            len: len_ns.max(1),
            grace: grace_ns.max(0),
            opened: 0,
            evicted: 0,
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The open window of `key` for a record at `t`, opening one (and
    /// closing what must close first through `on_close`, which returns the
    /// count to carry when the closed window alerted).
    pub fn record(
        &mut self,
        key: &K,
        t: i64,
        on_close: &mut impl FnMut(&K, Slot<S>, Close) -> Option<u64>,
    ) -> &mut Slot<S> {
        let mut carry = (0u32, 0u64);
        let ended = self.slots.get(key).is_some_and(|s| t >= s.start + self.len);
        if ended {
            if let Some(slot) = self.slots.remove(key) {
                self.by_start.remove(&(slot.start, key.clone()));
                let (streak, earlier) = (slot.streak, slot.earlier_total);
                if let Some(n) = on_close(key, slot, Close::Ended) {
                    carry = (streak + 1, earlier + n);
                }
            }
        }
        if !self.slots.contains_key(key) {
            while self.slots.len() >= self.limit {
                let Some((start, oldest)) = self.by_start.pop_first() else {
                    break;
                };
                if let Some(slot) = self.slots.remove(&oldest) {
                    debug_assert_eq!(slot.start, start);
                    self.evicted += 1;
                    on_close(&oldest, slot, Close::Evicted);
                }
            }
            self.opened += 1;
            self.by_start.insert((t, key.clone()));
            self.slots.insert(
                key.clone(),
                Slot {
                    start: t,
                    first: t,
                    last: t,
                    streak: carry.0,
                    earlier_total: carry.1,
                    state: S::default(),
                },
            );
        }
        // Invariant: the key was inserted just above when it was missing.
        #[allow(clippy::expect_used)]
        let slot = self.slots.get_mut(key).expect("slot present");
        slot.first = slot.first.min(t);
        slot.last = slot.last.max(t);
        slot
    }

    /// Close every window whose end plus grace is at or before `now`.
    pub fn advance(
        &mut self,
        now: i64,
        on_close: &mut impl FnMut(&K, Slot<S>, Close) -> Option<u64>,
    ) {
        while let Some((start, _)) = self.by_start.first() {
            if start.saturating_add(self.len).saturating_add(self.grace) > now {
                break;
            }
            let Some((_, key)) = self.by_start.pop_first() else {
                break;
            };
            if let Some(slot) = self.slots.remove(&key) {
                on_close(&key, slot, Close::Ended);
            }
        }
    }

    /// Close every window, oldest first.
    pub fn finish(&mut self, on_close: &mut impl FnMut(&K, Slot<S>, Close) -> Option<u64>) {
        while let Some((_, key)) = self.by_start.pop_first() {
            if let Some(slot) = self.slots.remove(&key) {
                on_close(&key, slot, Close::Ended);
            }
        }
    }
}

/// A map that keeps at most `limit` keys, evicting the least recently used
/// one (counted).
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    map: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    seq: u64,
    limit: usize,
    /// Keys evicted because the map was full.
    pub evicted: u64,
}

impl<K: Clone + Eq + Hash, V> Lru<K, V> {
    /// An empty map holding at most `limit` keys.
    pub fn new(limit: usize) -> Self {
        Self {
            map: HashMap::default(),
            order: BTreeMap::new(),
            seq: 0,
            limit: limit.max(1),
            evicted: 0,
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether `key` is held (does not count as a use).
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// The value of `key`, marked most recently used; created with `make`
    /// when missing (evicting the least recently used key if full).
    pub fn get_or_insert_with(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V {
        self.seq += 1;
        let seq = self.seq;
        if let Some((_, used)) = self.map.get_mut(key) {
            self.order.remove(used);
            *used = seq;
        } else {
            while self.map.len() >= self.limit {
                let Some((_, old)) = self.order.pop_first() else {
                    break;
                };
                self.map.remove(&old);
                self.evicted += 1;
            }
            self.map.insert(key.clone(), (make(), seq));
        }
        self.order.insert(seq, key.clone());
        // Invariant: the key is present: found or inserted just above.
        #[allow(clippy::expect_used)]
        let entry = self.map.get_mut(key).expect("entry present");
        &mut entry.0
    }

    /// Remove least recently used keys while `stale` says so; returns how
    /// many were removed.
    pub fn expire(&mut self, mut stale: impl FnMut(&V) -> bool) -> u64 {
        let mut n = 0;
        while let Some((&seq, key)) = self.order.first_key_value() {
            let is_stale = self.map.get(key).is_none_or(|(v, _)| stale(v));
            if !is_stale {
                break;
            }
            if let Some(key) = self.order.remove(&seq) {
                self.map.remove(&key);
            }
            n += 1;
        }
        n
    }
}

/// Distinct values up to a cap; past it new values are only counted as
/// overflow, so `len` is a lower bound and `saturated` says so.
#[derive(Debug, Clone)]
pub(crate) struct CappedSet<T> {
    set: HashSet<T>,
    /// Values not added because the set was full.
    pub overflow: u64,
}

impl<T> Default for CappedSet<T> {
    fn default() -> Self {
        Self {
            set: HashSet::default(),
            overflow: 0,
        }
    }
}

impl<T: Eq + Hash> CappedSet<T> {
    /// Add `value` unless the set holds `cap` values already; returns
    /// whether it was new.
    pub fn insert(&mut self, value: T, cap: usize) -> bool {
        if self.set.contains(&value) {
            return false;
        }
        if self.set.len() >= cap {
            self.overflow += 1;
            return false;
        }
        self.set.insert(value)
    }

    /// Distinct values held.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the cap was reached (the true distinct count may be higher).
    pub fn saturated(&self) -> bool {
        self.overflow > 0
    }
}

/// The first `cap` values, in arrival order: samples for a finding's evidence.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample<T>(pub VecDeque<T>);

impl<T: PartialEq> Sample<T> {
    /// Keep `value` if it is new and fewer than `cap` are kept.
    pub fn offer(&mut self, value: T, cap: usize) {
        if self.0.len() < cap && !self.0.contains(&value) {
            self.0.push_back(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_closes_on_a_later_record_and_carries_the_streak() {
        let mut w: Windows<u8, u64> = Windows::new(10, 100, 0);
        let mut closed = Vec::new();
        let mut on_close = |k: &u8, s: Slot<u64>, c: Close| {
            closed.push((*k, s.start, s.state, s.streak, c));
            Some(s.state)
        };
        w.record(&1, 0, &mut on_close).state += 5;
        w.record(&1, 99, &mut on_close).state += 1;
        let slot = w.record(&1, 100, &mut on_close);
        assert_eq!((slot.streak, slot.earlier_total), (1, 6));
        assert_eq!(closed, vec![(1, 0, 6, 0, Close::Ended)]);
    }

    #[test]
    fn late_records_fold_into_the_open_window() {
        let mut w: Windows<u8, u64> = Windows::new(10, 100, 0);
        let mut on_close = |_: &u8, _: Slot<u64>, _: Close| None;
        w.record(&1, 50, &mut on_close);
        let slot = w.record(&1, 10, &mut on_close);
        assert_eq!((slot.start, slot.first, slot.last), (50, 10, 50));
    }

    #[test]
    fn advance_waits_for_the_grace() {
        let mut w: Windows<u8, ()> = Windows::new(10, 100, 50);
        let mut n = 0;
        let mut on_close = |_: &u8, _: Slot<()>, _: Close| {
            n += 1;
            None
        };
        w.record(&1, 0, &mut on_close);
        w.advance(149, &mut on_close);
        assert_eq!(w.len(), 1);
        w.advance(150, &mut on_close);
        assert_eq!(w.len(), 0);
        assert_eq!(n, 1);
    }

    #[test]
    fn full_table_evicts_the_oldest_window() {
        let mut w: Windows<u32, ()> = Windows::new(3, 100, 0);
        let mut evicted = Vec::new();
        let mut on_close = |k: &u32, _: Slot<()>, c: Close| {
            if c == Close::Evicted {
                evicted.push(*k);
            }
            None
        };
        for k in 0..5u32 {
            w.record(&k, i64::from(k), &mut on_close);
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.evicted, 2);
        assert_eq!(evicted, vec![0, 1]);
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut m: Lru<u8, u8> = Lru::new(2);
        m.get_or_insert_with(&1, || 1);
        m.get_or_insert_with(&2, || 2);
        m.get_or_insert_with(&1, || 0);
        m.get_or_insert_with(&3, || 3);
        assert!(m.contains(&1) && m.contains(&3) && !m.contains(&2));
        assert_eq!(m.evicted, 1);
        assert_eq!(m.expire(|v| *v == 1), 1);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn capped_set_saturates() {
        let mut s = CappedSet::default();
        for v in 0..10u16 {
            s.insert(v, 4);
        }
        assert_eq!(s.len(), 4);
        assert!(s.saturated());
    }
}
