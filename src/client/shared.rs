//! What the client's handles and its connection task share: the send buffer,
//! listeners, pending requests and the connection state.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::value::RawValue;
use tokio::sync::{Notify, oneshot, watch};

use super::policy::BufferPolicy;
use crate::protocol::route::{
    AUTH_ROUTE, ERROR_ROUTE, EXPIRING_ROUTE, OFFSET_PARAM, REPLY_ROUTE, SESSION_PARAM,
    WELCOME_ROUTE,
};
use crate::protocol::wire::{self, ErrorKind, ErrorPayload};
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
    /// handshake that a retry cannot fix ([`Client::refusal`](crate::Client::refusal) says which),
    /// or after `max_retries`. Final.
    Closed,
}

pub(crate) type Listener = Arc<dyn Fn(&str) + Send + Sync>;

/// Answers the server's questions on one client request route: from the
/// question's raw payload to the answer's JSON, or the error text to send.
pub(crate) type Answerer = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Box<RawValue>, String>> + Send>>
        + Send
        + Sync,
>;
/// Answerers by wire name; fixed when the client is built.
pub(crate) type Answerers = HashMap<Box<str>, Answerer>;

/// The credentials provider: handshake values computed anew for every
/// connection and re-authentication, or the reason it failed.
pub(crate) type Credentials = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<(String, String)>, String>> + Send>>
        + Send
        + Sync,
>;
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
    /// Recovery: the session token from the last `$zocket.welcome`, the last
    /// offset received, and whether the current connection resumed.
    pub(crate) session: Mutex<Option<String>>,
    pub(crate) last_offset: AtomicU64,
    pub(crate) recovered: AtomicBool,
    /// The handlers of the router's client request routes.
    pub(crate) answerers: Answerers,
    /// Computes the handshake values before every connection, and the new
    /// ones sent on `$zocket.auth` when the server warns of an expiry.
    pub(crate) credentials: Option<Credentials>,
    /// The refusal that stopped the client's reconnections, if one did.
    pub(crate) refusal: Mutex<Option<super::error::Refusal>>,
}

/// The payload of `$zocket.welcome`.
#[derive(serde::Deserialize)]
struct Welcome {
    token: String,
    recovered: bool,
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
    pub(crate) fn dispatch(self: &Arc<Self>, text: &str) {
        let envelope = match wire::parse_envelope(text) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a frame that is not an envelope");
                return;
            }
        };
        if let Some(offset) = envelope.offset.and_then(|o| o.get().parse::<u64>().ok()) {
            self.last_offset.fetch_max(offset, Ordering::SeqCst);
        }
        if envelope.route == WELCOME_ROUTE {
            if let Some(welcome) = envelope
                .payload
                .and_then(|p| serde_json::from_str::<Welcome>(p.get()).ok())
            {
                if !welcome.recovered {
                    // A fresh session: its offsets start again from 1.
                    self.last_offset.store(0, Ordering::SeqCst);
                }
                self.recovered.store(welcome.recovered, Ordering::SeqCst);
                *lock_unpoisoned(&self.session) = Some(welcome.token);
            }
            return;
        }
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
        if envelope.route == EXPIRING_ROUTE {
            tracing::info!("the server warns that the credentials expire soon; re-authenticating");
            self.reauthenticate();
            return;
        }
        if let Some(id) = envelope.id
            && let Some(answerer) = self.answerers.get(envelope.route.as_ref())
        {
            let raw = envelope.payload.map_or(wire::NULL, |p| p.get()).to_owned();
            self.answer(answerer(raw), envelope.route.into_owned(), id.get());
            return;
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

impl Shared {
    /// Runs one answer in its own task and queues what it gives: the reply
    /// on `$zocket.reply`, or a `$zocket.error` with the question's id.
    fn answer(
        self: &Arc<Self>,
        answer: Pin<Box<dyn Future<Output = Result<Box<RawValue>, String>> + Send>>,
        route: String,
        id: &str,
    ) {
        let shared = self.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            let result = AssertUnwindSafe(answer)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err("the client's handler panicked".to_owned()));
            let text = match result {
                Ok(answer) => RawValue::from_string(id)
                    .ok()
                    .and_then(|id| wire::encode_reply(&id, &answer).ok()),
                Err(message) => {
                    tracing::warn!(route, error = %message, "refusing the server's question");
                    Some(
                        ErrorPayload {
                            kind: ErrorKind::Rejected,
                            route: Some(route),
                            message,
                            details: Vec::new(),
                            id: serde_json::from_str(&id).ok(),
                            status: None,
                            dropped: None,
                            error: None,
                        }
                        .encode(),
                    )
                }
            };
            if let Some(text) = text {
                // Answers are not subject to the send buffer's limit: the
                // server is waiting for them.
                shared.outbox().push_back(text);
                shared.outbox_ready.notify_one();
            }
        });
    }

    /// Sends fresh credentials from the provider on `$zocket.auth` (in its
    /// own task), and logs the server's answer. Without a provider, nothing
    /// to send: the server will close the connection at the expiry, and the
    /// client reconnects with its fixed credentials.
    pub(crate) fn reauthenticate(self: &Arc<Self>) {
        let Some(credentials) = self.credentials.clone() else {
            tracing::warn!("credentials expire and the client has no provider to refresh them");
            return;
        };
        let shared = self.clone();
        tokio::spawn(async move {
            let pairs = match credentials().await {
                Ok(pairs) => pairs,
                Err(e) => {
                    tracing::warn!(error = %e, "the credentials provider failed; cannot re-authenticate");
                    return;
                }
            };
            let payload: serde_json::Map<String, serde_json::Value> = pairs
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            let id = shared.next_request.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            shared.pending().insert(id, tx);
            let Ok(text) = wire::encode_request(AUTH_ROUTE, &payload, id) else {
                return;
            };
            // Ahead of buffered messages: they should go out with the new
            // credentials in place.
            shared.outbox().push_front(text);
            shared.outbox_ready.notify_one();
            match tokio::time::timeout(shared.request_timeout, rx).await {
                Ok(Ok(Ok(_))) => tracing::info!("re-authenticated"),
                Ok(Ok(Err(e))) => tracing::warn!(error = %e.message, "re-authentication refused"),
                _ => tracing::warn!("no answer to the re-authentication"),
            }
        });
    }

    /// The query to append to the next connection's URL to resume the
    /// session (`zocket-session`, `zocket-offset`), when there is one.
    pub(crate) fn resume_query(&self) -> Option<String> {
        let token = lock_unpoisoned(&self.session).clone()?;
        let offset = self.last_offset.load(Ordering::SeqCst);
        let token: String = token
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        Some(format!("{SESSION_PARAM}={token}&{OFFSET_PARAM}={offset}"))
    }
}

/// Keeps the client's connection task alive; dropping the last handle stops it.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) _alive: oneshot::Sender<()>,
    pub(crate) done: watch::Receiver<bool>,
}
