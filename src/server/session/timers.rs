//! The session's two clocks besides the heartbeat: the expiry of the
//! client's credentials (warn, then close with 4001) and the time one
//! message may take to arrive (close with 1008).

use std::task::Context;

use tokio::time::Instant;
use tungstenite::Message;

use super::{Expiry, Phase, Session};
use crate::protocol::route::EXPIRING_ROUTE;
use crate::server::frames::Frames;
use crate::server::socket::Socket;

/// The close code of a connection whose credentials expired without a
/// re-authentication.
const CREDENTIALS_EXPIRED: u16 = 4001;

impl<U: Send + Sync + 'static, S: Socket, F: Frames<U>> Session<U, S, F> {
    /// (Re)starts the expiry of the client's credentials from its data.
    pub(super) fn set_expiry(&mut self) {
        self.expiry = self.frames.expiry(&self.data).map(|left| {
            let now = Instant::now();
            let lead = self.hub.config.expiry_warning.min(left / 2);
            Expiry {
                timer: Box::pin(tokio::time::sleep_until(now + left - lead)),
                deadline: now + left,
                warned: false,
            }
        });
    }

    /// Warns the client before its credentials expire, and closes the
    /// connection when they have; `true` if it did either.
    pub(super) fn poll_expiry(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(expiry) = &mut self.expiry else {
            return false;
        };
        if expiry.timer.as_mut().poll(cx).is_pending() || !matches!(self.phase, Phase::Open) {
            return false;
        }
        if expiry.warned {
            tracing::info!("credentials expired without re-authentication; closing");
            self.expiry = None;
            self.close_with(CREDENTIALS_EXPIRED, "credentials expired");
            return true;
        }
        expiry.warned = true;
        let deadline = expiry.deadline;
        let left = deadline.saturating_duration_since(Instant::now());
        let text = format!(
            r#"{{"type":"{EXPIRING_ROUTE}","payload":{{"expiresInMs":{}}}}}"#,
            left.as_millis()
        );
        self.pending.push_back(Message::text(text));
        expiry.timer.as_mut().reset(deadline);
        true
    }

    /// Closes the connection when the message in progress has taken longer
    /// than `message_timeout`; `true` if it did.
    pub(super) fn poll_message_timeout(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(since) = self.ws.get_ref().frames.partial_since() else {
            return false;
        };
        let deadline = since + self.hub.config.message_timeout;
        let sleep = self
            .partial
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline); // a new message in progress
        }
        if sleep.as_mut().poll(cx).is_pending() || !matches!(self.phase, Phase::Open) {
            return false;
        }
        tracing::info!("a message took longer than the message timeout to arrive; closing");
        self.close_with(1008, "message timeout");
        true
    }
}
