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
            let plausible =
                rest.len() < MAX_LINE && rest.iter().all(|&b| b == b'\r' || is_text(b));
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
        [("ssh.not_ssh", self.not_ssh), ("ssh.gap_gave_up", self.gaps)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
