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
use crate::error::{HandlerErrorKind, HandlerResult};
use crate::route::Incoming;
use crate::wire::{ErrorKind, ErrorPayload, Issue, issue_of_json, issues_of};

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
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler for payload `{P}` with context data `{C}`",
    label = "expected `async fn({P}, Ctx<_, {C}>) -> HandlerResult`",
    note = "a handler takes the route's payload and `zocket::Ctx<Router, {C}>`, where `{C}` is what `on_connect` (then each middleware in front of it) produces"
)]
pub trait Handler<R, P, C>: Send + Sync + 'static {
    /// Handles one message.
    fn call(&self, payload: P, ctx: Ctx<R, C>) -> impl Future<Output = HandlerResult> + Send;
}

impl<R, P, C, F, Fut> Handler<R, P, C> for F
where
    F: Fn(P, Ctx<R, C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn call(&self, payload: P, ctx: Ctx<R, C>) -> impl Future<Output = HandlerResult> + Send {
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
            },
            log: None,
        }
    }
    pub(crate) fn panicked(panic: &(dyn std::any::Any + Send)) -> Self {
        Failure {
            log: Some(format!("panic: {}", crate::server::panic_message(panic))),
            ..Failure::new(ErrorKind::HandlerError, None, "the handler failed")
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
    async fn call(&self, route: &str, raw: &str, conn: Conn, data: U) -> Result<(), Failure>;
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
    async fn call(&self, route: &str, raw: &str, conn: Conn, data: U) -> Result<(), Failure> {
        let payload: X::Payload = serde_json::from_str(raw).map_err(|e| {
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
        match self.handler.call(payload, Ctx::new(data, conn)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match e.0 {
                HandlerErrorKind::Rejected(r) => {
                    Failure::new(ErrorKind::Rejected, Some(route), r.message())
                }
                HandlerErrorKind::Failed(err) => Failure {
                    log: Some(err.to_string()),
                    ..Failure::new(ErrorKind::HandlerError, Some(route), "the handler failed")
                },
            }),
        }
    }
}
