//! Middleware: typed context transformers in front of a handler.
//!
//! A [`Middleware<In, P>`] takes the context data `In` (and may read the
//! payload `P` and the connection) and either rejects the message or yields new
//! data `Out`. The handler behind a chain receives `Ctx<R, Out>` of the *last*
//! middleware, so a handler that asks for data the chain does not produce does
//! not compile.
//!
//! # Order
//!
//! `a.and(b).then(handler)` runs `a`, then `b` with `a`'s output, then the
//! handler with `b`'s output. The first rejection stops the chain: later
//! middleware and the handler do not run, and the client gets the rejection.
//!
//! ```text
//! User --authenticate--> Authed --require_admin--> Admin --> handler(payload, Ctx<R, Admin>)
//! ```
//!
//! Swapping the two (`require_admin.and(authenticate)`) does not compile when
//! `require_admin` only accepts `Authed`: the chain's types must line up.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::app::context::Ctx;
use crate::app::handler::Handler;
use crate::engine::conn::Conn;
use crate::protocol::error::{HandlerError, Reject};

/// A typed context transformer: `In` → `Out` or [`Reject`].
///
/// Implement it with a plain `async fn`. Generic over the payload `P`, one
/// middleware serves routes with different payloads; bound `P` by a trait of your
/// own to read fields from it. Middleware is shared by all connections: keep
/// state (a rate limiter's counters) behind a `Mutex` or atomics.
///
/// ```
/// use zocket::{Conn, Middleware, Reject};
///
/// #[derive(Clone)]
/// struct User { name: String, admin: bool }
/// struct Admin { name: String }
///
/// struct RequireAdmin;
///
/// impl<P: Sync> Middleware<User, P> for RequireAdmin {
///     type Out = Admin;
///     async fn call(&self, user: User, _payload: &P, _conn: &Conn) -> Result<Admin, Reject> {
///         if user.admin {
///             Ok(Admin { name: user.name })
///         } else {
///             Err(Reject::forbidden("admins only"))
///         }
///     }
/// }
/// ```
///
/// A middleware that reads the payload through a trait of your own:
///
/// ```
/// use zocket::{Conn, Middleware, Reject};
///
/// trait InRoom { fn room(&self) -> &str; }
///
/// struct MemberOnly;
///
/// impl<C: Send + 'static, P: InRoom + Sync> Middleware<C, P> for MemberOnly {
///     type Out = C;
///     async fn call(&self, data: C, payload: &P, conn: &Conn) -> Result<C, Reject> {
///         if conn.in_room(payload.room()) {
///             Ok(data)
///         } else {
///             Err(Reject::forbidden("join the room first"))
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a middleware for context data `{In}` and payload `{P}`",
    label = "cannot run with `{In}` and payload `{P}`",
    note = "a middleware runs with the data produced by the one before it (or by `on_connect`), for the payload of the route it guards: check the order of `.and(..)`, and the payloads its `impl Middleware` accepts"
)]
pub trait Middleware<In, P>: Send + Sync + 'static {
    /// The context data it produces.
    type Out: Send + 'static;
    /// Transforms the data or rejects the message.
    fn call(
        &self,
        input: In,
        payload: &P,
        conn: &Conn,
    ) -> impl Future<Output = Result<Self::Out, Reject>> + Send;
}

/// A middleware written as a closure: `middleware_fn(|data, payload, conn| ..)`
/// returns the next data or a [`Reject`]. For checks that need no `.await`
/// (a role, a room membership, a field of the payload); implement
/// [`Middleware`] for one that does.
///
/// ```
/// use zocket::{middleware_fn, Conn, Reject};
///
/// #[derive(Clone)]
/// struct User { role: String }
/// struct Notify { message: String }
///
/// let staff_only = middleware_fn(|user: User, _: &Notify, _: &Conn| {
///     match user.role.as_str() {
///         "admin" | "moderator" => Ok(user),
///         _ => Err(Reject::forbidden("staff only")),
///     }
/// });
/// // `.on(SendNotification, staff_only.then(handler))`
/// # let _ = staff_only;
/// ```
pub fn middleware_fn<F, In, P, Out>(f: F) -> MiddlewareFn<F, fn(In, &P) -> Out>
where
    F: Fn(In, &P, &Conn) -> Result<Out, Reject> + Send + Sync + 'static,
{
    MiddlewareFn {
        f,
        _sig: PhantomData,
    }
}

/// A closure as a [`Middleware`]. Made by [`middleware_fn`].
pub struct MiddlewareFn<F, Sig> {
    f: F,
    _sig: PhantomData<Sig>,
}

impl<F: Clone, Sig> Clone for MiddlewareFn<F, Sig> {
    fn clone(&self) -> Self {
        MiddlewareFn {
            f: self.f.clone(),
            _sig: PhantomData,
        }
    }
}

impl<F, In, P, Out> Middleware<In, P> for MiddlewareFn<F, fn(In, &P) -> Out>
where
    F: Fn(In, &P, &Conn) -> Result<Out, Reject> + Send + Sync + 'static,
    In: 'static,
    P: 'static,
    Out: Send + 'static,
{
    type Out = Out;
    fn call(
        &self,
        input: In,
        payload: &P,
        conn: &Conn,
    ) -> impl Future<Output = Result<Out, Reject>> + Send {
        std::future::ready((self.f)(input, payload, conn))
    }
}

/// Two middleware in a row: `A` then `B`. Made by [`MiddlewareExt::and`].
///
/// A chain is not tied to one payload type: the same value (`log.and(auth)`,
/// cloned) can guard routes with different payloads, as long as each link is a
/// middleware for each of those payloads. Whether the links fit (the output of
/// `A` is what `B` takes) is checked where the chain is used, and the error
/// names the link that does not fit.
#[derive(Clone)]
pub struct Stack<A, B> {
    first: A,
    second: B,
}

impl<In, P, A, B> Middleware<In, P> for Stack<A, B>
where
    In: Send + 'static,
    P: Sync + 'static,
    A: Middleware<In, P>,
    B: Middleware<A::Out, P>,
{
    type Out = B::Out;
    async fn call(&self, input: In, payload: &P, conn: &Conn) -> Result<B::Out, Reject> {
        let mid = self.first.call(input, payload, conn).await?;
        self.second.call(mid, payload, conn).await
    }
}

/// Shares one middleware (and its state, e.g. a rate limiter's counters)
/// between routes: `limiter.clone().then(handler)` with `limiter: Arc<M>`.
impl<In, P, M> Middleware<In, P> for Arc<M>
where
    M: Middleware<In, P>,
{
    type Out = M::Out;
    fn call(
        &self,
        input: In,
        payload: &P,
        conn: &Conn,
    ) -> impl Future<Output = Result<Self::Out, Reject>> + Send {
        (**self).call(input, payload, conn)
    }
}

/// A handler behind a middleware chain. Made by [`MiddlewareExt::then`].
///
/// `Sig` (`fn(R, In, P) -> O`) records the router, the chain's input data, the
/// payload and the handler's answer; inference picks it.
pub struct Guarded<M, H, Sig> {
    middleware: M,
    handler: H,
    _sig: PhantomData<Sig>,
}

impl<M: Clone, H: Clone, Sig> Clone for Guarded<M, H, Sig> {
    fn clone(&self) -> Self {
        Guarded {
            middleware: self.middleware.clone(),
            handler: self.handler.clone(),
            _sig: PhantomData,
        }
    }
}

#[diagnostic::do_not_recommend]
impl<R, P, C, O, A, M, H> Handler<R, P, C, O, A> for Guarded<M, H, fn(R, C, P) -> O>
where
    R: 'static,
    P: Send + Sync + 'static,
    C: Send + 'static,
    O: 'static,
    A: 'static,
    M: Middleware<C, P>,
    H: Handler<R, P, M::Out, O, A>,
{
    async fn call(&self, payload: P, ctx: Ctx<R, C, A>) -> Result<O, HandlerError> {
        let conn = ctx.conn().clone();
        let out = self
            .middleware
            .call(ctx.into_data(), &payload, &conn)
            .await?;
        self.handler.call(payload, Ctx::new(out, conn)).await
    }
}

/// Composes middleware: `.and(next)` chains, `.then(handler)` finishes.
///
/// Implemented for every type. `.then(handler)` checks, right where you call
/// it, that the chain fits the handler's payload: each link must accept what
/// the one before it produces, and `handler` must take the context data the
/// chain produces.
pub trait MiddlewareExt: Sized + Send + Sync + 'static {
    /// Runs `self`, then `next` with `self`'s output. The chain works for
    /// every payload both links accept.
    fn and<B>(self, next: B) -> Stack<Self, B>
    where
        B: Send + Sync + 'static,
    {
        Stack {
            first: self,
            second: next,
        }
    }
    /// Puts `self` in front of `handler` (of a message or a request route).
    #[allow(
        clippy::type_complexity,
        reason = "the signature is inferred, never written"
    )]
    fn then<H, R, In, P, C, O, A>(self, handler: H) -> Guarded<Self, H, fn(R, In, P) -> O>
    where
        // The handler first: its payload decides `P`, so a middleware written
        // for another payload is the error, not the handler.
        H: Handler<R, P, C, O, A>,
        H: GuardedBy<Self, In, P, C>,
    {
        Guarded {
            middleware: self,
            handler,
            _sig: PhantomData,
        }
    }
}

impl<T: Send + Sync + 'static> MiddlewareExt for T {}

/// `M: Middleware<In, P, Out = C>`, asked about the handler `Self`: rustc
/// looks at it only once the handler is known, so `.then(handler)` learns the
/// payload from the handler first, and a middleware written for another
/// payload is the error ("`NoLinks` is not a middleware for context data
/// `User` and payload `Join`"), not the handler.
#[doc(hidden)]
pub trait GuardedBy<M, In, P, C> {}

impl<H, M: Middleware<In, P, Out = C>, In, P, C> GuardedBy<M, In, P, C> for H {}
