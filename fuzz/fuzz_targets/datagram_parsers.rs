//! Any bytes as UDP datagrams through every datagram parser (DNS, QUIC
//! when present), directions chosen by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_event::{ConnectionInfo, Endpoint, Timestamp};
use vigil_net::app::{self, AppConfig, Direction, FlowMeta};

fuzz_target!(|data: &[u8]| {
    let meta = FlowMeta {
        originator: Endpoint::new("127.0.0.1".parse().expect("literal address"), 40000),
        responder: Endpoint::new("127.0.0.2".parse().expect("literal address"), 53),
        connection_info: ConnectionInfo::tcp("Ffuzz", "1:fuzz"),
    };
    let mut out = Vec::new();
    let mut parser = None;
    for (i, datagram) in data.split(|b| *b == 0xff).enumerate() {
        let ts = Timestamp::from_nanos(i as i64 * 1000);
        if parser.is_none() {
            parser = app::detect_datagram(datagram).and_then(|p| app::new_datagram_parser(p, &AppConfig::default()));
        }
        if let Some(p) = parser.as_mut() {
            let dir = if i % 2 == 1 { Direction::ToOriginator } else { Direction::ToResponder };
            let _ = p.datagram(&meta, dir, ts, datagram, &mut out);
        }
    }
    if let Some(p) = parser.as_mut() {
        p.end(&meta, Timestamp::from_nanos(1 << 40), &mut out);
    }
});
