//! The server: accept loop, HTTP handshake, and the per-connection tasks.
//!
//! Each connection has a reader task (reads frames, dispatches them one at a
//! time in arrival order) and a writer task (drains the bounded outgoing queue,
//! coalescing whatever is queued into one flush, and sends heartbeat pings).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::app::{ConnectError, Runtime, Zocket};
use crate::connection::{self, Io, Ws};
use crate::context::Conn;
use crate::handler::Failure;
use crate::registry::{Core, RegisterError, Registered};
use crate::wire::{ErrorKind, Issue, parse_envelope};

impl<R, U> Zocket<R, U>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    /// Binds `addr` and serves until [`ServerHandle::shutdown`](crate::ServerHandle::shutdown).
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_listener(listener).await
    }

    /// Serves on an existing listener (for example one bound to port 0) until
    /// [`ServerHandle::shutdown`](crate::ServerHandle::shutdown).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for fatal listener errors.
    pub async fn serve_listener(self, listener: TcpListener) -> io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves until `signal` completes or the handle asks for shutdown, then
    /// shuts down gracefully: stops accepting, closes every socket with 1001,
    /// runs every `on_disconnect`, and returns (after at most the configured
    /// shutdown timeout).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for fatal listener errors.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let core = self.core.clone();
        core.start_adapter();
        let mut stop = core.shutdown.subscribe();
        let mut signal = std::pin::pin!(signal);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "zocket listening");
        }
        let mut refused = 0u64;
        loop {
            tokio::select! {
                () = &mut signal => { core.begin_shutdown(); break; }
                () = flag_set(&mut stop) => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Sockets still in their handshake count too, so that a
                        // flood of connections that never send a request cannot
                        // hold more than the limit allows.
                        let open = core.task_count();
                        let limit = core.config.max_connections + core.config.max_pending_handshakes;
                        if open >= limit {
                            refused += 1;
                            if refused == 1 || refused.is_multiple_of(1000) {
                                tracing::warn!(%peer, open, refused, "too many sockets: dropping a new one");
                            }
                            continue;
                        }
                        let _ = stream.set_nodelay(true);
                        let app = self.clone();
                        let guard = core.task_guard();
                        tokio::spawn(async move {
                            handle_socket(app, stream, peer).await;
                            drop(guard);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);
        let timeout = core.config.shutdown_timeout;
        if tokio::time::timeout(timeout, core.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                ?timeout,
                "shutdown timeout: some connections did not finish closing"
            );
        }
        tracing::info!("zocket stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM; pass it to
/// [`Zocket::serve_with_shutdown`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

// ---------------------------------------------------------------------------
// HTTP handshake
// ---------------------------------------------------------------------------

/// A parsed upgrade request head.
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    /// Lower-cased names.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

pub(crate) enum HeadError {
    TooLarge,
    Malformed,
}

/// Parses an HTTP/1.1 request head from `buf`. `Ok(None)` means incomplete.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(n)) => {
            let target = req.path.unwrap_or("/");
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (target.to_owned(), None),
            };
            let headers = req
                .headers
                .iter()
                .filter_map(|h| {
                    std::str::from_utf8(h.value)
                        .ok()
                        .map(|v| (h.name.to_ascii_lowercase(), v.trim().to_owned()))
                })
                .collect();
            Ok(Some((
                Head {
                    method: req.method.unwrap_or("").to_owned(),
                    path,
                    query,
                    headers,
                },
                n,
            )))
        }
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(_) => Err(HeadError::Malformed),
    }
}

/// Decodes `%XX` and `+` in a query component.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Headers merged with the query string: names lower-cased, the query wins.
pub(crate) fn handshake_map(head: &Head) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    for (name, value) in &head.headers {
        map.insert(name.clone(), serde_json::Value::String(value.clone()));
    }
    if let Some(query) = &head.query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(
                percent_decode(name).to_lowercase(),
                serde_json::Value::String(percent_decode(value)),
            );
        }
    }
    map
}

fn http_response(status: u16, content_type: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[derive(Serialize)]
struct HttpError<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [Issue]>,
}

/// The body of the 426 answered to a plain HTTP request on a WebSocket route.
pub(crate) const UPGRADE_REQUIRED: &[u8] =
    br#"{"error":"Upgrade Required: this endpoint speaks WebSocket"}"#;

/// Writes an HTTP response and closes; never yields a connection.
async fn respond<T>(mut stream: TcpStream, response: Vec<u8>) -> Option<T> {
    let write = async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(Duration::from_secs(5), write)
        .await
        .is_ok()
    {
        // Lingering close: read (and drop) what the client is still sending,
        // briefly and boundedly, so closing with unread bytes does not reset
        // the connection before the client has read our response.
        let drain = async {
            let mut buf = [0u8; 4096];
            let mut left: usize = 64 * 1024;
            while left > 0 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
    None
}

/// Reads the request head, within the size limit.
async fn read_head(stream: &mut TcpStream, max: usize) -> Result<(Head, Vec<u8>), Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(None),
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        match parse_head(&buf) {
            Ok(Some((head, used))) => {
                let rest = buf.split_off(used);
                return Ok((head, rest));
            }
            Ok(None) if buf.len() >= max => {
                return Err(Some(
                    Refusal::new(431, "Request head too large", None).http(),
                ));
            }
            Ok(None) => {}
            Err(HeadError::TooLarge) => {
                return Err(Some(Refusal::new(431, "Too many headers", None).http()));
            }
            Err(HeadError::Malformed) => {
                return Err(Some(
                    Refusal::new(400, "Malformed HTTP request", None).http(),
                ));
            }
        }
    }
}

/// An upgraded connection, ready to serve.
struct Accepted<U> {
    ws: Ws,
    registered: Registered,
    data: U,
}

async fn handle_socket<R, U>(app: Zocket<R, U>, stream: TcpStream, peer: SocketAddr)
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    // The handshake's state (request head, buffers) lives in its own
    // allocation, freed before the long-lived connection phase starts.
    let Some(accepted) = Box::pin(handshake(&app, stream, peer)).await else {
        return;
    };
    let id = accepted.registered.id;
    let span = tracing::info_span!("conn", client = %id, %peer);
    connection::run(
        app.runtime.clone(),
        app.core.clone(),
        accepted.ws,
        id,
        accepted.registered.outbox,
        accepted.data,
    )
    .instrument(span)
    .await;
}

async fn handshake<R, U>(
    app: &Zocket<R, U>,
    mut stream: TcpStream,
    peer: SocketAddr,
) -> Option<Accepted<U>>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    let core = app.core.clone();
    let config = &core.config;
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let mut stop = core.shutdown.subscribe();
    let read = tokio::select! {
        r = tokio::time::timeout_at(deadline, read_head(&mut stream, config.max_handshake_size)) => r,
        () = flag_set(&mut stop) => return None,
    };
    let (head, rest) = match read {
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out");
            return None;
        }
        Ok(Err(None)) => return None,
        Ok(Err(Some(response))) => return respond(stream, response).await,
        Ok(Ok(x)) => x,
    };

    let is_upgrade = head.header_has_token("upgrade", "websocket");
    if !is_upgrade {
        return respond(stream, plain_http(&core, &head)).await;
    }
    if let Some(path) = &config.path
        && head.path != *path
    {
        return respond(stream, Refusal::new(404, "Not found", None).http()).await;
    }
    let (registered, data, accept) = match upgrade(app, &head, &peer.to_string(), deadline).await {
        Ok(ok) => ok,
        Err(refusal) => return respond(stream, refusal.http()).await,
    };
    drop(head);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).await.is_err() {
        core.unregister(registered.id);
        return None;
    }
    let ws = websocket(stream, rest, config).await;
    Some(Accepted {
        ws,
        registered,
        data,
    })
}

/// tungstenite's configuration from ours.
fn ws_config(config: &crate::Config) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(config.read_buffer_size)
        .write_buffer_size(config.write_buffer_size)
        .max_write_buffer_size(
            config
                .max_write_buffer_size
                .max(config.write_buffer_size + 1),
        )
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_frame_size))
}

/// Wraps an upgraded socket (and any bytes read past the request) as a
/// server-side WebSocket.
pub(crate) async fn websocket<S: connection::Socket>(
    socket: S,
    already_read: Vec<u8>,
    config: &crate::Config,
) -> Ws<S> {
    WebSocketStream::from_raw_socket(
        Io::new(socket, already_read),
        Role::Server,
        Some(ws_config(config)),
    )
    .await
}

/// An upgrade refused before any socket opens: the HTTP status and JSON body.
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Refusal {
    fn new(status: u16, error: &str, details: Option<&[Issue]>) -> Self {
        Refusal {
            status,
            body: serde_json::to_vec(&HttpError { error, details }).unwrap_or_default(),
        }
    }
    fn http(&self) -> Vec<u8> {
        http_response(self.status, "application/json", &self.body, "")
    }
}

/// The checks every upgrade goes through, whoever parsed the request (our
/// HTTP reader or a framework): method, WebSocket headers, Origin, capacity,
/// then the typed headers and `on_connect`. On success the connection is
/// registered and the `Sec-WebSocket-Accept` value is returned.
pub(crate) async fn upgrade<R, U>(
    app: &Zocket<R, U>,
    head: &Head,
    peer: &str,
    deadline: tokio::time::Instant,
) -> Result<(Registered, U, String), Refusal>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
{
    let core = &app.core;
    let config = &core.config;
    // Every early return refuses an upgrade.
    let refused = RefusalCounter(core, true);
    if head.method != "GET" {
        return Err(Refusal::new(405, "WebSocket upgrades use GET", None));
    }
    let key = match head.header("sec-websocket-key") {
        Some(k) if head.header("sec-websocket-version") == Some("13") => k.to_owned(),
        _ => return Err(Refusal::new(400, "Bad WebSocket handshake", None)),
    };
    if let (Some(allowed), Some(origin)) = (&config.allowed_origins, head.header("origin"))
        && !allowed.iter().any(|a| a == origin)
    {
        tracing::info!(peer, origin, "upgrade refused: origin not allowed");
        return Err(Refusal::new(403, "Origin not allowed", None));
    }
    let registered = match core.register() {
        Ok(r) => r,
        Err(RegisterError::Full) => {
            tracing::warn!(peer, "upgrade refused: max connections reached");
            return Err(Refusal::new(503, "Server is full", None));
        }
        Err(RegisterError::ShuttingDown) => {
            return Err(Refusal::new(503, "Server is shutting down", None));
        }
    };
    let id = registered.id;
    let map = handshake_map(head);
    let connect = AssertUnwindSafe((app.runtime.on_connect)(map, id)).catch_unwind();
    let data = match tokio::time::timeout_at(deadline, connect).await {
        Ok(Ok(Ok(data))) => data,
        outcome => {
            core.unregister(id);
            return Err(match outcome {
                Ok(Ok(Err(ConnectError::InvalidHeaders(details)))) => {
                    tracing::info!(peer, client = %id, ?details, "upgrade refused: invalid headers");
                    Refusal::new(400, "Invalid headers", Some(&details))
                }
                Ok(Ok(Err(ConnectError::Rejected(r)))) => {
                    tracing::info!(peer, client = %id, reason = r.message(), "upgrade refused by on_connect");
                    Refusal::new(r.status(), r.message(), None)
                }
                Ok(Err(panic)) => {
                    tracing::error!(peer, client = %id, panic = panic_message(&panic), "on_connect panicked");
                    Refusal::new(500, "Internal error", None)
                }
                Err(_) => {
                    tracing::warn!(peer, client = %id, "on_connect timed out");
                    Refusal::new(503, "Handshake timed out", None)
                }
                Ok(Ok(Ok(_))) => unreachable!("handled above"),
            });
        }
    };
    refused.accepted();
    Ok((
        registered,
        data,
        tungstenite::handshake::derive_accept_key(key.as_bytes()),
    ))
}

/// Counts an upgrade as refused unless `accepted` is called.
struct RefusalCounter<'a>(&'a Core, bool);

impl RefusalCounter<'_> {
    fn accepted(mut self) {
        self.1 = false;
        self.0
            .counters
            .connections_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for RefusalCounter<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0
                .counters
                .handshakes_refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn plain_http(core: &Core, head: &Head) -> Vec<u8> {
    let config = &core.config;
    if head.method == "GET" || head.method == "HEAD" {
        if config.health_path.as_deref() == Some(head.path.as_str()) {
            let body = format!(
                "{{\"status\":\"ok\",\"connections\":{}}}",
                core.connection_count()
            );
            return http_response(200, "application/json", body.as_bytes(), "");
        }
        if let Some(page) = config.pages.iter().find(|p| p.path == head.path) {
            return http_response(200, &page.content_type, &page.body, "");
        }
    }
    match &config.path {
        Some(path) if *path != head.path => Refusal::new(404, "Not found", None).http(),
        _ => http_response(
            426,
            "application/json",
            UPGRADE_REQUIRED,
            "Upgrade: websocket\r\n",
        ),
    }
}

/// Resolves once the flag is set (or its sender is gone).
async fn flag_set(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

/// Longest route name echoed back in an error.
const MAX_ECHOED_ROUTE: usize = 128;

/// Parses one text frame's envelope, looks its route up and runs the entry
/// (deserialize, validate, middleware, handler).
pub(crate) async fn dispatch<U: Clone + Send + Sync + 'static>(
    runtime: &Runtime<U>,
    text: &str,
    conn: &Conn,
    data: &U,
) -> Result<(), Failure> {
    let envelope = parse_envelope(text).map_err(|crate::wire::EnvelopeError::Json(e)| {
        Failure::new(
            ErrorKind::InvalidJson,
            None,
            format!("expected {{\"type\": string, \"payload\": any}}: {e}"),
        )
    })?;
    let id = envelope.id;
    // Every failure of a request carries its id, so the client can match it.
    let with_id = |mut failure: Failure| {
        failure.payload.id = id.and_then(|raw| serde_json::from_str(raw.get()).ok());
        failure
    };
    if let Some(raw) = id
        && !crate::wire::valid_id(raw)
    {
        return Err(Failure::new(
            ErrorKind::InvalidJson,
            None,
            "`id` must be a string or a number of at most 64 bytes",
        ));
    }
    let route = envelope.route.as_ref();
    let Some(entry) = runtime.table.get(route) else {
        let mut shown = route.to_owned();
        if shown.len() > MAX_ECHOED_ROUTE {
            let mut cut = MAX_ECHOED_ROUTE;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
        }
        return Err(with_id(Failure::new(
            ErrorKind::UnknownRoute,
            Some(&shown),
            "no incoming route has this name",
        )));
    };
    conn.core.counters.message_in(route);
    let raw = envelope.payload.map_or(crate::wire::NULL, |p| p.get());
    let span = tracing::debug_span!("message", route, client = %conn.id);
    let call = entry
        .call(route, raw, id, conn.clone(), data.clone())
        .instrument(span);
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result.map_err(with_id),
        Err(panic) => Err(with_id(Failure::panicked(route, &panic))),
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_over_headers_and_names_are_lowercased() {
        let raw = b"GET /ws?Token=q%20v&name=a+b&flag HTTP/1.1\r\nHost: x\r\nToken: h\r\nX-Extra: 1\r\n\r\nrest";
        let (head, used) = parse_head(raw).ok().flatten().unwrap();
        assert_eq!(&raw[used..], b"rest");
        assert_eq!(head.path, "/ws");
        let map = handshake_map(&head);
        assert_eq!(map["token"], "q v");
        assert_eq!(map["name"], "a b");
        assert_eq!(map["flag"], "");
        assert_eq!(map["x-extra"], "1");
        assert_eq!(map["host"], "x");
    }

    #[test]
    fn percent_decoding_tolerates_garbage() {
        assert_eq!(percent_decode("%41%zz%"), "A%zz%");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn incomplete_and_malformed_heads() {
        assert!(matches!(parse_head(b"GET / HTTP/1.1\r\nHost"), Ok(None)));
        assert!(parse_head(b"\x00\x01garbage\r\n\r\n").is_err());
    }
}
