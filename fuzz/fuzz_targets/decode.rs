//! Any bytes as a packet of any supported link type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_event::Timestamp;
use vigil_net::capture::{LinkType, RawPacket};
use vigil_net::decode::{Decoder, DefragConfig};

const LINKTYPES: [LinkType; 8] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let linktype = LINKTYPES[usize::from(selector) % LINKTYPES.len()];
    let mut decoder = Decoder::new(DefragConfig::default());
    // Feed the input as several packets so fragment reassembly is exercised.
    for (i, chunk) in rest.split(|b| *b == 0xfe).enumerate() {
        let raw = RawPacket {
            number: i as u64 + 1,
            ts: Timestamp::from_nanos(i as i64 * 1_000_000),
            linktype,
            orig_len: chunk.len() as u32,
            data: chunk,
        };
        let _ = decoder.decode(&raw);
    }
});
