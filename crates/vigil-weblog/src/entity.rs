//! Entities (who a verdict is about) and the bounded table that tracks them.
//!
//! A request updates up to four entities: its client address, the address
//! plus user agent, its session (a configured cookie or header, when
//! present), and its address block (/24 for IPv4, /64 for IPv6), so a
//! crawler spread over many addresses is seen as a whole. The table holds
//! at most `max_entities`; when full, the least recently seen entity is
//! evicted (its window closed and judged, the eviction counted).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::features::Accum;

/// Which kind of entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// One client address.
    Ip,
    /// One client address with one user agent.
    IpUa,
    /// One session key.
    Session,
    /// An address block: /24 (IPv4) or /64 (IPv6).
    Prefix,
}

impl EntityKind {
    /// Stable name.
    pub const fn name(self) -> &'static str {
        match self {
            EntityKind::Ip => "ip",
            EntityKind::IpUa => "ip_ua",
            EntityKind::Session => "session",
            EntityKind::Prefix => "prefix",
        }
    }
}

/// An entity's identity; strings are kept as hashes (no allocation per
/// request), the readable label is stored once in [`Entity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKey {
    /// A client address.
    Ip(IpAddr),
    /// A client address and the hash of its user agent.
    IpUa(IpAddr, u64),
    /// The hash of a session key.
    Session(u64),
    /// The network address of a /24 or /64.
    Prefix(IpAddr),
}

impl EntityKey {
    /// The kind.
    pub const fn kind(&self) -> EntityKind {
        match self {
            EntityKey::Ip(_) => EntityKind::Ip,
            EntityKey::IpUa(..) => EntityKind::IpUa,
            EntityKey::Session(_) => EntityKind::Session,
            EntityKey::Prefix(_) => EntityKind::Prefix,
        }
    }
}

/// The /24 (IPv4) or /64 (IPv6) holding an address.
#[inline]
pub fn prefix_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & 0xffff_ff00)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
    }
}

/// Longest label kept (user agent or session key), bytes.
pub const MAX_LABEL: usize = 160;

/// One tracked entity.
#[derive(Debug, Clone)]
pub struct Entity {
    /// Its key.
    pub key: EntityKey,
    /// The latest client address seen for it.
    pub ip: IpAddr,
    /// The user agent (IP + UA entities) or session key (session entities),
    /// cut to [`MAX_LABEL`] bytes.
    pub label: Option<Box<str>>,
    /// The good bot the latest user agent claims, if any.
    pub claims: Option<u16>,
    /// The window's features.
    pub acc: Accum,
}

/// Cut a label to at most [`MAX_LABEL`] bytes on a character boundary.
pub fn label(s: &str) -> Box<str> {
    let mut end = s.len().min(MAX_LABEL);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().into()
}

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Slot {
    entity: Entity,
    prev: u32,
    next: u32,
}

/// Entities by key, in least-recently-seen order, bounded.
///
/// A slab of slots with an intrusive doubly linked list (most recent at the
/// head): lookup, touch, insert and eviction are O(1) and allocate nothing
/// once the slab has grown to its limit. Hand-written because eviction must
/// hand the evicted entity back (to be judged), which the LRU crates'
/// push/put APIs do, but with a second allocation per entry for the key.
#[derive(Debug)]
pub struct EntityTable {
    map: foldhash::HashMap<EntityKey, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    max: usize,
    /// Entities evicted because the table was full.
    pub evicted: u64,
}

impl EntityTable {
    /// A table of at most `max` entities.
    pub fn new(max: usize) -> Self {
        Self {
            map: foldhash::HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            max: max.max(1),
            evicted: 0,
        }
    }

    /// Entities tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = match self.slots.get(i as usize) {
            Some(s) => (s.prev, s.next),
            None => return,
        };
        match self.slots.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.slots.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        if let Some(s) = self.slots.get_mut(i as usize) {
            s.prev = NIL;
            s.next = old;
        }
        match self.slots.get_mut(old as usize) {
            Some(h) => h.prev = i,
            None => self.tail = i,
        }
        self.head = i;
    }

    /// The entity for `key`, marked most recently seen; created with `make`
    /// when absent. When the table is full, the least recently seen entity
    /// is removed first and returned in the second value.
    #[inline]
    pub fn get_or_insert(
        &mut self,
        key: EntityKey,
        make: impl FnOnce() -> Entity,
    ) -> (&mut Entity, Option<Entity>) {
        if let Some(&i) = self.map.get(&key) {
            if self.head != i {
                self.unlink(i);
                self.push_front(i);
            }
            // The index came from the map, which only holds live slots.
            let slot = &mut self.slots[i as usize];
            return (&mut slot.entity, None);
        }
        let mut evicted = None;
        if self.map.len() >= self.max {
            evicted = self.pop_oldest();
            self.evicted += 1;
        }
        let entity = make();
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    s.entity = entity;
                }
                i
            }
            None => {
                self.slots.push(Slot {
                    entity,
                    prev: NIL,
                    next: NIL,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_front(i);
        // `i` was just filled above.
        (&mut self.slots[i as usize].entity, evicted)
    }

    /// The least recently seen entity, without removing it.
    pub fn oldest(&self) -> Option<&Entity> {
        self.slots.get(self.tail as usize).map(|s| &s.entity)
    }

    /// Remove and return the least recently seen entity.
    pub fn pop_oldest(&mut self) -> Option<Entity> {
        let i = self.tail;
        let key = self.slots.get(i as usize)?.entity.key;
        self.remove(&key)
    }

    /// Remove an entity by key.
    pub fn remove(&mut self, key: &EntityKey) -> Option<Entity> {
        let i = self.map.remove(key)?;
        self.unlink(i);
        self.free.push(i);
        let slot = self.slots.get_mut(i as usize)?;
        slot.prev = NIL;
        slot.next = NIL;
        // Leave a cheap placeholder; the slot is reused by the next insert.
        let placeholder = Entity {
            key: slot.entity.key,
            ip: slot.entity.ip,
            label: None,
            claims: None,
            acc: Accum::default(),
        };
        Some(std::mem::replace(&mut slot.entity, placeholder))
    }

    /// Remove every entity, least recently seen first.
    pub fn drain(&mut self) -> Vec<Entity> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(e) = self.pop_oldest() {
            out.push(e);
        }
        self.slots.clear();
        self.free.clear();
        out
    }

    /// Bytes per tracked entity: its slot (the entity with its fixed-size
    /// features and list links), its share of the key map (key, index and
    /// control byte, at the map's current capacity) and its label's heap
    /// bytes, averaged over the live entities. The slab's growth slack (up
    /// to 2× while it grows towards `max_entities`, like any `Vec`) and
    /// slots freed by closed windows awaiting reuse are not counted.
    pub fn bytes_per_entity(&self) -> usize {
        let live = self.len().max(1);
        let labels: usize = self
            .map
            .values()
            .filter_map(|&i| self.slots.get(i as usize))
            .filter_map(|s| s.entity.label.as_ref().map(|l| l.len()))
            .sum();
        let map_entry = std::mem::size_of::<(EntityKey, u32)>() + 1;
        let map = self.map.capacity().max(live) * map_entry / live;
        std::mem::size_of::<Slot>() + map + labels / live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(ip: [u8; 4]) -> impl FnOnce() -> Entity {
        move || Entity {
            key: EntityKey::Ip(IpAddr::from(ip)),
            ip: IpAddr::from(ip),
            label: None,
            claims: None,
            acc: Accum::default(),
        }
    }

    #[test]
    fn least_recently_seen_is_evicted_and_counted() {
        let mut t = EntityTable::new(2);
        let k = |i: u8| EntityKey::Ip(IpAddr::from([10, 0, 0, i]));
        t.get_or_insert(k(1), make([10, 0, 0, 1]));
        t.get_or_insert(k(2), make([10, 0, 0, 2]));
        // Touch 1: 2 becomes the oldest.
        t.get_or_insert(k(1), make([10, 0, 0, 1]));
        let (_, evicted) = t.get_or_insert(k(3), make([10, 0, 0, 3]));
        assert_eq!(evicted.map(|e| e.key), Some(k(2)));
        assert_eq!(t.evicted, 1);
        assert_eq!(t.len(), 2);
        assert_eq!(t.oldest().map(|e| e.key), Some(k(1)));
        let drained: Vec<_> = t.drain().into_iter().map(|e| e.key).collect();
        assert_eq!(drained, vec![k(1), k(3)]);
        assert!(t.is_empty());
    }

    #[test]
    fn prefixes_and_labels() {
        assert_eq!(
            prefix_of("203.0.113.77".parse().unwrap()),
            "203.0.113.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            prefix_of("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        let long = "é".repeat(200);
        let l = label(&long);
        assert!(l.len() <= MAX_LABEL && long.starts_with(&*l));
    }

    #[test]
    fn memory_per_entity_is_under_one_kib() {
        let mut t = EntityTable::new(10_000);
        for i in 0..10_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            t.get_or_insert(EntityKey::IpUa(ip, u64::from(i)), || Entity {
                key: EntityKey::IpUa(ip, u64::from(i)),
                ip,
                label: Some(label("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36")),
                claims: None,
                acc: Accum::default(),
            });
        }
        let bytes = t.bytes_per_entity();
        assert!(bytes < 1024, "{bytes} bytes per entity");
    }
}
