//! [`ConditionSet`]: many compiled conditions, indexed so that an event
//! meets only the conditions that can match it.
//!
//! Two indexes, both built from the compiled conditions when the set is
//! first matched after a change:
//!
//! - **By class.** The classes a condition can match follow from the fields
//!   it needs (a test on a field the event's class lacks is false) and from
//!   explicit `class_uid == N` / `class_uid in [..]` tests: intersected
//!   under `and`, joined under `or`, any class under `not`.
//! - **By required literal.** Where every match of a condition needs a
//!   field to hold some literal — an equality, or a `contains`, `startswith`,
//!   `endswith`, or a regex whose matches all start with one of a few
//!   literals, under an `and` — the condition is filed under that literal:
//!   per text field one multi-pattern automaton (Aho-Corasick, ASCII case
//!   folded, so it serves both case-sensitive and case-insensitive tests),
//!   per number or address field a hash table of values. An `or` is filed
//!   under every branch's literal; a condition without one is evaluated on
//!   every event of its classes.
//!
//! An event's candidates are its class's unfiled conditions plus the
//! conditions whose literals occur in it; only those are evaluated, so the
//! result is exactly what evaluating every condition would give (the tests
//! check this against one-by-one evaluation).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use vigil_event::fields::{FieldDef, FieldType, FieldValue};
use vigil_event::Event;

use crate::ast::{CmpOp, Expr};

use super::anchors::{Anchors, Pos};
use super::compile::{compile_spanned, Node, Src};
use super::matcher::Net;
use super::{CompileError, Condition};

/// Many compiled conditions, each with a caller's id, indexed so that an
/// event is evaluated only against the conditions that can match it: by
/// event class (from the fields a condition needs, or its `class_uid` test)
/// and by the literal, number, address or network every match of it needs
/// (looked up in the event's values). [`ConditionSet::matches`] gives
/// exactly the ids whose conditions hold.
///
/// ```
/// use vigil_rules::expr::{self, ConditionSet};
/// let mut set = ConditionSet::new();
/// set.add(1, &expr::parse(r#"http_request.user_agent icontains "sqlmap""#).unwrap()).unwrap();
/// set.add(2, &expr::parse(r#"query.hostname iendswith ".onion""#).unwrap()).unwrap();
/// set.add(3, &expr::parse("http_response.code >= 500").unwrap()).unwrap();
/// let http = vigil_event::fields::samples().into_iter().find(|e| e.class_uid == 4002).unwrap();
/// let mut out = Vec::new();
/// set.matches(&http, &mut out);
/// assert_eq!(out, [1, 3]);
/// ```
#[derive(Default)]
pub struct ConditionSet {
    conds: Vec<(usize, Condition)>,
    index: OnceLock<Index>,
}

impl fmt::Debug for ConditionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionSet")
            .field("conditions", &self.conds.len())
            .field("stats", &self.index.get().map(|i| i.stats))
            .finish()
    }
}

/// How a [`ConditionSet`] indexed its conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetStats {
    /// Conditions in the set.
    pub conditions: usize,
    /// Conditions filed under required literals (evaluated only when one occurs).
    pub by_literal: usize,
    /// Conditions evaluated on every event of their classes.
    pub by_class: usize,
    /// Conditions evaluated on every event (no class could be inferred).
    pub any_class: usize,
    /// Conditions that can never match (no class fits them).
    pub never: usize,
    /// Distinct text literals filed.
    pub text_literals: usize,
    /// Distinct anchors they are filed under (see the module docs).
    pub text_anchors: usize,
    /// Distinct number and address values in the tables.
    pub value_literals: usize,
}

impl ConditionSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compile `e` and add it under `id`. Ids need not be dense or added
    /// in order; an id added twice is reported once when either matches.
    pub fn add(&mut self, id: usize, e: &Expr) -> Result<(), CompileError> {
        let c = compile_spanned(e, None)?;
        self.add_compiled(id, c);
        Ok(())
    }

    /// Add an already compiled condition under `id`.
    pub fn add_compiled(&mut self, id: usize, c: Condition) {
        self.conds.push((id, c));
        self.index = OnceLock::new();
    }

    /// Number of conditions.
    pub fn len(&self) -> usize {
        self.conds.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.conds.is_empty()
    }

    /// How the conditions are indexed (builds the index if needed).
    pub fn stats(&self) -> SetStats {
        self.index().stats
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::build(&self.conds))
    }

    /// Replace `out` with the ids of the conditions `event` satisfies, in
    /// ascending order.
    ///
    /// An event whose `class_uid` disagrees with its record kind (possible
    /// only in hand-made JSON) is checked against every condition, so the
    /// class index never hides a match.
    pub fn matches(&self, event: &Event, out: &mut Vec<usize>) {
        out.clear();
        let idx = self.index();
        let class = event.class_uid;
        if class != event.body.ocsf_class().0 {
            out.extend(0..idx.order.len());
        } else {
            let always = idx.always.get(&class).unwrap_or(&idx.universal);
            out.extend(always.iter().map(|&s| s as usize));
            for tf in &idx.text {
                if !tf.field.in_class(class) {
                    continue;
                }
                tf.field.for_each(event, &mut |v| {
                    if let FieldValue::Str(text) = v {
                        tf.anchors.scan(text.as_bytes(), &mut |slots: &[u32]| {
                            out.extend(slots.iter().map(|&s| s as usize));
                        });
                        if !tf.wide.is_empty() && !text.is_ascii() {
                            out.extend(tf.wide.iter().map(|&s| s as usize));
                        }
                    }
                    true
                });
            }
            for vf in &idx.values {
                if !vf.field.in_class(class) {
                    continue;
                }
                vf.field.for_each(event, &mut |v| {
                    let mut look = |key: Key| {
                        if let Some(slots) = vf.map.get(&key) {
                            out.extend(slots.iter().map(|&s| s as usize));
                        }
                    };
                    match v {
                        FieldValue::Int(i) => look(Key::Int(i)),
                        FieldValue::Ip(ip) => {
                            look(Key::Ip(ip.to_canonical()));
                            if vf.has_nets {
                                net_keys(ip).into_iter().flatten().for_each(look);
                            }
                        }
                        _ => {}
                    }
                    true
                });
            }
            out.sort_unstable();
            out.dedup();
        }
        out.retain(|&slot| {
            idx.order
                .get(slot)
                .and_then(|&i| self.conds.get(i))
                .is_some_and(|(_, c)| c.matches(event))
        });
        for slot in out.iter_mut() {
            *slot = idx
                .order
                .get(*slot)
                .and_then(|&i| self.conds.get(i))
                .map_or(usize::MAX, |(id, _)| *id);
        }
        // Slots are in id order, so the ids are already sorted.
        out.dedup();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Ip(IpAddr),
    /// An IPv4 address's first 16 bits (networks of /8 to /32).
    Net4(u16),
    /// An IPv6 address's first 32 bits (networks of /24 to /128).
    Net6(u32),
}

/// The network keys of `ip` (its own and, for an IPv4-mapped IPv6 address,
/// its IPv4 address's, as [`Net::contains`] tests both).
fn net_keys(ip: IpAddr) -> [Option<Key>; 2] {
    let key = |ip: IpAddr| match ip {
        IpAddr::V4(a) => Key::Net4((u32::from(a) >> 16) as u16),
        IpAddr::V6(a) => Key::Net6((u128::from(a) >> 96) as u32),
    };
    let canonical = ip.to_canonical();
    [Some(key(ip)), (canonical != ip).then(|| key(canonical))]
}

/// The keys of a network: the /16 (IPv4) or /32 (IPv6) prefixes it covers,
/// at most 256 of them; None for a wider network.
fn net_prefixes(net: &Net) -> Option<Vec<Key>> {
    match *net {
        Net::V4 { net, mask } => {
            let prefix = mask.count_ones();
            let spread = 16u32.saturating_sub(prefix);
            if spread > 8 {
                return None;
            }
            let base = net >> 16;
            Some(
                (0..1u32 << spread)
                    .map(|k| Key::Net4((base | k) as u16))
                    .collect(),
            )
        }
        Net::V6 { net, mask } => {
            let prefix = mask.count_ones();
            let spread = 32u32.saturating_sub(prefix);
            if spread > 8 {
                return None;
            }
            let base = (net >> 96) as u32;
            Some((0..1u32 << spread).map(|k| Key::Net6(base | k)).collect())
        }
    }
}

/// One literal a matching event must hold.
enum Alt {
    /// `field` holds `text` at `pos` (ASCII case folded); `wide` when a
    /// non-ASCII value could hold it through Unicode case folding.
    Text {
        field: &'static FieldDef,
        text: Vec<u8>,
        pos: Pos,
        wide: bool,
    },
    /// `field` has the value `key`.
    Value { field: &'static FieldDef, key: Key },
}

impl Alt {
    /// How selective the literal is: longer text is rarer; an address or
    /// a network is fairly selective, a number (a port) less.
    fn score(&self) -> usize {
        match self {
            Alt::Text { text, .. } => text.len().min(32),
            Alt::Value { key, .. } => match key {
                Key::Ip(_) => 8,
                Key::Net4(_) | Key::Net6(_) => 6,
                Key::Int(_) => 2,
            },
        }
    }
}

/// Literals one of which every match holds, with the weakest one's score.
struct Requirement {
    alts: Vec<Alt>,
    score: usize,
}

impl Requirement {
    fn new(alts: Vec<Alt>) -> Self {
        let score = alts.iter().map(Alt::score).min().unwrap_or(usize::MAX);
        Self { alts, score }
    }
}

/// The longest run of `text` that must occur, ASCII case folded, in any
/// value that holds `text` under Unicode case folding (or `lower()`): the
/// whole text when it is ASCII, else its longest ASCII run. `wide` when the
/// run has a letter whose folding reaches outside ASCII (k, s, and i for
/// `lower()` of U+0130).
fn folded_run(text: &[u8]) -> (Vec<u8>, bool) {
    let run = text
        .split(|b| !b.is_ascii())
        .max_by_key(|r| r.len())
        .unwrap_or(&[]);
    let wide = run
        .iter()
        .any(|b| matches!(b.to_ascii_lowercase(), b'k' | b's' | b'i'));
    (run.to_vec(), wide)
}

fn requirement(node: &Node) -> Option<Requirement> {
    match node {
        Node::Const(false) => Some(Requirement::new(Vec::new())),
        Node::And(parts) => parts.iter().filter_map(requirement).max_by_key(|r| r.score),
        Node::Or(parts) => {
            let mut alts = Vec::new();
            for p in parts.iter() {
                alts.extend(requirement(p)?.alts);
            }
            Some(Requirement::new(alts))
        }
        Node::Text {
            src,
            test,
            negate: false,
        } => {
            let (field, lowered) = match src {
                Src::Field(fd) => (*fd, false),
                Src::Lower(inner) => match &**inner {
                    Src::Field(fd) => (*fd, true),
                    _ => return None,
                },
                _ => return None,
            };
            if field.ty != FieldType::Str {
                return None;
            }
            let (texts, nocase, pos) = test.required()?;
            let mut alts = Vec::with_capacity(texts.len());
            for t in texts {
                let (text, pos, wide) = if nocase || lowered {
                    let (run, wide) = folded_run(t);
                    // A run of a longer text is somewhere in the value.
                    let pos = if run.len() == t.len() { pos } else { Pos::Any };
                    (run, pos, wide)
                } else {
                    (t.to_vec(), pos, false)
                };
                if text.is_empty() {
                    return None;
                }
                alts.push(Alt::Text {
                    field,
                    text,
                    pos,
                    wide,
                });
            }
            Some(Requirement::new(alts))
        }
        Node::Int {
            src: Src::Field(field),
            op: CmpOp::Eq,
            value,
        } => Some(Requirement::new(vec![Alt::Value {
            field,
            key: Key::Int(*value),
        }])),
        Node::IntIn {
            src: Src::Field(field),
            values,
        } => Some(Requirement::new(
            values
                .iter()
                .map(|v| Alt::Value {
                    field,
                    key: Key::Int(*v),
                })
                .collect(),
        )),
        Node::Ip {
            src: Src::Field(field),
            op: CmpOp::Eq,
            value,
        } => Some(Requirement::new(vec![Alt::Value {
            field,
            key: Key::Ip(*value),
        }])),
        Node::IpIn {
            src: Src::Field(field),
            values,
        } => Some(Requirement::new(
            values
                .iter()
                .map(|v| Alt::Value {
                    field,
                    key: Key::Ip(*v),
                })
                .collect(),
        )),
        Node::Cidr {
            src: Src::Field(field),
            nets,
        } if field.ty == FieldType::Ip => {
            let mut alts = Vec::new();
            for n in nets.iter() {
                for key in net_prefixes(n)? {
                    alts.push(Alt::Value { field, key });
                }
            }
            Some(Requirement::new(alts))
        }
        _ => None,
    }
}

/// The classes a node can hold in; None for any class.
fn classes(node: &Node) -> Option<Vec<u32>> {
    fn of_fields(fds: &[&'static FieldDef]) -> Option<Vec<u32>> {
        let mut acc: Option<Vec<u32>> = None;
        for fd in fds {
            if fd.classes.is_empty() {
                continue;
            }
            acc = Some(intersect(acc, fd.classes.to_vec()));
        }
        acc
    }
    fn intersect(a: Option<Vec<u32>>, b: Vec<u32>) -> Vec<u32> {
        match a {
            None => b,
            Some(a) => a.into_iter().filter(|c| b.contains(c)).collect(),
        }
    }
    let class_of = |v: i64| u32::try_from(v).ok();
    match node {
        Node::Const(true) | Node::Not(_) => None,
        Node::Const(false) => Some(Vec::new()),
        Node::And(parts) => {
            let mut acc: Option<Vec<u32>> = None;
            for p in parts.iter() {
                if let Some(c) = classes(p) {
                    acc = Some(intersect(acc, c));
                }
            }
            acc
        }
        Node::Or(parts) => {
            let mut acc = Vec::new();
            for p in parts.iter() {
                acc.extend(classes(p)?);
            }
            acc.sort_unstable();
            acc.dedup();
            Some(acc)
        }
        Node::Int {
            src: Src::Field(fd),
            op: CmpOp::Eq,
            value,
        } if fd.name == "class_uid" => Some(class_of(*value).into_iter().collect()),
        Node::IntIn {
            src: Src::Field(fd),
            values,
        } if fd.name == "class_uid" => Some(values.iter().filter_map(|v| class_of(*v)).collect()),
        other => {
            let mut fds = Vec::new();
            other.fields(&mut fds);
            of_fields(&fds)
        }
    }
}

struct TextFilter {
    field: &'static FieldDef,
    anchors: Anchors,
    /// Slots to add when a value is not ASCII.
    wide: Vec<u32>,
}

/// Value → slots filed under it.
type KeyMap = HashMap<Key, Vec<u32>, foldhash::fast::RandomState>;

struct ValueFilter {
    field: &'static FieldDef,
    map: KeyMap,
    /// Some key is a network prefix.
    has_nets: bool,
}

struct Index {
    /// Slot → position in `conds`, ordered by id.
    order: Vec<usize>,
    /// Class → unfiled slots that can hold in it (the any-class ones included).
    always: HashMap<u32, Vec<u32>, foldhash::fast::RandomState>,
    /// Unfiled slots that can hold in any class.
    universal: Vec<u32>,
    text: Vec<TextFilter>,
    values: Vec<ValueFilter>,
    stats: SetStats,
}

impl Index {
    fn build(conds: &[(usize, Condition)]) -> Index {
        let mut order: Vec<usize> = (0..conds.len()).collect();
        order.sort_by_key(|&i| conds.get(i).map_or(usize::MAX, |(id, _)| *id));
        let mut stats = SetStats {
            conditions: conds.len(),
            ..SetStats::default()
        };
        let mut by_class: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut universal = Vec::new();
        // Field name → ((literal, place) → slots, wide slots).
        type TextAcc = (BTreeMap<(Vec<u8>, Pos), Vec<u32>>, Vec<u32>);
        let mut text: BTreeMap<&'static str, (&'static FieldDef, TextAcc)> = BTreeMap::new();
        let mut values: BTreeMap<&'static str, (&'static FieldDef, KeyMap)> = BTreeMap::new();
        for (slot, &i) in order.iter().enumerate() {
            let Some((_, cond)) = conds.get(i) else {
                continue;
            };
            // More conditions than u32 slots cannot be built in memory here.
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            let class_set = classes(&cond.root);
            if class_set.as_ref().is_some_and(Vec::is_empty) {
                stats.never += 1;
                continue;
            }
            if let Some(req) = requirement(&cond.root) {
                stats.by_literal += 1;
                for alt in req.alts {
                    match alt {
                        Alt::Text {
                            field,
                            text: t,
                            pos,
                            wide,
                        } => {
                            let (_, (pats, wides)) = text
                                .entry(field.name)
                                .or_insert_with(|| (field, Default::default()));
                            pats.entry((t, pos)).or_default().push(slot);
                            if wide {
                                wides.push(slot);
                            }
                        }
                        Alt::Value { field, key } => {
                            let (_, map) = values
                                .entry(field.name)
                                .or_insert_with(|| (field, HashMap::default()));
                            map.entry(key).or_default().push(slot);
                        }
                    }
                }
                continue;
            }
            match class_set {
                None => {
                    stats.any_class += 1;
                    universal.push(slot);
                }
                Some(cs) => {
                    stats.by_class += 1;
                    for c in cs {
                        by_class.entry(c).or_default().push(slot);
                    }
                }
            }
        }
        let mut text_filters = Vec::new();
        for (_, (field, (pats, mut wide))) in text {
            stats.text_literals += pats.len();
            let anchors = Anchors::new(
                pats.into_iter()
                    .map(|((lit, pos), slots)| (lit, pos, slots))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|(lit, pos, slots)| (lit.as_slice(), *pos, slots.clone())),
            );
            stats.text_anchors += anchors.anchor_count();
            wide.sort_unstable();
            wide.dedup();
            text_filters.push(TextFilter {
                field,
                anchors,
                wide,
            });
        }
        let value_filters = values
            .into_values()
            .map(|(field, mut map)| {
                stats.value_literals += map.len();
                for s in map.values_mut() {
                    s.dedup();
                }
                let has_nets = map.keys().any(|k| matches!(k, Key::Net4(_) | Key::Net6(_)));
                ValueFilter {
                    field,
                    map,
                    has_nets,
                }
            })
            .collect();
        universal.sort_unstable();
        universal.dedup();
        let always = by_class
            .into_iter()
            .map(|(c, mut slots)| {
                slots.extend(&universal);
                slots.sort_unstable();
                slots.dedup();
                (c, slots)
            })
            .collect();
        Index {
            order,
            always,
            universal,
            text: text_filters,
            values: value_filters,
            stats,
        }
    }
}
