//! TLS: ClientHello, ServerHello and clear-text certificates, with JA3, JA3S and JA4. (Stub: to be written.)

use vigil_event::{Event, Timestamp};

use super::{AppConfig, Direction, FlowMeta, Progress, StreamParser};

/// True when `first` (the first bytes one side of a TCP stream sent) starts like this protocol.
pub fn looks_like_tls(first: &[u8]) -> bool {
    let _ = first;
    false
}

/// The stream parser.
#[derive(Debug)]
pub struct TlsParser {}

impl TlsParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        let _ = config;
        Self {}
    }
}

impl StreamParser for TlsParser {
    fn data(
        &mut self,
        _meta: &FlowMeta,
        _dir: Direction,
        _ts: Timestamp,
        _data: &[u8],
        _out: &mut Vec<Event>,
    ) -> Progress {
        Progress::Continue
    }
    fn gap(&mut self, _dir: Direction, _len: u64) {}
    fn end(&mut self, _meta: &FlowMeta, _ts: Timestamp, _out: &mut Vec<Event>) {}
}
