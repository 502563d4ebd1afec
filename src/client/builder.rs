//! Configuring and opening a client: [`ClientBuilder`], the reconnection
//! schedule and the send-buffer policy.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, oneshot, watch};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::{HeaderName, HeaderValue};

use super::error::ConnectError;
use super::handle::Client;
use super::policy::{
    BufferPolicy, DEFAULT_HEARTBEAT, Heartbeat, Reconnect, encode_component, transient_refusal,
};
use super::shared::{Answerer, Answerers, Credentials};
use super::shared::{ConnState, Handle, Shared};
use super::task::{Hook, Task};
use crate::protocol::contract::identity::{
    CONTRACT_PARAM, CONTRACT_ROUTES_PARAM, ContractIdentity,
};
use crate::protocol::error::PayloadError;
use crate::protocol::route::marker_name;
use crate::protocol::route::{AsJson, ClientReceives, ClientRequest, ClientSends, Encode};
use crate::protocol::router::{Contains, EveryRequestAnswered, MarkAnswered, Router, wire_name};

/// The builder's type parameters, held without owning anything.
type Types<R, S, Shape> = fn() -> (R, S, Shape);

/// Configures and opens a [`Client`]; `.await` it to connect (it is the
/// [`Future`] of the connection: the first poll starts connecting).
///
/// Type parameters: `R` the router; `S` the answer state (the router with
/// each [`ClientRequest`] route that has a handler marked); `Shape` the
/// router's shape, inferred. You never write `S` or `Shape`: awaiting
/// compiles only once every `ClientRequest` route of `R` has a handler
/// ([`ClientBuilder::on_request`]).
#[must_use = "await the builder to connect"]
pub struct ClientBuilder<R, S = R, Shape = ()> {
    pub(crate) url: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) reconnect: Option<Reconnect>,
    pub(crate) buffer_len: usize,
    pub(crate) policy: BufferPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) on_reconnect: Option<Hook<R>>,
    pub(crate) answerers: Answerers,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) retry_refused: fn(u16) -> bool,
    /// The connection being opened, once the builder is first polled.
    connecting: Option<Connecting<R>>,
    pub(crate) _router: PhantomData<Types<R, S, Shape>>,
}

/// What awaiting a [`ClientBuilder`] runs.
type Connecting<R> = Pin<Box<dyn Future<Output = Result<Client<R>, ConnectError>> + Send>>;

impl<R: 'static> Client<R> {
    /// Starts configuring a client for `url` (`ws://host:port/path`).
    ///
    /// `R` must be a router; `Shape` is inferred from it alone (as in
    /// [`Zocket::builder`](crate::Zocket::builder)), so a router whose marker
    /// implements two route directions does not compile here either.
    pub fn connect<Shape>(url: impl Into<String>) -> ClientBuilder<R, R, Shape>
    where
        R: Router<Shape>,
    {
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
            answerers: HashMap::new(),
            credentials: None,
            heartbeat: Some(DEFAULT_HEARTBEAT),
            retry_refused: transient_refusal,
            connecting: None,
            _router: PhantomData,
        }
    }
}

impl<R: 'static, S, Shape> ClientBuilder<R, S, Shape> {
    /// Answers the server's questions on client request route `route` with
    /// `f`: it gets the question's payload (validated) and returns the
    /// answer, validated before it is sent on `$zocket.reply`, or an error
    /// whose text the server's [`Ctx::ask`](crate::Ctx::ask) receives as
    /// [`AskError::Refused`](crate::AskError::Refused). Each question runs in
    /// its own task; the connection keeps reading meanwhile.
    ///
    /// Every `ClientRequest` route of the router needs exactly one handler:
    /// a builder with one missing does not compile when awaited, and a
    /// second handler for a route does not compile here.
    ///
    /// ```no_run
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize, Validate)] struct Question { #[garde(length(min = 1))] text: String }
    /// # #[derive(Serialize, Deserialize, Validate)] struct Answer { #[garde(skip)] yes: bool }
    /// # struct Confirm;
    /// # impl zocket::ClientRequest for Confirm { const NAME: &'static str = "confirm"; type Payload = Question; type Response = Answer; }
    /// # type AppRouter = (Confirm, ());
    /// use zocket::Client;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::<AppRouter>::connect("ws://127.0.0.1:3000/ws")
    ///     .on_request(Confirm, |q: Question| async move {
    ///         Ok::<_, String>(Answer { yes: q.text.len() < 100 })
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_request<X, I, F, Fut, E>(
        mut self,
        route: X,
        f: F,
    ) -> ClientBuilder<R, <S as MarkAnswered<X, I>>::Out, Shape>
    where
        X: ClientRequest,
        X::Payload: ClientReceives<X>,
        X::Response: ClientSends<X>,
        S: MarkAnswered<X, I>,
        R: Contains<X, I>,
        F: Fn(X::Payload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<X::Response, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let _ = route;
        let name = wire_name::<R, X, I>(marker_name!(X));
        let f = Arc::new(f);
        let answerer: Answerer = Arc::new(move |raw: String| {
            let f = f.clone();
            Box::pin(async move {
                let question = PayloadError::accept::<X::Payload>(&raw)
                    .map_err(|e| format!("the question was not accepted: {e}"))?;
                let answer = f(question).await.map_err(|e| e.to_string())?;
                if let Err(report) = answer.check_sent() {
                    return Err(format!("the answer failed validation: {report}"));
                }
                serde_json::value::to_raw_value(&AsJson(&answer))
                    .map_err(|e| format!("the answer cannot be serialized: {e}"))
            })
        });
        self.answerers.insert(name.into_boxed_str(), answerer);
        ClientBuilder {
            url: self.url,
            query: self.query,
            headers: self.headers,
            reconnect: self.reconnect,
            buffer_len: self.buffer_len,
            policy: self.policy,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            on_reconnect: self.on_reconnect,
            answerers: self.answerers,
            credentials: self.credentials,
            heartbeat: self.heartbeat,
            retry_refused: self.retry_refused,
            connecting: None,
            _router: PhantomData,
        }
    }

    /// A handshake value, sent as a query parameter (what Zocket and browser
    /// clients do; the server merges it with the headers, the query winning).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }
    /// Sends the fingerprint of the contract this client was built against
    /// (`zocket-contract`, with the route hashes in `zocket-routes`), so a
    /// server that declared its contract can detect drift: it logs a warning,
    /// or with `ContractCheck::Strict` refuses the connection with HTTP 409
    /// naming the routes that differ (a [`ConnectError`](crate::ConnectError)
    /// with that status). With the `schema` feature the identity comes from
    /// `Contract::of::<R, _>().identity()`.
    pub fn contract(mut self, identity: &ContractIdentity) -> Self {
        self.query
            .retain(|(n, _)| n != CONTRACT_PARAM && n != CONTRACT_ROUTES_PARAM);
        self.query
            .push((CONTRACT_PARAM.to_owned(), identity.fingerprint().to_owned()));
        self.query
            .push((CONTRACT_ROUTES_PARAM.to_owned(), identity.routes_param()));
        self
    }

    /// Handshake values computed anew before every connection and
    /// reconnection, such as a short-lived token: `f` runs each time, and
    /// what it returns is sent as query parameters next to the fixed
    /// [`header`](ClientBuilder::header)s (do not use the same name in both).
    /// When the server warns that the credentials expire (`$zocket.expiring`,
    /// see [`Builder::expires`](crate::Builder::expires)), the client calls
    /// `f` and sends the new values on `$zocket.auth` without reconnecting.
    ///
    /// If `f` fails, the first connection fails with
    /// [`ConnectError::Credentials`]; a reconnection is retried with the
    /// backoff.
    ///
    /// ```no_run
    /// # async fn fetch_token() -> Result<String, std::io::Error> { Ok("t".into()) }
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = zocket::Client::<()>::connect("ws://127.0.0.1:3000/ws")
    ///     .headers_with(|| async { Ok::<_, std::io::Error>([("token", fetch_token().await?)]) })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn headers_with<F, Fut, I, K, V, E>(mut self, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<I, E>> + Send + 'static,
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
        E: std::fmt::Display,
    {
        let f = Arc::new(f);
        self.credentials = Some(Arc::new(move || {
            let f = f.clone();
            Box::pin(async move {
                f().await
                    .map(|pairs| {
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k.into(), v.into()))
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            })
        }));
        self
    }

    /// The client's own liveness check (default: a ping every 20 s, and a
    /// connection silent for 45 s is lost): a server that stops answering
    /// (a dead host, a half-open TCP connection) is noticed within `timeout`
    /// and the client reconnects. Anything the server sends counts as a sign
    /// of life, so keep `timeout` above the server's heartbeat interval
    /// (30 s) or above `every` plus a round trip, whichever is smaller.
    pub fn heartbeat(mut self, every: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some(Heartbeat { every, timeout });
        self
    }

    /// No client-side liveness check: a dead server is noticed only when a
    /// send fails or the operating system gives up on the connection.
    pub fn no_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// A handshake value sent as an HTTP header (for non-browser servers).
    pub fn http_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// The reconnection schedule (default: [`Reconnect::default`]).
    pub fn reconnect(mut self, reconnect: Reconnect) -> Self {
        self.reconnect = Some(reconnect);
        self
    }
    /// Which refusals of a *re*connection are retried with the backoff:
    /// `retry(status)` gets the HTTP status the server refused with. By
    /// default ([`transient_refusal`](crate::transient_refusal)) 408,
    /// 429 and every 5xx are retried (a server that is full, shutting down
    /// during a deploy, or overloaded for a moment), while 400, 401, 403, 409
    /// and other 4xx stop the client (a retry would be refused the same way):
    /// its state becomes [`ConnState::Closed`] and
    /// [`Client::refusal`] says why. The *first* connection reports any
    /// refusal at once ([`ConnectError::Refused`]), whatever this says.
    ///
    /// ```no_run
    /// # use zocket::{Client, Incoming};
    /// # struct Ping; impl Incoming for Ping { const NAME: &'static str = "ping"; type Payload = (); }
    /// # async fn f() -> Result<(), zocket::ConnectError> {
    /// // Keep trying through anything but a refused login.
    /// let client = Client::<(Ping, ())>::connect("ws://127.0.0.1:3000")
    ///     .retry_refused(|status| status != 401 && status != 403)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn retry_refused(mut self, retry: fn(u16) -> bool) -> Self {
        self.retry_refused = retry;
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
        let mut request = url.into_client_request().map_err(ConnectError::Request)?;
        let invalid = |e: tungstenite::http::Error| ConnectError::Request(e.into());
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|e| invalid(e.into()))?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|e| invalid(e.into()))?;
            request.headers_mut().append(name, value);
        }
        Ok(request)
    }

    async fn open(self) -> Result<Client<R>, ConnectError> {
        let request = self.request()?;
        let answerers = self.answerers;
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
            session: Mutex::new(None),
            last_offset: AtomicU64::new(0),
            recovered: AtomicBool::new(false),
            answerers,
            credentials: self.credentials.clone(),
            refusal: Mutex::new(None),
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
            credentials: self.credentials,
            heartbeat: self.heartbeat,
            retry_refused: self.retry_refused,
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
            Err(_) => Err(ConnectError::Io(tungstenite::Error::ConnectionClosed)),
        }
    }
}

/// `S: EveryRequestAnswered<Self>`, with the shape as `Self`: when the shape
/// is unknown (the router was refused, which is reported), this stays silent
/// instead of adding "a client request route has no answering handler".
#[doc(hidden)]
pub trait AnswersAll<S> {}

impl<P, S: EveryRequestAnswered<P>> AnswersAll<S> for P {}

// A `Future` (not only `IntoFuture`): `.await` then has exactly one impl to
// check, so a missing answering handler is reported as such, naming the route,
// instead of "`ClientBuilder<..>` is not a future; remove the `.await`".
impl<R: 'static, S: 'static, Shape: 'static> Future for ClientBuilder<R, S, Shape>
where
    Shape: AnswersAll<S>,
{
    type Output = Result<Client<R>, ConnectError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let connecting = this.connecting.get_or_insert_with(|| {
            let parts = ClientBuilder::<R, S, Shape> {
                url: std::mem::take(&mut this.url),
                query: std::mem::take(&mut this.query),
                headers: std::mem::take(&mut this.headers),
                reconnect: this.reconnect.take(),
                buffer_len: this.buffer_len,
                policy: this.policy,
                connect_timeout: this.connect_timeout,
                request_timeout: this.request_timeout,
                on_reconnect: this.on_reconnect.take(),
                answerers: std::mem::take(&mut this.answerers),
                credentials: this.credentials.take(),
                heartbeat: this.heartbeat.take(),
                retry_refused: this.retry_refused,
                connecting: None,
                _router: PhantomData,
            };
            Box::pin(parts.open())
        });
        connecting.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_encoded() {
        assert_eq!(encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode_component("plain-_.~"), "plain-_.~");
    }
}
