//! [`TestClient`]: one in-memory connection with typed sends, requests and
//! expectations, and the record of everything it exchanged.
//!
//! Longer than 500 lines because one client speaks every kind of exchange
//! (messages, requests both ways, errors, recovery) and records all of them
//! in one transcript; split, each part would need the socket and the record.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::io::DuplexStream;
use tokio_tungstenite::WebSocketStream;
use tungstenite::Message;

use crate::protocol::client_id::ClientId;
use crate::protocol::route::marker_name;
use crate::protocol::route::{
    AsJson, ClientReceives, ClientRequest, ClientSends, Decode, ERROR_ROUTE, Incoming,
    OFFSET_PARAM, Outgoing, REPLY_ROUTE, Request, SESSION_PARAM, WELCOME_ROUTE,
};
use crate::protocol::router::{Contains, wire_name};
use crate::protocol::wire::{self, ErrorKind, ErrorPayload, encode, encode_request};

/// How long an expectation waits for a message (virtual time under `pause`).
const WAIT: Duration = Duration::from_secs(5);

/// A question the server asked a [`TestClient`] on a client request route.
#[derive(Debug)]
pub struct Question<X: ClientRequest> {
    /// The question's id (what an answer must carry).
    pub id: u64,
    /// What the server asked.
    pub payload: X::Payload,
}

/// One frame of a test connection, for failure messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchanged {
    /// The client sent this text.
    Sent(String),
    /// The server sent this text.
    Received(String),
    /// The server closed the connection (code, reason).
    Closed(Option<u16>, String),
}

impl fmt::Display for Exchanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exchanged::Sent(t) => write!(f, "  -> {t}"),
            Exchanged::Received(t) => write!(f, "  <- {t}"),
            Exchanged::Closed(code, reason) => write!(f, "  <- close {code:?} {reason}"),
        }
    }
}

/// The server refused the handshake: HTTP status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status (400 invalid headers, 401/403 from `on_connect`, ...).
    pub status: u16,
    /// The response body (JSON).
    pub body: String,
}

impl Refused {
    /// The body as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A typed client of a [`TestServer`](super::TestServer), over an in-memory connection.
///
/// Sends are not validated on the client side (unlike [`Client`](crate::Client)),
/// so a test can check what the server does with an invalid payload; only
/// the types are checked: incoming routes of `R` can be sent, outgoing ones
/// expected.
pub struct TestClient<R> {
    ws: WebSocketStream<DuplexStream>,
    transcript: Vec<Exchanged>,
    /// Received, not yet taken by an expectation (a request's answer skips ahead).
    unread: VecDeque<Value>,
    query: Vec<(String, String)>,
    quiet: Duration,
    next_request: u64,
    /// From `$zocket.welcome` (recovery on): token, id, whether it resumed.
    session: Option<(String, ClientId, bool)>,
    last_offset: u64,
    closed: bool,
    _router: PhantomData<fn() -> R>,
}

/// A connection that was dropped without a close frame; with recovery on
/// [`TestServer::resume`](super::TestServer::resume) brings it back.
pub struct Dropped<R> {
    query: Vec<(String, String)>,
    token: Option<String>,
    last_offset: u64,
    _router: PhantomData<fn() -> R>,
}

impl<R> Dropped<R> {
    /// The handshake query to resume with: the original one, plus the
    /// session token and the last offset received (when the server sent a
    /// welcome).
    pub(crate) fn resume_query(self) -> Vec<(String, String)> {
        let mut query = self.query;
        query.retain(|(k, _)| k != SESSION_PARAM && k != OFFSET_PARAM);
        if let Some(token) = self.token {
            query.push((SESSION_PARAM.to_owned(), token));
            query.push((OFFSET_PARAM.to_owned(), self.last_offset.to_string()));
        }
        query
    }
}

fn encode_query(pairs: &[(String, String)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) async fn handshake<R>(
    stream: DuplexStream,
    path: &str,
    query: Vec<(String, String)>,
    headers: &[(&str, &str)],
    quiet: Duration,
) -> Result<TestClient<R>, Refused> {
    use tungstenite::client::IntoClientRequest;
    let mut url = format!("ws://zocket.test{path}");
    if !query.is_empty() {
        url.push('?');
        url.push_str(&encode_query(&query));
    }
    let mut request = url.into_client_request().expect("a valid test URL");
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::try_from(*name).expect("a valid header name");
        let value = tungstenite::http::HeaderValue::try_from(*value).expect("a valid header value");
        request.headers_mut().append(name, value);
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::client_async(request, stream)).await {
        Ok(Ok((ws, _))) => Ok(TestClient {
            ws,
            transcript: Vec::new(),
            unread: VecDeque::new(),
            query,
            quiet,
            next_request: 1,
            session: None,
            last_offset: 0,
            closed: false,
            _router: PhantomData,
        }),
        Ok(Err(tungstenite::Error::Http(response))) => Err(Refused {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        }),
        Ok(Err(e)) => panic!("in-memory handshake failed: {e}"),
        Err(_) => panic!("in-memory handshake: no answer within {WAIT:?}"),
    }
}

impl<R: 'static> TestClient<R> {
    /// Sends `payload` on incoming route `route` (not validated here: the
    /// server validates it, as it would any client's).
    pub async fn send<X, I>(&mut self, route: X, payload: X::Payload)
    where
        X: Incoming,
        X::Payload: ClientSends<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        let text = encode(&wire_name::<R, X, I>(marker_name!(X)), &AsJson(&payload))
            .expect("payload serializes");
        self.send_text(text).await;
    }

    /// Sends any text frame (malformed JSON, unknown routes, ...).
    pub async fn send_raw(&mut self, text: impl Into<String>) {
        self.send_text(text.into()).await;
    }

    /// Sends a binary frame (read as text when it holds UTF-8, as the
    /// original Zocket server does, unless the app refuses binary frames).
    pub async fn send_binary(&mut self, bytes: impl Into<Vec<u8>>) {
        let bytes: Vec<u8> = bytes.into();
        self.transcript
            .push(Exchanged::Sent(format!("<binary, {} bytes>", bytes.len())));
        if let Err(e) = self.ws.send(Message::binary(bytes)).await {
            self.fail(&format!("could not send: {e}"));
        }
    }

    async fn send_text(&mut self, text: String) {
        self.transcript.push(Exchanged::Sent(text.clone()));
        if let Err(e) = self.ws.send(Message::text(text)).await {
            self.fail(&format!("could not send: {e}"));
        }
    }

    /// Asks on request route `route` and waits for the answer. Messages that
    /// arrive before it stay in order for the next expectations.
    ///
    /// # Errors
    ///
    /// The server's [`ErrorPayload`] when the request failed (validation,
    /// middleware, handler). A route whose response is an
    /// [`Outcome`](crate::Outcome) answers its own refusal as `Ok(Outcome::Err(e))`.
    pub async fn request<X, I>(
        &mut self,
        route: X,
        payload: X::Payload,
    ) -> Result<X::Response, ErrorPayload>
    where
        X: Request,
        X::Payload: ClientSends<X>,
        X::Response: ClientReceives<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        let id = self.next_request;
        self.next_request += 1;
        let name = wire_name::<R, X, I>(marker_name!(X));
        let text = encode_request(&name, &AsJson(&payload), id).expect("payload serializes");
        self.send_text(text).await;
        let mut skipped = VecDeque::new();
        let answer = loop {
            let Some(msg) = self.next_from_socket(WAIT).await else {
                self.fail(&format!("no answer to request `{name}` (id {id})"));
            };
            let is_reply = msg["type"] == REPLY_ROUTE && msg["id"] == id;
            let is_error = msg["type"] == ERROR_ROUTE && msg["payload"]["id"] == id;
            if is_reply {
                let raw = msg["payload"].to_string();
                match X::Response::from_json(&raw) {
                    Ok(r) => break Ok(r),
                    Err(e) => self.fail(&format!(
                        "the answer to `{name}` is not its response type: {e}"
                    )),
                }
            } else if is_error {
                match serde_json::from_value::<ErrorPayload>(msg["payload"].clone()) {
                    // The route's own refusal, when its response is an `Outcome`.
                    Ok(err) => {
                        break crate::protocol::outcome::from_route_error::<X::Response>(&err)
                            .ok_or(err);
                    }
                    Err(e) => self.fail(&format!("malformed $zocket.error: {e}")),
                }
            } else {
                skipped.push_back(msg);
            }
        };
        // What came before the answer is read next, in order.
        while let Some(m) = skipped.pop_back() {
            self.unread.push_front(m);
        }
        answer
    }

    /// The next message must be on outgoing route `route`: returns its
    /// payload. Panics (listing what was exchanged) if another message comes,
    /// none comes within 5 s, or the payload is not the route's type.
    pub async fn expect<O, I>(&mut self, route: O) -> O::Payload
    where
        O: Outgoing,
        O::Payload: ClientReceives<O>,
        R: Contains<O, I>,
    {
        let _ = route;
        let name = wire_name::<R, O, I>(marker_name!(O));
        let msg = self.next_message(&name).await;
        if msg["type"] != name.as_str() {
            self.fail(&format!("expected a message on `{name}`, got {msg}"));
        }
        let raw = msg
            .get("payload")
            .map_or_else(|| "null".to_owned(), Value::to_string);
        match O::Payload::from_json(&raw) {
            Ok(p) => p,
            Err(e) => self.fail(&format!("the payload on `{name}` is not its type: {e}")),
        }
    }

    /// The next message must be a question of the server on client request
    /// route `route` (from [`Ctx::ask`](crate::Ctx::ask)): returns it, to
    /// [`answer`](TestClient::answer) or [`refuse`](TestClient::refuse) (or
    /// leave unanswered, to test the server's timeout).
    pub async fn expect_question<X, I>(&mut self, route: X) -> Question<X>
    where
        X: ClientRequest,
        X::Payload: ClientReceives<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        let name = wire_name::<R, X, I>(marker_name!(X));
        let msg = self.next_message(&name).await;
        if msg["type"] != name.as_str() {
            self.fail(&format!("expected a question on `{name}`, got {msg}"));
        }
        let Some(id) = msg["id"].as_u64() else {
            self.fail(&format!(
                "a question on `{name}` without a numeric id: {msg}"
            ));
        };
        let raw = msg
            .get("payload")
            .map_or_else(|| "null".to_owned(), Value::to_string);
        match X::Payload::from_json(&raw) {
            Ok(payload) => Question { id, payload },
            Err(e) => self.fail(&format!("the question on `{name}` is not its type: {e}")),
        }
    }

    /// Answers `question` with `response` on `$zocket.reply` (not validated
    /// here: the server validates answers).
    pub async fn answer<X: ClientRequest>(&mut self, question: &Question<X>, response: X::Response)
    where
        X::Response: ClientSends<X>,
    {
        let id = RawValue::from_string(question.id.to_string()).expect("a number is JSON");
        let text = wire::encode_reply(&id, &AsJson(&response)).expect("response serializes");
        self.send_text(text).await;
    }

    /// Refuses `question`: a `$zocket.error` with its id and `message`, which
    /// the server's `ask` returns as `AskError::Refused`.
    pub async fn refuse<X: ClientRequest>(&mut self, question: &Question<X>, message: &str) {
        let text = serde_json::json!({
            "type": ERROR_ROUTE,
            "payload": {"kind": "rejected", "message": message, "id": question.id},
        });
        self.send_text(text.to_string()).await;
    }

    /// The next message of any kind, as JSON (for tests of the wire format
    /// itself: replies, errors, ids).
    pub async fn next_json(&mut self) -> Value {
        self.next_message("any message").await
    }

    /// The next message must be on `$zocket.error` with this kind: returns it.
    pub async fn expect_error(&mut self, kind: ErrorKind) -> ErrorPayload {
        let msg = self.next_message(ERROR_ROUTE).await;
        if msg["type"] != ERROR_ROUTE {
            self.fail(&format!("expected `$zocket.error` ({kind:?}), got {msg}"));
        }
        let err: ErrorPayload = match serde_json::from_value(msg["payload"].clone()) {
            Ok(e) => e,
            Err(e) => self.fail(&format!("malformed $zocket.error: {e}")),
        };
        if err.kind != kind {
            self.fail(&format!(
                "expected a `{kind:?}` error, got `{:?}`: {}",
                err.kind, err.message
            ));
        }
        err
    }

    /// Nothing arrives within the server's quiet period (100 ms by default,
    /// virtual under `tokio::time::pause()`); panics listing what did.
    pub async fn expect_nothing(&mut self) {
        if let Some(msg) = self.unread.pop_front() {
            self.fail(&format!("expected nothing, got {msg}"));
        }
        if let Some(msg) = self.next_from_socket(self.quiet).await {
            self.fail(&format!("expected nothing, got {msg}"));
        }
    }

    /// The server closes the connection: returns its close code.
    pub async fn expect_close(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await {
                Err(_) => self.fail("expected the server to close the connection"),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    self.transcript.push(Exchanged::Closed(code, reason));
                    self.closed = true;
                    return code;
                }
                Ok(Some(Ok(Message::Text(t)))) => {
                    self.transcript.push(Exchanged::Received(t.to_string()))
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => {
                    self.closed = true;
                    return None;
                }
            }
        }
    }

    /// Closes the connection with a close frame (a goodbye: `on_disconnect`
    /// runs at once, even with recovery on) and waits for the server's answer.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Drops the connection without a close frame, as a network failure
    /// would. With recovery on, [`TestServer::resume`](super::TestServer::resume) comes back.
    pub fn drop_connection(self) -> Dropped<R> {
        let token = self.session.as_ref().map(|(t, _, _)| t.clone());
        Dropped {
            query: self.query,
            token,
            last_offset: self.last_offset,
            _router: PhantomData,
        }
    }

    /// The client id, when the server told it (recovery on: `$zocket.welcome`).
    pub fn id(&self) -> Option<ClientId> {
        self.session.as_ref().map(|(_, id, _)| *id)
    }

    /// Whether this connection resumed a dropped session (recovery on). It is
    /// known once the first message was read (the welcome comes first).
    pub fn recovered(&self) -> bool {
        self.session.as_ref().is_some_and(|(_, _, r)| *r)
    }

    /// Reads the greeting if the server sends one (recovery on), so
    /// [`id`](Self::id) and [`recovered`](Self::recovered) are known.
    pub async fn welcomed(&mut self) -> bool {
        if self.session.is_some() {
            return true;
        }
        if let Some(msg) = self.next_from_socket(self.quiet).await {
            self.unread.push_front(msg);
        }
        self.session.is_some()
    }

    /// Everything this connection sent and received so far.
    pub fn transcript(&self) -> &[Exchanged] {
        &self.transcript
    }

    async fn next_message(&mut self, wanted: &str) -> Value {
        if let Some(msg) = self.unread.pop_front() {
            return msg;
        }
        match self.next_from_socket(WAIT).await {
            Some(msg) => msg,
            None if self.closed => self.fail(&format!(
                "expected `{wanted}`, but the connection is closed"
            )),
            None => self.fail(&format!(
                "expected `{wanted}`, but nothing arrived within {WAIT:?}"
            )),
        }
    }

    /// The next application message from the socket (the welcome is taken in).
    async fn next_from_socket(&mut self, wait: Duration) -> Option<Value> {
        if self.closed {
            return None;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(frame) => frame,
            };
            match frame {
                Some(Ok(Message::Text(text))) => {
                    self.transcript.push(Exchanged::Received(text.to_string()));
                    let msg: Value = match serde_json::from_str(&text) {
                        Ok(v) => v,
                        Err(e) => {
                            self.fail(&format!("the server sent something that is not JSON: {e}"))
                        }
                    };
                    if let Some(o) = msg.get("offset").and_then(Value::as_u64) {
                        self.last_offset = self.last_offset.max(o);
                    }
                    if msg["type"] == WELCOME_ROUTE {
                        let p = &msg["payload"];
                        let token = p["token"].as_str().unwrap_or_default().to_owned();
                        let id = p["clientId"].as_str().and_then(|s| s.parse().ok());
                        let recovered = p["recovered"].as_bool().unwrap_or(false);
                        if !recovered {
                            self.last_offset = 0;
                        }
                        if let Some(id) = id {
                            self.session = Some((token, id, recovered));
                        }
                        continue;
                    }
                    return Some(msg);
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map(|f| u16::from(f.code));
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    self.transcript.push(Exchanged::Closed(code, reason));
                    self.closed = true;
                    return None;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    self.closed = true;
                    return None;
                }
            }
        }
    }

    fn fail(&self, what: &str) -> ! {
        let mut text = format!("{what}\nexchanged on this connection:\n");
        if self.transcript.is_empty() {
            text.push_str("  (nothing)\n");
        }
        for e in &self.transcript {
            text.push_str(&e.to_string());
            text.push('\n');
        }
        panic!("{text}");
    }
}

impl<R> fmt::Debug for TestClient<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("exchanged", &self.transcript.len())
            .finish()
    }
}
