//! Arbitrary bytes as an HTTP upgrade request: head parsing, the header and
//! query-string merge (percent-decoding), typed and validated headers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zocket::fuzzing::handshake(data);
});
