//! A typed Rust client that reconnects by itself.
//!
//! [`Client<R>`] is typed by the same router as the server: it sends only `R`'s
//! incoming routes and listens only on its outgoing ones, each with its own
//! payload type. It reconnects with exponential backoff and jitter, buffers
//! sends while disconnected (bounded), keeps its subscriptions across
//! reconnects, and lets an `on_reconnect` hook restore server-side state such
//! as rooms.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, Stream, StreamExt};
use garde::Validate;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::{HeaderName, HeaderValue};

use crate::error::SendError;
use crate::route::{ERROR_ROUTE, Incoming, Outgoing, REPLY_ROUTE, Request};
use crate::router::{Contains, wire_name};
use crate::wire::{self, ErrorPayload};

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

/// What [`Client::send`] does when the send buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BufferPolicy {
    /// Refuse the new message with [`SendError::Full`], handing it back.
    #[default]
    Error,
    /// Drop the oldest buffered message (logged) to make room.
    DropOldest,
}

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
    /// Closed by [`Client::close`], by dropping every handle, by a refused
    /// handshake, or after `max_retries`. Final.
    Closed,
}

/// Why a [`Client::request`] has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError<P> {
    /// The request could not be queued; the payload is handed back.
    #[error(transparent)]
    Send(SendError<P>),
    /// The server reported a failure for this request.
    #[error("the server refused the request: {} ({:?})", .0.message, .0.kind)]
    Server(ErrorPayload),
    /// No answer within the request timeout.
    #[error("no answer within the request timeout")]
    Timeout,
    /// The client closed before the answer came.
    #[error("the client closed before the answer came")]
    Closed,
    /// The answer does not deserialize or validate.
    #[error("invalid answer: {0}")]
    InvalidResponse(String),
}

/// Why [`ClientBuilder`]'s first connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or a header is not valid.
    #[error("invalid request: {0}")]
    Request(String),
    /// The server answered the upgrade with an HTTP error (400 invalid headers,
    /// 401/403 refused by `on_connect`, 503 full). Not retried.
    #[error("server refused the connection with HTTP {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The response body (zocket sends JSON).
        body: String,
    },
    /// Network or protocol failure (server down, timeout, ...).
    #[error("cannot connect: {0}")]
    Io(String),
}

type Listener = Arc<dyn Fn(&str) + Send + Sync>;
/// Listeners by wire name, each with its subscription id.
type Listeners = HashMap<Box<str>, Vec<(u64, Listener)>>;

struct Shared {
    outbox: Mutex<VecDeque<String>>,
    outbox_ready: Notify,
    listeners: Mutex<Listeners>,
    next_listener: AtomicU64,
    state: watch::Sender<ConnState>,
    close_requested: AtomicBool,
    reconnect_requested: AtomicBool,
    wake: Notify,
    buffer_len: usize,
    policy: BufferPolicy,
    /// Requests waiting for their answer, by id.
    pending: Mutex<Pending>,
    next_request: AtomicU64,
    request_timeout: Duration,
}

/// Answers by request id: the reply's raw payload, or the server's error.
type Pending = HashMap<u64, oneshot::Sender<Result<String, ErrorPayload>>>;

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn outbox(&self) -> MutexGuard<'_, VecDeque<String>> {
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn listeners(&self) -> MutexGuard<'_, Listeners> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn subscribe(self: &Arc<Self>, route: String, listener: Listener) -> Subscription {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        self.listeners()
            .entry(route.clone().into_boxed_str())
            .or_default()
            .push((id, listener));
        Subscription {
            shared: Arc::downgrade(self),
            route,
            id,
            active: true,
        }
    }
    fn dispatch(&self, text: &str) {
        let envelope = match wire::parse_envelope(text) {
            Ok(e) => e,
            Err(wire::EnvelopeError::Json(e)) => {
                tracing::warn!(error = %e, "zocket client: ignoring a frame that is not an envelope");
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
                tracing::error!(route = %envelope.route, "zocket client: a listener panicked");
            }
        }
    }
}

/// Keeps the client's connection task alive; dropping the last handle stops it.
struct Handle {
    shared: Arc<Shared>,
    _alive: oneshot::Sender<()>,
    done: watch::Receiver<bool>,
}

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
    handle: Arc<Handle>,
    _router: PhantomData<fn() -> R>,
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

type Hook<R> = Arc<dyn Fn(&Client<R>) + Send + Sync>;

/// Configures and opens a [`Client`]; `.await` it to connect.
#[must_use = "await the builder to connect"]
pub struct ClientBuilder<R> {
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    reconnect: Option<Reconnect>,
    buffer_len: usize,
    policy: BufferPolicy,
    connect_timeout: Duration,
    request_timeout: Duration,
    on_reconnect: Option<Hook<R>>,
    _router: PhantomData<fn() -> R>,
}

impl<R: 'static> Client<R> {
    /// Starts configuring a client for `url` (`ws://host:port/path`).
    pub fn connect(url: impl Into<String>) -> ClientBuilder<R> {
        ClientBuilder {
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            reconnect: Some(Reconnect::default()),
            buffer_len: 1024,
            policy: BufferPolicy::Error,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            on_reconnect: None,
            _router: PhantomData,
        }
    }

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
        R: Contains<X, I>,
    {
        let _ = route;
        self.enqueue(wire_name::<R, X, I>(X::NAME), payload, None)
    }

    /// Validates, serializes and queues a message (with a request id).
    fn enqueue<P: crate::Payload>(
        &self,
        route: String,
        payload: P,
        id: Option<u64>,
    ) -> Result<(), SendError<P>> {
        if let Err(report) = payload.validate() {
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
            None => wire::encode(&route, &payload),
            Some(id) => wire::encode_request(&route, &payload, id),
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
                        tracing::warn!(
                            route,
                            "zocket client: send buffer full, dropped the oldest message"
                        );
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
    pub async fn request<X, I>(
        &self,
        route: X,
        payload: X::Payload,
    ) -> Result<X::Response, RequestError<X::Payload>>
    where
        X: Request,
        R: Contains<X, I>,
    {
        let _ = route;
        let name = wire_name::<R, X, I>(X::NAME);
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
        let raw = answer.map_err(RequestError::Server)?;
        let response: X::Response = serde_json::from_str(&raw)
            .map_err(|e| RequestError::InvalidResponse(format!("{name}: {e}")))?;
        response
            .validate()
            .map_err(|report| RequestError::InvalidResponse(format!("{name}: {report}")))?;
        Ok(response)
    }

    /// Calls `f` with every message on outgoing route `route`, until the
    /// returned [`Subscription`] is dropped or unsubscribed. Several listeners
    /// may share a route. A payload that does not deserialize or validate is
    /// logged and skipped. `f` runs on the connection's task: keep it short
    /// (hand work to a channel or `stream`); a panic in it is caught and logged.
    pub fn on<O, I, F>(&self, route: O, f: F) -> Subscription
    where
        O: Outgoing,
        R: Contains<O, I>,
        F: Fn(O::Payload) + Send + Sync + 'static,
    {
        let _ = route;
        let name = wire_name::<R, O, I>(O::NAME);
        let label = name.clone();
        self.shared().subscribe(
            name,
            Arc::new(move |raw: &str| {
                if let Some(p) = decode::<O::Payload>(&label, raw) {
                    f(p)
                }
            }),
        )
    }

    /// The messages on outgoing route `route`, as a `Stream`, in arrival order.
    ///
    /// The stream buffers up to 1,024 messages that you have not polled yet;
    /// past that, new ones are dropped and logged.
    pub fn stream<O, I>(&self, route: O) -> RouteStream<O::Payload>
    where
        O: Outgoing,
        R: Contains<O, I>,
    {
        let (tx, rx) = mpsc::channel(1024);
        let name = wire_name::<R, O, I>(O::NAME);
        let sub = self.on(route, move |p: O::Payload| {
            if tx.try_send(p).is_err() {
                tracing::warn!(route = %name, "zocket client: stream not polled, message dropped");
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
        self.shared().subscribe(
            ERROR_ROUTE.to_owned(),
            Arc::new(
                move |raw: &str| match serde_json::from_str::<ErrorPayload>(raw) {
                    Ok(e) => f(e),
                    Err(e) => tracing::warn!(error = %e, "zocket client: unreadable error payload"),
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

fn decode<P: crate::Payload>(route: &str, raw: &str) -> Option<P> {
    match serde_json::from_str::<P>(raw) {
        Ok(p) => match p.validate() {
            Ok(()) => Some(p),
            Err(report) => {
                tracing::warn!(route, %report, "zocket client: skipping an invalid payload");
                None
            }
        },
        Err(e) => {
            tracing::warn!(route, error = %e, "zocket client: skipping a payload of the wrong shape");
            None
        }
    }
}

/// A listener registration; unsubscribes when dropped.
#[must_use = "dropping a Subscription unsubscribes at once"]
pub struct Subscription {
    shared: Weak<Shared>,
    route: String,
    id: u64,
    active: bool,
}

impl Subscription {
    /// Stops delivery to this listener.
    pub fn unsubscribe(mut self) {
        self.remove();
    }
    /// Keeps the listener for the client's whole life.
    pub fn forever(mut self) {
        self.active = false;
    }
    fn remove(&mut self) {
        if !std::mem::take(&mut self.active) {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            let mut listeners = shared.listeners();
            if let Some(list) = listeners.get_mut(self.route.as_str()) {
                list.retain(|(id, _)| *id != self.id);
                if list.is_empty() {
                    listeners.remove(self.route.as_str());
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.remove();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("route", &self.route)
            .finish()
    }
}

/// A `Stream` of one route's payloads; see [`Client::stream`].
pub struct RouteStream<P> {
    rx: mpsc::Receiver<P>,
    _sub: Subscription,
}

impl<P> Stream for RouteStream<P> {
    type Item = P;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<P>> {
        self.rx.poll_recv(cx)
    }
}

impl<P> fmt::Debug for RouteStream<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteStream").finish_non_exhaustive()
    }
}

impl<R: 'static> ClientBuilder<R> {
    /// A handshake value, sent as a query parameter (what Zocket and browser
    /// clients do; the server merges it with the headers, the query winning).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }
    /// A handshake value sent as a real HTTP header.
    pub fn http_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// The reconnection schedule (default: [`Reconnect::default`]).
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = Some(reconnect);
        self
    }
    /// Never reconnect: a lost connection closes the client.
    pub fn no_reconnect(mut self) -> Self {
        self.reconnect = None;
        self
    }
    /// Send buffer: at most `len` messages wait (default 1,024); `policy` says
    /// what a send does when it is full.
    pub fn buffer(mut self, len: usize, policy: BufferPolicy) -> Self {
        self.buffer_len = len;
        self.policy = policy;
        self
    }
    /// How long [`Client::request`] waits for an answer (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
    /// Time allowed for one connection attempt (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Runs `f` after every *re*connection (not the first connection). What `f`
    /// sends goes out before the messages buffered while disconnected, so
    /// re-join rooms here and buffered room messages find the room joined.
    pub fn on_reconnect<F>(mut self, f: F) -> Self
    where
        F: Fn(&Client<R>) + Send + Sync + 'static,
    {
        self.on_reconnect = Some(Arc::new(f));
        self
    }

    fn request(&self) -> Result<tungstenite::handshake::client::Request, ConnectError> {
        let mut url = self.url.clone();
        if !self.query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            let pairs: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                .collect();
            url.push_str(&pairs.join("&"));
        }
        let mut request = url
            .into_client_request()
            .map_err(|e| ConnectError::Request(e.to_string()))?;
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| ConnectError::Request(e.to_string()))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| ConnectError::Request(e.to_string()))?;
            request.headers_mut().append(name, value);
        }
        Ok(request)
    }

    async fn open(self) -> Result<Client<R>, ConnectError> {
        let request = self.request()?;
        let (alive_tx, alive_rx) = oneshot::channel();
        let (done_tx, done_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            outbox: Mutex::new(VecDeque::new()),
            outbox_ready: Notify::new(),
            listeners: Mutex::new(HashMap::new()),
            next_listener: AtomicU64::new(0),
            state: watch::Sender::new(ConnState::Connecting),
            close_requested: AtomicBool::new(false),
            reconnect_requested: AtomicBool::new(false),
            wake: Notify::new(),
            buffer_len: self.buffer_len.max(1),
            policy: self.policy,
            pending: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            request_timeout: self.request_timeout,
        });
        let handle = Arc::new(Handle {
            shared: shared.clone(),
            _alive: alive_tx,
            done: done_rx,
        });
        let (first_tx, first_rx) = oneshot::channel();
        let task = Task::<R> {
            shared,
            handle: Arc::downgrade(&handle),
            alive: alive_rx,
            request,
            reconnect: self.reconnect,
            connect_timeout: self.connect_timeout,
            on_reconnect: self.on_reconnect,
        };
        tokio::spawn(async move {
            task.run(first_tx).await;
            let _ = done_tx.send(true);
        });
        match first_rx.await {
            Ok(Ok(())) => Ok(Client {
                handle,
                _router: PhantomData,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ConnectError::Io("connection task ended".into())),
        }
    }
}

impl<R: 'static> IntoFuture for ClientBuilder<R> {
    type Output = Result<Client<R>, ConnectError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.open())
    }
}

/// Percent-encodes a query component.
fn encode_component(s: &str) -> String {
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

/// A cheap pseudo-random fraction in [0, 1) for jitter.
fn jitter_fraction(seed: u64) -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = nanos ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

enum SessionEnd {
    /// Every client handle is gone, or `close()` was called.
    Stop,
    /// `reconnect()` was called.
    Reconnect,
    /// The connection broke.
    Lost,
}

struct Task<R> {
    shared: Arc<Shared>,
    handle: Weak<Handle>,
    alive: oneshot::Receiver<()>,
    request: tungstenite::handshake::client::Request,
    reconnect: Option<Reconnect>,
    connect_timeout: Duration,
    on_reconnect: Option<Hook<R>>,
}

type FirstResult = oneshot::Sender<Result<(), ConnectError>>;

impl<R: 'static> Task<R> {
    fn stopping(&mut self) -> bool {
        self.shared.close_requested.load(Ordering::SeqCst)
            || !matches!(
                self.alive.try_recv(),
                Err(oneshot::error::TryRecvError::Empty)
            )
    }

    async fn run(mut self, first: FirstResult) {
        let mut first = Some(first);
        let mut failures = 0u32;
        let mut opened_before = false;
        while !self.stopping() {
            let attempt = tokio::time::timeout(
                self.connect_timeout,
                tokio_tungstenite::connect_async(self.request.clone()),
            )
            .await;
            match attempt {
                Ok(Ok((ws, _))) => {
                    failures = 0;
                    self.shared
                        .reconnect_requested
                        .store(false, Ordering::SeqCst);
                    self.shared.state.send_replace(ConnState::Open);
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Ok(()));
                    }
                    if opened_before
                        && let (Some(hook), Some(handle)) =
                            (&self.on_reconnect, self.handle.upgrade())
                    {
                        // What the hook sends goes out before older buffered
                        // messages: those may depend on it (a room re-joined).
                        let before = self.shared.outbox().len();
                        hook(&Client {
                            handle,
                            _router: PhantomData,
                        });
                        let mut outbox = self.shared.outbox();
                        let added = outbox.len().saturating_sub(before);
                        outbox.rotate_right(added);
                    }
                    opened_before = true;
                    match self.session(ws).await {
                        SessionEnd::Stop => break,
                        SessionEnd::Reconnect => continue,
                        SessionEnd::Lost => tracing::info!("zocket client: connection lost"),
                    }
                }
                Ok(Err(tungstenite::Error::Http(response))) => {
                    let status = response.status().as_u16();
                    let body = response
                        .body()
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    tracing::warn!(status, %body, "zocket client: server refused the connection");
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(ConnectError::Refused { status, body }));
                    }
                    break;
                }
                Ok(Err(e)) => {
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(ConnectError::Io(e.to_string())));
                        break;
                    }
                    tracing::debug!(error = %e, "zocket client: reconnect attempt failed");
                }
                Err(_) => {
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(ConnectError::Io("connect timed out".into())));
                        break;
                    }
                }
            }
            // Lost, or a reconnection attempt failed: back off.
            let Some(schedule) = self.reconnect else {
                break;
            };
            failures += 1;
            if schedule.max_retries.is_some_and(|max| failures > max) {
                tracing::warn!(failures, "zocket client: giving up reconnecting");
                break;
            }
            self.shared
                .state
                .send_replace(ConnState::Reconnecting { attempt: failures });
            let full = schedule.delay(failures);
            let delay = full / 2 + full.mul_f64(0.5 * jitter_fraction(u64::from(failures)));
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.shared.wake.notified() => {}
                _ = &mut self.alive => break,
            }
        }
        self.shared.state.send_replace(ConnState::Closed);
        // Nobody will answer now: waiting requests end with `Closed`.
        self.shared.pending().clear();
    }

    async fn session(
        &mut self,
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> SessionEnd {
        let (mut sink, mut stream) = ws.split();
        loop {
            // Flush what is buffered, oldest first; on failure put it back.
            let batch: Vec<String> = {
                let mut outbox = self.shared.outbox();
                let n = outbox.len().min(64);
                outbox.drain(..n).collect()
            };
            if !batch.is_empty() {
                let mut sent = 0;
                let mut failed = false;
                for text in &batch {
                    if sink.feed(Message::text(text.as_str())).await.is_err() {
                        failed = true;
                        break;
                    }
                    sent += 1;
                }
                if !failed && sink.flush().await.is_err() {
                    failed = true;
                    sent = 0;
                }
                if failed {
                    let mut outbox = self.shared.outbox();
                    for text in batch.into_iter().skip(sent).rev() {
                        outbox.push_front(text);
                    }
                    return SessionEnd::Lost;
                }
                if !self.shared.outbox().is_empty() {
                    continue;
                }
            }
            tokio::select! {
                biased;
                _ = &mut self.alive => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
                    return SessionEnd::Stop;
                }
                () = self.shared.wake.notified() => {
                    if self.shared.close_requested.load(Ordering::SeqCst) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
                        // Wait (briefly) for the server's close reply.
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            while let Some(Ok(_)) = stream.next().await {}
                        }).await;
                        return SessionEnd::Stop;
                    }
                    if self.shared.reconnect_requested.swap(false, Ordering::SeqCst) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(None))).await;
                        return SessionEnd::Reconnect;
                    }
                }
                () = self.shared.outbox_ready.notified() => {}
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(text))) => self.shared.dispatch(text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        tracing::info!(?frame, "zocket client: server closed the connection");
                        // Let tungstenite answer the close, then treat it as lost.
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.flush()).await;
                        return SessionEnd::Lost;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "zocket client: read failed");
                        return SessionEnd::Lost;
                    }
                    None => return SessionEnd::Lost,
                },
            }
        }
    }
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

    #[test]
    fn jitter_is_a_fraction() {
        for i in 0..1000 {
            let f = jitter_fraction(i);
            assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn query_components_are_encoded() {
        assert_eq!(encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode_component("plain-_.~"), "plain-_.~");
    }
}
