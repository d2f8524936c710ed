//! One correlation rule at run time: its reorder buffer (events wait there
//! until the rule's horizon, newest event time minus lateness, passes
//! them), its groups in least recently seen order, and one timer per group
//! (window close, absence deadline, or when the group may be forgotten).
//! Events and timers are taken in event-time order, so a rule sees its
//! input sorted whatever order it arrived in (within the lateness).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use vigil_event::Event;

use super::agg::{Agg, Limits};
use super::build::{Compiled, Fire, Kind, Role};
use super::meta::{self, Firing};
use super::table::Lru;
use super::Filter;

/// An input event waiting in a rule's reorder buffer: what the rule needs
/// of it, already read (group key, value, id).
#[derive(Debug)]
pub(crate) struct Pending {
    pub time: i64,
    pub seq: u64,
    pub input: usize,
    pub key: String,
    pub value: Option<String>,
    pub uid: Option<String>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// Counters of one rule.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub events: u64,
    pub late: u64,
    pub missing_group: u64,
    pub filtered: u64,
    pub evictions: u64,
    pub fired: u64,
    pub suppressed: u64,
    pub window_overflow: u64,
    pub buffer_forced: u64,
    pub groups_peak: usize,
    pub buffer_peak: usize,
}

/// A group's state besides its aggregate.
#[derive(Debug)]
pub(crate) struct Group {
    agg: Agg,
    last_seen: i64,
    /// `window_end`: start of the open window.
    window_start: Option<i64>,
    /// `absence` with `after`: when the wait began.
    wait: Option<i64>,
    /// `absence` without `after`: a silence deadline is pending.
    armed: bool,
    /// `once_per`: the time unit of the last firing.
    fire_unit: Option<i64>,
    /// Suppressed until this time (exclusive); `i64::MIN` when not.
    quiet_until: i64,
    /// Firings suppressed since the last emitted one.
    suppressed: u64,
    /// Time of this group's live timer entry (`i64::MAX`: none).
    sched: i64,
}

/// Per-call context: bounds, the watermark, and where firings go.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub limits: Limits,
    pub watermark: i64,
    pub out: &'a mut Vec<Event>,
    pub pool: &'a mut Vec<String>,
}

/// A rule at run time.
pub(crate) struct RuleState {
    pub c: Compiled,
    pub groups: Lru<Group>,
    timers: BinaryHeap<Reverse<(i64, u32, u32)>>,
    buffer: BinaryHeap<Reverse<Pending>>,
    /// Time of the newest event processed; older arrivals are late.
    pub released: i64,
    pub filter: Option<Filter>,
    seq: u64,
    pub counters: Counters,
}

impl std::fmt::Debug for RuleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleState")
            .field("id", &self.c.id)
            .field("groups", &self.groups.len())
            .field("buffered", &self.buffer.len())
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

impl RuleState {
    pub(crate) fn new(c: Compiled) -> Self {
        Self {
            c,
            groups: Lru::default(),
            timers: BinaryHeap::new(),
            buffer: BinaryHeap::new(),
            released: i64::MIN,
            filter: None,
            seq: 0,
            counters: Counters::default(),
        }
    }

    fn new_agg(&self) -> Agg {
        match self.c.kind {
            Kind::EventCount | Kind::Absence => Agg::count(),
            Kind::ValueCount => Agg::values(),
            Kind::Temporal => Agg::temporal(self.c.step_ids.len()),
            Kind::TemporalOrdered => Agg::ordered(self.c.step_ids.len()),
        }
    }

    /// Events waiting in the reorder buffer.
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Queue an input event (already checked for lateness).
    pub(crate) fn enqueue(&mut self, p: Pending) {
        self.buffer.push(Reverse(p));
        self.counters.buffer_peak = self.counters.buffer_peak.max(self.buffer.len());
    }

    /// Take every event and timer due by `horizon` (events at or before it,
    /// timers strictly before it), in time order; with `horizon` `None`
    /// (end of input) take everything. Then, if the buffer is over
    /// `max_buffered`, release its oldest events early.
    pub(crate) fn pump(&mut self, horizon: Option<i64>, max_buffered: usize, ctx: &mut Ctx<'_>) {
        loop {
            let next = self.buffer.peek().map(|Reverse(p)| p.time);
            let next = next.filter(|&t| horizon.is_none_or(|h| t <= h));
            if !self.step(next, horizon, ctx) {
                break;
            }
        }
        while self.buffer.len() > max_buffered {
            let next = self.buffer.peek().map(|Reverse(p)| p.time);
            self.counters.buffer_forced += 1;
            // Timers before the forced event, then the event.
            while self.step_timer_before(next, ctx) {}
            self.take_event(ctx);
        }
    }

    /// One step: a due timer before `next` (the next releasable event
    /// time), or that event. False when nothing is due.
    fn step(&mut self, next: Option<i64>, horizon: Option<i64>, ctx: &mut Ctx<'_>) -> bool {
        let limit = next.or(horizon);
        let end = next.is_none() && horizon.is_none();
        if let Some(&Reverse((d, _, _))) = self.timers.peek() {
            if end || limit.is_some_and(|l| d < l) {
                self.run_timer(limit, end, ctx);
                return true;
            }
        }
        if next.is_some() {
            self.take_event(ctx);
            return true;
        }
        false
    }

    fn step_timer_before(&mut self, next: Option<i64>, ctx: &mut Ctx<'_>) -> bool {
        match (self.timers.peek(), next) {
            (Some(&Reverse((d, _, _))), Some(t)) if d < t => {
                self.run_timer(Some(t), false, ctx);
                true
            }
            _ => false,
        }
    }

    fn take_event(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(Reverse(p)) = self.buffer.pop() {
            self.process(
                p.input,
                p.time,
                &p.key,
                p.value.as_deref(),
                p.uid.as_deref(),
                ctx,
            );
            ctx.pool.push(p.key);
            if let Some(v) = p.value {
                ctx.pool.push(v);
            }
            if let Some(u) = p.uid {
                ctx.pool.push(u);
            }
        }
    }

    /// The group for `key`, created (evicting the least recently seen
    /// group when full) unless `create` is false.
    fn group(&mut self, key: &str, create: bool) -> Option<u32> {
        if let Some(i) = self.groups.find(key) {
            self.groups.touch(i);
            return Some(i);
        }
        if !create {
            return None;
        }
        if self.groups.len() >= self.c.max_groups {
            if let Some(oldest) = self.groups.front() {
                self.groups.remove(oldest);
                self.counters.evictions += 1;
            }
        }
        let g = Group {
            agg: self.new_agg(),
            last_seen: i64::MIN,
            window_start: None,
            wait: None,
            armed: false,
            fire_unit: None,
            quiet_until: i64::MIN,
            suppressed: 0,
            sched: i64::MAX,
        };
        let i = self.groups.insert(key, g);
        self.counters.groups_peak = self.counters.groups_peak.max(self.groups.len());
        Some(i)
    }

    /// Process one input event, in time order.
    fn process(
        &mut self,
        input: usize,
        time: i64,
        key: &str,
        value: Option<&str>,
        uid: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) {
        self.released = self.released.max(time);
        let Some(role) = self.c.inputs.get(input).map(|i| i.role) else {
            return;
        };
        let span = self.c.span;
        let limits = ctx.limits;
        if self.c.kind == Kind::Absence {
            let waiting_mode = self.c.after_id.is_some();
            // An expected event where nothing waits needs no group.
            let create = !waiting_mode || role == Role::After;
            let Some(idx) = self.group(key, create) else {
                return;
            };
            let Some(g) = self.groups.get_mut(idx) else {
                return;
            };
            match (waiting_mode, role) {
                (true, Role::After) => {
                    if g.wait.is_none() {
                        g.wait = Some(time);
                        g.agg.clear();
                    }
                    g.agg.add(0, time, None, uid, limits);
                    g.last_seen = time;
                }
                (true, Role::Step(_)) => {
                    if g.wait.take().is_some() {
                        g.agg.clear();
                    }
                }
                (false, _) => {
                    g.agg.expire(time.saturating_sub(span));
                    if g.agg.add(0, time, None, uid, limits) {
                        self.counters.window_overflow += 1;
                    }
                    g.last_seen = time;
                    g.armed = true;
                }
            }
            self.reschedule(idx);
            return;
        }
        let Some(idx) = self.group(key, true) else {
            return;
        };
        let step = match role {
            Role::Step(i) => i,
            Role::After => 0,
        };
        let Some(g) = self.groups.get_mut(idx) else {
            return;
        };
        let holds = |n: u64| self.c.threshold.as_ref().is_some_and(|t| t.holds(n));
        if self.c.fire == Fire::WindowEnd {
            if g.window_start.is_none() {
                g.window_start = Some(time);
                g.agg.clear();
            }
            if g.agg.add(step, time, value, uid, limits) {
                self.counters.window_overflow += 1;
            }
            g.last_seen = time;
            self.reschedule(idx);
            return;
        }
        g.agg.expire(time.saturating_sub(span));
        let was_empty = g.agg.is_empty();
        let before = !was_empty && holds(g.agg.metric());
        if g.agg.add(step, time, value, uid, limits) {
            self.counters.window_overflow += 1;
        }
        g.last_seen = time;
        let now = holds(g.agg.metric());
        let fire = match self.c.fire {
            Fire::FirstEvent => was_empty,
            Fire::EveryEvent | Fire::EveryThreshold => now,
            Fire::FirstThreshold => now && !before,
            Fire::OncePer(unit) => {
                let u = time.div_euclid(unit.max(1));
                if now && g.fire_unit != Some(u) {
                    g.fire_unit = Some(u);
                    true
                } else {
                    false
                }
            }
            Fire::WindowEnd => false,
        };
        if fire {
            self.fire(idx, time, (time.saturating_sub(span), time), false, ctx);
            if self.c.fire == Fire::EveryThreshold {
                if let Some(g) = self.groups.get_mut(idx) {
                    g.agg.clear();
                }
            }
        }
        self.reschedule(idx);
    }

    /// Emit (or suppress) a firing of group `idx` at `time`.
    fn fire(&mut self, idx: u32, time: i64, window: (i64, i64), end: bool, ctx: &mut Ctx<'_>) {
        let c = &self.c;
        let Some(g) = self.groups.get_mut(idx) else {
            return;
        };
        self.counters.fired += 1;
        if time < g.quiet_until {
            g.suppressed += 1;
            self.counters.suppressed += 1;
            return;
        }
        let suppressed_before = std::mem::take(&mut g.suppressed);
        if c.suppress > 0 {
            g.quiet_until = time.saturating_add(c.suppress);
        }
        let snap = g.agg.snapshot(ctx.limits);
        let last_seen = g.last_seen;
        self.seq += 1;
        ctx.out.push(meta::build(Firing {
            rule: c,
            key: self.groups.key(idx),
            time,
            window,
            last_seen,
            snap,
            suppressed_before,
            after_end_of_input: end,
            seq: self.seq,
        }));
    }

    /// When group `g` next needs attention, and whether that is an
    /// obligation (a window to close, a deadline) or only the time after
    /// which it may be forgotten.
    fn desired(c: &Compiled, g: &Group) -> (i64, bool) {
        let span = c.span;
        let obligation = match (c.kind, c.fire) {
            (Kind::Absence, _) if c.after_id.is_some() => g.wait.map(|s| s.saturating_add(span)),
            (Kind::Absence, _) => g.armed.then(|| g.last_seen.saturating_add(span)),
            (_, Fire::WindowEnd) => g.window_start.map(|s| s.saturating_add(span)),
            _ => None,
        };
        if let Some(d) = obligation {
            return (d, true);
        }
        let mut keep = match (c.kind, c.fire) {
            (Kind::Absence, _) | (_, Fire::WindowEnd) => i64::MIN,
            _ => g.last_seen.saturating_add(span),
        };
        if let (Fire::OncePer(unit), Some(u)) = (c.fire, g.fire_unit) {
            keep = keep.max(u.saturating_add(1).saturating_mul(unit));
        }
        (keep.max(g.quiet_until), false)
    }

    fn reschedule(&mut self, idx: u32) {
        let generation = self.groups.generation(idx);
        let Some(g) = self.groups.get_mut(idx) else {
            return;
        };
        let (d, _) = Self::desired(&self.c, g);
        if d < g.sched {
            g.sched = d;
            self.timers.push(Reverse((d, idx, generation)));
        }
    }

    /// Pop the earliest timer and act on it: everything of the group due
    /// before `limit` (or everything, at `end`).
    fn run_timer(&mut self, limit: Option<i64>, end: bool, ctx: &mut Ctx<'_>) {
        let Some(Reverse((t, idx, generation))) = self.timers.pop() else {
            return;
        };
        if self.groups.generation(idx) != generation {
            return;
        }
        match self.groups.get_mut(idx) {
            Some(g) if g.sched == t => g.sched = i64::MAX,
            _ => return,
        }
        loop {
            let Some(g) = self.groups.get_mut(idx) else {
                return;
            };
            let (d, obligation) = Self::desired(&self.c, g);
            // Later than this entry: back into the heap, so other groups'
            // earlier timers go first.
            let due = d <= t && (end || limit.is_some_and(|l| d < l));
            if !due {
                g.sched = d;
                self.timers.push(Reverse((d, idx, generation)));
                return;
            }
            if !obligation {
                self.groups.remove(idx);
                return;
            }
            let after_end = end && d > ctx.watermark;
            match (self.c.kind, self.c.after_id.is_some()) {
                (Kind::Absence, true) => {
                    let start = g.wait.take().unwrap_or(d);
                    self.fire(idx, d, (start, d), after_end, ctx);
                }
                (Kind::Absence, false) => {
                    g.armed = false;
                    let start = g.last_seen;
                    self.fire(idx, d, (start, d), after_end, ctx);
                }
                _ => {
                    let start = g.window_start.take().unwrap_or(d);
                    let metric = g.agg.metric();
                    let holds = self.c.threshold.as_ref().is_some_and(|t| t.holds(metric));
                    if holds {
                        self.fire(idx, d, (start, d), after_end, ctx);
                    }
                }
            }
            if let Some(g) = self.groups.get_mut(idx) {
                g.agg.clear();
            }
        }
    }

    /// Bytes per open group: the group table's share (slots, hash table,
    /// key text), each aggregate's heap, and the timer heap's share.
    pub(crate) fn bytes_per_group(&self) -> usize {
        let n = self.groups.len();
        if n == 0 {
            return 0;
        }
        let aggs: usize = self.groups.iter().map(|(_, g)| g.agg.heap_bytes()).sum();
        let timers = self.timers.capacity() * std::mem::size_of::<(i64, u32, u32)>();
        (self.groups.own_heap_bytes() + aggs + timers) / n
    }
}
