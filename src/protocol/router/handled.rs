//! The builder's handler state: [`MarkHandled`] marks a route as handled,
//! [`EveryRouteHandled`] proves that every incoming route is; the client's
//! twin, [`EveryRequestAnswered`], proves that every [`ClientRequest`] route
//! has an answering handler. A scope guarded with `Builder::scope` is marked
//! whole ([`MarkScope`]) once its own state ([`MarkScoped`] inside the
//! closure) has every route handled ([`Untouched`] checks it started empty).

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
    note = "a handler needs its route declared in the router type (at any depth): add `{R}` there; if it is declared, it already has a handler: remove one of the `.on({R}, ..)` calls (a route of a scope registered with `.scope(..)` takes its handler inside that call)"
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

/// Finds the scope named `N` in the handler state and replaces it with a
/// `Handled` mark: the whole scope is registered at once by
/// [`Builder::scope`](crate::Builder::scope), behind its guard, so no route of
/// it can take a handler elsewhere.
#[diagnostic::on_unimplemented(
    message = "no scope `{N}` to register in this router: it is not declared, or `.scope({N}, ..)` was called already",
    label = "cannot register scope `{N}` here",
    note = "`.scope({N}, ..)` registers a `Scope<{N}, ..>` of the router type, once, with all its handlers"
)]
pub trait MarkScope<N, Index> {
    /// The scope's own handler state (its router, as marked so far).
    type Found;
    /// The handler state after marking.
    type Out;
    /// Writes the prefix of the scope's parents (`"chat."`).
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
}

/// The lookup behind [`MarkScope`], with the namespace as `Self` (see `Within`).
///
/// Not `MarkIn` with `Scope<N, _>` as the route: that also matches a scope
/// already registered (`Handled<Scope<..>>`) and fails there with "already
/// has a handler" inside a method-probe error; this walk knows only unmarked
/// scopes, so a second `.scope(N, ..)` reads "no scope `N` to register".
#[doc(hidden)]
pub trait ScopeIn<State, Index> {
    /// The scope's own handler state.
    type Found;
    /// The handler state after marking.
    type Out;
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
}

#[diagnostic::do_not_recommend]
impl<S, N, I> MarkScope<N, I> for S
where
    N: ScopeIn<S, I>,
{
    type Found = <N as ScopeIn<S, I>>::Found;
    type Out = <N as ScopeIn<S, I>>::Out;
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        <N as ScopeIn<S, I>>::write_prefix(out, t)
    }
}

macro_rules! scope_at {
    ($at:ident; $($a:ident)*) => {
        #[diagnostic::do_not_recommend]
        impl<N, $($a,)* Sub, T> ScopeIn<nest!($($a)* ; (Scope<N, Sub>, T)), $at> for N
        where
            N: Namespace,
        {
            type Found = Sub;
            type Out = nest!($($a)* ; (Handled<Scope<N, Sub>>, T));
            #[inline]
            fn write_prefix(_: &mut String, _: Token) {}
        }

        #[diagnostic::do_not_recommend]
        impl<N, $($a,)* N2, S, T, I> ScopeIn<nest!($($a)* ; (Scope<N2, S>, T)), Inside<$at, I>> for N
        where
            N2: Namespace,
            N: ScopeIn<S, I>,
        {
            type Found = <N as ScopeIn<S, I>>::Found;
            type Out = nest!($($a)* ; (Scope<N2, <N as ScopeIn<S, I>>::Out>, T));
            #[inline]
            fn write_prefix(out: &mut String, t: Token) {
                out.push_str(N2::NAME);
                out.push('.');
                <N as ScopeIn<S, I>>::write_prefix(out, t)
            }
        }
    };
}
for_each_offset!(scope_at);

#[diagnostic::do_not_recommend]
impl<N, A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, T, I>
    ScopeIn<nest!(A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15 ; T), Skip<I>> for N
where
    N: ScopeIn<T, I>,
{
    type Found = <N as ScopeIn<T, I>>::Found;
    type Out =
        nest!(A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15 ; <N as ScopeIn<T, I>>::Out);
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        <N as ScopeIn<T, I>>::write_prefix(out, t)
    }
}

/// No route of the scope `N` (whose handler state this is) has a handler yet.
#[diagnostic::on_unimplemented(
    message = "scope `{N}` cannot be registered with `.scope(..)`: one of its routes already has a handler",
    label = "a route of scope `{N}` was registered outside `.scope({N}, ..)`",
    note = "a guarded scope takes all its handlers inside one `.scope({N}, ..)` call: move the scope's `.on(..)` calls into it"
)]
pub trait Untouched<N, Shape> {
    #[doc(hidden)]
    fn seal(_: Token);
}

#[diagnostic::do_not_recommend]
impl<S: super::walk::Router<P>, N, P> Untouched<N, P> for S {
    fn seal(_: Token) {}
}

/// [`MarkHandled`] inside a scope registered with
/// [`Builder::scope`](crate::Builder::scope): the handler state is the scope's.
#[diagnostic::on_unimplemented(
    message = "`{R}` is not an incoming route of this scope, or already has a handler",
    label = "cannot register a handler for `{R}` in this scope",
    note = "`.on(..)` inside `.scope(..)` takes the routes of that scope only: register `{R}` on the builder itself, or declare it inside the scope; if it is declared there, remove the second `.on({R}, ..)`"
)]
pub trait MarkScoped<R, Index> {
    /// The scope's handler state after marking.
    type Out;
    /// Writes the route's prefix within the scope.
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
}

#[diagnostic::do_not_recommend]
impl<S, X, I> MarkScoped<X, I> for S
where
    X: MarkIn<S, I>,
{
    type Out = <X as MarkIn<S, I>>::Out;
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        <X as MarkIn<S, I>>::write_prefix(out, t)
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

// A scope: its own walk decides. The shape is `Self` of the nested bound, so
// when it is unknown (the router walk failed, e.g. the scope's name is not a
// namespace, which is reported) this stays ambiguous and silent, instead of
// advising a handler for the scope itself.
impl<X, P: ScopeDone<X>> HasHandler<AsScope<P>> for X {
    fn seal(_: Token) {}
}

/// A scope element `S` of the handler state, of shape `Self`, is done: each
/// of its incoming routes has a handler, or `Builder::scope` registered it
/// whole.
#[doc(hidden)]
pub trait ScopeDone<S> {
    #[doc(hidden)]
    fn seal(_: Token);
}

impl<N: Namespace, S, P> ScopeDone<Scope<N, S>> for P
where
    S: EveryRouteHandled<P>,
{
    fn seal(_: Token) {}
}

// A scope registered whole by `Builder::scope`, which checked its handlers.
impl<N: Namespace, S, P> ScopeDone<Handled<Scope<N, S>>> for P {
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
