//! Writing classic pcap files (nanosecond timestamps), for incident
//! evidence, the rolling backup and extracts.
//!
//! Written here by hand: the format is a 24-byte file header and a 16-byte
//! header per record, `pcap-parser` (already used for reading) has no
//! writer, and a second pcap crate would duplicate it for forty lines.
//! Files use the nanosecond magic `0xa1b23c4d` in little-endian order so
//! capture times keep their full precision; tshark, tcpdump and Vigil's
//! reader all read it.

use std::io::{self, Write};

use vigil_event::Timestamp;

use crate::capture::LinkType;

/// The snap length written into file headers (the largest frame kept).
pub const SNAPLEN: u32 = 262_144;

/// Bytes of the pcap file header.
pub const FILE_HEADER_LEN: u64 = 24;

/// Bytes of a record header.
pub const RECORD_HEADER_LEN: u64 = 16;

/// The bytes a record of `caplen` captured bytes takes in a file.
pub const fn record_len(caplen: usize) -> u64 {
    RECORD_HEADER_LEN + caplen as u64
}

/// Writes a classic pcap stream to any [`Write`].
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    linktype: LinkType,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header for `linktype` and return the writer.
    pub fn new(mut out: W, linktype: LinkType) -> io::Result<Self> {
        let mut h = [0u8; FILE_HEADER_LEN as usize];
        h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(Self {
            out,
            linktype,
            bytes: FILE_HEADER_LEN,
            packets: 0,
        })
    }

    /// The link type every record of this file has.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// Bytes written so far, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Append one record. Times before 1970 or after 2106 do not fit the
    /// format's unsigned 32-bit seconds and are clamped to its range; frames
    /// longer than [`SNAPLEN`] are cut to it (`orig_len` keeps the length on
    /// the wire).
    pub fn write_packet(&mut self, ts: Timestamp, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let data = data.get(..SNAPLEN as usize).unwrap_or(data);
        let nanos = ts.nanos().max(0);
        let secs = u32::try_from(nanos / 1_000_000_000).unwrap_or(u32::MAX);
        let frac = (nanos % 1_000_000_000) as u32;
        // data.len() <= SNAPLEN, so it fits in u32.
        let caplen = data.len() as u32;
        let mut h = [0u8; RECORD_HEADER_LEN as usize];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.bytes += record_len(data.len());
        self.packets += 1;
        Ok(())
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and return the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;

    #[test]
    fn written_file_reads_back_with_times_and_lengths() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).unwrap();
        let t1 = Timestamp::from_nanos(1_700_000_000_123_456_789);
        w.write_packet(t1, 100, b"\x45abc").unwrap();
        w.write_packet(Timestamp::from_nanos(-5), 3, b"xyz")
            .unwrap();
        assert_eq!(w.packets(), 2);
        assert_eq!(w.bytes(), 24 + 16 + 4 + 16 + 3);
        let bytes = w.into_inner().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 4 + 16 + 3);
        let mut r = CaptureReader::new(bytes.as_slice()).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.ts, t1);
        assert_eq!(p.linktype, LinkType::RAW);
        assert_eq!(p.orig_len, 100);
        assert_eq!(p.data, b"\x45abc");
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.ts, Timestamp::from_nanos(0));
        assert_eq!(p.data, b"xyz");
        assert!(r.next_packet().is_none());
    }
}
