//! Any bytes as a TLS handshake message body: ClientHello (the entry point
//! the QUIC parser uses too), ServerHello and Certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_net::app::ja::JaTransport;
use vigil_net::app::tls;

fuzz_target!(|data: &[u8]| {
    if let Ok(hello) = tls::parse_client_hello(data, JaTransport::Quic) {
        assert!(hello.ja4.starts_with('q'));
    }
    let _ = tls::parse_server_hello(data);
    let _ = tls::parse_certificate(data);
    let _ = tls::looks_like_tls(data);
});
