//! Failures told to their client: `$zocket.error` (or nothing, for a quiet
//! drop), counted, and replied to and logged within per-connection budgets,
//! so a client that provokes errors at line rate gets a few replies a
//! second, not one per message, and is closed if it keeps on.

use std::time::{Duration, Instant};

use tungstenite::Utf8Bytes;

use crate::engine::dispatch::Failure;
use crate::engine::hub::Hub;
use crate::protocol::client_id::ClientId;
use crate::protocol::wire::ErrorKind;

/// Log lines one connection's failed messages may cause per window.
const LOG_BURST: u32 = 10;
/// The window of [`LOG_BURST`].
const LOG_WINDOW: Duration = Duration::from_secs(10);

/// Rate-limits the log lines about one connection's failed messages, so a
/// client sending garbage in a loop cannot flood the server's log: at most
/// [`LOG_BURST`] lines per [`LOG_WINDOW`]; the rest are counted, and the
/// count is logged when the next window opens.
#[derive(Debug)]
pub(crate) struct LogBudget {
    window_start: Instant,
    logged: u32,
    suppressed: u64,
    /// The error replies the connection may still get.
    pub(crate) replies: ReplyBudget,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            window_start: Instant::now(),
            logged: 0,
            suppressed: 0,
            replies: ReplyBudget::default(),
        }
    }
}

impl LogBudget {
    /// Whether one more line may be logged now.
    fn allow(&mut self, client: ClientId) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= LOG_WINDOW {
            if self.suppressed > 0 {
                tracing::warn!(client = %client, suppressed = self.suppressed,
                    "log lines about this client's failed messages were suppressed");
            }
            self.window_start = now;
            self.logged = 0;
            self.suppressed = 0;
        }
        if self.logged < LOG_BURST {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// Error replies one connection may get per second, sustained.
pub(crate) const REPLIES_PER_SEC: f64 = 10.0;
/// Error replies one connection may get at once.
pub(crate) const REPLY_BURST: f64 = 20.0;
/// Errors left unreported (over the reply budget) after which the client is
/// closed with 1008, unless the budget refilled to half in between.
pub(crate) const UNREPORTED_TO_CLOSE: u64 = 200;

/// The error replies one connection may still get (a token bucket).
#[derive(Debug)]
pub(crate) struct ReplyBudget {
    tokens: f64,
    last: Instant,
    /// Errors not replied to since the last reply (the next one says how many).
    unreported: u64,
    /// Errors not replied to since the budget was last half full.
    over: u64,
}

impl Default for ReplyBudget {
    fn default() -> Self {
        ReplyBudget {
            tokens: REPLY_BURST,
            last: Instant::now(),
            unreported: 0,
            over: 0,
        }
    }
}

/// What became of one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reported {
    /// Sent to the client (or dropped quietly, on purpose).
    Sent,
    /// Over the reply budget: counted, not sent (the next reply says how many).
    Unreported,
    /// Over the reply budget persistently: close the connection with 1008.
    Close,
}

/// Tells a client on the reserved error route what went wrong with its
/// message, counts it, and logs it, within the connection's budgets: at most
/// [`REPLY_BURST`] replies at once and [`REPLIES_PER_SEC`] a second; the
/// reply after a gap carries `dropped`, the count of errors left unreported.
pub(crate) fn report(
    hub: &Hub,
    id: ClientId,
    failure: Failure,
    budget: &mut LogBudget,
) -> Reported {
    let mut failure = failure;
    if failure.quiet {
        // Dropped on purpose: counted and logged, the client is not told.
        let p = &failure.payload;
        let route = p.route.as_deref().unwrap_or("-");
        hub.counters.dropped(route);
        tracing::debug!(client = %id, route, reason = %p.message, "message dropped quietly");
        return Reported::Sent;
    }
    hub.counters.error(failure.payload.kind);
    if budget.allow(id) {
        log_failure(id, &failure);
    }
    let replies = &mut budget.replies;
    let now = Instant::now();
    let refill = now.saturating_duration_since(replies.last).as_secs_f64() * REPLIES_PER_SEC;
    replies.last = now;
    replies.tokens = (replies.tokens + refill).min(REPLY_BURST);
    if replies.tokens >= REPLY_BURST / 2.0 {
        replies.over = 0;
    }
    if replies.tokens < 1.0 {
        replies.unreported += 1;
        replies.over += 1;
        if replies.over >= UNREPORTED_TO_CLOSE {
            tracing::info!(client = %id, unreported = replies.over, "errors at line rate; closing");
            return Reported::Close;
        }
        return Reported::Unreported;
    }
    replies.tokens -= 1.0;
    let unreported = std::mem::take(&mut replies.unreported);
    if unreported > 0 {
        failure.payload.dropped = Some(failure.payload.dropped.unwrap_or(0) + unreported);
    }
    hub.deliver_to([id], &Utf8Bytes::from(failure.payload.encode()), &[]);
    Reported::Sent
}

fn log_failure(id: ClientId, failure: &Failure) {
    let p = &failure.payload;
    let route = p.route.as_deref().unwrap_or("-");
    match p.kind {
        ErrorKind::HandlerError => tracing::error!(
            client = %id, route, error = failure.log.as_deref().unwrap_or(""),
            "handler failed"
        ),
        kind => tracing::info!(
            client = %id, route, ?kind, message = %p.message, details = ?p.details,
            "message dropped"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_budget_allows_a_burst_then_counts() {
        let id = ClientId::new(0, 1, 0);
        let mut budget = LogBudget::default();
        let allowed = (0..100).filter(|_| budget.allow(id)).count();
        assert_eq!(allowed, LOG_BURST as usize);
        assert_eq!(budget.suppressed, 100 - u64::from(LOG_BURST));
        // A new window allows a new burst.
        budget.window_start -= LOG_WINDOW;
        assert!(budget.allow(id));
        assert_eq!(budget.suppressed, 0);
    }
}
