//! Handlers: one async function per incoming route.
//!
//! A handler has one shape: `async fn(payload, ctx) -> HandlerResult`, as a
//! function or a closure. [`MiddlewareExt::then`](crate::MiddlewareExt::then)
//! puts middleware in front of one. At [`Builder::on`](crate::Builder::on) each
//! typed handler is erased once into a private object-safe entry of the dispatch
//! table (deserialize + validate + middleware + handler), so the hot path is a
//! map lookup and one virtual call.

use std::future::Future;
use std::marker::PhantomData;

use garde::Validate;

use crate::context::{Conn, Ctx};
use crate::error::{HandlerError, HandlerErrorKind};
use crate::route::{Incoming, Request};
use crate::wire::{ErrorKind, ErrorPayload, Issue, issue_of_json, issues_of};
use serde_json::value::RawValue;

/// An async function that handles one incoming route's payload `P` with
/// context data `C` in an app with router `R`.
///
/// Implemented for every `Fn(P, Ctx<R, C>) -> impl Future<Output = HandlerResult>`,
/// so plain `async fn`s and closures are handlers:
///
/// ```
/// use zocket::{Ctx, HandlerResult};
/// # use zocket::Incoming;
/// # #[derive(serde::Serialize, serde::Deserialize, garde::Validate)]
/// # struct Text { #[garde(skip)] text: String }
/// # type AppRouter = ();
///
/// async fn on_text(msg: Text, ctx: Ctx<AppRouter>) -> HandlerResult {
///     println!("{} says {}", ctx.id(), msg.text);
///     Ok(())
/// }
/// ```
///
/// `O` is what the handler answers: `()` for an [`Incoming`] route, the
/// route's `Response` for a [`Request`](crate::Request) route.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler for payload `{P}` with context data `{C}`",
    label = "expected `async fn({P}, Ctx<_, {C}>) -> Result<{O}, HandlerError>`",
    note = "a handler takes the route's payload and `zocket::Ctx<Router, {C}>`, where `{C}` is what `on_connect` (then each middleware in front of it) produces"
)]
pub trait Handler<R, P, C, O = ()>: Send + Sync + 'static {
    /// Handles one message.
    fn call(
        &self,
        payload: P,
        ctx: Ctx<R, C>,
    ) -> impl Future<Output = Result<O, HandlerError>> + Send;
}

impl<R, P, C, O, F, Fut> Handler<R, P, C, O> for F
where
    F: Fn(P, Ctx<R, C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
{
    fn call(
        &self,
        payload: P,
        ctx: Ctx<R, C>,
    ) -> impl Future<Output = Result<O, HandlerError>> + Send {
        self(payload, ctx)
    }
}

/// Why a message did not complete; reported to its client.
pub(crate) struct Failure {
    pub(crate) payload: ErrorPayload,
    /// The server-side detail for the log (never sent).
    pub(crate) log: Option<String>,
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
            },
            log: None,
        }
    }
    pub(crate) fn panicked(route: &str, panic: &(dyn std::any::Any + Send)) -> Self {
        Failure {
            log: Some(format!("panic: {}", crate::server::panic_message(panic))),
            ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
        }
    }
    fn details(mut self, details: Vec<Issue>) -> Self {
        self.payload.details = details;
        self
    }
}

/// A typed handler erased into a dispatch-table entry.
#[async_trait::async_trait]
pub(crate) trait Erased<U>: Send + Sync {
    /// Handles one message; `id` is the request id's JSON, when there is one.
    async fn call(
        &self,
        route: &str,
        raw: &str,
        id: Option<&RawValue>,
        conn: Conn,
        data: U,
    ) -> Result<(), Failure>;
}

/// Deserializes and validates a payload, or says why not.
#[allow(
    clippy::result_large_err,
    reason = "the error path is cold; Failure is what the caller reports"
)]
fn decode<P: crate::Payload>(route: &str, raw: &str) -> Result<P, Failure> {
    let payload: P = serde_json::from_str(raw).map_err(|e| {
        Failure::new(
            ErrorKind::InvalidPayload,
            Some(route),
            "payload does not match the route's type",
        )
        .details(vec![issue_of_json(&e)])
    })?;
    if let Err(report) = payload.validate() {
        return Err(Failure::new(
            ErrorKind::ValidationFailed,
            Some(route),
            "payload failed validation",
        )
        .details(issues_of(&report)));
    }
    Ok(payload)
}

/// Turns a handler's error into what the client is told.
fn failure_of(route: &str, e: HandlerError) -> Failure {
    match e.0 {
        HandlerErrorKind::Rejected(r) => {
            Failure::new(ErrorKind::Rejected, Some(route), r.message())
        }
        HandlerErrorKind::Failed(err) => Failure {
            log: Some(err.to_string()),
            ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
        },
    }
}

pub(crate) struct Entry<R, X, H> {
    handler: H,
    _types: PhantomData<fn() -> (R, X)>,
}

impl<R, X, H> Entry<R, X, H> {
    pub(crate) fn new(handler: H) -> Self {
        Entry {
            handler,
            _types: PhantomData,
        }
    }
}

#[async_trait::async_trait]
impl<R, X, H, U> Erased<U> for Entry<R, X, H>
where
    R: 'static,
    X: Incoming,
    H: Handler<R, X::Payload, U>,
    U: Send + 'static,
{
    async fn call(
        &self,
        route: &str,
        raw: &str,
        _id: Option<&RawValue>,
        conn: Conn,
        data: U,
    ) -> Result<(), Failure> {
        let payload: X::Payload = decode(route, raw)?;
        self.handler
            .call(payload, Ctx::new(data, conn))
            .await
            .map_err(|e| failure_of(route, e))
    }
}

/// A typed request handler erased into a dispatch-table entry.
pub(crate) struct RequestEntry<R, X, H> {
    handler: H,
    _types: PhantomData<fn() -> (R, X)>,
}

impl<R, X, H> RequestEntry<R, X, H> {
    pub(crate) fn new(handler: H) -> Self {
        RequestEntry {
            handler,
            _types: PhantomData,
        }
    }
}

#[async_trait::async_trait]
impl<R, X, H, U> Erased<U> for RequestEntry<R, X, H>
where
    R: 'static,
    X: Request,
    H: Handler<R, X::Payload, U, X::Response>,
    U: Send + 'static,
{
    async fn call(
        &self,
        route: &str,
        raw: &str,
        id: Option<&RawValue>,
        conn: Conn,
        data: U,
    ) -> Result<(), Failure> {
        let payload: X::Payload = decode(route, raw)?;
        let core = conn.core.clone();
        let client = conn.id;
        let response = self
            .handler
            .call(payload, Ctx::new(data, conn))
            .await
            .map_err(|e| failure_of(route, e))?;
        let Some(id) = id else {
            // Sent as a plain message (no id): nobody is waiting for the answer.
            return Ok(());
        };
        if let Err(report) = response.validate() {
            return Err(Failure {
                log: Some(format!("invalid response: {report}")),
                ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
            });
        }
        let text = crate::wire::encode_reply(id, &response).map_err(|e| Failure {
            log: Some(format!("response cannot be serialized: {e}")),
            ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
        })?;
        core.deliver_to([client], &tungstenite::Message::Text(text.into()), None);
        Ok(())
    }
}
