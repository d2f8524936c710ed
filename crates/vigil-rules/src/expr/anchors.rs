//! [`Anchors`]: the literal prefilter of a [`ConditionSet`](super::ConditionSet)
//! for one text field: which filed literals occur in a value (ASCII case
//! folded), each where its test needs it (anywhere, at the start, at the
//! end, or as the whole value).
//!
//! Literals that must start or end the value (`startswith`, `endswith`,
//! equality, `in`) need no scan: they are filed by their first or last one
//! to four bytes and looked up with the value's own, then compared in full.
//!
//! Literals that may be anywhere (`contains`) are found by a scan. Why
//! hand-written: with hundreds of literals per field, `aho-corasick`'s
//! overlapping DFA (tables of megabytes, a cache miss per byte once past the
//! root) ran at about half the speed of this filter on the benchmark, and it
//! has no prefilter for an overlapping search over that many patterns. The
//! design is the classic hash filter of software multi-pattern matchers
//! (the same reason and cure as `vigil-sig`'s matcher, smaller because only
//! presence is reported): each literal is entered under its *anchor*, its
//! rarest window of at most four bytes; the hot loop folds a byte, shifts
//! it into a four-byte window and tests one bit of a 65,536-bit table
//! (8 KiB, in the first-level cache) keyed by the window's last two bytes.
//! Only on a hit do a Bloom filter and then a map give the literals
//! anchored there, each compared in full at its place. One-byte anchors go
//! through a 256-bit table.

use std::collections::HashMap;

/// Where a literal must be in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Pos {
    /// Anywhere.
    Any,
    /// At the start.
    Prefix,
    /// At the end.
    Suffix,
    /// The whole value.
    Whole,
}

struct Lit {
    /// ASCII lower case.
    bytes: Box<[u8]>,
    pos: Pos,
    slots: Box<[u32]>,
}

/// Literals anchored on one window: (literal index, anchor offset in it).
type Entries = Vec<(u32, u32)>;
type Table = HashMap<u32, Entries, foldhash::fast::RandomState>;

const BLOOM_BITS: u32 = 16;

/// The literals of one field and the slots filed under them.
pub(crate) struct Anchors {
    lits: Vec<Lit>,
    /// Literals that must start the value, by their first one to four
    /// folded bytes (table `k - 1` for `k` bytes).
    prefix: [Table; 4],
    /// Literals that must end the value (or be all of it), by their last
    /// one to four folded bytes.
    suffix: [Table; 4],
    /// Literals that may be anywhere: the scan's tables.
    scan: Scan,
}

/// The tables of the scan for literals anywhere in the value.
struct Scan {
    /// Bit per folded two-byte window that ends an anchor of 2-4 bytes.
    last2: Box<[u64; 1024]>,
    /// Bit per folded (length, window) of the anchors of 2-4 bytes.
    bloom: Box<[u64; 1024]>,
    /// Bit per byte that is a one-byte anchor.
    one_bits: [u64; 4],
    /// Anchors of one to four bytes (packed big-endian), by length.
    by_len: [Table; 4],
}

/// How common a byte is in URLs, names and user agents (higher: more
/// common); anchors avoid common bytes, above all at their end, which
/// gates the hot table.
fn commonness(b: u8) -> u32 {
    match b {
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'/' | b'.' => 4,
        b'a'..=b'z'
        | b'0'..=b'9'
        | b' '
        | b'-'
        | b'_'
        | b'='
        | b'&'
        | b'%'
        | b';'
        | b','
        | b'('
        | b')'
        | b':' => 3,
        _ => 1,
    }
}

/// The offset of the rarest window of at most four bytes of `lit`
/// (already folded), and its length.
pub(crate) fn anchor(lit: &[u8]) -> (usize, usize) {
    if lit.len() <= 4 {
        return (0, lit.len());
    }
    let score = |w: &[u8]| -> u32 {
        w.iter()
            .enumerate()
            .map(|(i, &b)| commonness(b) * if i >= 2 { 2 } else { 1 })
            .sum()
    };
    let best = lit
        .windows(4)
        .enumerate()
        .min_by_key(|(_, w)| score(w))
        .map_or(0, |(i, _)| i);
    (best, 4)
}

/// Up to four bytes, folded, packed big-endian.
fn pack(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |acc, &b| {
        (acc << 8) | u32::from(b.to_ascii_lowercase())
    })
}

fn bloom_bit(key: u32, len: usize) -> usize {
    ((key ^ (len as u32) << 29).wrapping_mul(0x9e37_79b1) >> (32 - BLOOM_BITS)) as usize
}

fn set(table: &mut [u64], bit: usize) {
    if let Some(w) = table.get_mut(bit / 64) {
        *w |= 1 << (bit % 64);
    }
}

fn test(table: &[u64], bit: usize) -> bool {
    table
        .get(bit / 64)
        .is_some_and(|w| w & (1 << (bit % 64)) != 0)
}

fn entries(table: &Table, key: u32) -> &[(u32, u32)] {
    table.get(&key).map_or(&[][..], Vec::as_slice)
}

impl Anchors {
    /// Build from `(literal, position, slots)`; literals are folded here,
    /// empty ones are skipped (the caller files no condition under them).
    pub(crate) fn new<'a>(literals: impl IntoIterator<Item = (&'a [u8], Pos, Vec<u32>)>) -> Self {
        let mut a = Anchors {
            lits: Vec::new(),
            prefix: Default::default(),
            suffix: Default::default(),
            scan: Scan {
                last2: Box::new([0; 1024]),
                bloom: Box::new([0; 1024]),
                one_bits: [0; 4],
                by_len: Default::default(),
            },
        };
        for (lit, pos, mut slots) in literals {
            if lit.is_empty() {
                continue;
            }
            let folded: Box<[u8]> = lit.iter().map(u8::to_ascii_lowercase).collect();
            // Fewer literals than u32 indexes fit in memory here.
            let index = u32::try_from(a.lits.len()).unwrap_or(u32::MAX);
            let k = folded.len().min(4);
            match pos {
                Pos::Prefix => {
                    let key = pack(folded.get(..k).unwrap_or(&[]));
                    if let Some(t) = a.prefix.get_mut(k - 1) {
                        t.entry(key).or_default().push((index, 0));
                    }
                }
                Pos::Suffix | Pos::Whole => {
                    let key = pack(folded.get(folded.len() - k..).unwrap_or(&[]));
                    if let Some(t) = a.suffix.get_mut(k - 1) {
                        t.entry(key).or_default().push((index, 0));
                    }
                }
                Pos::Any => {
                    let (off, len) = anchor(&folded);
                    let window = folded.get(off..off + len).unwrap_or(&[]);
                    let key = pack(window);
                    if len == 1 {
                        set(&mut a.scan.one_bits, key as usize);
                    } else {
                        set(&mut *a.scan.last2, (key & 0xffff) as usize);
                        set(&mut *a.scan.bloom, bloom_bit(key, len));
                    }
                    if let Some(t) = a.scan.by_len.get_mut(len - 1) {
                        t.entry(key)
                            .or_default()
                            .push((index, u32::try_from(off).unwrap_or(0)));
                    }
                }
            }
            slots.sort_unstable();
            slots.dedup();
            a.lits.push(Lit {
                bytes: folded,
                pos,
                slots: slots.into_boxed_slice(),
            });
        }
        a
    }

    /// Distinct keys the literals are filed under.
    pub(crate) fn anchor_count(&self) -> usize {
        self.prefix
            .iter()
            .chain(&self.suffix)
            .chain(&self.scan.by_len)
            .map(HashMap::len)
            .sum()
    }

    /// The slots of the literal `index` when `text` holds it from `start`
    /// as its place requires.
    fn check(&self, text: &[u8], start: Option<usize>, index: u32) -> Option<&[u32]> {
        let lit = self.lits.get(index as usize)?;
        let start = start?;
        let stop = start.checked_add(lit.bytes.len())?;
        let placed = match lit.pos {
            Pos::Any => true,
            Pos::Prefix => start == 0,
            Pos::Suffix => stop == text.len(),
            Pos::Whole => start == 0 && stop == text.len(),
        };
        (placed && text.get(start..stop)?.eq_ignore_ascii_case(&lit.bytes)).then_some(&*lit.slots)
    }

    /// Call `f` with the slots of every literal in `text` at its place (a
    /// literal found twice is reported twice).
    pub(crate) fn scan(&self, text: &[u8], f: &mut impl FnMut(&[u32])) {
        let n = text.len();
        for k in 1..=n.min(4) {
            if let Some(t) = self.prefix.get(k - 1).filter(|t| !t.is_empty()) {
                for &(i, _) in entries(t, pack(text.get(..k).unwrap_or(&[]))) {
                    if let Some(slots) = self.check(text, Some(0), i) {
                        f(slots);
                    }
                }
            }
            if let Some(t) = self.suffix.get(k - 1).filter(|t| !t.is_empty()) {
                for &(i, _) in entries(t, pack(text.get(n - k..).unwrap_or(&[]))) {
                    let len = self.lits.get(i as usize).map_or(0, |l| l.bytes.len());
                    if let Some(slots) = self.check(text, n.checked_sub(len), i) {
                        f(slots);
                    }
                }
            }
        }
        let s = &self.scan;
        if s.by_len.iter().all(HashMap::is_empty) {
            return;
        }
        let any_one = s.one_bits != [0; 4];
        let mut w: u32 = 0;
        for (i, &b) in text.iter().enumerate() {
            let c = b.to_ascii_lowercase();
            w = (w << 8) | u32::from(c);
            let one = any_one && test(&s.one_bits, usize::from(c));
            let two = i > 0 && test(&*s.last2, (w & 0xffff) as usize);
            if one || two {
                self.hit(text, i, w, one, two, f);
            }
        }
    }

    /// The anchors ending at `text[i]` (window `w`), then their literals.
    #[inline(never)]
    fn hit(&self, text: &[u8], i: usize, w: u32, one: bool, two: bool, f: &mut impl FnMut(&[u32])) {
        let s = &self.scan;
        for (n, table) in s.by_len.iter().enumerate() {
            let len = n + 1;
            if table.is_empty() || i + 1 < len || (len == 1 && !one) || (len > 1 && !two) {
                continue;
            }
            let key = if len == 4 {
                w
            } else {
                w & ((1 << (8 * len)) - 1)
            };
            if len > 1 && !test(&*s.bloom, bloom_bit(key, len)) {
                continue;
            }
            for &(index, off) in entries(table, key) {
                let start = (i + 1)
                    .checked_sub(len)
                    .and_then(|a| a.checked_sub(off as usize));
                if let Some(slots) = self.check(text, start, index) {
                    f(slots);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn anchors_prefer_rare_bytes() {
        let at = |lit: &[u8]| {
            let (off, len) = anchor(lit);
            lit[off..off + len].to_vec()
        };
        // Rare punctuation wins; letters like e, t, s count as common.
        assert_eq!(at(b"${jndi:"), b"${jn");
        assert_eq!(at(b"x'or'1=1"), b"'or'");
        // Short literals are their own anchor.
        assert_eq!(at(b"ab"), b"ab");
        assert_eq!(at(b".exe"), b".exe");
    }

    fn placed(text: &[u8], lit: &[u8], pos: Pos) -> bool {
        let t: Vec<u8> = text.to_ascii_lowercase();
        let l: Vec<u8> = lit.to_ascii_lowercase();
        match pos {
            Pos::Any => t.windows(l.len()).any(|w| w == &l[..]),
            Pos::Prefix => t.starts_with(&l),
            Pos::Suffix => t.ends_with(&l),
            Pos::Whole => t == l,
        }
    }

    fn pos() -> impl Strategy<Value = Pos> {
        proptest::sample::select(vec![Pos::Any, Pos::Prefix, Pos::Suffix, Pos::Whole])
    }

    proptest! {
        /// Exactly the literals that are in the text at their place are
        /// reported.
        #[test]
        fn reports_exactly_the_placed_literals(
            lits in proptest::collection::vec(("[a-cA-C/%.]{1,7}", pos()), 1..30),
            texts in proptest::collection::vec("[a-cA-C/%.é]{0,40}", 1..10),
        ) {
            let anchors = Anchors::new(
                lits.iter().enumerate().map(|(i, (l, p))| (l.as_bytes(), *p, vec![i as u32])),
            );
            for text in &texts {
                let mut found = Vec::new();
                anchors.scan(text.as_bytes(), &mut |s: &[u32]| found.extend_from_slice(s));
                found.sort_unstable();
                found.dedup();
                let want: Vec<u32> = lits
                    .iter()
                    .enumerate()
                    .filter(|(_, (l, p))| placed(text.as_bytes(), l.as_bytes(), *p))
                    .map(|(i, _)| i as u32)
                    .collect();
                prop_assert_eq!(found, want, "in {:?}", text);
            }
        }
    }
}
