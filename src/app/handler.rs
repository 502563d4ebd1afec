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

use tungstenite::Utf8Bytes;

use crate::app::context::Ctx;
use crate::engine::conn::Conn;
use crate::engine::dispatch::{ErasedHandler, Failure, decode_payload};
use crate::protocol::error::HandlerError;
use crate::protocol::route::{AsJson, Decode, Encode, Incoming, Request};
use crate::protocol::wire;
use crate::protocol::wire::Reply;

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
pub trait Handler<R, P, C, O = (), A = ()>: Send + Sync + 'static {
    /// Handles one message.
    fn call(
        &self,
        payload: P,
        ctx: Ctx<R, C, A>,
    ) -> impl Future<Output = Result<O, HandlerError>> + Send;
}

impl<R, P, C, O, A, F, Fut> Handler<R, P, C, O, A> for F
where
    F: Fn(P, Ctx<R, C, A>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
{
    fn call(
        &self,
        payload: P,
        ctx: Ctx<R, C, A>,
    ) -> impl Future<Output = Result<O, HandlerError>> + Send {
        self(payload, ctx)
    }
}

/// The builder's connections carry data `Self` (made by `on_connect`), and
/// a handler takes `Ctx<_, D>`: they agree when `D` is `Self`.
///
/// A bound of its own, next to [`Handler`], so that a handler for other data
/// than the builder's (most often: `.on_connect(..)` was forgotten, and the
/// builder's data is still `()`) reads as that, and not as a mismatch of
/// function signatures. You never implement or name it.
#[diagnostic::on_unimplemented(
    message = "this handler takes `Ctx<_, {D}>`, but the app's connections carry `{Self}`",
    label = "a handler for connection data `{D}`",
    note = "connection data is made by `.on_connect(..)`: call `.on_connect(|headers, conn| async move {{ Ok(..) }})` returning `{D}` before the first `.on(..)`; without it, handlers take `Ctx<Router>` (data `()`); a middleware in front of a handler (`middleware.then(handler)`) changes what the handler receives"
)]
pub trait ConnectionData<D> {
    #[doc(hidden)]
    fn into_data(self) -> D;
}

impl<U> ConnectionData<U> for U {
    #[inline]
    fn into_data(self) -> U {
        self
    }
}

/// Never used as data: its impl gives `()` (no `on_connect` yet) two
/// candidates, so rustc takes a handler's data type from the handler, and a
/// handler for `Ctx<_, User>` on a builder without `on_connect` fails with the
/// [`ConnectionData`] message (naming `.on_connect`) instead of a mismatch of
/// function signatures. With data from `on_connect` there is one candidate,
/// and inference works as before (middleware chains learn their input from it).
#[doc(hidden)]
pub struct CallOnConnectFirst {
    _private: (),
}

#[diagnostic::do_not_recommend]
impl ConnectionData<CallOnConnectFirst> for () {
    #[inline]
    fn into_data(self) -> CallOnConnectFirst {
        CallOnConnectFirst { _private: () }
    }
}

/// A typed message handler erased into a dispatch-table entry; the handler
/// takes connection data `D` (the builder's own, see [`ConnectionData`]).
pub(crate) struct MessageEntry<R, X, H, A = (), D = ()> {
    handler: H,
    _types: crate::util::Types<(R, X, A, D)>,
}

impl<R, X, H, A, D> MessageEntry<R, X, H, A, D> {
    pub(crate) fn new(handler: H) -> Self {
        MessageEntry {
            handler,
            _types: PhantomData,
        }
    }
}

#[async_trait::async_trait]
impl<R, X, H, U, A, D> ErasedHandler<U> for MessageEntry<R, X, H, A, D>
where
    R: 'static,
    X: Incoming,
    X::Payload: Decode,
    H: Handler<R, X::Payload, D, (), A>,
    U: ConnectionData<D> + Send + 'static,
    A: 'static,
    D: 'static,
{
    async fn call(
        &self,
        route: &str,
        raw: &str,
        reply: Reply<'_>,
        conn: Conn,
        data: U,
    ) -> Result<(), Failure> {
        let payload: X::Payload = decode_payload(route, raw)?;
        let (hub, client) = (conn.hub.clone(), conn.id);
        self.handler
            .call(payload, Ctx::new(data.into_data(), conn))
            .await
            .map_err(|e| Failure::of_handler_error(route, e))?;
        // Upstream Zocket answers every message sent with an `rpcId`, with
        // the handler's (here: no) result.
        if let Reply::RpcId(rpc) = reply
            && let Ok(text) = wire::encode_rpc_response::<()>(rpc, None, None)
        {
            hub.deliver_to([client], &Utf8Bytes::from(text), &[]);
        }
        Ok(())
    }
}

/// A typed request handler erased into a dispatch-table entry (connection
/// data `D`, as [`MessageEntry`]).
pub(crate) struct RequestEntry<R, X, H, A = (), D = ()> {
    handler: H,
    _types: crate::util::Types<(R, X, A, D)>,
}

impl<R, X, H, A, D> RequestEntry<R, X, H, A, D> {
    pub(crate) fn new(handler: H) -> Self {
        RequestEntry {
            handler,
            _types: PhantomData,
        }
    }
}

#[async_trait::async_trait]
impl<R, X, H, U, A, D> ErasedHandler<U> for RequestEntry<R, X, H, A, D>
where
    R: 'static,
    X: Request,
    X::Payload: Decode,
    X::Response: Encode,
    H: Handler<R, X::Payload, D, X::Response, A>,
    U: ConnectionData<D> + Send + 'static,
    A: 'static,
    D: 'static,
{
    async fn call(
        &self,
        route: &str,
        raw: &str,
        reply: Reply<'_>,
        conn: Conn,
        data: U,
    ) -> Result<(), Failure> {
        let payload: X::Payload = decode_payload(route, raw)?;
        let hub = conn.hub.clone();
        let client = conn.id;
        let response = self
            .handler
            .call(payload, Ctx::new(data.into_data(), conn))
            .await
            .map_err(|e| Failure::of_handler_error(route, e))?;
        if let Reply::None = reply {
            // Sent as a plain message (no id): nobody is waiting for the answer.
            return Ok(());
        }
        // The route's own refusal (`Outcome::Err`): told as `route_error`.
        if let Some(error) = crate::protocol::outcome::route_error(&response) {
            let error = error.map_err(|e| {
                Failure::handler_failed(route, format!("route error cannot be serialized: {e}"))
            })?;
            return Err(Failure::route_error(route, error));
        }
        if let Err(report) = response.check_sent() {
            return Err(Failure::handler_failed(
                route,
                format!("invalid response: {report}"),
            ));
        }
        let text = match reply {
            Reply::Id(id) => wire::encode_reply(id, &AsJson(&response)),
            Reply::RpcId(rpc) => wire::encode_rpc_response(rpc, Some(&AsJson(&response)), None),
            Reply::None => return Ok(()),
        }
        .map_err(|e| {
            Failure::handler_failed(route, format!("response cannot be serialized: {e}"))
        })?;
        hub.deliver_to([client], &Utf8Bytes::from(text), &[]);
        Ok(())
    }
}
