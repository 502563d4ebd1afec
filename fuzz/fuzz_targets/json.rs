//! Arbitrary text as JSON: the outgoing-message writer against serde_json,
//! and the one-pass envelope reader against the full parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        zocket::fuzzing::json(text);
    }
});
