//! Floor 4, transport: from a TCP socket (or an axum upgrade) to a running
//! session.

#[cfg(feature = "axum")]
mod axum; // Zocket::axum_route: the same checks and session behind an axum route
pub(crate) mod echo; // the conformance echo server the Autobahn suite runs against
pub(crate) mod frames; // Frames: what a session does with a data frame (dispatch, or echo)
pub(crate) mod http; // request head parsing, handshake data, refusals, pages
pub(crate) mod listener; // the accept loop, graceful shutdown, shutdown_signal
pub(crate) mod recovery; // the greeting, and keeping a dropped session for its window
pub(crate) mod scan; // FrameScanner: where the peer is in its frames, for message timeouts
pub(crate) mod session; // one connection's poll loop
pub(crate) mod socket; // BufferedSocket: reads without a large per-connection buffer
pub(crate) mod upgrade; // the upgrade checks and on_connect, shared with axum
