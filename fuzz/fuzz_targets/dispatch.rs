//! Arbitrary bytes as a text frame into the dispatch path: envelope parse,
//! route lookup, typed payload deserialization and validation, the handler.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zocket::fuzzing::Dispatcher;

static DISPATCHER: OnceLock<Dispatcher> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // tungstenite only hands over valid UTF-8 text frames.
    if let Ok(text) = std::str::from_utf8(data) {
        DISPATCHER.get_or_init(Dispatcher::new).frame(text);
    }
});
