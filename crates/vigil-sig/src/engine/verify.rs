//! Verification of one buffer's detection items, in rule order, with
//! Suricata's semantics (`detect-engine-content-inspection.c`):
//!
//! - A content's window: absolute contents search `[offset, offset+depth)`
//!   (depth counts from the offset, as Suricata stores it); `startswith` is
//!   offset 0, depth = its length; relative contents (`distance`/`within`)
//!   search from the previous match's end plus `distance` (a negative
//!   distance may reach back, never before 0) and must end within `within`
//!   bytes of that start. `endswith` must end at the buffer's end.
//! - Absolute positions are stream positions: a buffer that starts at stream
//!   offset `base` (a stream chunk with its repeated tail) maps them by
//!   subtracting `base`.
//! - A negated content matches when the pattern is absent from its window,
//!   and leaves the previous match's end where it was.
//! - Backtracking: when a later item relative to a content (or pcre) fails,
//!   the next occurrence of that content is tried, as Suricata does, up to a
//!   shared budget of steps per rule (Suricata's recursion limit).
//! - `pcre` with `R` searches the buffer from the previous match's end (`^`
//!   anchors there); its match end becomes the previous match's end.
//! - `isdataat`, `byte_test` and `byte_jump` as in Suricata; `byte_jump`
//!   moves the previous match's end.

use memchr::memmem;

use super::pcre::{PcreScratch, Regex};

/// Steps (content or pcre searches) one rule may take while backtracking.
pub(crate) const BACKTRACK_BUDGET: u32 = 3000;

/// One `content` with its modifiers.
#[derive(Debug)]
pub(crate) struct ContentItem {
    /// The bytes; lower-cased when `nocase`.
    pub pat: Box<[u8]>,
    /// `nocase`.
    pub nocase: bool,
    /// `content:!"..."`.
    pub negated: bool,
    /// `offset`.
    pub offset: Option<u32>,
    /// `depth` (bytes from the offset).
    pub depth: Option<u32>,
    /// `distance`.
    pub distance: Option<i32>,
    /// `within`.
    pub within: Option<u32>,
    /// `endswith`.
    pub endswith: bool,
    finder: Option<Box<memmem::Finder<'static>>>,
}

impl ContentItem {
    /// A content; `startswith` becomes offset 0, depth = length.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pat: &[u8],
        nocase: bool,
        negated: bool,
        offset: Option<u32>,
        depth: Option<u32>,
        distance: Option<i32>,
        within: Option<u32>,
        startswith: bool,
        endswith: bool,
    ) -> Self {
        let pat: Box<[u8]> = if nocase {
            pat.to_ascii_lowercase().into()
        } else {
            pat.into()
        };
        let finder = (!nocase).then(|| Box::new(memmem::Finder::new(&pat[..]).into_owned()));
        let len = u32::try_from(pat.len()).unwrap_or(u32::MAX);
        let relative = distance.is_some() || within.is_some();
        // startswith: at the start of the buffer, or right at the relative
        // position (distance from the previous match) when relative.
        let (offset, depth, distance, within) = match (startswith, relative) {
            (true, false) => (Some(0), Some(len), distance, within),
            (true, true) => (offset, depth, Some(distance.unwrap_or(0)), Some(len)),
            (false, _) => (offset, depth, distance, within),
        };
        Self {
            pat,
            nocase,
            negated,
            offset,
            depth,
            distance,
            within,
            endswith,
            finder,
        }
    }

    /// True when the content is placed relative to the previous match.
    pub fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }

    /// The search window `[start, end)` in buffer coordinates, or `None`
    /// when it is empty or outside the buffer.
    fn window(&self, len: usize, base: u64, prev_end: usize) -> Option<(usize, usize)> {
        if self.is_relative() {
            let d = i64::from(self.distance.unwrap_or(0));
            let start = (prev_end as i64).saturating_add(d).max(0);
            let end = match self.within {
                Some(w) => (prev_end as i64)
                    .saturating_add(d)
                    .saturating_add(i64::from(w)),
                None => len as i64,
            };
            let start = usize::try_from(start).ok()?;
            let end = usize::try_from(end.clamp(0, len as i64)).ok()?;
            (start <= end).then_some((start, end))
        } else {
            let off = u64::from(self.offset.unwrap_or(0));
            let start = off.saturating_sub(base);
            let end = match self.depth {
                Some(d) => (off + u64::from(d)).checked_sub(base)?,
                None => len as u64,
            };
            let end = usize::try_from(end.min(len as u64)).ok()?;
            let start = usize::try_from(start).ok()?;
            (start <= end).then_some((start, end))
        }
    }

    /// First occurrence starting at or after `from` and ending by `end`.
    fn find(&self, buf: &[u8], from: usize, end: usize) -> Option<usize> {
        let n = self.pat.len();
        if end > buf.len() || from > end || end - from < n {
            return None;
        }
        if self.endswith {
            let s = end.checked_sub(n)?;
            return (end == buf.len() && s >= from && self.eq_at(buf, s)).then_some(s);
        }
        let hay = buf.get(from..end)?;
        let rel = match &self.finder {
            Some(f) => f.find(hay),
            None => find_nocase(hay, &self.pat),
        }?;
        Some(from + rel)
    }

    fn eq_at(&self, buf: &[u8], at: usize) -> bool {
        match buf.get(at..at + self.pat.len()) {
            Some(s) if self.nocase => s.eq_ignore_ascii_case(&self.pat),
            Some(s) => s == &self.pat[..],
            None => false,
        }
    }
}

/// ASCII-case-insensitive search of the lower-cased `pat` in `hay`.
pub(crate) fn find_nocase(hay: &[u8], pat: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = pat.split_first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(pat.len())?;
    let upper = first.to_ascii_uppercase();
    let mut at = 0;
    while at <= last_start {
        let window = hay.get(at..=last_start)?;
        let i = if upper == first {
            memchr::memchr(first, window)?
        } else {
            memchr::memchr2(first, upper, window)?
        };
        let s = at + i;
        if hay
            .get(s + 1..s + pat.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(rest))
        {
            return Some(s);
        }
        at = s + 1;
    }
    None
}

/// One `pcre`.
#[derive(Debug)]
pub(crate) struct PcreItem {
    /// The pattern.
    pub re: Regex,
    /// `pcre:!"..."`.
    pub negated: bool,
    /// `R`: from the previous match's end.
    pub relative: bool,
    /// `A`: anchored at the search start.
    pub anchored: bool,
}

/// How a `byte_test`/`byte_jump` reads its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumFormat {
    /// Binary, big-endian (the default).
    Big,
    /// Binary, little-endian.
    Little,
    /// ASCII text in this base (8, 10, 16).
    String(u32),
}

/// `byte_test` comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteOp {
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `=`
    Eq,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `&` (any bit of the value set)
    And,
    /// `^` (xor non-zero)
    Xor,
}

/// `byte_test`.
#[derive(Debug, Clone)]
pub(crate) struct ByteTest {
    /// Bytes to read (1–10 binary, up to 20 as text).
    pub nbytes: u8,
    /// The comparison.
    pub op: ByteOp,
    /// `!` before the operator.
    pub negated: bool,
    /// The value compared with.
    pub value: u64,
    /// Offset of the read (from the buffer start, or the previous match end).
    pub offset: i32,
    /// `relative`.
    pub relative: bool,
    /// Number format.
    pub format: NumFormat,
    /// `bitmask`.
    pub bitmask: Option<u64>,
}

/// `byte_jump`.
#[derive(Debug, Clone)]
pub(crate) struct ByteJump {
    /// Bytes to read.
    pub nbytes: u8,
    /// Offset of the read.
    pub offset: i32,
    /// `relative`.
    pub relative: bool,
    /// Number format.
    pub format: NumFormat,
    /// `multiplier`.
    pub multiplier: u32,
    /// `align` (to 4).
    pub align: bool,
    /// `from_beginning`.
    pub from_beginning: bool,
    /// `from_end`.
    pub from_end: bool,
    /// `post_offset`.
    pub post_offset: i32,
    /// `bitmask`.
    pub bitmask: Option<u64>,
}

/// A detection item of one buffer.
#[derive(Debug)]
pub(crate) enum Item {
    /// `content`.
    Content(ContentItem),
    /// `pcre`.
    Pcre(PcreItem),
    /// `isdataat:[!]n[,relative]`.
    IsDataAt {
        /// Bytes.
        n: u32,
        /// `relative`.
        relative: bool,
        /// `!`.
        negated: bool,
    },
    /// `byte_test`.
    ByteTest(ByteTest),
    /// `byte_jump`.
    ByteJump(ByteJump),
    /// `bsize`/`urilen`: the buffer's length.
    Bsize(crate::rule::IntCmp),
}

impl Item {
    /// True when the item is placed relative to the previous match.
    pub fn is_relative(&self) -> bool {
        match self {
            Item::Content(c) => c.is_relative(),
            Item::Pcre(p) => p.relative,
            Item::IsDataAt { relative, .. } => *relative,
            Item::ByteTest(t) => t.relative,
            Item::ByteJump(j) => j.relative,
            Item::Bsize(_) => false,
        }
    }
}

/// Where the verification of a buffer stands.
#[derive(Debug)]
pub(crate) struct Verifier<'a, 's> {
    /// The buffer.
    pub buf: &'a [u8],
    /// Stream position of the buffer's first byte (0 except for stream chunks).
    pub base: u64,
    /// Search steps left.
    pub budget: u32,
    /// Space for the Latin-1 pcre engine.
    pub scratch: &'s mut PcreScratch,
    /// The first positive match of the successful path (start, end), for evidence.
    pub first_match: Option<(usize, usize)>,
}

impl Verifier<'_, '_> {
    /// Do `items` match the buffer? Returns the end of the last positive
    /// match of the successful path (0 when none moved it).
    pub fn run(&mut self, items: &[Item]) -> Option<usize> {
        self.first_match = None;
        self.seq(items, 0, 0, 0)
    }

    fn seq(
        &mut self,
        items: &[Item],
        idx: usize,
        prev_end: usize,
        max_end: usize,
    ) -> Option<usize> {
        let Some(item) = items.get(idx) else {
            return Some(max_end);
        };
        let next_relative = items.get(idx + 1).is_some_and(Item::is_relative);
        let len = self.buf.len();
        match item {
            Item::Content(c) => {
                let (start, end) = c.window(len, self.base, prev_end).unwrap_or((len + 1, len));
                if c.negated {
                    self.budget = self.budget.checked_sub(1)?;
                    if start <= end && c.find(self.buf, start, end).is_some() {
                        return None;
                    }
                    return self.seq(items, idx + 1, prev_end, max_end);
                }
                let mut from = start;
                loop {
                    self.budget = self.budget.checked_sub(1)?;
                    let pos = c.find(self.buf, from, end)?;
                    let m_end = pos + c.pat.len();
                    if let Some(e) = self.seq(items, idx + 1, m_end, max_end.max(m_end)) {
                        if self.first_match.is_none() || idx == 0 {
                            self.note_match(pos, m_end);
                        }
                        return Some(e);
                    }
                    if !next_relative {
                        return None;
                    }
                    from = pos + 1;
                }
            }
            Item::Pcre(p) => {
                let start = if p.relative { prev_end.min(len) } else { 0 };
                let hay = self.buf.get(start..)?;
                if p.negated {
                    self.budget = self.budget.checked_sub(1)?;
                    let found = match p.re.find_at(hay, 0, self.scratch) {
                        Some((s, _)) => !p.anchored || s == 0,
                        None => false,
                    };
                    if found {
                        return None;
                    }
                    return self.seq(items, idx + 1, prev_end, max_end);
                }
                let mut from = 0;
                loop {
                    self.budget = self.budget.checked_sub(1)?;
                    let (s, e) = p.re.find_at(hay, from, self.scratch)?;
                    if p.anchored && s != 0 {
                        return None;
                    }
                    let (ms, me) = (start + s, start + e);
                    if let Some(r) = self.seq(items, idx + 1, me, max_end.max(me)) {
                        if self.first_match.is_none() || idx == 0 {
                            self.note_match(ms, me);
                        }
                        return Some(r);
                    }
                    if !next_relative || p.anchored {
                        return None;
                    }
                    from = s + 1;
                    if from > hay.len() {
                        return None;
                    }
                }
            }
            Item::IsDataAt {
                n,
                relative,
                negated,
            } => {
                let n = *n as usize;
                let has = if *relative {
                    prev_end.saturating_add(n) <= len
                } else {
                    // Stream positions before `base` held data.
                    (n as u64) < self.base + len as u64
                };
                if has == *negated {
                    return None;
                }
                self.seq(items, idx + 1, prev_end, max_end)
            }
            Item::ByteTest(t) => {
                let at = read_pos(t.offset, t.relative, prev_end, self.base)?;
                let v = read_num(self.buf, at, t.nbytes, t.format, t.bitmask)?;
                let r = match t.op {
                    ByteOp::Lt => v < t.value,
                    ByteOp::Gt => v > t.value,
                    ByteOp::Eq => v == t.value,
                    ByteOp::Le => v <= t.value,
                    ByteOp::Ge => v >= t.value,
                    ByteOp::And => v & t.value != 0,
                    ByteOp::Xor => v ^ t.value != 0,
                };
                if r == t.negated {
                    return None;
                }
                self.seq(items, idx + 1, prev_end, max_end)
            }
            Item::Bsize(cmp) => {
                if !cmp.matches(len as u64) {
                    return None;
                }
                self.seq(items, idx + 1, prev_end, max_end)
            }
            Item::ByteJump(j) => {
                let at = read_pos(j.offset, j.relative, prev_end, self.base)?;
                let mut v = read_num(self.buf, at, j.nbytes, j.format, j.bitmask)?;
                v = v.checked_mul(u64::from(j.multiplier.max(1)))?;
                if j.align && v % 4 != 0 {
                    v += 4 - v % 4;
                }
                let from: i64 = if j.from_beginning {
                    0
                } else if j.from_end {
                    len as i64
                } else {
                    (at + usize::from(j.nbytes)) as i64
                };
                let target = from
                    .checked_add(i64::try_from(v).ok()?)?
                    .checked_add(i64::from(j.post_offset))?;
                if target < 0 || target > len as i64 {
                    return None;
                }
                let t = usize::try_from(target).ok()?;
                self.seq(items, idx + 1, t, max_end.max(t))
            }
        }
    }

    fn note_match(&mut self, s: usize, e: usize) {
        self.first_match = Some((s, e));
    }
}

/// Buffer position of a read at `offset` (from the start, or relative to
/// the previous match's end).
fn read_pos(offset: i32, relative: bool, prev_end: usize, base: u64) -> Option<usize> {
    let origin: i64 = if relative {
        prev_end as i64
    } else {
        -(i64::try_from(base).ok()?)
    };
    usize::try_from(origin.checked_add(i64::from(offset))?).ok()
}

/// Read a number of `nbytes` at `at`; `None` when out of the buffer or not a number.
pub(crate) fn read_num(
    buf: &[u8],
    at: usize,
    nbytes: u8,
    format: NumFormat,
    mask: Option<u64>,
) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(usize::from(nbytes))?)?;
    let mut v: u64 = match format {
        NumFormat::Big => {
            if nbytes > 8 {
                return None;
            }
            bytes.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b))
        }
        NumFormat::Little => {
            if nbytes > 8 {
                return None;
            }
            bytes
                .iter()
                .rev()
                .fold(0u64, |a, &b| (a << 8) | u64::from(b))
        }
        NumFormat::String(radix) => {
            // Suricata reads the leading digits of the field and fails when there are none.
            let digits = bytes
                .iter()
                .take_while(|b| char::from(**b).is_digit(radix))
                .count();
            if digits == 0 {
                return None;
            }
            let text = std::str::from_utf8(bytes.get(..digits)?).ok()?;
            u64::from_str_radix(text, radix).ok()?
        }
    };
    if let Some(m) = mask {
        v &= m;
        if m != 0 {
            v >>= m.trailing_zeros();
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::super::pcre::PcreFlags;
    use super::*;

    fn content(p: &[u8]) -> ContentItem {
        ContentItem::new(p, false, false, None, None, None, None, false, false)
    }

    fn run(items: &[Item], buf: &[u8]) -> bool {
        run_base(items, buf, 0)
    }

    fn run_base(items: &[Item], buf: &[u8], base: u64) -> bool {
        let mut s = PcreScratch::default();
        let mut v = Verifier {
            buf,
            base,
            budget: BACKTRACK_BUDGET,
            scratch: &mut s,
            first_match: None,
        };
        v.run(items).is_some()
    }

    fn rel(p: &[u8], distance: Option<i32>, within: Option<u32>) -> Item {
        Item::Content(ContentItem::new(
            p, false, false, None, None, distance, within, false, false,
        ))
    }

    fn pcre(p: &str, relative: bool, negated: bool) -> Item {
        Item::Pcre(PcreItem {
            re: Regex::compile(p, PcreFlags::default()).expect("pcre"),
            negated,
            relative,
            anchored: false,
        })
    }

    #[test]
    fn plain_and_nocase() {
        assert!(run(&[Item::Content(content(b"abc"))], b"xxabcxx"));
        assert!(!run(&[Item::Content(content(b"abc"))], b"xxABCxx"));
        let nc = ContentItem::new(b"AbC", true, false, None, None, None, None, false, false);
        assert!(run(&[Item::Content(nc)], b"xxaBcxx"));
        assert_eq!(find_nocase(b"xYz", b"yz"), Some(1));
        assert_eq!(find_nocase(b"y", b"yz"), None);
        assert_eq!(find_nocase(b"zz\x00Yzz", b"\x00yz"), Some(2));
    }

    #[test]
    fn offset_and_depth() {
        let c = |o, d| {
            Item::Content(ContentItem::new(
                b"ab", false, false, o, d, None, None, false, false,
            ))
        };
        assert!(run(&[c(Some(2), None)], b"xxab"));
        assert!(!run(&[c(Some(3), None)], b"xxab"));
        // depth counts from offset: window [2, 4).
        assert!(run(&[c(Some(2), Some(2))], b"xxab"));
        assert!(!run(&[c(Some(1), Some(2))], b"xxab"));
        assert!(!run(&[c(None, Some(3))], b"xxab"));
        // A later occurrence inside the window is found.
        assert!(run(&[c(Some(1), Some(4))], b"abxab"));
    }

    #[test]
    fn absolute_positions_are_stream_positions() {
        let c = Item::Content(ContentItem::new(
            b"GET",
            false,
            false,
            None,
            Some(3),
            None,
            None,
            false,
            false,
        ));
        assert!(run_base(&[c], b"GET /", 0));
        let c = Item::Content(ContentItem::new(
            b"GET",
            false,
            false,
            None,
            Some(3),
            None,
            None,
            false,
            false,
        ));
        // The buffer starts at stream offset 10: "GET" here is not at stream start.
        assert!(!run_base(&[c], b"GET /", 10));
        let c = Item::Content(ContentItem::new(
            b"ab",
            false,
            false,
            Some(12),
            Some(2),
            None,
            None,
            false,
            false,
        ));
        assert!(run_base(&[c], b"xxab", 10));
    }

    #[test]
    fn startswith_endswith() {
        let s = |p: &[u8]| {
            Item::Content(ContentItem::new(
                p, false, false, None, None, None, None, true, false,
            ))
        };
        let e = |p: &[u8]| {
            Item::Content(ContentItem::new(
                p, false, false, None, None, None, None, false, true,
            ))
        };
        assert!(run(&[s(b"GET")], b"GET /"));
        assert!(!run(&[s(b"GET")], b" GET /"));
        assert!(run(&[e(b".exe")], b"/a.exe"));
        assert!(!run(&[e(b".exe")], b"/a.exe?x"));
        assert!(run(&[s(b"/a"), e(b"exe")], b"/a.exe"));
        // Relative startswith: right after the previous match.
        let rs = |d| {
            Item::Content(ContentItem::new(
                b"x",
                false,
                false,
                None,
                None,
                Some(d),
                None,
                true,
                false,
            ))
        };
        assert!(run(&[Item::Content(content(b"a")), rs(0)], b"a..ax"));
        assert!(!run(&[Item::Content(content(b"a")), rs(0)], b"a.x"));
        assert!(run(&[Item::Content(content(b"a")), rs(1)], b"a.x"));
        // Relative endswith: after the first match and at the end.
        let re = Item::Content(ContentItem::new(
            b"x",
            false,
            false,
            None,
            None,
            Some(0),
            None,
            false,
            true,
        ));
        assert!(run(&[Item::Content(content(b"a")), re], b"a..x"));
    }

    #[test]
    fn distance_within() {
        let a = || Item::Content(content(b"ab"));
        assert!(run(&[a(), rel(b"cd", Some(0), None)], b"abcd"));
        assert!(!run(&[a(), rel(b"cd", Some(1), None)], b"abcd"));
        assert!(run(&[a(), rel(b"cd", Some(1), None)], b"abxcd"));
        assert!(run(&[a(), rel(b"cd", None, Some(2))], b"abcd"));
        assert!(!run(&[a(), rel(b"cd", None, Some(3))], b"abxxcd"));
        // within counts from distance's start: [2+1, 2+1+3).
        assert!(run(&[a(), rel(b"cd", Some(1), Some(3))], b"abxxcd"));
        // Negative distance reaches back.
        assert!(run(&[a(), rel(b"b", Some(-1), Some(1))], b"ab"));
        assert!(!run(&[a(), rel(b"a", Some(-1), Some(1))], b"ab"));
    }

    #[test]
    fn backtracking_over_earlier_occurrences() {
        // The first "ab" is not followed by "cd" within 2; the third is.
        let items = [Item::Content(content(b"ab")), rel(b"cd", Some(0), Some(2))];
        assert!(run(&items, b"ab__ab__abcd"));
        assert!(!run(&items, b"ab__ab__ab_cd"));
        // Three levels: a, then b within 2, then c within 2 of b.
        let items = [
            Item::Content(content(b"a")),
            rel(b"b", Some(0), Some(2)),
            rel(b"c", Some(0), Some(2)),
        ];
        assert!(run(&items, b"ab_ab__a_bc"));
        assert!(!run(&items, b"ab_xab_bc"));
        // Backtracking at the middle level: the second "b" is followed by "c".
        let items = [
            Item::Content(content(b"a")),
            rel(b"b", Some(0), Some(3)),
            rel(b"c", Some(0), Some(1)),
        ];
        assert!(run(&items, b"abbc"));
        assert!(!run(&items, b"abbxc"));
        // No backtracking when the next item is absolute.
        let items = [Item::Content(content(b"ab")), Item::Content(content(b"zz"))];
        assert!(!run(&items, b"ab ab"));
    }

    #[test]
    fn backtracking_is_bounded() {
        // Pathological: many "a" and a relative item that never matches.
        let buf = vec![b'a'; 10_000];
        let items = [
            Item::Content(content(b"a")),
            rel(b"a", Some(0), Some(1)),
            rel(b"b", Some(0), None),
        ];
        let mut s = PcreScratch::default();
        let mut v = Verifier {
            buf: &buf,
            base: 0,
            budget: BACKTRACK_BUDGET,
            scratch: &mut s,
            first_match: None,
        };
        assert!(v.run(&items).is_none());
        assert_eq!(v.budget, 0);
    }

    #[test]
    fn negation() {
        let neg = |p: &[u8], d: Option<i32>, w: Option<u32>| {
            Item::Content(ContentItem::new(
                p, false, true, None, None, d, w, false, false,
            ))
        };
        assert!(run(
            &[Item::Content(content(b"a")), neg(b"evil", None, None)],
            b"a good"
        ));
        assert!(!run(
            &[Item::Content(content(b"a")), neg(b"evil", None, None)],
            b"a evil"
        ));
        // Negated relative: "evil" must not follow within 5 of "user=";
        // backtracking finds the second "user=" for which that holds.
        let items = [
            Item::Content(content(b"user=")),
            neg(b"evil", Some(0), Some(5)),
        ];
        assert!(!run(&items, b"user=evil"));
        assert!(run(&items, b"user=evil user=bob"));
        // Negation does not move the previous match end.
        let items = [
            Item::Content(content(b"ab")),
            neg(b"zz", None, None),
            rel(b"cd", Some(0), Some(2)),
        ];
        assert!(run(&items, b"abcd"));
    }

    #[test]
    fn pcre_relative_and_negated() {
        let items = [Item::Content(content(b"id=")), pcre(r"^\d+&", true, false)];
        assert!(run(&items, b"x=1&id=42&"));
        assert!(!run(&items, b"x=1&id=a42&"));
        // Backtracking into the content for a later "id=".
        assert!(run(&items, b"id=a&id=7&"));
        // Content relative to a pcre match end.
        let items = [pcre(r"k[0-9]", false, false), rel(b"!", Some(0), Some(1))];
        assert!(run(&items, b"k1 k2!"));
        assert!(run(&[pcre(r"evil", false, true)], b"good"));
        assert!(!run(&[pcre(r"evil", false, true)], b"so evil"));
        // Non-relative pcre sees the whole buffer.
        let items = [Item::Content(content(b"zz")), pcre(r"^ab", false, false)];
        assert!(run(&items, b"abzz"));
    }

    #[test]
    fn isdataat_cases() {
        let isd = |n, relative, negated| Item::IsDataAt {
            n,
            relative,
            negated,
        };
        assert!(run(&[isd(3, false, false)], b"abcd"));
        assert!(!run(&[isd(4, false, false)], b"abcd"));
        assert!(run(&[isd(4, false, true)], b"abcd"));
        let c = || Item::Content(content(b"ab"));
        assert!(run(&[c(), isd(2, true, false)], b"abcd"));
        assert!(!run(&[c(), isd(3, true, false)], b"abcd"));
        assert!(run(&[c(), isd(1, true, true)], b"ab"));
        // Backtracks to the occurrence at the end of the buffer.
        assert!(run(&[c(), isd(1, true, true)], b"ab_ab"));
        assert!(!run(&[c(), isd(1, true, true)], b"ab_ab_"));
    }

    #[test]
    fn byte_test_and_jump() {
        let bt = |nbytes, op, value, offset, relative, format| {
            Item::ByteTest(ByteTest {
                nbytes,
                op,
                negated: false,
                value,
                offset,
                relative,
                format,
                bitmask: None,
            })
        };
        assert!(run(
            &[bt(2, ByteOp::Eq, 0x0102, 1, false, NumFormat::Big)],
            b"\x00\x01\x02"
        ));
        assert!(run(
            &[bt(2, ByteOp::Eq, 0x0201, 1, false, NumFormat::Little)],
            b"\x00\x01\x02"
        ));
        assert!(!run(
            &[bt(2, ByteOp::Gt, 0x0102, 1, false, NumFormat::Big)],
            b"\x00\x01\x02"
        ));
        assert!(!run(
            &[bt(4, ByteOp::Eq, 1, 1, false, NumFormat::Big)],
            b"\x00\x01\x02"
        ));
        let items = [
            Item::Content(content(b"len=")),
            bt(3, ByteOp::Ge, 100, 0, true, NumFormat::String(10)),
        ];
        assert!(run(&items, b"len=250;"));
        assert!(!run(&items, b"len=25;"));
        let masked = Item::ByteTest(ByteTest {
            nbytes: 1,
            op: ByteOp::Eq,
            negated: false,
            value: 3,
            offset: 0,
            relative: false,
            format: NumFormat::Big,
            bitmask: Some(0x30),
        });
        assert!(run(&[masked], b"\x3f"));
        // byte_jump over a length-prefixed field, then a relative content.
        let bj = Item::ByteJump(ByteJump {
            nbytes: 1,
            offset: 0,
            relative: false,
            format: NumFormat::Big,
            multiplier: 1,
            align: false,
            from_beginning: false,
            from_end: false,
            post_offset: 0,
            bitmask: None,
        });
        assert!(run(&[bj, rel(b"X", Some(0), Some(1))], b"\x03abcX"));
        let bj = Item::ByteJump(ByteJump {
            nbytes: 1,
            offset: 0,
            relative: false,
            format: NumFormat::Big,
            multiplier: 1,
            align: false,
            from_beginning: false,
            from_end: false,
            post_offset: 0,
            bitmask: None,
        });
        assert!(!run(&[bj, rel(b"X", Some(0), Some(1))], b"\x02abcX"));
    }
}
