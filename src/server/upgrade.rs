//! The upgrade checks every WebSocket handshake goes through, whoever parsed
//! the request (our HTTP reader or axum), and the step from an upgraded
//! socket to a server-side WebSocket.

use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};

use super::http::{Head, Refusal, handshake_identity, handshake_map, query_value};
use super::socket::{BufferedSocket, Socket, Ws};
use crate::engine::config::Config;
use crate::engine::dispatch::{ConnectFn, ConnectRefusal};
use crate::engine::hub::session::Welcome;
use crate::engine::hub::{Hub, RegisterError, Registered};
use crate::protocol::contract::identity::{
    CONTRACT_PARAM, CONTRACT_ROUTES_PARAM, ContractCheck, ContractIdentity, RouteDrift,
};
use crate::protocol::route::{OFFSET_PARAM, REFUSAL_PARAM, SESSION_PARAM};
use crate::protocol::wire::{ErrorKind, ErrorPayload, Issue, excerpt};
use crate::util::panic_message;

/// A handshake that passed every check: the registered connection, its data
/// from `on_connect`, and the `Sec-WebSocket-Accept` value to answer with.
pub(crate) struct Upgraded<U> {
    pub(crate) registered: Registered,
    pub(crate) data: U,
    pub(crate) accept: String,
}

/// How `on_connect` ended.
enum Connect<U> {
    Accepted(U),
    Refused(ConnectRefusal),
    Panicked(Box<dyn std::any::Any + Send>),
    TimedOut,
}

/// Checks an upgrade request: method, WebSocket headers, Origin, capacity,
/// then the typed headers and `on_connect` (within `deadline`). On success
/// the connection is registered in `hub`.
pub(crate) async fn upgrade<U>(
    hub: &Hub,
    on_connect: &ConnectFn<U>,
    head: &Head,
    peer: Option<SocketAddr>,
    deadline: tokio::time::Instant,
) -> Result<Upgraded<U>, Refusal> {
    let ip = counted_address(head, peer, hub.config.trust_forwarded_for);
    let peer = &peer.map_or_else(|| "-".to_owned(), |p| p.to_string());
    let config = &hub.config;
    // Every early return refuses an upgrade.
    let refused = RefusalCounter(hub, true);
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
        tracing::info!(peer, origin = %crate::protocol::wire::excerpt(origin), "upgrade refused: origin not allowed");
        return Err(Refusal::new(403, "Origin not allowed", None));
    }
    if let Some(refusal) = check_contract(config, head, peer) {
        return Err(refusal);
    }
    let identity = handshake_identity(head);
    // Recovery: a token resumes a session kept here, or one kept on another
    // node (handed over through the adapter); anything else starts afresh.
    let mut resuming = false;
    let mut adopted = None;
    // The offset must say how far the client got: without one (or with one
    // that is not a plain decimal number) a resume could replay what the
    // client already has, so it gets a fresh session instead.
    let offset = query_value(head, OFFSET_PARAM)
        .filter(|o| !o.is_empty() && o.len() <= 20 && o.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|o| o.parse::<u64>().ok());
    if let (Some(_), Some(token)) = (&config.recovery, query_value(head, SESSION_PARAM)) {
        match offset {
            None => tracing::info!(
                peer,
                "resume without a readable zocket-offset; the client starts a fresh session"
            ),
            Some(last) => match hub.begin_resume(&token, last, identity) {
                Ok(claimed) => {
                    resuming = true;
                    adopted = Some(Ok(claimed));
                }
                Err(why) => match hub.request_handover(&token, last, identity).await {
                    Some(given) => adopted = Some(Err(given)),
                    None => tracing::info!(
                        peer,
                        ?why,
                        "session not resumed; the client starts a fresh one"
                    ),
                },
            },
        }
    }
    let registered = match adopted {
        Some(Ok((id, outbox, replay))) => Ok(Registered {
            id,
            outbox,
            welcome: Some(Welcome {
                token: String::new(),
                recovered: true,
                replay,
            }),
        }),
        Some(Err((id, given))) => hub.adopt(id, identity, ip, given),
        None => hub.register(ip, identity),
    };
    let registered = match registered {
        Ok(r) => r,
        Err(RegisterError::Full) => {
            tracing::warn!(peer, "upgrade refused: max connections reached");
            return Err(Refusal::new(503, "Server is full", None));
        }
        Err(RegisterError::TooManyFromAddress) => {
            tracing::warn!(peer, address = ?ip, "upgrade refused: max connections from this address reached");
            return Err(Refusal::new(
                429,
                "Too many connections from this address",
                None,
            ));
        }
        Err(RegisterError::ShuttingDown) => {
            return Err(Refusal::new(503, "Server is shutting down", None));
        }
    };
    let id = registered.id;
    let connect = AssertUnwindSafe(on_connect(handshake_map(head), id)).catch_unwind();
    let outcome = match tokio::time::timeout_at(deadline, connect).await {
        Ok(Ok(Ok(data))) => Connect::Accepted(data),
        Ok(Ok(Err(refusal))) => Connect::Refused(refusal),
        Ok(Err(panic)) => Connect::Panicked(panic),
        Err(_) => Connect::TimedOut,
    };
    let refusal = match outcome {
        Connect::Accepted(data) => {
            let mut registered = registered;
            if resuming {
                match (hub.finish_resume(id), registered.welcome.as_mut()) {
                    (Some(token), Some(welcome)) => welcome.token = token,
                    _ => return Err(Refusal::new(503, "Server is shutting down", None)),
                }
                tracing::info!(peer, client = %id, "session resumed");
            }
            // A client that hears refusals in band tells an accepted
            // connection from a refused one by its first frame: the welcome.
            if registered.welcome.is_none()
                && query_value(head, REFUSAL_PARAM).is_some_and(|v| v == "message")
            {
                registered.welcome = Some(Welcome {
                    token: String::new(),
                    recovered: false,
                    replay: Vec::new(),
                });
            }
            refused.accepted();
            return Ok(Upgraded {
                registered,
                data,
                accept: tungstenite::handshake::derive_accept_key(key.as_bytes()),
            });
        }
        Connect::Refused(ConnectRefusal::InvalidHeaders(details)) => {
            tracing::info!(peer, client = %id, ?details, "upgrade refused: invalid headers");
            Refusal::new(400, "Invalid headers", Some(&details))
        }
        Connect::Refused(ConnectRefusal::Rejected(r)) => {
            tracing::info!(peer, client = %id, reason = r.message(), "upgrade refused by on_connect");
            Refusal::new(r.status(), r.message(), None)
        }
        Connect::Panicked(panic) => {
            tracing::error!(peer, client = %id, panic = panic_message(&*panic), "on_connect panicked");
            Refusal::new(500, "Internal error", None)
        }
        Connect::TimedOut => {
            tracing::warn!(peer, client = %id, "on_connect timed out");
            Refusal::new(503, "Handshake timed out", None)
        }
    };
    if resuming {
        hub.abort_resume(id);
    } else {
        hub.unregister(id);
    }
    Err(refusal)
}

/// The 409 body: which contract each side has, and the routes that differ.
#[derive(serde::Serialize)]
struct ContractConflict<'a> {
    error: &'static str,
    server: &'a str,
    client: &'a str,
    routes: &'a [RouteDrift],
}

/// Compares the fingerprint a client sent (if any) with the app's contract (if
/// the app declared one). `Some` refuses the upgrade (strict mode only).
fn check_contract(config: &Config, head: &Head, peer: &str) -> Option<Refusal> {
    let (ours, check) = config.contract.as_ref()?;
    let theirs = query_value(head, CONTRACT_PARAM)?;
    if theirs == ours.fingerprint() {
        return None;
    }
    let theirs = excerpt(&theirs);
    let drift = query_value(head, CONTRACT_ROUTES_PARAM)
        .map(|routes| ours.diff(&ContractIdentity::parse_routes(&routes)))
        .unwrap_or_default();
    let names: Vec<&str> = drift.iter().take(16).map(|d| d.route.as_str()).collect();
    match check {
        ContractCheck::Strict => {
            tracing::info!(peer, server = ours.fingerprint(), client = %theirs, routes = ?names,
                "upgrade refused: client built against another contract");
            let details = drift
                .iter()
                .take(crate::protocol::wire::MAX_ISSUES)
                .map(|d| Issue {
                    path: d.route.clone(),
                    message: d.change.as_str().to_owned(),
                })
                .collect();
            Some(Refusal::with_body(
                409,
                "Contract mismatch",
                details,
                &ContractConflict {
                    error: "Contract mismatch",
                    server: ours.fingerprint(),
                    client: &theirs,
                    routes: &drift,
                },
            ))
        }
        _ => {
            tracing::warn!(peer, server = ours.fingerprint(), client = %theirs, routes = ?names,
                "client built against another contract (accepted; ContractCheck::Strict refuses it)");
            None
        }
    }
}

/// The address a connection counts against: the socket's peer, or with
/// `trust_forwarded_for` the first address of `X-Forwarded-For` (the client as
/// the nearest proxy saw it), falling back to the peer when the header is
/// missing or unreadable.
fn counted_address(
    head: &Head,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    let forwarded = || {
        head.header("x-forwarded-for")?
            .split(',')
            .next()?
            .trim()
            .parse::<IpAddr>()
            .ok()
    };
    match trust_forwarded_for.then(forwarded).flatten() {
        Some(ip) => Some(ip),
        None => peer.map(|p| p.ip()),
    }
}

/// Counts an upgrade as refused unless `accepted` is called.
struct RefusalCounter<'a>(&'a Hub, bool);

impl RefusalCounter<'_> {
    fn accepted(mut self) {
        self.1 = false;
        self.0
            .counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for RefusalCounter<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0
                .counters
                .handshakes_refused
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// tungstenite's configuration from ours.
fn ws_config(config: &Config) -> WebSocketConfig {
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
pub(crate) async fn websocket<S: Socket>(
    socket: S,
    already_read: Vec<u8>,
    config: &Config,
) -> Ws<S> {
    WebSocketStream::from_raw_socket(
        BufferedSocket::new(socket, already_read),
        Role::Server,
        Some(ws_config(config)),
    )
    .await
}

/// The `Sec-WebSocket-Accept` value for an upgrade whose refusal the client
/// asked to hear in band (`zocket-refusal=message`), if the request is a
/// well-formed WebSocket upgrade; `None`: refuse over HTTP.
pub(crate) fn refusal_in_band(head: &Head) -> Option<String> {
    if head.method != "GET" || head.header("sec-websocket-version") != Some("13") {
        return None;
    }
    query_value(head, REFUSAL_PARAM).filter(|v| v == "message")?;
    let key = head.header("sec-websocket-key")?;
    Some(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// The close code of an in-band refusal: 4000 + the HTTP status.
pub(crate) fn refusal_close_code(status: u16) -> u16 {
    4000 + status.min(999)
}

/// Tells a refused client why on the socket it asked for: one `$zocket.error`
/// of kind `refused` with the HTTP status, then a close with 4000 + status.
/// Bounded: at most 5 s in all, whatever the client does.
pub(crate) async fn refuse_in_band<S: Socket>(mut ws: Ws<S>, refusal: &Refusal) {
    use futures_util::{SinkExt, StreamExt};
    use tungstenite::Message;
    use tungstenite::protocol::CloseFrame;
    use tungstenite::protocol::frame::coding::CloseCode;

    let payload = ErrorPayload {
        kind: ErrorKind::Refused,
        route: None,
        message: excerpt(&refusal.message),
        details: refusal.details.clone(),
        id: None,
        status: Some(refusal.status),
        dropped: None,
        error: None,
    };
    // A close reason holds at most 123 bytes.
    let mut reason = refusal.message.as_str();
    let mut cut = reason.len().min(120);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    reason = &reason[..cut];
    let close = CloseFrame {
        code: CloseCode::from(refusal_close_code(refusal.status)),
        reason: reason.to_owned().into(),
    };
    let talk = async {
        ws.send(Message::text(payload.encode())).await?;
        ws.close(Some(close)).await
    };
    if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(4), talk).await {
        // Wait (briefly) for the client's close reply, so our close frame is
        // read before the socket goes.
        let reply = async { while let Some(Ok(_)) = ws.next().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), reply).await;
    }
}
