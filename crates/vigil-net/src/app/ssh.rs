//! SSH: the client and server identification strings (RFC 4253 §4.2).
//!
//! This module owns SSH identification ([`looks_like_ssh`]), the pure line
//! scanner ([`find_ssh_version`]) and [`SshParser`], which writes one SSH
//! Activity record per connection once both identification strings are
//! seen (or at the end of the flow with what was seen).
//!
//! After the identification strings the parser walks each side's binary
//! packets (RFC 4253 §6: length, padding length, message type) until that
//! side sends `SSH_MSG_NEWKEYS` (21); once both sides have, the rest of the
//! connection is encrypted ([`StreamParser::encrypted`]) and payload
//! inspection stops, as Suricata's SSH parser stops inspecting and
//! reassembling an SSH session once it is encrypted. A packet length beyond
//! RFC 4253's limits or a hole in the stream ends the walk without that
//! claim, and so does a side sending [`MAX_CLEAR_PACKETS`] packets in clear.
//!
//! Client and server: the server usually speaks first, so "who sent the
//! first version string" says nothing. The flow's originator (the side that
//! sent the SYN) is the client; its string is `client_version`.

use vigil_event::{Body, Event, SshActivity, Timestamp};

use super::{AppConfig, Direction, FlowMeta, Progress, StreamParser};

/// Longest line kept, CR LF included (RFC 4253 §4.2 allows 255).
const MAX_LINE: usize = 255;
/// Packets in clear a side may send before NEWKEYS before the walk stops
/// (a key exchange takes a handful).
pub const MAX_CLEAR_PACKETS: u32 = 64;
/// Largest packet length accepted in the walk (RFC 4253 §6.1 requires 35,000
/// bytes to be supported; implementations allow up to 256 KiB).
const MAX_PACKET_LEN: u32 = 256 * 1024;
/// SSH_MSG_NEWKEYS.
const MSG_NEWKEYS: u8 = 21;

/// Lines a side may send before its version string (RFC 4253 allows the
/// server other lines first; banners in the wild have a handful).
const MAX_LINES: usize = 32;

/// True when `first` (the first bytes one side of a TCP stream sent) starts
/// like SSH: "SSH-" at the start, or after a few short text lines (a server
/// may send other lines before its version string).
pub fn looks_like_ssh(first: &[u8]) -> bool {
    first.starts_with(b"SSH-") || matches!(find_ssh_version(first), Scan::Found { .. })
}

/// What [`find_ssh_version`] found in a prefix of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The identification string (without CR LF), and the bytes up to and
    /// including its line end.
    Found {
        /// "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".
        version: String,
        /// Bytes consumed.
        consumed: usize,
    },
    /// More bytes are needed.
    NeedMore,
    /// Not SSH: a binary line, a line too long, or too many lines.
    NotSsh,
}

/// Scan `buf` (the start of one direction) for the identification string:
/// a line starting "SSH-", possibly preceded by up to [`MAX_LINES`] other
/// printable lines. A version line not yet terminated counts as found only
/// when its end is seen (LF, with or without CR).
pub fn find_ssh_version(buf: &[u8]) -> Scan {
    let mut pos = 0;
    for _ in 0..=MAX_LINES {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            // An unterminated line: fine while it can still become one.
            let plausible = rest.len() < MAX_LINE && rest.iter().all(|&b| b == b'\r' || is_text(b));
            return if plausible {
                Scan::NeedMore
            } else {
                Scan::NotSsh
            };
        };
        if nl + 1 > MAX_LINE {
            return Scan::NotSsh;
        }
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"SSH-") {
            if !line.iter().all(|&b| is_text(b)) {
                return Scan::NotSsh;
            }
            return Scan::Found {
                version: String::from_utf8_lossy(line).into_owned(),
                consumed: pos + nl + 1,
            };
        }
        if !line.iter().all(|&b| is_text(b) || b == b'\t') {
            return Scan::NotSsh;
        }
        pos += nl + 1;
    }
    Scan::NotSsh
}

const fn is_text(b: u8) -> bool {
    matches!(b, 0x20..=0x7e) || b >= 0x80
}

#[derive(Debug, Default)]
struct SshSide {
    buf: Vec<u8>,
    version: Option<String>,
    ts: Option<Timestamp>,
    gave_up: bool,
    walk: PacketWalk,
}

/// Where a side's walk over its clear binary packets stands.
#[derive(Debug, Default)]
struct PacketWalk {
    /// The first bytes of the packet being read (length, padding length,
    /// message type).
    head: [u8; 6],
    head_len: usize,
    /// Bytes of the current packet still to skip after its head.
    skip: u64,
    packets: u32,
    /// NEWKEYS sent: what follows from this side is encrypted.
    newkeys: bool,
    /// The walk stopped without NEWKEYS (bad length, hole, too many packets).
    stopped: bool,
}

impl PacketWalk {
    /// Whether the walk is over, either way.
    fn over(&self) -> bool {
        self.newkeys || self.stopped
    }

    /// Walks `data`, the next bytes of this side after its version line.
    fn feed(&mut self, mut data: &[u8]) {
        while !self.over() && !data.is_empty() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.skip -= n as u64;
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            let want = self.head.len() - self.head_len;
            let n = want.min(data.len());
            if let (Some(dst), Some(src)) = (
                self.head.get_mut(self.head_len..self.head_len + n),
                data.get(..n),
            ) {
                dst.copy_from_slice(src);
            }
            self.head_len += n;
            data = data.get(n..).unwrap_or_default();
            if self.head_len < self.head.len() {
                return;
            }
            self.head_len = 0;
            let [l0, l1, l2, l3, pad, msg] = self.head;
            let len = u32::from_be_bytes([l0, l1, l2, l3]);
            // The length covers padding length, payload and padding; the
            // payload has at least its message type, padding is 4 or more.
            if !(6..=MAX_PACKET_LEN).contains(&len) || u32::from(pad) + 2 > len {
                self.stopped = true;
                return;
            }
            self.packets += 1;
            if msg == MSG_NEWKEYS {
                self.newkeys = true;
                return;
            }
            if self.packets >= MAX_CLEAR_PACKETS {
                self.stopped = true;
                return;
            }
            // Two of the length's bytes (padding length, type) are read.
            self.skip = u64::from(len) - 2;
        }
    }
}

/// The SSH stream parser.
#[derive(Debug)]
pub struct SshParser {
    /// [to responder (client), to originator (server)].
    sides: [SshSide; 2],
    written: bool,
    not_ssh: u64,
    gaps: u64,
}

impl SshParser {
    /// A parser (SSH needs no configuration).
    pub fn new(config: &AppConfig) -> Self {
        let _ = config;
        Self {
            sides: [SshSide::default(), SshSide::default()],
            written: false,
            not_ssh: 0,
            gaps: 0,
        }
    }

    fn write(&mut self, meta: &FlowMeta, out: &mut Vec<Event>) {
        if self.written {
            return;
        }
        let [client, server] = &self.sides;
        if client.version.is_none() && server.version.is_none() {
            return;
        }
        self.written = true;
        let (src, dst) = meta.client_server(Direction::ToResponder);
        let time = match (client.ts, server.ts) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or_default(),
        };
        let record = SshActivity {
            src_endpoint: src,
            dst_endpoint: dst,
            connection_info: meta.connection_info.clone(),
            client_version: client.version.clone(),
            server_version: server.version.clone(),
        };
        out.push(Event::new(time, Body::Ssh(record)));
    }
}

const fn side(dir: Direction) -> usize {
    match dir {
        Direction::ToResponder => 0,
        Direction::ToOriginator => 1,
    }
}

impl StreamParser for SshParser {
    fn data(
        &mut self,
        meta: &FlowMeta,
        dir: Direction,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Event>,
    ) -> Progress {
        let sd = &mut self.sides[side(dir)];
        if sd.version.is_some() {
            sd.walk.feed(data);
        } else if !sd.gave_up {
            sd.ts.get_or_insert(ts);
            // Bounded: a side keeps at most MAX_LINES lines of MAX_LINE bytes.
            let room = (MAX_LINE * (MAX_LINES + 1)).saturating_sub(sd.buf.len());
            sd.buf
                .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
            match find_ssh_version(&sd.buf) {
                Scan::Found { version, consumed } => {
                    sd.version = Some(version);
                    // Binary packets follow the version line at once.
                    let buf = std::mem::take(&mut sd.buf);
                    sd.walk.feed(buf.get(consumed..).unwrap_or_default());
                    if data.len() > room {
                        sd.walk.feed(data.get(room..).unwrap_or_default());
                    }
                }
                Scan::NeedMore if room > data.len() => {}
                Scan::NeedMore | Scan::NotSsh => {
                    sd.gave_up = true;
                    sd.buf = Vec::new();
                    self.not_ssh += 1;
                }
            }
        }
        let nothing = |s: &SshSide| s.gave_up && s.version.is_none();
        let settled = |s: &SshSide| s.gave_up || s.version.is_some();
        let [a, b] = &self.sides;
        if !self.written && nothing(a) && nothing(b) {
            return Progress::Mismatch;
        }
        if !self.written && settled(a) && settled(b) {
            self.write(meta, out);
        }
        let [a, b] = &self.sides;
        // Done once the record is written and neither side has clear packets
        // left to walk.
        let walked = |s: &SshSide| s.version.is_none() || s.walk.over();
        if self.written && walked(a) && walked(b) {
            return Progress::Done;
        }
        Progress::Continue
    }

    fn gap(&mut self, dir: Direction, _len: u64) {
        let sd = &mut self.sides[side(dir)];
        if !sd.walk.newkeys {
            sd.walk.stopped = true;
        }
        if sd.version.is_none() && !sd.gave_up {
            // A hole before the version line: it cannot be found reliably.
            sd.gave_up = true;
            sd.buf = Vec::new();
            self.gaps += 1;
        }
    }

    fn end(&mut self, meta: &FlowMeta, _ts: Timestamp, out: &mut Vec<Event>) {
        self.write(meta, out);
    }

    fn encrypted(&self) -> bool {
        // Both sides sent NEWKEYS: everything after is ciphertext.
        self.sides.iter().all(|s| s.walk.newkeys)
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        [
            ("ssh.not_ssh", self.not_ssh),
            ("ssh.gap_gave_up", self.gaps),
            ("ssh.encrypted", u64::from(self.encrypted())),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testutil::{fixture, meta, Chunk};
    use proptest::prelude::*;

    /// OpenSSH 9.2p1 (Debian) client against sshd on 127.0.0.1:28022,
    /// captured with tcpdump: the two version lines and the first KEXINITs.
    const OPENSSH: &str = include_str!("testdata/openssh.tsv");
    const VERSION: &str = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10";

    /// Feeds `chunks` (stopping at the first answer other than Continue
    /// when `stop`), without ending the flow.
    fn feed(chunks: &[Chunk], stop: bool) -> (SshParser, Vec<Event>, Progress) {
        let m = meta(22);
        let mut p = SshParser::new(&AppConfig::default());
        let mut out = Vec::new();
        let mut last = Progress::Continue;
        for c in chunks {
            last = p.data(&m, c.dir, c.ts, &c.bytes, &mut out);
            if stop && last != Progress::Continue {
                break;
            }
        }
        (p, out, last)
    }

    fn run(chunks: &[Chunk]) -> (Vec<SshActivity>, Progress) {
        let (mut p, mut out, last) = feed(chunks, true);
        p.end(&meta(22), Timestamp::default(), &mut out);
        let recs = out
            .into_iter()
            .map(|e| match e.body {
                Body::Ssh(s) => s,
                other => panic!("not ssh: {other:?}"),
            })
            .collect();
        (recs, last)
    }

    #[test]
    fn real_exchange_gives_both_versions() {
        let all = fixture(OPENSSH);
        assert!(looks_like_ssh(&all[0].bytes) && looks_like_ssh(&all[1].bytes));
        let (recs, last) = run(&all);
        // The KEXINITs are walked; NEWKEYS has not come yet.
        assert_eq!(last, Progress::Continue);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].client_version.as_deref(), Some(VERSION));
        assert_eq!(recs[0].server_version.as_deref(), Some(VERSION));
        assert_eq!(
            recs[0].src_endpoint.port,
            Some(40000),
            "the originator is the client"
        );
        // Server first, byte by byte: the same record.
        let mut bytes = Vec::new();
        for c in [&all[1], &all[0]] {
            for b in &c.bytes {
                bytes.push(Chunk {
                    bytes: vec![*b],
                    ..c.clone()
                });
            }
        }
        assert_eq!(run(&bytes).0, recs);
    }

    /// An SSH binary packet in clear with message type `msg`.
    fn packet(msg: u8, payload_len: usize) -> Vec<u8> {
        let pad = 4 + (8 - (payload_len + 1 + 5 + 4) % 8) % 8;
        let len = (1 + payload_len + 1 + pad) as u32;
        let mut out = len.to_be_bytes().to_vec();
        out.push(pad as u8);
        out.push(msg);
        out.extend(std::iter::repeat_n(0xab, payload_len + pad));
        out
    }

    /// Both sides: version line, KEXINIT (20), a key exchange message (30 or
    /// 31), NEWKEYS (21) when `newkeys`, then ciphertext.
    fn exchange(newkeys: bool) -> Vec<Chunk> {
        let all = fixture(OPENSSH);
        let mut chunks = Vec::new();
        for (i, c) in all.iter().take(2).enumerate() {
            let line = format!("{VERSION}\r\n");
            let mut bytes = line.into_bytes();
            bytes.extend(packet(20, 300 + i));
            bytes.extend(packet(30 + i as u8, 40));
            if newkeys {
                bytes.extend(packet(21, 0));
            }
            bytes.extend([0x5a; 100]);
            chunks.push(Chunk { bytes, ..c.clone() });
        }
        chunks
    }

    fn encrypted_after(chunks: &[Chunk]) -> (bool, Progress, usize) {
        let (p, out, last) = feed(chunks, false);
        (p.encrypted(), last, out.len())
    }

    #[test]
    fn newkeys_from_both_sides_means_encrypted_and_done() {
        let chunks = exchange(true);
        assert_eq!(encrypted_after(&chunks), (true, Progress::Done, 1));
        // Byte by byte, interleaved: the same.
        let mut bytes = Vec::new();
        let (a, b) = (&chunks[0], &chunks[1]);
        for i in 0..a.bytes.len().max(b.bytes.len()) {
            for c in [a, b] {
                if let Some(&x) = c.bytes.get(i) {
                    bytes.push(Chunk {
                        bytes: vec![x],
                        ..c.clone()
                    });
                }
            }
        }
        assert!(encrypted_after(&bytes).0);
        // One side's NEWKEYS only: not yet.
        assert!(!encrypted_after(&[chunks[0].clone(), exchange(false)[1].clone()]).0);
    }

    #[test]
    fn a_bad_length_or_a_hole_ends_the_walk_without_encryption() {
        let mut chunks = exchange(true);
        // The client's first packet length set far beyond RFC 4253's limits.
        let at = VERSION.len() + 2;
        chunks[0].bytes[at] = 0x7f;
        let (encrypted, last, records) = encrypted_after(&chunks);
        assert!(!encrypted);
        assert_eq!(records, 1);
        // The client's walk is over (stopped); the server's reached NEWKEYS.
        assert_eq!(last, Progress::Done);

        let m = meta(22);
        let mut p = SshParser::new(&AppConfig::default());
        let mut out = Vec::new();
        let chunks = exchange(true);
        let (head, tail) = chunks[0].bytes.split_at(VERSION.len() + 2 + 10);
        p.data(&m, chunks[0].dir, chunks[0].ts, head, &mut out);
        p.gap(chunks[0].dir, 7);
        p.data(&m, chunks[0].dir, chunks[0].ts, tail, &mut out);
        p.data(&m, chunks[1].dir, chunks[1].ts, &chunks[1].bytes, &mut out);
        assert!(!p.encrypted());
    }

    #[test]
    fn banner_lines_before_the_server_version_are_skipped() {
        let all = fixture(OPENSSH);
        let server = Chunk {
            bytes: b"Welcome\r\nauthorised use only\r\nSSH-2.0-srv_1.0\r\n".to_vec(),
            ..all[1].clone()
        };
        assert!(looks_like_ssh(&server.bytes));
        let (recs, _) = run(&[server, all[0].clone()]);
        assert_eq!(recs[0].server_version.as_deref(), Some("SSH-2.0-srv_1.0"));
    }

    #[test]
    fn one_side_only_is_written_at_end() {
        let all = fixture(OPENSSH);
        let (recs, last) = run(&all[..1]);
        assert_eq!(last, Progress::Continue);
        assert_eq!(recs[0].client_version.as_deref(), Some(VERSION));
        assert_eq!(recs[0].server_version, None);
    }

    #[test]
    fn not_ssh() {
        let c = Chunk {
            proto: "tcp".into(),
            stream: 0,
            dir: Direction::ToResponder,
            ts: Timestamp::default(),
            bytes: b"\x16\x03\x01\x00\x00".to_vec(),
        };
        let s = Chunk {
            dir: Direction::ToOriginator,
            ..c.clone()
        };
        let (recs, last) = run(&[c, s]);
        assert_eq!(last, Progress::Mismatch);
        assert!(recs.is_empty());
        assert!(!looks_like_ssh(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_ssh(b"SSH"));
        assert_eq!(find_ssh_version(&[b'a'; 300]), Scan::NotSsh);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(a in proptest::collection::vec(any::<u8>(), 0..600), b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = find_ssh_version(&a);
            let m = meta(22);
            let mut p = SshParser::new(&AppConfig::default());
            let mut out = Vec::new();
            p.data(&m, Direction::ToResponder, Timestamp::default(), &a, &mut out);
            p.gap(Direction::ToOriginator, 3);
            p.data(&m, Direction::ToOriginator, Timestamp::default(), &b, &mut out);
            p.end(&m, Timestamp::default(), &mut out);
            prop_assert!(out.len() <= 1);
        }
    }
}
