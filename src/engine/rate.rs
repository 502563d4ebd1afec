//! Per-client rate limits: a token bucket for messages and one for bytes.

use tokio::time::Instant;

/// How fast one client may send: messages and bytes per second, each with a
/// burst allowance (token buckets). Set with
/// [`Config::rate_limit`](crate::Config::rate_limit).
///
/// A message over the limit is dropped and the client gets `rate_limited` on
/// `$zocket.error`; a client that keeps sending while limited (another full
/// message burst's worth) is closed with 1008. A message larger than the byte
/// burst is not refused for its size alone: it passes when the client has
/// been quiet, and the client then waits until the bytes are repaid.
///
/// ```
/// use zocket::{Config, RateLimit};
///
/// let config = Config::default().rate_limit(Some(RateLimit::new(50, 100, 64 << 10, 256 << 10)));
/// assert_eq!(config.rate_limit.unwrap().messages_per_sec, 50);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Messages per second, sustained.
    pub messages_per_sec: u32,
    /// Messages a client may send at once before the sustained rate applies.
    pub burst_messages: u32,
    /// Bytes per second, sustained.
    pub bytes_per_sec: u64,
    /// Bytes a client may send at once before the sustained rate applies.
    pub burst_bytes: u64,
}

impl RateLimit {
    /// A limit of `messages_per_sec` (bursts of `burst_messages`) and
    /// `bytes_per_sec` (bursts of `burst_bytes`).
    pub fn new(
        messages_per_sec: u32,
        burst_messages: u32,
        bytes_per_sec: u64,
        burst_bytes: u64,
    ) -> Self {
        RateLimit {
            messages_per_sec,
            burst_messages,
            bytes_per_sec,
            burst_bytes,
        }
    }
}

impl Default for RateLimit {
    /// 1,000 messages/s with bursts of 2,000, and 4 MiB/s with bursts of
    /// 8 MiB: far above what a person in a chat or a game sends, low enough
    /// that one client cannot take a core.
    fn default() -> Self {
        RateLimit::new(1_000, 2_000, 4 << 20, 8 << 20)
    }
}

/// What a [`Bucket`] says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Within the limit.
    Yes,
    /// Over the limit: drop it and tell the client.
    Drop,
    /// Over the limit, and the client has kept sending a whole burst's worth
    /// while limited: close it.
    Close,
}

/// One client's token buckets.
#[derive(Debug)]
pub(crate) struct Bucket {
    limit: RateLimit,
    messages: f64,
    bytes: f64,
    last: Instant,
    /// Messages dropped since the client was last within its limit.
    dropped_in_a_row: u32,
}

impl Bucket {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Bucket {
            limit,
            messages: f64::from(limit.burst_messages),
            bytes: limit.burst_bytes as f64,
            last: Instant::now(),
            dropped_in_a_row: 0,
        }
    }

    /// Takes one message of `len` bytes from the buckets, if they allow it.
    ///
    /// The byte bucket may go into debt: a message is allowed whenever the
    /// bucket holds any bytes, and its whole length is taken. So a message
    /// larger than the burst (up to `max_message_size`) still passes when the
    /// client has been quiet, and the client then waits until the debt is
    /// repaid at the sustained rate.
    pub(crate) fn admit(&mut self, len: usize) -> Admit {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let limit = &self.limit;
        self.messages = (self.messages + elapsed * f64::from(limit.messages_per_sec))
            .min(f64::from(limit.burst_messages));
        self.bytes =
            (self.bytes + elapsed * limit.bytes_per_sec as f64).min(limit.burst_bytes as f64);
        let len = len as f64;
        if self.messages >= 1.0 && self.bytes > 0.0 {
            self.messages -= 1.0;
            self.bytes -= len;
            self.dropped_in_a_row = 0;
            return Admit::Yes;
        }
        self.dropped_in_a_row += 1;
        if self.dropped_in_a_row > limit.burst_messages.max(1) {
            Admit::Close
        } else {
            Admit::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_sustained_rate_then_a_close_for_those_who_keep_going() {
        let mut bucket = Bucket::new(RateLimit::new(10, 5, 1 << 20, 1 << 20));
        for _ in 0..5 {
            assert_eq!(bucket.admit(10), Admit::Yes);
        }
        assert_eq!(bucket.admit(10), Admit::Drop);
        // 100 ms later one more message is allowed (10 per second).
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(bucket.admit(10), Admit::Yes);
        // Keeping on while limited: after a burst's worth of drops, close.
        let outcomes: Vec<Admit> = (0..6).map(|_| bucket.admit(10)).collect();
        assert_eq!(outcomes[..5], [Admit::Drop; 5]);
        assert_eq!(outcomes[5], Admit::Close);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_are_limited_too_and_a_large_message_goes_into_debt() {
        let mut bucket = Bucket::new(RateLimit::new(1_000, 1_000, 1_000, 2_000));
        assert_eq!(bucket.admit(1_500), Admit::Yes);
        assert_eq!(
            bucket.admit(1_000),
            Admit::Yes,
            "500 left: allowed, 500 in debt"
        );
        assert_eq!(bucket.admit(1), Admit::Drop, "in debt");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(
            bucket.admit(1),
            Admit::Drop,
            "the debt is repaid, nothing more"
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(bucket.admit(1), Admit::Yes);
        // A message ten times the burst passes after a quiet spell.
        let mut bucket = Bucket::new(RateLimit::new(1_000, 1_000, 1_000, 2_000));
        assert_eq!(bucket.admit(20_000), Admit::Yes);
        assert_eq!(bucket.admit(1), Admit::Drop);
    }
}
