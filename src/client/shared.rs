//! What the client's handles and its connection task share: the send buffer,
//! listeners, pending requests and the connection state.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};

use super::policy::BufferPolicy;
use crate::protocol::route::{ERROR_ROUTE, REPLY_ROUTE};
use crate::protocol::wire::{self, ErrorPayload};
use crate::util::lock_unpoisoned;

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnState {
    /// First connection attempt in progress.
    Connecting,
    /// Connected; sends go out as they are made.
    Open,
    /// Lost the connection; retrying (`attempt` counts failures in a row).
    Reconnecting {
        /// Failed attempts so far.
        attempt: u32,
    },
    /// Closed by [`Client::close`](crate::Client::close), by dropping every handle, by a refused
    /// handshake, or after `max_retries`. Final.
    Closed,
}

pub(crate) type Listener = Arc<dyn Fn(&str) + Send + Sync>;
/// Listeners by wire name, each with its subscription id.
pub(crate) type Listeners = HashMap<Box<str>, Vec<(u64, Listener)>>;

pub(crate) struct Shared {
    pub(crate) outbox: Mutex<VecDeque<String>>,
    pub(crate) outbox_ready: Notify,
    pub(crate) listeners: Mutex<Listeners>,
    pub(crate) next_listener: AtomicU64,
    pub(crate) state: watch::Sender<ConnState>,
    pub(crate) close_requested: AtomicBool,
    pub(crate) reconnect_requested: AtomicBool,
    pub(crate) wake: Notify,
    pub(crate) buffer_len: usize,
    pub(crate) policy: BufferPolicy,
    /// Requests waiting for their answer, by id.
    pub(crate) pending: Mutex<Pending>,
    pub(crate) next_request: AtomicU64,
    pub(crate) request_timeout: Duration,
}

/// Answers by request id: the reply's raw payload, or the server's error.
pub(crate) type Pending = HashMap<u64, oneshot::Sender<Result<String, ErrorPayload>>>;

impl Shared {
    pub(crate) fn pending(&self) -> MutexGuard<'_, Pending> {
        lock_unpoisoned(&self.pending)
    }
    pub(crate) fn outbox(&self) -> MutexGuard<'_, VecDeque<String>> {
        lock_unpoisoned(&self.outbox)
    }
    pub(crate) fn listeners(&self) -> MutexGuard<'_, Listeners> {
        lock_unpoisoned(&self.listeners)
    }
    pub(crate) fn dispatch(&self, text: &str) {
        let envelope = match wire::parse_envelope(text) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a frame that is not an envelope");
                return;
            }
        };
        if envelope.route == REPLY_ROUTE {
            if let Some(id) = envelope.id.and_then(|i| i.get().parse::<u64>().ok())
                && let Some(tx) = self.pending().remove(&id)
            {
                let raw = envelope.payload.map_or(wire::NULL, |p| p.get());
                let _ = tx.send(Ok(raw.to_owned()));
            }
            return;
        }
        if envelope.route == ERROR_ROUTE
            && let Some(raw) = envelope.payload
            && let Ok(error) = serde_json::from_str::<ErrorPayload>(raw.get())
            && let Some(id) = error.id.as_ref().and_then(serde_json::Value::as_u64)
            && let Some(tx) = self.pending().remove(&id)
        {
            let _ = tx.send(Err(error));
        }
        let listeners: Vec<Listener> = match self.listeners().get(envelope.route.as_ref()) {
            Some(list) => list.iter().map(|(_, l)| l.clone()).collect(),
            None => return,
        };
        let raw = envelope.payload.map_or(wire::NULL, |p| p.get());
        for listener in listeners {
            // A panicking listener must not take the connection down with it.
            let call = std::panic::AssertUnwindSafe(|| listener(raw));
            if std::panic::catch_unwind(call).is_err() {
                tracing::error!(route = %envelope.route, "a listener panicked");
            }
        }
    }
}

/// Keeps the client's connection task alive; dropping the last handle stops it.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) _alive: oneshot::Sender<()>,
    pub(crate) done: watch::Receiver<bool>,
}
