//! What one group remembers about its window, per correlation kind, and
//! the number each kind's threshold is tested against: events in the window
//! (`event_count`), distinct values (`value_count`), rules matched
//! (`temporal`), leading rules of the sequence matched in order
//! (`temporal_ordered`). Every aggregate is bounded: at most
//! `max_window_events` entries and `evidence_limit` kept event ids.
//!
//! Times are event-time nanoseconds. `expire(before)` drops what is older
//! than `before` (the window start); entries at exactly `before` stay, so a
//! window of length T ending at t is the closed interval [t − T, t].

use std::collections::VecDeque;

use super::table::Lru;

/// Bounds every aggregate honours.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Event ids kept as evidence per group.
    pub evidence: usize,
    /// Entries (distinct event times, distinct values) per group window.
    pub window: usize,
}

/// A group's aggregate.
#[derive(Debug)]
pub(crate) enum Agg {
    Count(CountAgg),
    Values(ValuesAgg),
    Temporal(TemporalAgg),
    Ordered(OrderedAgg),
}

/// Events in the window: their times (equal times share one entry) and
/// the newest event ids.
#[derive(Debug, Default)]
pub(crate) struct CountAgg {
    times: VecDeque<(i64, u32)>,
    count: u64,
    evidence: VecDeque<(i64, String)>,
}

/// Distinct values in the window, each with the time and id of its latest
/// event, least recently seen first.
#[derive(Debug, Default)]
pub(crate) struct ValuesAgg {
    values: Lru<(i64, Option<String>)>,
}

/// The latest event of each rule of the set.
#[derive(Debug)]
pub(crate) struct TemporalAgg {
    last: Vec<Option<(i64, Option<String>)>>,
}

/// For each prefix of the sequence, the latest-starting chain that matched
/// it in order: its start time and the ids of its events.
#[derive(Debug)]
pub(crate) struct OrderedAgg {
    prefix: Vec<Option<(i64, Vec<Option<String>>)>>,
}

/// What an aggregate shows when it fires.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The number the threshold was tested against.
    pub metric: u64,
    /// Input events the aggregate holds (for `event_count` the metric).
    pub events: u64,
    /// Oldest event time in the window.
    pub first: Option<i64>,
    /// Evidence ids, oldest first, at most the evidence limit.
    pub ids: Vec<String>,
    /// Distinct values (value_count), newest last, at most the evidence limit.
    pub values: Vec<String>,
    /// Indexes of the input rules matched (temporal kinds), in rule order.
    pub rules: Vec<usize>,
}

impl Agg {
    pub(crate) fn count() -> Self {
        Agg::Count(CountAgg::default())
    }

    pub(crate) fn values() -> Self {
        Agg::Values(ValuesAgg::default())
    }

    pub(crate) fn temporal(n: usize) -> Self {
        Agg::Temporal(TemporalAgg {
            last: (0..n).map(|_| None).collect(),
        })
    }

    pub(crate) fn ordered(n: usize) -> Self {
        Agg::Ordered(OrderedAgg {
            prefix: (0..n).map(|_| None).collect(),
        })
    }

    /// Add one input event. Returns true when a bound made the aggregate
    /// approximate (window entries full).
    pub(crate) fn add(
        &mut self,
        input: usize,
        time: i64,
        value: Option<&str>,
        uid: Option<&str>,
        limits: Limits,
    ) -> bool {
        match self {
            Agg::Count(a) => a.add(time, uid, limits),
            Agg::Values(a) => value.is_some_and(|v| a.add(time, v, uid, limits)),
            Agg::Temporal(a) => {
                if let Some(slot) = a.last.get_mut(input) {
                    *slot = Some((time, uid.map(str::to_owned)));
                }
                false
            }
            Agg::Ordered(a) => {
                a.add(input, time, uid);
                false
            }
        }
    }

    /// Drop what is older than `before`.
    pub(crate) fn expire(&mut self, before: i64) {
        match self {
            Agg::Count(a) => a.expire(before),
            Agg::Values(a) => a.expire(before),
            Agg::Temporal(a) => {
                for slot in &mut a.last {
                    if slot.as_ref().is_some_and(|(t, _)| *t < before) {
                        *slot = None;
                    }
                }
            }
            Agg::Ordered(a) => {
                for slot in &mut a.prefix {
                    if slot.as_ref().is_some_and(|(t, _)| *t < before) {
                        *slot = None;
                    }
                }
            }
        }
    }

    /// The number the threshold is tested against.
    pub(crate) fn metric(&self) -> u64 {
        match self {
            Agg::Count(a) => a.count,
            Agg::Values(a) => a.values.len() as u64,
            Agg::Temporal(a) => a.last.iter().filter(|s| s.is_some()).count() as u64,
            Agg::Ordered(a) => a
                .prefix
                .iter()
                .rposition(Option::is_some)
                .map_or(0, |i| i as u64 + 1),
        }
    }

    /// True when the window holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Agg::Count(a) => a.count == 0,
            Agg::Values(a) => a.values.len() == 0,
            Agg::Temporal(a) => a.last.iter().all(Option::is_none),
            Agg::Ordered(a) => a.prefix.iter().all(Option::is_none),
        }
    }

    /// Forget everything (a consumed threshold, a closed window).
    pub(crate) fn clear(&mut self) {
        match self {
            Agg::Count(a) => {
                a.times.clear();
                a.count = 0;
                a.evidence.clear();
            }
            Agg::Values(a) => a.values.clear(),
            Agg::Temporal(a) => a.last.iter_mut().for_each(|s| *s = None),
            Agg::Ordered(a) => a.prefix.iter_mut().for_each(|s| *s = None),
        }
    }

    /// What the aggregate shows now.
    pub(crate) fn snapshot(&self, limits: Limits) -> Snapshot {
        let mut s = Snapshot {
            metric: self.metric(),
            ..Snapshot::default()
        };
        match self {
            Agg::Count(a) => {
                s.events = a.count;
                s.first = a.times.front().map(|(t, _)| *t);
                s.ids = a.evidence.iter().map(|(_, id)| id.clone()).collect();
            }
            Agg::Values(a) => {
                s.events = a.values.len() as u64;
                s.first = a.values.front().and_then(|i| a.values.get(i)).map(|v| v.0);
                // The newest values, listed oldest first.
                let mut newest = Vec::new();
                let mut cur = a.values.back();
                while let Some(i) = cur {
                    if newest.len() >= limits.evidence {
                        break;
                    }
                    newest.push(i);
                    cur = a.values.prev_of(i);
                }
                newest.reverse();
                for i in newest {
                    s.values.push(a.values.key(i).to_owned());
                    if let Some((_, Some(id))) = a.values.get(i) {
                        s.ids.push(id.clone());
                    }
                }
            }
            Agg::Temporal(a) => {
                let mut seen: Vec<(i64, usize, Option<&String>)> = a
                    .last
                    .iter()
                    .enumerate()
                    .filter_map(|(i, slot)| slot.as_ref().map(|(t, id)| (*t, i, id.as_ref())))
                    .collect();
                s.rules = seen.iter().map(|(_, i, _)| *i).collect();
                s.events = seen.len() as u64;
                s.first = seen.iter().map(|(t, _, _)| *t).min();
                seen.sort_by_key(|(t, i, _)| (*t, *i));
                s.ids = seen
                    .iter()
                    .filter_map(|(_, _, id)| id.cloned())
                    .take(limits.evidence)
                    .collect();
            }
            Agg::Ordered(a) => {
                if let Some((start, chain)) = a.prefix.iter().rev().flatten().next() {
                    s.first = Some(*start);
                    s.events = chain.len() as u64;
                    s.rules = (0..chain.len()).collect();
                    s.ids = chain
                        .iter()
                        .flatten()
                        .take(limits.evidence)
                        .cloned()
                        .collect();
                }
            }
        }
        s
    }

    /// Heap bytes this aggregate owns.
    pub(crate) fn heap_bytes(&self) -> usize {
        fn opt_id(id: &Option<String>) -> usize {
            id.as_ref().map_or(0, String::capacity)
        }
        match self {
            Agg::Count(a) => {
                a.times.capacity() * std::mem::size_of::<(i64, u32)>()
                    + a.evidence.capacity() * std::mem::size_of::<(i64, String)>()
                    + a.evidence.iter().map(|(_, s)| s.capacity()).sum::<usize>()
            }
            Agg::Values(a) => {
                a.values.own_heap_bytes()
                    + a.values
                        .iter()
                        .map(|(_, (_, id))| opt_id(id))
                        .sum::<usize>()
            }
            Agg::Temporal(a) => {
                a.last.capacity() * std::mem::size_of::<Option<(i64, Option<String>)>>()
                    + a.last
                        .iter()
                        .flatten()
                        .map(|(_, id)| opt_id(id))
                        .sum::<usize>()
            }
            Agg::Ordered(a) => {
                a.prefix.capacity() * std::mem::size_of::<Option<(i64, Vec<Option<String>>)>>()
                    + a.prefix
                        .iter()
                        .flatten()
                        .map(|(_, chain)| {
                            chain.capacity() * std::mem::size_of::<Option<String>>()
                                + chain.iter().map(opt_id).sum::<usize>()
                        })
                        .sum::<usize>()
            }
        }
    }
}

impl CountAgg {
    fn add(&mut self, time: i64, uid: Option<&str>, limits: Limits) -> bool {
        self.count += 1;
        let mut overflow = false;
        let full = self.times.len() >= limits.window;
        match self.times.back_mut() {
            Some(last) if last.0 == time => last.1 = last.1.saturating_add(1),
            Some(last) if full => {
                // Full: the newest event shares the newest kept time and
                // will leave the window with it (counted by the caller).
                last.1 = last.1.saturating_add(1);
                overflow = true;
            }
            _ => self.times.push_back((time, 1)),
        }
        if let Some(uid) = uid {
            if limits.evidence > 0 {
                if self.evidence.len() >= limits.evidence {
                    // Reuse the oldest id's allocation.
                    if let Some((_, mut s)) = self.evidence.pop_front() {
                        s.clear();
                        s.push_str(uid);
                        self.evidence.push_back((time, s));
                    }
                } else {
                    self.evidence.push_back((time, uid.to_owned()));
                }
            }
        }
        overflow
    }

    fn expire(&mut self, before: i64) {
        while let Some(&(t, n)) = self.times.front() {
            if t >= before {
                break;
            }
            self.times.pop_front();
            self.count = self.count.saturating_sub(u64::from(n));
        }
        while self.evidence.front().is_some_and(|(t, _)| *t < before) {
            self.evidence.pop_front();
        }
    }
}

impl ValuesAgg {
    fn add(&mut self, time: i64, value: &str, uid: Option<&str>, limits: Limits) -> bool {
        match self.values.find(value) {
            Some(i) => {
                if let Some(v) = self.values.get_mut(i) {
                    v.0 = time;
                    match (&mut v.1, uid) {
                        (Some(s), Some(u)) => {
                            s.clear();
                            s.push_str(u);
                        }
                        (slot, u) => *slot = u.map(str::to_owned),
                    }
                }
                self.values.touch(i);
                false
            }
            None if self.values.len() >= limits.window => true,
            None => {
                self.values.insert(value, (time, uid.map(str::to_owned)));
                false
            }
        }
    }

    fn expire(&mut self, before: i64) {
        while let Some(i) = self.values.front() {
            if self.values.get(i).is_some_and(|v| v.0 < before) {
                self.values.remove(i);
            } else {
                break;
            }
        }
    }
}

impl OrderedAgg {
    fn add(&mut self, step: usize, time: i64, uid: Option<&str>) {
        let id = uid.map(str::to_owned);
        if step == 0 {
            if let Some(slot) = self.prefix.get_mut(0) {
                *slot = Some((time, vec![id]));
            }
            return;
        }
        // Extend the latest-starting chain of the previous step: its start
        // is the latest possible, so the span is the shortest possible.
        let extended = match self.prefix.get(step - 1) {
            Some(Some((start, chain))) => {
                let mut chain = chain.clone();
                chain.push(id);
                Some((*start, chain))
            }
            _ => None,
        };
        if let (Some(ext), Some(slot)) = (extended, self.prefix.get_mut(step)) {
            *slot = Some(ext);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        evidence: 3,
        window: 4,
    };

    #[test]
    fn count_window_is_closed_at_both_ends() {
        let mut a = Agg::count();
        for (t, id) in [(0, "a"), (5, "b"), (10, "c")] {
            a.add(0, t, None, Some(id), L);
        }
        a.expire(0);
        assert_eq!(a.metric(), 3, "an event at exactly the window start stays");
        a.expire(1);
        assert_eq!(a.metric(), 2);
        let s = a.snapshot(L);
        assert_eq!(s.first, Some(5));
        assert_eq!(s.ids, ["b", "c"]);
    }

    #[test]
    fn count_evidence_and_entries_are_bounded() {
        let mut a = Agg::count();
        let mut overflowed = false;
        for t in 0..10 {
            overflowed |= a.add(0, t, None, Some(&format!("e{t}")), L);
        }
        assert!(overflowed);
        assert_eq!(a.metric(), 10, "count is kept even when entries are full");
        assert_eq!(a.snapshot(L).ids, ["e7", "e8", "e9"]);
        // Equal times share one entry without overflow.
        let mut b = Agg::count();
        for _ in 0..10 {
            assert!(!b.add(0, 7, None, None, L));
        }
        assert_eq!(b.metric(), 10);
        b.expire(8);
        assert!(b.is_empty());
    }

    #[test]
    fn values_count_distinct_and_expire_by_latest_use() {
        let mut a = Agg::values();
        a.add(0, 0, Some("x"), Some("1"), L);
        a.add(0, 1, Some("y"), Some("2"), L);
        a.add(0, 2, Some("x"), Some("3"), L);
        assert_eq!(a.metric(), 2);
        a.expire(2);
        assert_eq!(a.metric(), 1, "y was last seen at 1");
        let s = a.snapshot(L);
        assert_eq!(s.values, ["x"]);
        assert_eq!(s.ids, ["3"]);
        for (i, v) in ["p", "q", "r", "s", "t"].iter().enumerate() {
            a.add(0, 3 + i as i64, Some(v), None, L);
        }
        assert_eq!(a.metric(), 4, "bounded by the window limit");
    }

    #[test]
    fn ordered_needs_the_order() {
        let mut a = Agg::ordered(3);
        a.add(1, 0, None, Some("b0"), L);
        assert_eq!(a.metric(), 0, "step 2 before step 1 does not count");
        a.add(0, 1, None, Some("a1"), L);
        a.add(2, 2, None, Some("c2"), L);
        assert_eq!(a.metric(), 1, "step 3 without step 2");
        a.add(1, 3, None, Some("b3"), L);
        a.add(0, 4, None, Some("a4"), L);
        a.add(2, 5, None, Some("c5"), L);
        assert_eq!(a.metric(), 3);
        let s = a.snapshot(L);
        assert_eq!(s.ids, ["a1", "b3", "c5"]);
        assert_eq!(s.first, Some(1));
        a.expire(2);
        assert_eq!(a.metric(), 1, "the chain started at 1 left; a4 remains");
    }

    #[test]
    fn temporal_counts_rules() {
        let mut a = Agg::temporal(3);
        a.add(2, 0, None, Some("c"), L);
        a.add(2, 1, None, Some("c2"), L);
        a.add(0, 2, None, Some("a"), L);
        assert_eq!(a.metric(), 2);
        let s = a.snapshot(L);
        assert_eq!(s.rules, [0, 2]);
        assert_eq!(s.ids, ["c2", "a"]);
        a.expire(2);
        assert_eq!(a.metric(), 1);
        assert!(a.heap_bytes() > 0);
    }
}
