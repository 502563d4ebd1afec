//! The builder's handler state: [`MarkHandled`] marks a route as handled,
//! [`EveryRouteHandled`] proves that every incoming route is.

use super::index::{AsIncoming, AsOutgoing, AsRequest, AsScope, Handled, Here, Inside, There};
use super::walk::Token;
use crate::protocol::route::{Incoming, Outgoing, Request, Scope};

/// Replaces the still unhandled route `R` at `Index` with a `Handled<R>` mark.
///
/// The builder's handler state is the router itself with each handled route
/// marked, so a second handler for one route finds the mark and fails.
#[diagnostic::on_unimplemented(
    message = "`{R}` is not an incoming route of this router, or already has a handler",
    label = "cannot register a handler for `{R}` here"
)]
pub trait MarkHandled<R, Index> {
    /// The handler state after marking.
    type Out;
    #[doc(hidden)]
    fn seal(_: Token);
}

/// A route already marked `Handled` fails this bound.
#[diagnostic::on_unimplemented(
    message = "route `{Self}` already has a handler",
    label = "second handler for `{Self}`",
    note = "each incoming route takes exactly one handler: remove one of the `.on({Self}, ..)` calls"
)]
pub trait NotYetHandled {
    #[doc(hidden)]
    fn seal(_: Token);
}

impl<R, T> MarkHandled<R, Here> for (R, T) {
    type Out = (Handled<R>, T);
    fn seal(_: Token) {}
}

impl<R: NotYetHandled, T> MarkHandled<R, Here> for (Handled<R>, T) {
    type Out = (Handled<R>, T);
    fn seal(_: Token) {}
}

impl<R, H, T, I> MarkHandled<R, There<I>> for (H, T)
where
    T: MarkHandled<R, I>,
{
    type Out = (H, T::Out);
    fn seal(_: Token) {}
}

impl<R, N, S, T, I> MarkHandled<R, Inside<I>> for (Scope<N, S>, T)
where
    S: MarkHandled<R, I>,
{
    type Out = (Scope<N, S::Out>, T);
    fn seal(_: Token) {}
}

/// Every incoming route in the handler state has been marked `Handled`.
///
/// `Shape` is the router's (known from [`Router<Shape>`](super::Router)), so the compiler
/// walks straight to the route that lacks a handler and names it.
#[diagnostic::on_unimplemented(
    message = "an incoming route of this router has no handler",
    label = "cannot build yet",
    note = "register a handler for every incoming route with `.on(Route, handler)` before `.build()`"
)]
pub trait EveryRouteHandled<Shape> {
    #[doc(hidden)]
    fn seal(_: Token);
}

/// One element of the handler state is done.
#[diagnostic::on_unimplemented(
    message = "no handler for incoming route `{Self}`",
    label = "`{Self}` has no handler",
    note = "register one with `.on({Self}, handler)` before `.build()`"
)]
pub trait HasHandler<Kind> {
    #[doc(hidden)]
    fn seal(_: Token);
}

impl EveryRouteHandled<()> for () {
    fn seal(_: Token) {}
}

impl<H, T, K, P> EveryRouteHandled<(K, P)> for (H, T)
where
    H: HasHandler<K>,
    T: EveryRouteHandled<P>,
{
    fn seal(_: Token) {}
}

impl<X: Outgoing> HasHandler<AsOutgoing> for X {
    fn seal(_: Token) {}
}

impl<X: Incoming> HasHandler<AsIncoming> for Handled<X> {
    fn seal(_: Token) {}
}

impl<X: Request> HasHandler<AsRequest> for Handled<X> {
    fn seal(_: Token) {}
}

impl<N, S, P> HasHandler<AsScope<P>> for Scope<N, S>
where
    S: EveryRouteHandled<P>,
{
    fn seal(_: Token) {}
}
