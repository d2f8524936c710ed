//! Any bytes as a capture file: the reader must report errors, never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_net::capture::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let mut n = 0u32;
    while let Some(item) = reader.next_packet() {
        n += 1;
        if n > 100_000 {
            panic!("capture reader does not make progress");
        }
        if let Err(e) = item {
            if e.is_fatal() {
                break;
            }
        }
    }
});
