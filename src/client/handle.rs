//! [`Client`]: the typed handle to a connection that reconnects by itself.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot, watch};

use super::error::{PayloadError, RequestError};
use super::policy::BufferPolicy;
use super::shared::{ConnState, Handle, Shared};
use super::subscription::{RouteStream, Subscription};
use crate::protocol::error::SendError;
use crate::protocol::outcome::from_route_error;
use crate::protocol::route::marker_name;
use crate::protocol::route::{
    AsJson, ClientReceives, ClientSends, ERROR_ROUTE, Encode, Incoming, Outgoing, Request,
};
use crate::protocol::router::{Contains, wire_name};
use crate::protocol::wire::{self, ErrorPayload};

/// A typed client for router `R`. Cheap to clone; the connection closes when
/// the last clone is dropped or [`Client::close`] is called.
///
/// ```no_run
/// # use garde::Validate; use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize, Validate)] struct Text { #[garde(length(min = 1))] text: String }
/// # struct SendMessage; impl zocket::Incoming for SendMessage { const NAME: &'static str = "message"; type Payload = Text; }
/// # struct OnMessage; impl zocket::Outgoing for OnMessage { const NAME: &'static str = "onMessage"; type Payload = Text; }
/// # type AppRouter = (SendMessage, (OnMessage, ()));
/// use zocket::Client;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::<AppRouter>::connect("ws://127.0.0.1:3000/ws")
///     .header("name", "alice")
///     .await?;
/// let _sub = client.on(OnMessage, |t: Text| println!("{}", t.text));
/// client.send(SendMessage, Text { text: "hi".into() })?;
/// # Ok(()) }
/// ```
pub struct Client<R> {
    pub(crate) handle: Arc<Handle>,
    pub(crate) _router: PhantomData<fn() -> R>,
}

impl<R> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client {
            handle: self.handle.clone(),
            _router: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &*self.handle.shared.state.borrow())
            .finish()
    }
}

impl<R: 'static> Client<R> {
    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Sends `payload` on incoming route `route`. Validated with garde first.
    /// While disconnected the message waits in the bounded buffer and goes out,
    /// in order, once the client has reconnected.
    ///
    /// # Errors
    ///
    /// [`SendError::Invalid`] / [`SendError::Serialize`] for a bad payload,
    /// [`SendError::Full`] when the buffer is full (with [`BufferPolicy::Error`]),
    /// [`SendError::Closed`] after the client closed. Each hands the payload back.
    pub fn send<X, I>(&self, route: X, payload: X::Payload) -> Result<(), SendError<X::Payload>>
    where
        X: Incoming,
        X::Payload: ClientSends<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        self.enqueue(wire_name::<R, X, I>(marker_name!(X)), payload, None)
    }

    /// Validates, serializes and queues a message (with a request id).
    fn enqueue<P: Encode>(
        &self,
        route: String,
        payload: P,
        id: Option<u64>,
    ) -> Result<(), SendError<P>> {
        if let Err(report) = payload.check_sent() {
            return Err(SendError::Invalid {
                route,
                payload,
                report,
            });
        }
        if *self.shared().state.borrow() == ConnState::Closed {
            return Err(SendError::Closed { route, payload });
        }
        let encoded = match id {
            None => wire::encode(&route, &AsJson(&payload)),
            Some(id) => wire::encode_request(&route, &AsJson(&payload), id),
        };
        let text = match encoded {
            Ok(t) => t,
            Err(source) => {
                return Err(SendError::Serialize {
                    route,
                    payload,
                    source,
                });
            }
        };
        let shared = self.shared();
        {
            let mut outbox = shared.outbox();
            if outbox.len() >= shared.buffer_len {
                match shared.policy {
                    BufferPolicy::Error => return Err(SendError::Full { route, payload }),
                    BufferPolicy::DropOldest => {
                        outbox.pop_front();
                        tracing::warn!(route, "send buffer full, dropped the oldest message");
                    }
                }
            }
            outbox.push_back(text);
        }
        shared.outbox_ready.notify_one();
        Ok(())
    }

    /// Calls request route `route` and waits for the server's answer (a
    /// zocket extension: the request carries an `id`, the reply comes back on
    /// `"$zocket.reply"` with it). Buffered like [`Client::send`] while
    /// disconnected.
    ///
    /// # Errors
    ///
    /// [`RequestError::Send`] when the request cannot be queued (payload handed
    /// back), [`RequestError::Server`] when the server reports a failure (invalid
    /// payload, rejected, handler error, ...), [`RequestError::Timeout`] after the
    /// request timeout (default 30 s), [`RequestError::Closed`] when the client
    /// closes first, [`RequestError::InvalidResponse`] when the answer does not
    /// deserialize or validate.
    ///
    /// A route whose response is an [`Outcome`](crate::Outcome) answers its
    /// own refusal as `Ok(Outcome::Err(e))`, typed by the route
    /// (`client.request(Join, p).await?.into_result()`).
    pub async fn request<X, I>(
        &self,
        route: X,
        payload: X::Payload,
    ) -> Result<X::Response, RequestError<X::Payload>>
    where
        X: Request,
        X::Payload: ClientSends<X>,
        X::Response: ClientReceives<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        let name = wire_name::<R, X, I>(marker_name!(X));
        let shared = self.shared();
        let id = shared.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        shared.pending().insert(id, tx);
        if let Err(e) = self.enqueue(name.clone(), payload, Some(id)) {
            shared.pending().remove(&id);
            return Err(RequestError::Send(e));
        }
        let answer = match tokio::time::timeout(shared.request_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => return Err(RequestError::Closed),
            Err(_) => {
                shared.pending().remove(&id);
                return Err(RequestError::Timeout);
            }
        };
        let raw = match answer {
            Ok(raw) => raw,
            // The route's own refusal: the response, when it is an `Outcome`.
            Err(error) => {
                return from_route_error::<X::Response>(&error).ok_or(RequestError::Server(error));
            }
        };
        PayloadError::accept::<X::Response>(&raw).map_err(|source| RequestError::InvalidResponse {
            route: name,
            source,
        })
    }

    /// Calls `f` with every message on outgoing route `route`, until the
    /// returned [`Subscription`] is dropped or unsubscribed. Several listeners
    /// may share a route. A payload that does not deserialize or validate is
    /// logged and skipped. `f` runs on the connection's task: keep it short
    /// (hand work to a channel or `stream`); a panic in it is caught and logged.
    pub fn on<O, I, F>(&self, route: O, f: F) -> Subscription
    where
        O: Outgoing,
        O::Payload: ClientReceives<O>,
        R: Contains<O, I>,
        F: Fn(O::Payload) + Send + Sync + 'static,
    {
        let _ = route;
        let name = wire_name::<R, O, I>(marker_name!(O));
        let label = name.clone();
        Subscription::new(
            self.shared(),
            name,
            Arc::new(
                move |raw: &str| match PayloadError::accept::<O::Payload>(raw) {
                    Ok(p) => f(p),
                    Err(error) => {
                        tracing::warn!(route = %label, %error, "skipping a payload the route does not accept")
                    }
                },
            ),
        )
    }

    /// The messages on outgoing route `route`, as a `Stream`, in arrival order.
    ///
    /// The stream buffers up to 1,024 messages that you have not polled yet;
    /// past that, new ones are dropped and logged.
    pub fn stream<O, I>(&self, route: O) -> RouteStream<O::Payload>
    where
        O: Outgoing,
        O::Payload: ClientReceives<O>,
        R: Contains<O, I>,
    {
        let (tx, rx) = mpsc::channel(1024);
        let name = wire_name::<R, O, I>(marker_name!(O));
        let sub = self.on(route, move |p: O::Payload| {
            if tx.try_send(p).is_err() {
                tracing::warn!(route = %name, "stream not polled, message dropped");
            }
        });
        RouteStream { rx, _sub: sub }
    }

    /// Calls `f` with every error the server reports on the reserved error
    /// route (invalid payload, unknown route, rejected by middleware, ...).
    pub fn on_error<F>(&self, f: F) -> Subscription
    where
        F: Fn(ErrorPayload) + Send + Sync + 'static,
    {
        Subscription::new(
            self.shared(),
            ERROR_ROUTE.to_owned(),
            Arc::new(
                move |raw: &str| match serde_json::from_str::<ErrorPayload>(raw) {
                    Ok(e) => f(e),
                    Err(e) => tracing::warn!(error = %e, "unreadable error payload"),
                },
            ),
        )
    }

    /// The server's errors as a `Stream`.
    pub fn errors(&self) -> RouteStream<ErrorPayload> {
        let (tx, rx) = mpsc::channel(1024);
        let sub = self.on_error(move |e| {
            let _ = tx.try_send(e);
        });
        RouteStream { rx, _sub: sub }
    }

    /// Whether the current connection resumed the session of the previous
    /// one (connection-state recovery on the server,
    /// [`Config::recovery`](crate::Config::recovery)): same client id, same
    /// rooms, and the messages sent while away arrived. `false` on the first
    /// connection, when the server does not recover sessions, or when the
    /// resume failed (too late, too far behind): then the app must
    /// resynchronise, as after any fresh connection. Known before the
    /// [`on_reconnect`](crate::ClientBuilder::on_reconnect) hook runs.
    pub fn recovered(&self) -> bool {
        self.handle
            .shared
            .recovered
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current connection state.
    pub fn state(&self) -> ConnState {
        *self.shared().state.borrow()
    }

    /// A receiver of state changes (open, reconnecting, closed).
    pub fn state_changes(&self) -> watch::Receiver<ConnState> {
        self.shared().state.subscribe()
    }

    /// Waits until the client is open; `false` if it closed for good instead.
    pub async fn wait_open(&self) -> bool {
        let mut rx = self.shared().state.subscribe();
        let state = rx
            .wait_for(|s| matches!(s, ConnState::Open | ConnState::Closed))
            .await
            .map(|s| *s);
        matches!(state, Ok(ConnState::Open))
    }

    /// The refusal that stopped this client, if a reconnection was refused
    /// with a status [`retry_refused`](crate::ClientBuilder::retry_refused)
    /// does not retry (by default: 400, 401, 403, 409, ...). The state is then
    /// [`ConnState::Closed`].
    pub fn refusal(&self) -> Option<super::error::Refusal> {
        crate::util::lock_unpoisoned(&self.shared().refusal).clone()
    }

    /// Messages waiting in the send buffer.
    pub fn buffered(&self) -> usize {
        self.shared().outbox().len()
    }

    /// Drops the current connection and reconnects at once (subscriptions and
    /// buffered messages are kept).
    pub fn reconnect(&self) {
        self.shared()
            .reconnect_requested
            .store(true, Ordering::SeqCst);
        self.shared().wake.notify_one();
    }

    /// Closes the connection (close code 1000) and stops reconnecting; waits
    /// until the connection task has finished. Sends fail with
    /// [`SendError::Closed`] afterwards.
    pub async fn close(&self) {
        self.shared().close_requested.store(true, Ordering::SeqCst);
        self.shared().wake.notify_one();
        let mut done = self.handle.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}
