//! Per-client rate limits: a token bucket for messages and one for bytes.

use tokio::time::{Duration, Instant};

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
    /// 1,000 messages/s with bursts of 500, and 4 MiB/s with bursts of
    /// 8 MiB: far above what a person in a chat or a game sends, low enough
    /// that one client cannot take a core.
    fn default() -> Self {
        RateLimit::new(1_000, 500, 4 << 20, 8 << 20)
    }
}

/// What a [`Bucket`] says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Within the limit.
    Yes,
    /// Over the limit: drop it. `tell` is `Some(n)` when the client is to
    /// hear of it now (the first drop of a limited spell, then at most once
    /// a second), with `n` the messages dropped since it last heard.
    Drop {
        /// Messages dropped since the client was last told, this one included.
        tell: Option<u64>,
    },
    /// Over the limit, and the client has sent a whole burst's worth past
    /// it without backing off: close it.
    Close,
}

/// How often a limited client hears how many of its messages were dropped.
const TELL_EVERY: Duration = Duration::from_secs(1);

/// One client's token buckets.
#[derive(Debug)]
pub(crate) struct Bucket {
    limit: RateLimit,
    messages: f64,
    bytes: f64,
    last: Instant,
    /// Messages dropped since the client went over its limit. A token earned
    /// back does not reset it (a flooder earns one every millisecond); only
    /// backing off does: an admitted message with half the burst refilled.
    over_limit: u32,
    /// Drops the client has not heard of yet, and when it last heard.
    untold: u64,
    told: Option<Instant>,
}

impl Bucket {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Bucket {
            limit,
            messages: f64::from(limit.burst_messages),
            bytes: limit.burst_bytes as f64,
            last: Instant::now(),
            over_limit: 0,
            untold: 0,
            told: None,
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
            if self.messages >= f64::from(limit.burst_messages) / 2.0 {
                // Backed off long enough to refill half the burst: forgiven.
                self.over_limit = 0;
            }
            self.messages -= 1.0;
            self.bytes -= len;
            return Admit::Yes;
        }
        self.over_limit += 1;
        if self.over_limit > limit.burst_messages.max(1) {
            return Admit::Close;
        }
        self.untold += 1;
        let due = self
            .told
            .is_none_or(|t| now.saturating_duration_since(t) >= TELL_EVERY || self.over_limit == 1);
        if due {
            self.told = Some(now);
            let n = std::mem::take(&mut self.untold);
            Admit::Drop { tell: Some(n) }
        } else {
            Admit::Drop { tell: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DROP: Admit = Admit::Drop { tell: None };

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_sustained_rate_then_a_close_for_those_who_keep_going() {
        let mut bucket = Bucket::new(RateLimit::new(10, 5, 1 << 20, 1 << 20));
        for _ in 0..5 {
            assert_eq!(bucket.admit(10), Admit::Yes);
        }
        assert_eq!(bucket.admit(10), Admit::Drop { tell: Some(1) });
        // 100 ms later one more message is allowed (10 per second), but the
        // client has not backed off: its drops still count.
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(bucket.admit(10), Admit::Yes);
        let outcomes: Vec<Admit> = (0..5).map(|_| bucket.admit(10)).collect();
        assert_eq!(outcomes[..4], [DROP; 4], "told once a second at most");
        assert_eq!(outcomes[4], Admit::Close, "a burst's worth past the limit");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_that_earns_a_token_now_and_then_is_closed_anyway() {
        // 1,000/s with bursts of 500, flooded at one message every 25 µs.
        let mut bucket = Bucket::new(RateLimit::default());
        let mut sent = 0u32;
        let mut told = Vec::new();
        let outcome = loop {
            sent += 1;
            match bucket.admit(20) {
                Admit::Yes => {}
                Admit::Drop { tell: Some(n) } => told.push(n),
                Admit::Drop { tell: None } => {}
                Admit::Close => break sent,
            }
            tokio::time::advance(Duration::from_micros(25)).await;
        };
        // 500 admitted from the burst, ~25 earned back meanwhile, then a
        // burst's worth of drops: closed after ~25 ms of flood.
        assert!((1_000..1_100).contains(&outcome), "closed after {outcome}");
        assert_eq!(told, [1], "told once, at the start");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_backs_off_is_forgiven_and_told_with_a_count() {
        let mut bucket = Bucket::new(RateLimit::new(10, 4, 1 << 20, 1 << 20));
        for _ in 0..4 {
            assert_eq!(bucket.admit(1), Admit::Yes);
        }
        assert_eq!(bucket.admit(1), Admit::Drop { tell: Some(1) });
        assert_eq!(bucket.admit(1), DROP);
        assert_eq!(bucket.admit(1), DROP);
        tokio::time::advance(Duration::from_secs(1)).await;
        // Refilled: admitted, forgiven; the next drop tells the two untold ones and itself.
        for _ in 0..4 {
            assert_eq!(bucket.admit(1), Admit::Yes);
        }
        assert_eq!(bucket.admit(1), Admit::Drop { tell: Some(3) });
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
        assert_eq!(bucket.admit(1), Admit::Drop { tell: Some(1) }, "in debt");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(
            matches!(bucket.admit(1), Admit::Drop { .. }),
            "the debt is repaid, nothing more"
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(bucket.admit(1), Admit::Yes);
        // A message ten times the burst passes after a quiet spell.
        let mut bucket = Bucket::new(RateLimit::new(1_000, 1_000, 1_000, 2_000));
        assert_eq!(bucket.admit(20_000), Admit::Yes);
        assert!(matches!(bucket.admit(1), Admit::Drop { .. }));
    }
}
