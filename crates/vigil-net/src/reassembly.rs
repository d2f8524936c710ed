//! TCP stream reassembly, one [`StreamReassembler`] per direction of a flow.
//!
//! Segments go in as they arrive (any order, retransmitted, overlapping);
//! in-order bytes come out through a callback as [`Chunk::Data`], and holes
//! that will never be filled (the buffer limit was hit, or the flow ended)
//! come out as [`Chunk::Gap`] with their length, so parsers know bytes are
//! missing instead of being handed a guess. Overlaps keep the bytes first
//! seen (Suricata's "first" policy on Linux is "old data wins" for most
//! cases too) and count differing overlaps. (Stub: to be written.)

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

/// Reassembles one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct StreamReassembler {
    stats: Reassembly,
}

impl StreamReassembler {
    /// A reassembler with the given limits.
    pub fn new(config: &ReassemblyConfig) -> Self {
        let _ = config;
        Self::default()
    }

    /// The sender's SYN carried initial sequence number `isn`: the stream
    /// starts at `isn + 1`. Without a SYN the first segment seen starts it.
    pub fn syn(&mut self, isn: u32) {
        let _ = isn;
    }

    /// One segment's payload at sequence number `seq`; `deliver` is called
    /// with whatever becomes in order.
    pub fn segment(&mut self, seq: u32, payload: &[u8], deliver: &mut dyn FnMut(Chunk<'_>)) {
        let _ = (seq, payload, deliver);
    }

    /// The stream ended (FIN, RST, timeout, end of input): deliver what is
    /// buffered, with gaps for the holes before it.
    pub fn flush(&mut self, deliver: &mut dyn FnMut(Chunk<'_>)) {
        let _ = deliver;
    }

    /// Bytes currently buffered out of order.
    pub fn buffered_bytes(&self) -> usize {
        0
    }

    /// Gaps, retransmissions and overlaps seen so far.
    pub fn stats(&self) -> &Reassembly {
        &self.stats
    }
}
