//! The builder's handler state: [`MarkHandled`] marks a route as handled,
//! [`EveryRouteHandled`] proves that every incoming route is; the client's
//! twin, [`EveryRequestAnswered`], proves that every [`ClientRequest`] route
//! has an answering handler.

use super::index::{
    AsClientRequest, AsIncoming, AsOutgoing, AsRequest, AsScope, At0, At1, At2, At3, At4, At5, At6,
    At7, At8, At9, At10, At11, At12, At13, At14, At15, Chunk, Handled, Inside, Rest, Skip,
};
use super::walk::Token;
use crate::protocol::route::{ClientRequest, Incoming, Namespace, Outgoing, Request, Scope};

/// Replaces the still unhandled route `R` at `Index` with a `Handled<R>` mark.
///
/// The builder's handler state is the router itself with each handled route
/// marked, so a second handler for one route finds the mark and fails.
#[diagnostic::on_unimplemented(
    message = "`{R}` is not an incoming route of this router, or already has a handler",
    label = "cannot register a handler for `{R}` here",
    note = "a handler needs its route declared in the router type (at any depth): add `{R}` there; if it is declared, it already has a handler: remove one of the `.on({R}, ..)` calls"
)]
pub trait MarkHandled<R, Index> {
    /// The handler state after marking.
    type Out;
    /// Writes the route's scope prefix (`"chat."`): the handler state keeps
    /// the router's scopes, so marking a route also finds its wire name.
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
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

/// The marking behind [`MarkHandled`], with the route as `Self` (see
/// `Within` in `contains.rs` for why: an impl for the wrong position fails
/// before it binds the rest of the state).
#[doc(hidden)]
pub trait MarkIn<State, Index> {
    /// The handler state after marking.
    type Out;
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
}

#[diagnostic::do_not_recommend]
impl<S, X, I> MarkHandled<X, I> for S
where
    X: MarkIn<S, I>,
{
    type Out = <X as MarkIn<S, I>>::Out;
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        <X as MarkIn<S, I>>::write_prefix(out, t)
    }
}

macro_rules! mark_at {
    ($at:ident; $($a:ident)*) => {
        #[diagnostic::do_not_recommend]
        impl<X, $($a,)* T> MarkIn<nest!($($a)* ; (X, T)), $at> for X {
            type Out = nest!($($a)* ; (Handled<X>, T));
            #[inline]
            fn write_prefix(_: &mut String, _: Token) {}
        }

        // No `do_not_recommend`: this impl's bound is the "already has a handler" message.
        impl<X: NotYetHandled, $($a,)* T> MarkIn<nest!($($a)* ; (Handled<X>, T)), $at> for X {
            type Out = nest!($($a)* ; (Handled<X>, T));
            #[inline]
            fn write_prefix(_: &mut String, _: Token) {}
        }

        #[diagnostic::do_not_recommend]
        impl<X, $($a,)* N, S, T, I> MarkIn<nest!($($a)* ; (Scope<N, S>, T)), Inside<$at, I>> for X
        where
            N: Namespace,
            X: MarkIn<S, I>,
        {
            type Out = nest!($($a)* ; (Scope<N, <X as MarkIn<S, I>>::Out>, T));
            #[inline]
            fn write_prefix(out: &mut String, t: Token) {
                out.push_str(N::NAME);
                out.push('.');
                <X as MarkIn<S, I>>::write_prefix(out, t)
            }
        }
    };
}
for_each_offset!(mark_at);

#[diagnostic::do_not_recommend]
impl<X, A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, T, I>
    MarkIn<nest!(A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15 ; T), Skip<I>> for X
where
    X: MarkIn<T, I>,
{
    type Out =
        nest!(A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15 ; <X as MarkIn<T, I>>::Out);
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        <X as MarkIn<T, I>>::write_prefix(out, t)
    }
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

macro_rules! every_handled_rest {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)*> EveryRouteHandled<Rest<nest!($($k)* ; ())>> for nest!($($a)* ; ())
        where
            $($a: HasHandler<$k>,)*
        {
            fn seal(_: Token) {}
        }
    };
}
for_each_rest!(every_handled_rest);

macro_rules! every_handled_chunk {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)* T, P> EveryRouteHandled<Chunk<nest!($($k)* ; ()), P>>
            for nest!($($a)* ; T)
        where
            $($a: HasHandler<$k>,)*
            T: EveryRouteHandled<P>,
        {
            fn seal(_: Token) {}
        }
    };
}
with_chunk!(every_handled_chunk);

impl<X: Outgoing> HasHandler<AsOutgoing> for X {
    fn seal(_: Token) {}
}

// The server asks these; the client answers them, not a server handler.
impl<X: ClientRequest> HasHandler<AsClientRequest> for X {
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
    N: Namespace,
    S: EveryRouteHandled<P>,
{
    fn seal(_: Token) {}
}

/// The client's answer state: replaces the still unanswered client request
/// route `R` at `Index` with a `Handled<R>` mark.
#[diagnostic::on_unimplemented(
    message = "`{R}` is not a client request route of this router, or already has a handler",
    label = "cannot register an answering handler for `{R}` here"
)]
pub trait MarkAnswered<R, Index> {
    /// The answer state after marking.
    type Out;
    #[doc(hidden)]
    fn seal(_: Token);
}

#[diagnostic::do_not_recommend]
impl<S, X: ClientRequest + MarkIn<S, I>, I> MarkAnswered<X, I> for S {
    type Out = <X as MarkIn<S, I>>::Out;
    fn seal(_: Token) {}
}

/// Every [`ClientRequest`] route in the client's answer state has a handler
/// (registered with [`ClientBuilder::on_request`](crate::ClientBuilder::on_request)).
#[diagnostic::on_unimplemented(
    message = "a client request route of this router has no answering handler",
    label = "cannot connect yet",
    note = "register a handler for every `ClientRequest` route with `.on_request(Route, handler)` before awaiting the client"
)]
pub trait EveryRequestAnswered<Shape> {
    #[doc(hidden)]
    fn seal(_: Token);
}

/// One element of the client's answer state is done.
#[diagnostic::on_unimplemented(
    message = "no answering handler for client request route `{Self}`",
    label = "`{Self}` has no handler on this client",
    note = "register one with `.on_request({Self}, handler)` on the client builder"
)]
pub trait HasAnswer<Kind> {
    #[doc(hidden)]
    fn seal(_: Token);
}

macro_rules! every_answered_rest {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)*> EveryRequestAnswered<Rest<nest!($($k)* ; ())>> for nest!($($a)* ; ())
        where
            $($a: HasAnswer<$k>,)*
        {
            fn seal(_: Token) {}
        }
    };
}
for_each_rest!(every_answered_rest);

macro_rules! every_answered_chunk {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)* T, P> EveryRequestAnswered<Chunk<nest!($($k)* ; ()), P>>
            for nest!($($a)* ; T)
        where
            $($a: HasAnswer<$k>,)*
            T: EveryRequestAnswered<P>,
        {
            fn seal(_: Token) {}
        }
    };
}
with_chunk!(every_answered_chunk);

impl<X: Incoming> HasAnswer<AsIncoming> for X {
    fn seal(_: Token) {}
}

impl<X: Outgoing> HasAnswer<AsOutgoing> for X {
    fn seal(_: Token) {}
}

impl<X: Request> HasAnswer<AsRequest> for X {
    fn seal(_: Token) {}
}

impl<X: ClientRequest> HasAnswer<AsClientRequest> for Handled<X> {
    fn seal(_: Token) {}
}

impl<N, S, P> HasAnswer<AsScope<P>> for Scope<N, S>
where
    N: Namespace,
    S: EveryRequestAnswered<P>,
{
    fn seal(_: Token) {}
}
