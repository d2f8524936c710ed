//! SSH: the client and server identification strings (RFC 4253 §4.2).
//!
//! This module owns SSH identification ([`looks_like_ssh`]), the pure line
//! scanner ([`find_ssh_version`]) and [`SshParser`], which writes one SSH
//! Activity record per connection once both identification strings are
//! seen (or at the end of the flow with what was seen), then stops.
//!
//! Client and server: the server usually speaks first, so "who sent the
//! first version string" says nothing. The flow's originator (the side that
//! sent the SYN) is the client; its string is `client_version`.

use vigil_event::{Body, Event, SshActivity, Timestamp};

use super::{AppConfig, Direction, FlowMeta, Progress, StreamParser};

/// Longest line kept, CR LF included (RFC 4253 §4.2 allows 255).
const MAX_LINE: usize = 255;
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
        if self.written {
            return Progress::Done;
        }
        let sd = &mut self.sides[side(dir)];
        if sd.version.is_some() || sd.gave_up {
            return Progress::Continue;
        }
        sd.ts.get_or_insert(ts);
        // Bounded: a side keeps at most MAX_LINES lines of MAX_LINE bytes.
        let room = (MAX_LINE * (MAX_LINES + 1)).saturating_sub(sd.buf.len());
        sd.buf
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        match find_ssh_version(&sd.buf) {
            Scan::Found { version, .. } => {
                sd.version = Some(version);
                sd.buf = Vec::new();
            }
            Scan::NeedMore if room > data.len() => {}
            Scan::NeedMore | Scan::NotSsh => {
                sd.gave_up = true;
                sd.buf = Vec::new();
                self.not_ssh += 1;
            }
        }
        let [a, b] = &self.sides;
        if a.version.is_some() && b.version.is_some() {
            self.write(meta, out);
            return Progress::Done;
        }
        let nothing = |s: &SshSide| s.gave_up && s.version.is_none();
        if nothing(a) && nothing(b) {
            return Progress::Mismatch;
        }
        if (a.gave_up || a.version.is_some()) && (b.gave_up || b.version.is_some()) {
            self.write(meta, out);
            return Progress::Done;
        }
        Progress::Continue
    }

    fn gap(&mut self, dir: Direction, _len: u64) {
        let sd = &mut self.sides[side(dir)];
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

    fn counters(&self) -> Vec<(&'static str, u64)> {
        [
            ("ssh.not_ssh", self.not_ssh),
            ("ssh.gap_gave_up", self.gaps),
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

    fn run(chunks: &[Chunk]) -> (Vec<SshActivity>, Progress) {
        let m = meta(22);
        let mut p = SshParser::new(&AppConfig::default());
        let mut out = Vec::new();
        let mut last = Progress::Continue;
        for c in chunks {
            last = p.data(&m, c.dir, c.ts, &c.bytes, &mut out);
            if last != Progress::Continue {
                break;
            }
        }
        p.end(&m, Timestamp::default(), &mut out);
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
    fn real_exchange_gives_both_versions_then_done() {
        let all = fixture(OPENSSH);
        assert!(looks_like_ssh(&all[0].bytes) && looks_like_ssh(&all[1].bytes));
        let (recs, last) = run(&all);
        assert_eq!(last, Progress::Done);
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
