//! A bounded-by-the-caller table of string-keyed entries in least recently
//! used order: a slab of slots linked into one list (oldest first) and a
//! hash table of slot indexes. Groups of a rule live here, and so do the
//! distinct values of a `value_count` group (values ordered by when they
//! were last seen, so the window's expired values are at the front).
//!
//! Written here rather than taken from an LRU crate because the callers
//! need the slot index as a stable handle (timers name groups by slot and
//! generation) and the front walked in order, with lookups by `&str`
//! without allocating a key.

use std::hash::BuildHasher;

use hashbrown::HashTable;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<V> {
    key: Box<str>,
    hash: u64,
    prev: u32,
    next: u32,
    /// Bumped each time the slot is freed, so stale handles are detected.
    generation: u32,
    value: Option<V>,
}

/// String-keyed entries in least recently used order.
#[derive(Debug)]
pub(crate) struct Lru<V> {
    slots: Vec<Slot<V>>,
    free: Vec<u32>,
    map: HashTable<u32>,
    head: u32,
    tail: u32,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

impl<V> Default for Lru<V> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            map: HashTable::new(),
            head: NIL,
            tail: NIL,
            len: 0,
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<V> Lru<V> {
    /// Number of live entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The slot holding `key`.
    pub(crate) fn find(&self, key: &str) -> Option<u32> {
        let hash = self.hash(key);
        let slots = &self.slots;
        self.map
            .find(hash, |&i| {
                slots
                    .get(i as usize)
                    .is_some_and(|s| s.hash == hash && &*s.key == key)
            })
            .copied()
    }

    /// Add `key` (not present) as the most recently used entry.
    pub(crate) fn insert(&mut self, key: &str, value: V) -> u32 {
        let hash = self.hash(key);
        let idx = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    s.key = key.into();
                    s.hash = hash;
                    s.value = Some(value);
                }
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).unwrap_or(NIL - 1);
                self.slots.push(Slot {
                    key: key.into(),
                    hash,
                    prev: NIL,
                    next: NIL,
                    generation: 0,
                    value: Some(value),
                });
                i
            }
        };
        let slots = &self.slots;
        self.map
            .insert_unique(hash, idx, |&i| slots.get(i as usize).map_or(0, |s| s.hash));
        self.link_back(idx);
        self.len += 1;
        idx
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next) = match self.slots.get(idx as usize) {
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

    fn link_back(&mut self, idx: u32) {
        let tail = self.tail;
        if let Some(s) = self.slots.get_mut(idx as usize) {
            s.prev = tail;
            s.next = NIL;
        }
        match self.slots.get_mut(tail as usize) {
            Some(t) => t.next = idx,
            None => self.head = idx,
        }
        self.tail = idx;
    }

    /// Mark `idx` most recently used.
    pub(crate) fn touch(&mut self, idx: u32) {
        if self.tail != idx && self.is_live(idx) {
            self.unlink(idx);
            self.link_back(idx);
        }
    }

    fn is_live(&self, idx: u32) -> bool {
        self.slots
            .get(idx as usize)
            .is_some_and(|s| s.value.is_some())
    }

    /// Remove the entry at `idx`, returning its value.
    pub(crate) fn remove(&mut self, idx: u32) -> Option<V> {
        if !self.is_live(idx) {
            return None;
        }
        self.unlink(idx);
        let slot = self.slots.get_mut(idx as usize)?;
        let hash = slot.hash;
        let value = slot.value.take();
        slot.generation = slot.generation.wrapping_add(1);
        slot.key = Box::from("");
        if let Ok(entry) = self.map.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        self.free.push(idx);
        self.len -= 1;
        value
    }

    /// The least recently used entry.
    pub(crate) fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// The entry used just after `idx` (towards the most recent).
    pub(crate) fn next_of(&self, idx: u32) -> Option<u32> {
        self.slots
            .get(idx as usize)
            .map(|s| s.next)
            .filter(|&n| n != NIL)
    }

    /// The entry used just before `idx` (towards the oldest).
    pub(crate) fn prev_of(&self, idx: u32) -> Option<u32> {
        self.slots
            .get(idx as usize)
            .map(|s| s.prev)
            .filter(|&n| n != NIL)
    }

    /// The most recently used entry.
    pub(crate) fn back(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// The value at `idx`.
    pub(crate) fn get(&self, idx: u32) -> Option<&V> {
        self.slots.get(idx as usize).and_then(|s| s.value.as_ref())
    }

    /// The value at `idx`, mutably.
    pub(crate) fn get_mut(&mut self, idx: u32) -> Option<&mut V> {
        self.slots
            .get_mut(idx as usize)
            .and_then(|s| s.value.as_mut())
    }

    /// The key at `idx` (empty for a free slot).
    pub(crate) fn key(&self, idx: u32) -> &str {
        self.slots.get(idx as usize).map_or("", |s| &s.key)
    }

    /// The generation of slot `idx`.
    pub(crate) fn generation(&self, idx: u32) -> u32 {
        self.slots
            .get(idx as usize)
            .map_or(u32::MAX, |s| s.generation)
    }

    /// Remove everything.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.map.clear();
        self.head = NIL;
        self.tail = NIL;
        self.len = 0;
    }

    /// Heap bytes of the table itself (slots at capacity, the hash table's
    /// buckets and control bytes, the keys' text), not counting what the
    /// values own.
    pub(crate) fn own_heap_bytes(&self) -> usize {
        let keys: usize = self.slots.iter().map(|s| s.key.len()).sum();
        self.slots.capacity() * std::mem::size_of::<Slot<V>>()
            + self.free.capacity() * 4
            + self.map.allocation_size()
            + keys
    }

    /// The live values, least recently used first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &V)> + '_ {
        let mut cur = self.front();
        std::iter::from_fn(move || {
            let idx = cur?;
            cur = self.next_of(idx);
            self.get(idx).map(|v| (idx, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_touch_remove() {
        let mut t: Lru<u32> = Lru::default();
        let a = t.insert("a", 1);
        let b = t.insert("b", 2);
        let c = t.insert("c", 3);
        assert_eq!(t.find("b"), Some(b));
        assert_eq!(t.find("x"), None);
        t.touch(a);
        let order: Vec<_> = t.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, [2, 3, 1]);
        assert_eq!(t.front(), Some(b));
        assert_eq!(t.remove(b), Some(2));
        assert_eq!(t.remove(b), None);
        assert_eq!(t.find("b"), None);
        assert_eq!(t.len(), 2);
        let d = t.insert("d", 4);
        assert_eq!(d, b, "the freed slot is reused");
        assert_ne!(t.generation(d), 0);
        let order: Vec<_> = t.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, [3, 1, 4]);
        assert_eq!(t.back(), Some(d));
        assert_eq!(t.prev_of(d), Some(a));
        assert_eq!(t.key(c), "c");
        assert!(t.own_heap_bytes() > 0);
        t.clear();
        assert_eq!(t.len(), 0);
        assert_eq!(t.front(), None);
    }

    #[test]
    fn many_entries_stay_findable() {
        let mut t: Lru<usize> = Lru::default();
        for i in 0..1000 {
            t.insert(&i.to_string(), i);
        }
        for i in (0..1000).step_by(3) {
            let idx = t.find(&i.to_string()).expect("present");
            assert_eq!(t.remove(idx), Some(i));
        }
        for i in 0..1000 {
            assert_eq!(t.find(&i.to_string()).is_some(), i % 3 != 0, "{i}");
        }
        assert_eq!(t.iter().count(), t.len());
    }
}
