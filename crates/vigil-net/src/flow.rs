//! The bidirectional flow table. (Stub: to be written.)
//!
//! Flows are keyed on the 5-tuple in canonical order; the originator is the
//! sender of the SYN (or of the first packet). Each flow counts packets and
//! frame bytes per direction, keeps first/last seen, a Zeek-style
//! `conn_state` and `history`, and its Community ID. Flows end on
//! protocol-specific timeouts in event time, on close, on eviction when the
//! table is full (counted), or at the end of input.

/// Flow table limits and timeouts (seconds of event time).
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Most flows held at once; when full, the least recently seen flow is
    /// evicted (written with end_reason "evicted" and counted).
    pub max_flows: usize,
    /// TCP flows that completed the handshake and are not closing.
    pub tcp_established_timeout: u32,
    /// TCP flows still in the handshake (SYN seen, no answer yet).
    pub tcp_handshake_timeout: u32,
    /// TCP flows after FIN from both sides or a RST.
    pub tcp_closed_timeout: u32,
    /// UDP flows.
    pub udp_timeout: u32,
    /// ICMP/ICMPv6 flows.
    pub icmp_timeout: u32,
    /// Any other IP protocol.
    pub other_timeout: u32,
    /// Community ID seed.
    pub community_id_seed: u16,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            max_flows: 1_000_000,
            tcp_established_timeout: 3600,
            tcp_handshake_timeout: 30,
            tcp_closed_timeout: 5,
            udp_timeout: 60,
            icmp_timeout: 30,
            other_timeout: 60,
            community_id_seed: 0,
        }
    }
}
