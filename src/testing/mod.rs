//! A test kit for zocket apps: the real app (dispatch, middleware,
//! validation, rooms, delivery, `on_connect`/`on_disconnect`, recovery) over
//! in-memory connections, with typed clients and expectations. No TCP, no
//! ports: each connection is a pipe in memory carrying the same HTTP upgrade
//! and WebSocket frames as a socket would, through the same parser and
//! serializer, so a test that passes here passes over TCP.
//!
//! It works under `tokio::time::pause()`: heartbeats, timeouts, rate limits
//! and recovery windows run in virtual time.

mod client; // TestClient: typed send/request/expect over an in-memory connection
mod server; // TestServer: the app served over in-memory pipes

pub use client::{Dropped, Exchanged, Question, Refused, TestClient};
pub use server::TestServer;
