//! The client's policies: the reconnection schedule and what a send does
//! when the send buffer is full.

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
