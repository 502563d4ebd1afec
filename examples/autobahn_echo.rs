//! The server the Autobahn conformance suite runs against (scripts/autobahn.sh):
//! zocket's real handshake, connection loop and limits, with every text and
//! binary frame echoed back instead of dispatched.
//!
//! ```text
//! cargo run --release --example autobahn_echo -- 9001
//! ```

use std::time::Duration;

use zocket::Config;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9001);
    // Autobahn's 9.* cases send messages of up to 16 MiB, and 1,000 messages
    // back to back (9.7, 9.8): a protocol test, not an abuse test, so the
    // per-client rate limit (bursts of 500) is off.
    let config = Config::default()
        .rate_limit(None)
        .max_message_size(20 << 20)
        .max_frame_size(20 << 20)
        .max_write_buffer_size(64 << 20)
        .queue_len(4096)
        .close_timeout(Duration::from_secs(2));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("autobahn echo server on ws://{}", listener.local_addr()?);
    zocket::serve_conformance_echo(listener, config, zocket::shutdown_signal()).await?;
    Ok(())
}
