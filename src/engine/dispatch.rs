//! Dispatch over erased handlers: from one text frame to the handler of its
//! route, and from a failure to the client's `$zocket.error`.
//!
//! The typed front ([`Builder::on`](crate::Builder::on)) erases each typed
//! handler once into an [`ErasedHandler`] stored by wire name in
//! [`Handlers`]; the hot path is one envelope parse, one map lookup and one
//! virtual call. This floor never sees a router type.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tracing::Instrument;
use tungstenite::Utf8Bytes;

use crate::engine::asks::Answer;
use crate::engine::conn::Conn;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::{HandlerError, HandlerErrorKind, HandlerResult, Reject};
use crate::protocol::issues::{issue_of_json, issues_of};
use crate::protocol::route::{AUTH_ROUTE, Decode, ERROR_ROUTE, PING_ROUTE, REPLY_ROUTE};
use crate::protocol::wire::Reply;
use crate::protocol::wire::{self, ErrorKind, ErrorPayload, Issue};
use crate::util::panic_message;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a message did not complete; reported to its client.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) payload: ErrorPayload,
    /// The server-side detail for the log (never sent).
    pub(crate) log: Option<String>,
    /// Dropped on purpose ([`Reject::quiet`]): the client is not told.
    pub(crate) quiet: bool,
    /// The payload did not deserialize: made only by [`decode_payload`], the
    /// first step of every entry, so nothing of the message has run yet. The
    /// fast path re-reads a message in full on this, and on nothing else.
    pub(crate) undecoded: bool,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, route: Option<&str>, message: impl Into<String>) -> Self {
        Failure {
            payload: ErrorPayload {
                kind,
                route: route.map(str::to_owned),
                message: message.into(),
                details: Vec::new(),
                id: None,
                status: None,
                dropped: None,
                error: None,
            },
            log: None,
            quiet: false,
            undecoded: false,
        }
    }

    /// The handler of `route` failed; `log` says why, in the server's log only.
    pub(crate) fn handler_failed(route: &str, log: String) -> Self {
        Failure {
            log: Some(log),
            ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
        }
    }

    fn panicked(route: &str, panic: &(dyn std::any::Any + Send)) -> Self {
        Failure::handler_failed(route, format!("panic: {}", panic_message(panic)))
    }

    fn details(mut self, details: Vec<Issue>) -> Self {
        self.payload.details = details;
        self
    }

    /// What the client is told about a handler's error.
    /// The request `route` refused with its own typed error (an
    /// [`Outcome::Err`](crate::Outcome::Err)), `error` as JSON.
    pub(crate) fn route_error(route: &str, error: serde_json::Value) -> Self {
        let mut failure = Failure::new(
            ErrorKind::RouteError,
            Some(route),
            "the request was refused by its route (see `error`)",
        );
        failure.payload.error = Some(error);
        failure
    }

    pub(crate) fn of_handler_error(route: &str, e: HandlerError) -> Self {
        match e.0 {
            HandlerErrorKind::Rejected(r) => Failure {
                quiet: r.is_quiet(),
                ..Failure::new(ErrorKind::Rejected, Some(route), r.message())
            },
            HandlerErrorKind::Failed(err) => Failure::handler_failed(route, err.to_string()),
        }
    }
}

/// Deserializes and validates a payload, or says why not.
#[allow(
    clippy::result_large_err,
    reason = "the error path is cold; Failure is what the caller reports"
)]
pub(crate) fn decode_payload<P: Decode>(route: &str, raw: &str) -> Result<P, Failure> {
    let payload = P::from_json(raw).map_err(|e| Failure {
        undecoded: true,
        ..Failure::new(
            ErrorKind::InvalidPayload,
            Some(route),
            "payload does not match the route's type",
        )
        .details(vec![issue_of_json(&e, &P::json_error_path(raw))])
    })?;
    if let Err(report) = payload.check_received() {
        // The value as it came, to name fields as the wire does (cold path).
        let input = serde_json::from_str::<serde_json::Value>(raw).ok();
        return Err(Failure::new(
            ErrorKind::ValidationFailed,
            Some(route),
            "payload failed validation",
        )
        .details(issues_of(&report, input.as_ref())));
    }
    Ok(payload)
}

/// A typed handler erased into a dispatch-table entry.
#[async_trait::async_trait]
pub(crate) trait ErasedHandler<U>: Send + Sync {
    /// Handles one message; `reply` says where its answer goes, if anywhere.
    async fn call(
        &self,
        route: &str,
        raw: &str,
        reply: Reply<'_>,
        conn: Conn,
        data: U,
    ) -> Result<(), Failure>;
}

/// Why `on_connect` refused a handshake.
pub(crate) enum ConnectRefusal {
    /// The handshake data did not deserialize or validate into the headers type.
    InvalidHeaders(Vec<Issue>),
    /// `on_connect` returned a [`Reject`].
    Rejected(Reject),
}

/// The handshake data of an upgrade request: query parameters by their exact
/// names, header names lower-cased (HTTP header names are case-insensitive;
/// query parameter names are not). Values are strings.
#[derive(Debug, Default, Clone)]
pub(crate) struct Handshake {
    pub(crate) query: serde_json::Map<String, serde_json::Value>,
    pub(crate) headers: serde_json::Map<String, serde_json::Value>,
}

/// `on_connect`, erased: the handshake data and the new id to the connection's data.
pub(crate) type ConnectFn<U> =
    Arc<dyn Fn(Handshake, ClientId) -> BoxFuture<'static, Result<U, ConnectRefusal>> + Send + Sync>;

/// `on_disconnect`, erased: the connection, its data and the rooms it left.
pub(crate) type DisconnectFn<U> =
    Arc<dyn Fn(Conn, U, Vec<String>) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// `on_recover`, erased: a connection that resumed its dropped session, and its data.
pub(crate) type RecoverFn<U> =
    Arc<dyn Fn(Conn, U) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// `on_reauth`, erased: new handshake data (from `$zocket.auth`), the
/// connection's id and its data now, to its new data.
pub(crate) type ReauthFn<U> = Arc<
    dyn Fn(Handshake, ClientId, U) -> BoxFuture<'static, Result<U, ConnectRefusal>> + Send + Sync,
>;

/// When a connection's credentials expire, from its data.
pub(crate) type ExpiryFn<U> = Arc<dyn Fn(&U) -> Option<Duration> + Send + Sync>;

/// The erased, router-independent part of a built app: the dispatch table
/// and the connection hooks.
pub(crate) struct Handlers<U> {
    pub(crate) table: HashMap<Box<str>, Box<dyn ErasedHandler<U>>>,
    pub(crate) on_connect: ConnectFn<U>,
    pub(crate) on_disconnect: Option<DisconnectFn<U>>,
    pub(crate) on_recover: Option<RecoverFn<U>>,
    pub(crate) on_reauth: Option<ReauthFn<U>>,
    pub(crate) expiry: Option<ExpiryFn<U>>,
}

/// The answer to `$zocket.ping` (the client's liveness check).
const PONG_FRAME: &str = r#"{"type":"$zocket.pong","payload":null}"#;

/// The close code of a connection whose re-authentication was refused.
pub(crate) const REAUTH_REFUSED: u16 = 4003;

/// Handles `$zocket.auth`: the new handshake data goes through the app's
/// `on_reauth`; on success the connection's new data is returned (the
/// caller stores it before the next message) and the client gets
/// `$zocket.reply`; on failure the client gets `$zocket.error`, then the
/// connection is closed with [`REAUTH_REFUSED`], and `Some(None)` is
/// returned. `None`: not a re-authentication (or the app takes none).
pub(crate) async fn reauthenticate<U: Clone + Send + Sync + 'static>(
    handlers: &Handlers<U>,
    text: &str,
    conn: &Conn,
    data: &U,
) -> Option<Option<U>> {
    let on_reauth = handlers.on_reauth.as_ref()?;
    let envelope = wire::parse_envelope(text).ok()?;
    if envelope.route != AUTH_ROUTE {
        return None;
    }
    let id = envelope.id.filter(|raw| wire::valid_id(raw));
    let refuse = |failure: Failure| {
        let mut failure = failure;
        failure.payload.id = id.and_then(|raw| serde_json::from_str(raw.get()).ok());
        conn.hub.counters.error(failure.payload.kind);
        tracing::info!(client = %conn.id, message = %failure.payload.message,
            "re-authentication refused; closing");
        // The error goes out first, then the close.
        conn.hub
            .deliver_to([conn.id], &Utf8Bytes::from(failure.payload.encode()), &[]);
        conn.close(REAUTH_REFUSED, "re-authentication refused");
        Some(None)
    };
    let query = match envelope.payload.map(|p| serde_json::from_str(p.get())) {
        Some(Ok(serde_json::Value::Object(map))) => map,
        _ => {
            return refuse(Failure::new(
                ErrorKind::InvalidPayload,
                Some(AUTH_ROUTE),
                "`$zocket.auth` carries the new handshake values as an object",
            ));
        }
    };
    let handshake = Handshake {
        query,
        headers: serde_json::Map::new(),
    };
    match on_reauth(handshake, conn.id, data.clone()).await {
        Ok(new) => {
            if let Some(id) = id
                && let Ok(text) = wire::encode_reply(id, &())
            {
                conn.hub.deliver_to([conn.id], &Utf8Bytes::from(text), &[]);
            }
            tracing::debug!(client = %conn.id, "re-authenticated");
            Some(Some(new))
        }
        Err(ConnectRefusal::InvalidHeaders(details)) => refuse(
            Failure::new(
                ErrorKind::ValidationFailed,
                Some(AUTH_ROUTE),
                "invalid handshake values",
            )
            .details(details),
        ),
        Err(ConnectRefusal::Rejected(reject)) => refuse(Failure::new(
            ErrorKind::Rejected,
            Some(AUTH_ROUTE),
            reject.message(),
        )),
    }
}

/// Parses one text frame's envelope, looks its route up and runs the entry
/// (deserialize, validate, middleware, handler), catching a panic.
pub(crate) async fn dispatch<U: Clone + Send + Sync + 'static>(
    handlers: &Handlers<U>,
    text: &str,
    conn: &Conn,
    data: &U,
) -> Result<(), Failure> {
    // The common form, `{"type":..,"payload":..}`: the payload is read once,
    // by the handler's decoder. If it turns out not to be the whole rest of
    // the message (a field follows it), nothing has run yet: read it in full.
    // The rule that makes the second run safe: only a failure to decode
    // (`undecoded`, made by `decode_payload` alone, before any middleware or
    // handler) is re-run; every other outcome, whatever its kind, is final.
    if let Some((route, raw)) = wire::fast_envelope(text)
        && let Some(entry) = handlers.table.get(route)
    {
        match run(entry.as_ref(), route, raw, Reply::None, conn, data).await {
            Err(failure) if failure.undecoded => {}
            result => {
                conn.hub.counters.message_in(route);
                return result;
            }
        }
    }
    let envelope = wire::parse_envelope(text).map_err(|e| {
        Failure::new(
            ErrorKind::InvalidJson,
            None,
            format!(
                "expected {{\"type\": string, \"payload\": any}}: {}",
                wire::excerpt(&e.to_string())
            ),
        )
    })?;
    let id = envelope.id;
    // Every failure of a request carries its id, so the client can match it.
    let with_id = |mut failure: Failure| {
        failure.payload.id = id.and_then(|raw| serde_json::from_str(raw.get()).ok());
        failure
    };
    if let Some(raw) = id
        && !wire::valid_id(raw)
    {
        return Err(Failure::new(
            ErrorKind::InvalidJson,
            None,
            "`id` must be a string or a number of at most 64 bytes",
        ));
    }
    // `rpcId` follows the same rule as `id` (when there is no `id`, which wins).
    if id.is_none()
        && let Some(raw) = envelope.rpc_id
        && !wire::valid_id(raw)
    {
        return Err(Failure::new(
            ErrorKind::InvalidJson,
            None,
            "`rpcId` must be a string or a number of at most 64 bytes",
        ));
    }
    let reply = match (id, envelope.rpc_id) {
        (Some(id), _) => Reply::Id(id),
        (None, Some(rpc)) => Reply::RpcId(rpc),
        _ => Reply::None,
    };
    // Upstream Zocket's RPC: a failure is answered on `__rpc_res` too, so a
    // caller waiting there hears of it.
    let rpc_failed = |failure: Failure| {
        if let Reply::RpcId(rpc) = reply
            && !failure.quiet
            && let Ok(text) = wire::encode_rpc_response::<()>(rpc, None, Some(&failure.payload))
        {
            conn.hub.deliver_to([conn.id], &text.into(), &[]);
        }
        failure
    };
    let route = envelope.route.as_ref();
    if route == REPLY_ROUTE || route == ERROR_ROUTE {
        return take_answer(conn, route, envelope.id, envelope.payload);
    }
    if route == PING_ROUTE {
        // A client's liveness check: answered here, never a handler's message.
        conn.hub
            .deliver_to([conn.id], &Utf8Bytes::from_static(PONG_FRAME), &[]);
        return Ok(());
    }
    let Some(entry) = handlers.table.get(route) else {
        return Err(rpc_failed(with_id(Failure::new(
            ErrorKind::UnknownRoute,
            Some(&wire::excerpt(route)),
            "no incoming route has this name",
        ))));
    };
    conn.hub.counters.message_in(route);
    let raw = envelope.payload.map_or(wire::NULL, |p| p.get());
    run(entry.as_ref(), route, raw, reply, conn, data)
        .await
        .map_err(|f| rpc_failed(with_id(f)))
}

/// Runs one entry (decode, validate, middleware, handler) in its span,
/// turning a panic into a failure.
async fn run<U: Clone + Send + Sync + 'static>(
    entry: &dyn ErasedHandler<U>,
    route: &str,
    raw: &str,
    reply: Reply<'_>,
    conn: &Conn,
    data: &U,
) -> Result<(), Failure> {
    let span = tracing::debug_span!("message", route, client = %conn.id);
    let started = conn.hub.counters.start();
    let call = entry
        .call(route, raw, reply, conn.clone(), data.clone())
        .instrument(span);
    let result = match AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(Failure::panicked(route, &panic)),
    };
    // A fast-path attempt that found more fields after the payload is not
    // a handling: the full parse runs it again, and that run is timed.
    if !matches!(&result, Err(f) if f.payload.kind == ErrorKind::InvalidPayload) {
        conn.hub.counters.handled(route, started);
    }
    result
}

/// Takes `text` if it is an answer to one of the server's questions
/// (`$zocket.reply` or `$zocket.error`); `None` for any other message.
#[allow(
    clippy::result_large_err,
    reason = "the error path is cold; Failure is what the caller reports"
)]
pub(crate) fn answer_in(text: &str, conn: &Conn) -> Option<Result<(), Failure>> {
    let envelope = wire::parse_envelope(text).ok()?;
    let route = envelope.route.as_ref();
    (route == REPLY_ROUTE || route == ERROR_ROUTE)
        .then(|| take_answer(conn, route, envelope.id, envelope.payload))
}

/// A client's answer to a question the server asked it: `$zocket.reply`
/// with the question's `id`, or `$zocket.error` whose payload carries it.
/// An answer to no waiting question (late, after the timeout) is dropped;
/// one without a numeric id is refused as `unknown_route`, as before
/// client answers existed.
#[allow(
    clippy::result_large_err,
    reason = "the error path is cold; Failure is what the caller reports"
)]
fn take_answer(
    conn: &Conn,
    route: &str,
    id: Option<&serde_json::value::RawValue>,
    payload: Option<&serde_json::value::RawValue>,
) -> Result<(), Failure> {
    #[derive(serde::Deserialize)]
    struct Refusal {
        id: Option<u64>,
        #[serde(default)]
        message: String,
    }
    let raw = payload.map_or(wire::NULL, |p| p.get());
    let answer = if route == REPLY_ROUTE {
        id.and_then(|i| i.get().parse::<u64>().ok())
            .map(|id| (id, Answer::Reply(raw.to_owned())))
    } else {
        serde_json::from_str::<Refusal>(raw)
            .ok()
            .and_then(|r| Some((r.id?, Answer::Refused(r.message))))
    };
    let Some((id, answer)) = answer else {
        // Not an answer: as for any name no incoming route has.
        return Err(Failure::new(
            ErrorKind::UnknownRoute,
            Some(route),
            "no incoming route has this name (a client sends it only to answer a question of the server, with its numeric `id`)",
        ));
    };
    if !conn.hub.asks.answer(conn.id, id, answer) {
        tracing::debug!(client = %conn.id, id, "dropped an answer to no waiting question");
    }
    Ok(())
}
