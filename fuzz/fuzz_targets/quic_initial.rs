//! Any bytes as client datagrams through the QUIC Initial parser (header
//! parsing, key derivation, header protection, decryption attempts), and
//! through the cheap detector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_net::app::quic::{is_quic_initial, QuicInitialParser};

fuzz_target!(|data: &[u8]| {
    let mut parser = QuicInitialParser::new();
    for (i, datagram) in data.split(|b| *b == 0xff).enumerate() {
        let _ = is_quic_initial(datagram);
        let _ = parser.datagram(i % 3 != 2, datagram);
    }
});
