//! The chat example's own tests (examples/chat/tests.rs, written with
//! `zocket::testing` as an app author would), compiled with the example's
//! source. (An example marked `test = true` would not be built as a plain
//! binary for the tests that run it as a process.)
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/chat/main.rs"]
mod chat;
