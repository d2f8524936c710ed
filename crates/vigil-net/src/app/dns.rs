//! DNS over UDP and TCP: messages parsed, queries paired with responses by
//! id within a flow, one DNS Activity record per query. (Stub: to be written.)

use vigil_event::{Event, Timestamp};

use super::{AppConfig, DatagramParser, Direction, FlowMeta, Progress, StreamParser};

/// True when `datagram` parses as a plausible DNS message.
pub fn looks_like_dns(datagram: &[u8]) -> bool {
    let _ = datagram;
    false
}

/// True when `first` starts like DNS over TCP (2-byte length, then a DNS header).
pub fn looks_like_dns_over_tcp(first: &[u8]) -> bool {
    let _ = first;
    false
}

/// DNS over UDP.
#[derive(Debug)]
pub struct DnsUdpParser {}

impl DnsUdpParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        let _ = config;
        Self {}
    }
}

impl DatagramParser for DnsUdpParser {
    fn datagram(
        &mut self,
        _meta: &FlowMeta,
        _dir: Direction,
        _ts: Timestamp,
        _data: &[u8],
        _out: &mut Vec<Event>,
    ) -> Progress {
        Progress::Continue
    }
    fn end(&mut self, _meta: &FlowMeta, _ts: Timestamp, _out: &mut Vec<Event>) {}
}

/// DNS over TCP (length-prefixed messages).
#[derive(Debug)]
pub struct DnsTcpParser {}

impl DnsTcpParser {
    /// A parser with the configured limits.
    pub fn new(config: &AppConfig) -> Self {
        let _ = config;
        Self {}
    }
}

impl StreamParser for DnsTcpParser {
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
