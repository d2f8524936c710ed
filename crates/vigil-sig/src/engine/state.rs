//! The engine's bounded state: per-flow (flowbits, how far each stream
//! direction was inspected, whether IP-only rules ran) and per-rule
//! threshold counters, both in event time. When a table is full the oldest
//! sixteenth of its entries is evicted at once (amortized, no scan per
//! insert) and counted.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::FixedState;

use crate::rule::{DetectionFilter, ThresholdKind};

/// Flows with state kept at once.
pub(crate) const MAX_FLOWS: usize = 65_536;
/// Flowbits set on one flow at once (more are counted, not kept).
pub(crate) const MAX_BITS_PER_FLOW: usize = 64;
/// Threshold entries kept at once.
pub(crate) const MAX_THRESHOLDS: usize = 65_536;

/// Most carried stream prefilter hits per flow direction; more are counted
/// (`sig.stream_carry_overflow`) and their rules are not re-evaluated.
pub(crate) const MAX_CARRY: usize = 256;

/// A stream prefilter hit kept for the next stream point: the variant
/// (group, pattern, case variant) and the stream offset where its last
/// occurrence starts. While that offset lies in the repeated tail of the
/// next point, the variant's rules are candidates there without a rescan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Carry {
    pub group: u32,
    pub pattern: u32,
    pub variant: u32,
    pub start: u64,
}

/// What the engine keeps for one flow.
#[derive(Debug, Default)]
pub(crate) struct FlowState {
    /// Set flowbits (ids, sorted).
    pub bits: Vec<u32>,
    /// Per direction (to responder, to originator): stream position up to
    /// which stream data was inspected.
    pub stream_seen: [Option<u64>; 2],
    /// Per direction: IP-only rules already evaluated.
    pub iponly_done: [bool; 2],
    /// Per direction: the stream prefilter hits of the last stream point
    /// (see `Carry`), so the next point scans only its new bytes.
    pub carry: [Vec<Carry>; 2],
    /// Event time of the last use (ns), for eviction.
    pub last_ns: i64,
}

impl FlowState {
    /// Is bit `id` set?
    pub fn has(&self, id: u32) -> bool {
        self.bits.binary_search(&id).is_ok()
    }

    /// Set bit `id`; false when the flow already holds the most bits it may.
    pub fn set(&mut self, id: u32) -> bool {
        match self.bits.binary_search(&id) {
            Ok(_) => true,
            Err(_) if self.bits.len() >= MAX_BITS_PER_FLOW => false,
            Err(i) => {
                self.bits.insert(i, id);
                true
            }
        }
    }

    /// Clear bit `id`.
    pub fn unset(&mut self, id: u32) {
        if let Ok(i) = self.bits.binary_search(&id) {
            self.bits.remove(i);
        }
    }
}

/// Per-flow state by flow uid.
#[derive(Debug, Default)]
pub(crate) struct FlowTable {
    map: HashMap<Box<str>, FlowState, FixedState>,
    /// Flows evicted while still open.
    pub evicted: u64,
    /// Evicted flows that held flowbits.
    pub evicted_with_bits: u64,
}

impl FlowTable {
    /// The state of `uid`, created when absent (evicting when full);
    /// always `Some` (an `Option` only because the map cannot hand out the
    /// entry without an owned key).
    pub fn get_or_insert(&mut self, uid: &str, now_ns: i64) -> Option<&mut FlowState> {
        if !self.map.contains_key(uid) {
            if self.map.len() >= MAX_FLOWS {
                self.evict();
            }
            // The only allocation: once per flow.
            self.map.insert(Box::from(uid), FlowState::default());
        }
        let st = self.map.get_mut(uid)?;
        st.last_ns = st.last_ns.max(now_ns);
        Some(st)
    }

    /// The state of `uid` when there is some.
    pub fn get(&self, uid: &str) -> Option<&FlowState> {
        self.map.get(uid)
    }

    /// Drop the state of `uid`.
    pub fn remove(&mut self, uid: &str) {
        self.map.remove(uid);
    }

    /// Flows with state.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    fn evict(&mut self) {
        let mut times: Vec<i64> = self.map.values().map(|s| s.last_ns).collect();
        let k = (times.len() / 16).max(1).min(times.len().saturating_sub(1));
        let (_, cut, _) = times.select_nth_unstable(k);
        let cut = *cut;
        let before = self.map.len();
        let mut with_bits = 0;
        self.map.retain(|_, s| {
            let keep = s.last_ns > cut;
            if !keep && !s.bits.is_empty() {
                with_bits += 1;
            }
            keep
        });
        self.evicted += (before - self.map.len()) as u64;
        self.evicted_with_bits += with_bits;
    }
}

/// What a threshold counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TrackKey {
    /// One address (by_src, by_dst).
    Ip(IpAddr),
    /// A pair (by_both).
    Pair(IpAddr, IpAddr),
    /// The rule alone (by_rule).
    Rule,
    /// A flow (by_flow), by a hash of its uid.
    Flow(u64),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Window start (ns).
    start_ns: i64,
    count: u32,
}

/// The limiting rule of a threshold entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limiter {
    /// `threshold`.
    Threshold(ThresholdKind, u32, u32),
    /// `detection_filter`.
    Filter(DetectionFilter),
}

/// Threshold and detection-filter counters by (rule, tracked key).
#[derive(Debug, Default)]
pub(crate) struct ThresholdTable {
    map: HashMap<(u32, u8, TrackKey), Entry, FixedState>,
    /// Entries evicted before their window ended.
    pub evicted: u64,
    /// Alerts suppressed by thresholds and detection filters.
    pub suppressed: u64,
}

impl ThresholdTable {
    /// Count a match of rule `rule` for `key` at `now_ns` and say whether
    /// it alerts, with Suricata's semantics (`detect-engine-threshold.c`):
    /// - limit: the first `count` matches of each window alert;
    /// - threshold: every `count`-th match within a window alerts;
    /// - both: the `count`-th match of a window alerts, once;
    /// - detection_filter: matches after the first `count` within the window alert.
    ///
    /// A window starts at the first match after the previous one expired.
    /// `slot` tells a rule's threshold (0) from its detection filter (1).
    pub fn check(
        &mut self,
        rule: u32,
        slot: u8,
        key: TrackKey,
        limiter: Limiter,
        now_ns: i64,
    ) -> bool {
        let (count, seconds) = match limiter {
            Limiter::Threshold(_, c, s) => (c, s),
            Limiter::Filter(f) => (f.count, f.seconds),
        };
        let window = i64::from(seconds) * 1_000_000_000;
        let k = (rule, slot, key);
        if !self.map.contains_key(&k) && self.map.len() >= MAX_THRESHOLDS {
            self.evict(now_ns);
        }
        // A new entry starts "expired" so the first match opens a window.
        let e = self.map.entry(k).or_insert(Entry {
            start_ns: i64::MIN,
            count: 0,
        });
        if now_ns.saturating_sub(e.start_ns) < window {
            e.count = e.count.saturating_add(1);
        } else {
            e.start_ns = now_ns;
            e.count = 1;
        }
        let alert = match limiter {
            Limiter::Threshold(ThresholdKind::Limit, ..) => e.count <= count,
            Limiter::Threshold(ThresholdKind::Threshold, ..) => {
                let hit = e.count >= count;
                if hit {
                    // The count restarts after each alert, within the same window.
                    e.count = 0;
                }
                hit
            }
            Limiter::Threshold(ThresholdKind::Both, ..) => e.count == count,
            Limiter::Filter(_) => e.count > count,
        };
        if !alert {
            self.suppressed += 1;
        }
        alert
    }

    fn evict(&mut self, now_ns: i64) {
        let before = self.map.len();
        // Entries whose window is long over hold nothing worth keeping:
        // drop those older than an hour first, then the oldest sixteenth.
        let hour = 3_600 * 1_000_000_000i64;
        self.map
            .retain(|_, e| now_ns.saturating_sub(e.start_ns) <= hour);
        if self.map.len() >= MAX_THRESHOLDS {
            let mut times: Vec<i64> = self.map.values().map(|e| e.start_ns).collect();
            let k = (times.len() / 16).max(1).min(times.len().saturating_sub(1));
            let (_, cut, _) = times.select_nth_unstable(k);
            let cut = *cut;
            self.map.retain(|_, e| e.start_ns > cut);
        }
        self.evicted += (before - self.map.len()) as u64;
    }

    /// Entries kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}
