//! TCP stream reassembly, one [`StreamReassembler`] per direction of a flow.
//!
//! Segments go in as they arrive (any order, retransmitted, overlapping);
//! in-order bytes come out through a callback as [`Chunk::Data`], and holes
//! that will never be filled (the buffer limit was hit, or the flow ended)
//! come out as [`Chunk::Gap`] with their length, so parsers know bytes are
//! missing instead of being handed a guess. Overlaps keep the bytes first
//! seen ("old data wins", Suricata's default policy on most targets) and
//! count overlaps whose bytes differ.
//!
//! Sequence numbers are 32-bit and wrap; internally every byte gets a 64-bit
//! stream offset relative to the start of the stream (ISN + 1 after a SYN,
//! else the first segment's sequence number), computed from the signed
//! 32-bit distance to the next expected byte. In-order segments are handed
//! on without copying; only out-of-order bytes are copied into the buffer,
//! which is bounded by [`ReassemblyConfig`].
//!
//! Retransmissions of bytes already delivered are dropped and counted but
//! not compared (delivered bytes are not kept); overlaps with buffered
//! out-of-order bytes are compared and differing ones counted as
//! `inconsistent_overlaps`.

use std::collections::BTreeMap;

use vigil_event::Reassembly;

/// Limits for one direction's out-of-order buffer.
#[derive(Debug, Clone)]
pub struct ReassemblyConfig {
    /// Most out-of-order bytes buffered per direction; beyond this the
    /// earliest hole is declared a gap and delivery moves past it.
    pub max_buffered_bytes: usize,
    /// Most out-of-order segments buffered per direction.
    pub max_buffered_segments: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            max_buffered_bytes: 256 * 1024,
            max_buffered_segments: 256,
        }
    }
}

/// What reassembly delivers, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// In-order bytes.
    Data(&'a [u8]),
    /// This many bytes are missing here.
    Gap(u64),
}

/// A segment starting further than this beyond the next expected byte is
/// not believed (a bogus sequence number, or a different connection reusing
/// the tuple): it is dropped and counted in `ooo_dropped` rather than
/// turning everything before it into a gap.
const MAX_AHEAD: u64 = 1 << 30;

/// Reassembles one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    max_bytes: usize,
    max_segments: usize,
    /// Sequence number of the next byte to deliver; meaningful once `started`.
    next_seq: u32,
    started: bool,
    /// Stream offset of `next_seq` (bytes delivered plus gap bytes).
    offset: u64,
    /// Out-of-order segments by stream offset; never overlapping, all
    /// starting after `offset`.
    buffer: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    /// Times a buffer limit forced a gap.
    limit_hits: u64,
    stats: Reassembly,
}

impl StreamReassembler {
    /// A reassembler with the given limits.
    pub fn new(config: &ReassemblyConfig) -> Self {
        Self {
            max_bytes: config.max_buffered_bytes,
            max_segments: config.max_buffered_segments,
            ..Self::default()
        }
    }

    /// The sender's SYN carried initial sequence number `isn`: the stream
    /// starts at `isn + 1`. Without a SYN the first segment seen starts it.
    /// A SYN after data has been delivered is ignored.
    pub fn syn(&mut self, isn: u32) {
        if self.offset == 0 && self.buffer.is_empty() {
            self.next_seq = isn.wrapping_add(1);
            self.started = true;
        }
    }

    /// One segment's payload at sequence number `seq`; `deliver` is called
    /// with whatever becomes in order.
    pub fn segment(&mut self, seq: u32, payload: &[u8], deliver: &mut dyn FnMut(Chunk<'_>)) {
        if payload.is_empty() {
            return;
        }
        if !self.started {
            self.next_seq = seq;
            self.started = true;
        }
        // Signed distance from the next expected byte, wrap-safe.
        let delta = i64::from(seq.wrapping_sub(self.next_seq) as i32);
        let mut data = payload;
        let mut pos = if delta < 0 {
            let old = delta.unsigned_abs();
            if old >= data.len() as u64 {
                self.stats.retransmissions += 1;
                return;
            }
            // Partial retransmission: the old part is dropped (old data wins).
            self.stats.retransmissions += 1;
            data = &data[old as usize..];
            self.offset
        } else {
            self.offset + delta as u64
        };
        if pos - self.offset > MAX_AHEAD {
            self.stats.ooo_dropped += 1;
            return;
        }
        loop {
            if pos == self.offset {
                self.deliver_in_order(pos, data, deliver);
                return;
            }
            // Out of order: buffer what is new, if it fits.
            let new_bytes = self.uncovered_bytes(pos, data);
            if new_bytes == 0 {
                self.stats.retransmissions += 1;
                self.compare_overlaps(pos, data);
                return;
            }
            if self.buffered + new_bytes <= self.max_bytes && self.buffer.len() < self.max_segments
            {
                self.insert(pos, data);
                return;
            }
            // Over a limit: the earliest hole becomes a gap, delivery moves
            // past it, and the segment is tried again.
            self.limit_hits += 1;
            let next_start = self.buffer.keys().next().copied().unwrap_or(pos).min(pos);
            self.gap(next_start - self.offset, deliver);
            self.drain(deliver);
            if pos + data.len() as u64 <= self.offset {
                return;
            }
            if pos < self.offset {
                data = &data[(self.offset - pos) as usize..];
                pos = self.offset;
            }
        }
    }

    /// The stream ended (FIN, RST, timeout, end of input): deliver what is
    /// buffered, with gaps for the holes before it.
    pub fn flush(&mut self, deliver: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(&start) = self.buffer.keys().next() {
            if start > self.offset {
                self.gap(start - self.offset, deliver);
            }
            self.drain(deliver);
        }
    }

    /// Bytes currently buffered out of order.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Times a buffer limit (bytes or segments) forced a gap.
    pub fn limit_hits(&self) -> u64 {
        self.limit_hits
    }

    /// Bytes delivered or declared missing so far (the stream offset).
    pub fn stream_offset(&self) -> u64 {
        self.offset
    }

    /// Gaps, retransmissions and overlaps seen so far.
    pub fn stats(&self) -> &Reassembly {
        &self.stats
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        self.next_seq = self.next_seq.wrapping_add(n as u32);
    }

    fn gap(&mut self, len: u64, deliver: &mut dyn FnMut(Chunk<'_>)) {
        if len == 0 {
            return;
        }
        self.stats.gaps += 1;
        self.stats.gap_bytes += len;
        self.advance(len);
        deliver(Chunk::Gap(len));
    }

    /// `data` starts exactly at the delivery point: hand it on, yielding to
    /// buffered bytes that were seen first where they overlap.
    fn deliver_in_order(
        &mut self,
        mut pos: u64,
        mut data: &[u8],
        deliver: &mut dyn FnMut(Chunk<'_>),
    ) {
        while !data.is_empty() {
            let end = pos + data.len() as u64;
            match self.buffer.keys().next().copied() {
                Some(first) if first < end => {
                    let n = (first - pos) as usize;
                    if n > 0 {
                        deliver(Chunk::Data(&data[..n]));
                        self.advance(n as u64);
                    }
                    self.compare_overlaps(first, &data[n..]);
                    self.drain(deliver);
                    if end <= self.offset {
                        return;
                    }
                    data = &data[(self.offset - pos) as usize..];
                    pos = self.offset;
                }
                _ => {
                    deliver(Chunk::Data(data));
                    self.advance(data.len() as u64);
                    self.drain(deliver);
                    return;
                }
            }
        }
    }

    /// Deliver buffered segments that have become in order.
    fn drain(&mut self, deliver: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.buffer.first_entry() {
            let start = *entry.key();
            if start > self.offset {
                return;
            }
            let seg = entry.remove();
            self.buffered -= seg.len();
            let end = start + seg.len() as u64;
            if end > self.offset {
                let skip = (self.offset - start) as usize;
                deliver(Chunk::Data(&seg[skip..]));
                self.advance(end - self.offset);
            }
        }
    }

    /// Bytes of `[pos, pos + data.len())` not already in the buffer.
    fn uncovered_bytes(&self, pos: u64, data: &[u8]) -> usize {
        let end = pos + data.len() as u64;
        let mut covered = 0u64;
        for (&s, seg) in self.overlapping(pos, end) {
            let e = s + seg.len() as u64;
            covered += e.min(end) - s.max(pos);
        }
        (data.len() as u64 - covered) as usize
    }

    /// Buffered segments overlapping `[pos, end)`, in order.
    fn overlapping(&self, pos: u64, end: u64) -> impl Iterator<Item = (&u64, &Vec<u8>)> {
        let before = self
            .buffer
            .range(..pos)
            .next_back()
            .filter(|(&s, seg)| s + seg.len() as u64 > pos);
        before.into_iter().chain(self.buffer.range(pos..end))
    }

    /// Count an inconsistent overlap when `data` at `pos` differs from
    /// buffered bytes it overlaps.
    fn compare_overlaps(&mut self, pos: u64, data: &[u8]) {
        let end = pos + data.len() as u64;
        let differs = self.overlapping(pos, end).any(|(&s, seg)| {
            let lo = s.max(pos);
            let hi = (s + seg.len() as u64).min(end);
            seg[(lo - s) as usize..(hi - s) as usize]
                != data[(lo - pos) as usize..(hi - pos) as usize]
        });
        if differs {
            self.stats.inconsistent_overlaps += 1;
        }
    }

    /// Buffer the parts of `data` at `pos` not already buffered.
    fn insert(&mut self, pos: u64, data: &[u8]) {
        let end = pos + data.len() as u64;
        let mut overlapped = false;
        // Holes between existing segments inside [pos, end).
        let mut holes: Vec<(u64, u64)> = Vec::new();
        let mut cur = pos;
        for (&s, seg) in self.overlapping(pos, end) {
            overlapped = true;
            if s > cur {
                holes.push((cur, s));
            }
            cur = cur.max(s + seg.len() as u64);
        }
        if cur < end {
            holes.push((cur, end));
        }
        if overlapped {
            self.stats.retransmissions += 1;
            self.compare_overlaps(pos, data);
        }
        for (s, e) in holes {
            let piece = data[(s - pos) as usize..(e - pos) as usize].to_vec();
            self.buffered += piece.len();
            self.buffer.insert(s, piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Default)]
    struct Sink {
        bytes: Vec<u8>,
        gaps: Vec<u64>,
        /// Data with gaps as zero bytes, for position checks.
        stream: Vec<u8>,
    }

    impl Sink {
        fn take(&mut self, chunk: Chunk<'_>) {
            match chunk {
                Chunk::Data(d) => {
                    self.bytes.extend_from_slice(d);
                    self.stream.extend_from_slice(d);
                }
                Chunk::Gap(n) => {
                    self.gaps.push(n);
                    self.stream.extend(std::iter::repeat_n(0u8, n as usize));
                }
            }
        }
    }

    fn run(r: &mut StreamReassembler, segs: &[(u32, &[u8])], flush: bool) -> Sink {
        let mut sink = Sink::default();
        for (seq, data) in segs {
            r.segment(*seq, data, &mut |c| sink.take(c));
        }
        if flush {
            r.flush(&mut |c| sink.take(c));
        }
        sink
    }

    #[test]
    fn in_order_after_syn() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        r.syn(999);
        let sink = run(&mut r, &[(1000, b"hello "), (1006, b"world")], false);
        assert_eq!(sink.bytes, b"hello world");
        assert_eq!(r.stats(), &Reassembly::default());
    }

    #[test]
    fn out_of_order_is_buffered_then_delivered() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        r.syn(0);
        let sink = run(&mut r, &[(7, b"world"), (1, b"hello ")], false);
        assert_eq!(sink.bytes, b"hello world");
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn wraparound() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        r.syn(u32::MAX - 3);
        // Stream starts at u32::MAX - 2; "abc" then wraps to 0.
        let sink = run(&mut r, &[(0, b"defg"), (u32::MAX - 2, b"abc")], false);
        assert_eq!(sink.bytes, b"abcdefg");
    }

    #[test]
    fn retransmission_dropped_and_counted() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        let sink = run(
            &mut r,
            &[(10, b"abcd"), (10, b"abcd"), (12, b"cdef")],
            false,
        );
        assert_eq!(sink.bytes, b"abcdef");
        assert_eq!(r.stats().retransmissions, 2);
    }

    #[test]
    fn overlap_old_data_wins_and_inconsistency_counted() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        r.syn(0);
        // Buffered first: "XYZ" at 4..7; then in-order "abcdefg" at 1..8
        // says "def" for 4..7: the buffered bytes were seen first and win.
        let sink = run(&mut r, &[(4, b"XYZ"), (1, b"abcdefg")], false);
        assert_eq!(sink.bytes, b"abcXYZg");
        assert_eq!(r.stats().inconsistent_overlaps, 1);
    }

    #[test]
    fn flush_turns_holes_into_gaps() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        r.syn(0);
        let sink = run(&mut r, &[(1, b"ab"), (6, b"fg"), (10, b"j")], true);
        assert_eq!(sink.stream, b"ab\0\0\0fg\0\0j");
        assert_eq!(sink.gaps, vec![3, 2]);
        assert_eq!(r.stats().gaps, 2);
        assert_eq!(r.stats().gap_bytes, 5);
    }

    #[test]
    fn buffer_limit_forces_gap() {
        let config = ReassemblyConfig {
            max_buffered_bytes: 4,
            max_buffered_segments: 10,
        };
        let mut r = StreamReassembler::new(&config);
        r.syn(0);
        // Byte 1 is lost; 2..6 fill the buffer, 6..8 overflows it.
        let sink = run(&mut r, &[(2, b"bcde"), (6, b"fg")], false);
        assert_eq!(sink.gaps, vec![1]);
        assert_eq!(sink.bytes, b"bcdefg");
        assert_eq!(r.limit_hits(), 1);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn segment_limit_forces_gap() {
        let config = ReassemblyConfig {
            max_buffered_bytes: 1000,
            max_buffered_segments: 2,
        };
        let mut r = StreamReassembler::new(&config);
        r.syn(0);
        let sink = run(&mut r, &[(3, b"c"), (5, b"e"), (7, b"g")], false);
        // The first hole (1..3) was skipped; 4 is still a hole holding "e" and "g".
        assert_eq!(sink.stream, b"\0\0c");
        assert_eq!(r.buffered_bytes(), 2);
        assert!(r.buffered_bytes() <= 2);
    }

    #[test]
    fn bogus_far_segment_is_dropped() {
        let mut r = StreamReassembler::new(&ReassemblyConfig::default());
        r.syn(0);
        let sink = run(&mut r, &[(1 + (1 << 30) + 5, b"x"), (1, b"ok")], true);
        assert_eq!(sink.bytes, b"ok");
        assert_eq!(r.stats().ooo_dropped, 1);
        assert!(sink.gaps.is_empty());
    }

    /// Cut `len` bytes into segments at the given cut points.
    fn segments(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % len.max(1)).collect();
        points.push(0);
        points.push(len);
        points.sort_unstable();
        points.dedup();
        points.windows(2).map(|w| (w[0], w[1])).collect()
    }

    proptest! {
        #[test]
        fn any_order_duplication_overlap_reassembles_exactly(
            data in proptest::collection::vec(any::<u8>(), 1..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..30),
            extra in proptest::collection::vec((any::<usize>(), 1usize..80), 0..20),
            order in any::<u64>(),
            isn in any::<u32>(),
        ) {
            let mut segs = segments(data.len(), &cuts);
            // Overlapping retransmissions of random ranges (same bytes).
            for (start, len) in extra {
                let s = start % data.len();
                segs.push((s, (s + len).min(data.len())));
            }
            // Deterministic shuffle from `order`.
            let mut state = order | 1;
            for i in (1..segs.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                segs.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut r = StreamReassembler::new(&ReassemblyConfig::default());
            r.syn(isn);
            let mut sink = Sink::default();
            for (s, e) in segs {
                let seq = isn.wrapping_add(1).wrapping_add(s as u32);
                r.segment(seq, &data[s..e], &mut |c| sink.take(c));
            }
            r.flush(&mut |c| sink.take(c));
            prop_assert_eq!(&sink.bytes, &data);
            prop_assert!(sink.gaps.is_empty());
            prop_assert_eq!(r.stats().inconsistent_overlaps, 0);
        }

        #[test]
        fn with_loss_delivered_plus_gaps_is_stream_length(
            data in proptest::collection::vec(any::<u8>(), 1..600),
            cuts in proptest::collection::vec(any::<usize>(), 0..30),
            lost in proptest::collection::vec(any::<bool>(), 0..32),
            order in any::<u64>(),
            limit in 1usize..400,
            max_segments in 1usize..8,
        ) {
            let mut segs = segments(data.len(), &cuts);
            // Keep the last segment so the stream length is known.
            let last = segs.len() - 1;
            let kept: Vec<(usize, usize)> = segs
                .drain(..)
                .enumerate()
                .filter(|(i, _)| *i == last || !lost.get(*i).copied().unwrap_or(false))
                .map(|(_, s)| s)
                .collect();
            let mut segs = kept;
            let mut state = order | 1;
            for i in (1..segs.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                segs.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let config = ReassemblyConfig { max_buffered_bytes: limit, max_buffered_segments: max_segments };
            let mut r = StreamReassembler::new(&config);
            r.syn(41);
            let mut sink = Sink::default();
            for (s, e) in segs {
                r.segment(42 + s as u32, &data[s..e], &mut |c| sink.take(c));
                prop_assert!(r.buffered_bytes() <= limit);
            }
            r.flush(&mut |c| sink.take(c));
            let gap_bytes: u64 = sink.gaps.iter().sum();
            prop_assert_eq!(sink.bytes.len() as u64 + gap_bytes, data.len() as u64);
            prop_assert_eq!(r.stats().gap_bytes, gap_bytes);
            // Every delivered byte is at its right place.
            for (i, b) in sink.stream.iter().enumerate() {
                prop_assert!(*b == 0 || *b == data[i]);
            }
        }
    }
}
