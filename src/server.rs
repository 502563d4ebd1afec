//! The server: accept loop, HTTP handshake, and the per-connection tasks.
//!
//! Each connection has a reader task (reads frames, dispatches them one at a
//! time in arrival order) and a writer task (drains the bounded outgoing queue,
//! coalescing whatever is queued into one flush, and sends heartbeat pings).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;
use tungstenite::Message;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::app::{ConnectError, Runtime, Zocket};
use crate::context::Conn;
use crate::handler::Failure;
use crate::registry::{ClientId, CloseCmd, Core, RegisterError};
use crate::wire::{ErrorKind, Issue, parse_envelope};

type Ws = WebSocketStream<TcpStream>;

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
        let mut stop = core.shutdown.subscribe();
        let mut signal = std::pin::pin!(signal);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "zocket listening");
        }
        loop {
            tokio::select! {
                () = &mut signal => { core.begin_shutdown(); break; }
                () = flag_set(&mut stop) => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
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
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn header_has_token(&self, name: &str, token: &str) -> bool {
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

fn json_error(status: u16, error: &str, details: Option<&[Issue]>) -> Vec<u8> {
    let body = serde_json::to_vec(&HttpError { error, details }).unwrap_or_default();
    http_response(status, "application/json", &body, "")
}

async fn respond(mut stream: TcpStream, response: Vec<u8>) {
    let write = async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), write).await;
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
                return Err(Some(json_error(431, "Request head too large", None)));
            }
            Ok(None) => {}
            Err(HeadError::TooLarge) => {
                return Err(Some(json_error(431, "Too many headers", None)));
            }
            Err(HeadError::Malformed) => {
                return Err(Some(json_error(400, "Malformed HTTP request", None)));
            }
        }
    }
}

async fn handle_socket<R, U>(app: Zocket<R, U>, mut stream: TcpStream, peer: SocketAddr)
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
        () = flag_set(&mut stop) => return,
    };
    let (head, rest) = match read {
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
        Ok(Err(None)) => return,
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
        return respond(stream, json_error(404, "Not found", None)).await;
    }
    if head.method != "GET" {
        return respond(stream, json_error(405, "WebSocket upgrades use GET", None)).await;
    }
    let key = match head.header("sec-websocket-key") {
        Some(k) if head.header("sec-websocket-version") == Some("13") => k.to_owned(),
        _ => {
            let body = json_error(400, "Bad WebSocket handshake", None);
            return respond(stream, body).await;
        }
    };
    if let (Some(allowed), Some(origin)) = (&config.allowed_origins, head.header("origin"))
        && !allowed.iter().any(|a| a == origin)
    {
        tracing::info!(%peer, origin, "upgrade refused: origin not allowed");
        return respond(stream, json_error(403, "Origin not allowed", None)).await;
    }
    let registered = match core.register() {
        Ok(r) => r,
        Err(RegisterError::Full) => {
            tracing::warn!(%peer, "upgrade refused: max connections reached");
            return respond(stream, json_error(503, "Server is full", None)).await;
        }
        Err(RegisterError::ShuttingDown) => {
            return respond(stream, json_error(503, "Server is shutting down", None)).await;
        }
    };
    let id = registered.id;
    let map = handshake_map(&head);
    let connect = AssertUnwindSafe((app.runtime.on_connect)(map, id)).catch_unwind();
    let data = match tokio::time::timeout_at(deadline, connect).await {
        Ok(Ok(Ok(data))) => data,
        outcome => {
            core.unregister(id);
            let response = match outcome {
                Ok(Ok(Err(ConnectError::InvalidHeaders(details)))) => {
                    tracing::info!(%peer, client = %id, ?details, "upgrade refused: invalid headers");
                    json_error(400, "Invalid headers", Some(&details))
                }
                Ok(Ok(Err(ConnectError::Rejected(r)))) => {
                    tracing::info!(%peer, client = %id, reason = r.message(), "upgrade refused by on_connect");
                    json_error(r.status(), r.message(), None)
                }
                Ok(Err(panic)) => {
                    tracing::error!(%peer, client = %id, panic = panic_message(&panic), "on_connect panicked");
                    json_error(500, "Internal error", None)
                }
                Err(_) => {
                    tracing::warn!(%peer, client = %id, "on_connect timed out");
                    json_error(503, "Handshake timed out", None)
                }
                Ok(Ok(Ok(_))) => unreachable!("handled above"),
            };
            return respond(stream, response).await;
        }
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).await.is_err() {
        core.unregister(id);
        return;
    }
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(config.read_buffer_size)
        .write_buffer_size(config.write_buffer_size)
        .max_write_buffer_size(
            config
                .max_write_buffer_size
                .max(config.write_buffer_size + 1),
        )
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_frame_size));
    let ws =
        WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(ws_config)).await;
    let span = tracing::info_span!("conn", client = %id, %peer);
    run_connection(app.runtime.clone(), core.clone(), ws, registered, data)
        .instrument(span)
        .await;
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
        Some(path) if *path != head.path => json_error(404, "Not found", None),
        _ => http_response(
            426,
            "application/json",
            br#"{"error":"Upgrade Required: this endpoint speaks WebSocket"}"#,
            "Upgrade: websocket\r\n",
        ),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".to_owned()
    }
}

// ---------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------

async fn run_connection<U>(
    runtime: Arc<Runtime<U>>,
    core: Arc<Core>,
    ws: Ws,
    registered: crate::registry::Registered,
    data: U,
) where
    U: Clone + Send + Sync + 'static,
{
    let id = registered.id;
    tracing::debug!("connected");
    let (sink, stream) = ws.split();
    let writer = tokio::spawn(
        write_loop(sink, registered.rx, registered.close.clone(), core.clone())
            .instrument(tracing::Span::current()),
    );
    let conn = Conn {
        core: core.clone(),
        id,
    };
    read_loop(&runtime, &core, stream, registered.close, &conn, &data).await;

    // Leave every room, then let the writer flush what is queued and close.
    let rooms = core.unregister(id);
    let mut writer = writer;
    if tokio::time::timeout(core.config.close_timeout, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    if let Some(on_disconnect) = &runtime.on_disconnect {
        let run = AssertUnwindSafe(on_disconnect(conn, data, rooms)).catch_unwind();
        match run.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "on_disconnect failed"),
            Err(panic) => {
                tracing::error!(panic = panic_message(&panic), "on_disconnect panicked")
            }
        }
    }
    tracing::debug!("disconnected");
}

async fn read_loop<U: Clone + Send + Sync + 'static>(
    runtime: &Runtime<U>,
    core: &Arc<Core>,
    mut stream: SplitStream<Ws>,
    mut close: watch::Receiver<Option<CloseCmd>>,
    conn: &Conn,
    data: &U,
) {
    let idle = core.config.heartbeat.map(|d| d * 2);
    loop {
        let next = tokio::select! {
            biased;
            _ = closing_frame(&mut close) => break,
            next = maybe_timeout(idle, stream.next()) => next,
        };
        match next {
            None => {
                tracing::info!("peer silent for two heartbeat intervals; closing");
                core.close(conn.id, 1001, "heartbeat timeout");
                break;
            }
            Some(None) => return,
            Some(Some(Err(e))) => {
                use tungstenite::Error as E;
                let (code, reason) = match &e {
                    E::Capacity(_) => (1009, "message too big"),
                    E::Utf8(_) => (1007, "invalid UTF-8"),
                    E::Protocol(_) => (1002, "protocol error"),
                    _ => {
                        tracing::debug!(error = %e, "connection lost");
                        return;
                    }
                };
                tracing::info!(error = %e, code, "closing connection after a read error");
                core.close(conn.id, code, reason);
                break;
            }
            Some(Some(Ok(msg))) => match msg {
                Message::Text(text) => {
                    if let Err(failure) = dispatch(runtime, text.as_str(), conn, data).await {
                        report(core, conn.id, failure);
                    }
                }
                Message::Binary(_) => report(
                    core,
                    conn.id,
                    Failure::new(
                        ErrorKind::UnsupportedFrame,
                        None,
                        "binary frames are not supported; send JSON text frames",
                    ),
                ),
                // Pings are answered by tungstenite; a close is answered on the next read.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => {}
            },
        }
    }
    // We are closing: the writer sends our close frame. Wait (bounded) for the
    // peer's, without dispatching anything else.
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    let _ = tokio::time::timeout(core.config.close_timeout, drain).await;
}

async fn maybe_timeout<F: Future>(limit: Option<Duration>, f: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout(d, f).await.ok(),
        None => Some(f.await),
    }
}

/// Longest route name echoed back in an error.
const MAX_ECHOED_ROUTE: usize = 128;

async fn dispatch<U: Clone + Send + Sync + 'static>(
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
        return Err(Failure::new(
            ErrorKind::UnknownRoute,
            Some(&shown),
            "no incoming route has this name",
        ));
    };
    let raw = envelope.payload.map_or(crate::wire::NULL, |p| p.get());
    let call = entry.call(route, raw, conn.clone(), data.clone());
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(Failure {
            log: Some(format!("panic: {}", panic_message(&panic))),
            ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
        }),
    }
}

/// Logs a failed message and tells its client on the reserved error route.
fn report(core: &Core, id: ClientId, failure: Failure) {
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
    let msg = Message::Text(p.encode().into());
    core.deliver_to([id], &msg, None);
}

/// Most messages written before one flush.
const MAX_BATCH: usize = 64;

async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Message>,
    mut close: watch::Receiver<Option<CloseCmd>>,
    core: Arc<Core>,
) {
    let heartbeat = core.config.heartbeat;
    let close_timeout = core.config.close_timeout;
    let stall_limit = heartbeat.map_or(Duration::from_secs(60), |d| d * 2);
    let mut ping = heartbeat.map(|d| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    loop {
        tokio::select! {
            biased;
            frame = closing_frame(&mut close) => {
                let _ = tokio::time::timeout(close_timeout, sink.send(Message::Close(frame))).await;
                return;
            }
            msg = rx.recv() => match msg {
                Some(msg) => {
                    let batch = async {
                        sink.feed(msg).await?;
                        let mut n = 1;
                        while n < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(m) => sink.feed(m).await?,
                                Err(_) => break,
                            }
                            n += 1;
                        }
                        sink.flush().await
                    };
                    match tokio::time::timeout(stall_limit, batch).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "write failed");
                            return;
                        }
                        Err(_) => {
                            tracing::info!("peer stopped reading; dropping the connection");
                            return;
                        }
                    }
                }
                None => {
                    // Unregistered: the reader is done. Finish the close handshake.
                    let _ = tokio::time::timeout(close_timeout, sink.close()).await;
                    return;
                }
            },
            _ = tick(&mut ping) => {
                if tokio::time::timeout(stall_limit, sink.send(Message::Ping(Default::default()))).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Resolves once the flag is set (or its sender is gone).
async fn flag_set(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn closing_frame(
    close: &mut watch::Receiver<Option<CloseCmd>>,
) -> Option<tungstenite::protocol::frame::CloseFrame> {
    let cmd = close.wait_for(Option::is_some).await.ok()?;
    cmd.as_ref().map(CloseCmd::frame)
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
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
