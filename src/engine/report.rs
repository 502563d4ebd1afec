//! Failures told to their client: `$zocket.error` (or nothing, for a quiet
//! drop), counted, and logged within a per-connection budget.

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
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            window_start: Instant::now(),
            logged: 0,
            suppressed: 0,
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
            *self = LogBudget {
                window_start: now,
                ..LogBudget::default()
            };
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

/// Tells a client on the reserved error route what went wrong with its
/// message, counts it, and logs it within the connection's `budget`.
pub(crate) fn report(hub: &Hub, id: ClientId, failure: Failure, budget: &mut LogBudget) {
    let p = &failure.payload;
    if failure.quiet {
        // Dropped on purpose: counted and logged, the client is not told.
        let route = p.route.as_deref().unwrap_or("-");
        hub.counters.dropped(route);
        tracing::debug!(client = %id, route, reason = %p.message, "message dropped quietly");
        return;
    }
    hub.counters.error(p.kind);
    if budget.allow(id) {
        log_failure(id, &failure);
    }
    hub.deliver_to([id], &Utf8Bytes::from(p.encode()), &[]);
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
