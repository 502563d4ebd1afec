//! The client's policies: the reconnection schedule, its liveness check,
//! what a send does when the send buffer is full, and how handshake values
//! go into the URL.

use std::time::Duration;

/// Reconnection schedule: exponential backoff with jitter.
///
/// The n-th retry waits `min(max_delay, min_delay × factor^(n-1))`, of which a
/// random half is jitter (so a crowd of clients does not reconnect in lockstep).
/// The defaults are Zocket's: 1 s, 10 s, ×1.3, unlimited retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconnect {
    /// First delay.
    pub min_delay: Duration,
    /// Largest delay.
    pub max_delay: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_retries: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            factor: 1.3,
            max_retries: None,
        }
    }
}

impl Reconnect {
    /// The delay before retry number `attempt` (1-based), before jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .factor
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let secs = (self.min_delay.as_secs_f64() * exp).min(self.max_delay.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }
}

/// The default of [`ClientBuilder::retry_refused`](crate::ClientBuilder::retry_refused):
/// whether a reconnection refused with HTTP `status` is worth retrying. 408,
/// 429 and 5xx are (the server is full, shutting down, overloaded, or a proxy
/// in front of it failed); any other status is not (400 invalid handshake
/// data, 401/403 refused by `on_connect`, 409 contract drift: a retry would
/// be refused the same way).
///
/// ```
/// use zocket::transient_refusal;
/// assert!(transient_refusal(503) && transient_refusal(429));
/// assert!(!transient_refusal(401) && !transient_refusal(409));
/// ```
pub fn transient_refusal(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// What [`Client::send`](crate::Client::send) does when the send buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BufferPolicy {
    /// Refuse the new message with [`SendError::Full`](crate::SendError::Full), handing it back.
    #[default]
    Error,
    /// Drop the oldest buffered message (logged) to make room.
    DropOldest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_factor_and_caps() {
        let r = Reconnect::default();
        assert_eq!(r.delay(1), Duration::from_secs(1));
        assert!((r.delay(2).as_secs_f64() - 1.3).abs() < 1e-9);
        assert!((r.delay(3).as_secs_f64() - 1.69).abs() < 1e-9);
        assert_eq!(r.delay(50), Duration::from_secs(10));
        assert_eq!(r.delay(u32::MAX), Duration::from_secs(10));
    }
}

/// The client's own liveness check: a ping every `every`, and a connection
/// from which nothing arrived for `timeout` counts as lost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heartbeat {
    pub(crate) every: Duration,
    pub(crate) timeout: Duration,
}

/// By default the client pings every 20 s and gives a connection up after
/// 45 s of silence: the server pings every 30 s (`Config::heartbeat`), so a
/// live server is heard from at least every 30 s either way.
pub(crate) const DEFAULT_HEARTBEAT: Heartbeat = Heartbeat {
    every: Duration::from_secs(20),
    timeout: Duration::from_secs(45),
};

/// Percent-encodes a query component.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
