//! Any bytes through every TCP stream parser (DNS over TCP, HTTP, TLS, SSH),
//! split into chunks and directions by the input itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_event::{ConnectionInfo, Endpoint, Timestamp};
use vigil_net::app::{self, AppConfig, AppProto, Direction, FlowMeta, Progress};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let protos = [AppProto::Dns, AppProto::Http, AppProto::Tls, AppProto::Ssh];
    let proto = protos[usize::from(selector) % protos.len()];
    let _ = app::detect_stream(rest);
    let meta = FlowMeta {
        originator: Endpoint::new("127.0.0.1".parse().expect("literal address"), 40000),
        responder: Endpoint::new("127.0.0.2".parse().expect("literal address"), 443),
        connection_info: ConnectionInfo::tcp("Ffuzz", "1:fuzz"),
    };
    let mut parser = app::new_stream_parser(proto, &AppConfig::default());
    let mut out = Vec::new();
    // Chunks are separated by 0xff 0x00; a chunk's first byte picks the
    // direction (odd: to the originator) or, when it is 0xee, a gap.
    for (i, chunk) in rest.split(|b| *b == 0xff).enumerate() {
        let ts = Timestamp::from_nanos(i as i64 * 1000);
        match chunk.split_first() {
            Some((&0xee, tail)) => parser.gap(Direction::ToResponder, tail.len() as u64 + 1),
            Some((&d, tail)) => {
                let dir = if d & 1 == 1 { Direction::ToOriginator } else { Direction::ToResponder };
                if parser.data(&meta, dir, ts, tail, &mut out) != Progress::Continue {
                    break;
                }
            }
            None => {}
        }
    }
    parser.end(&meta, Timestamp::from_nanos(1 << 40), &mut out);
    for event in &out {
        let _ = event.to_json_line();
    }
});
