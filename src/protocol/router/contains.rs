//! [`Contains`]: a route occurs in a router, and where (for its wire name).

use super::handled::{MarkHandled, MarkScope, MarkScoped};
use super::index::{
    At0, At1, At2, At3, At4, At5, At6, At7, At8, At9, At10, At11, At12, At13, At14, At15, InFlat,
    Inside, Second, SecondInside, Skip,
};
use super::walk::Token;
use crate::protocol::route::{Namespace, Scope};

/// The router holds the route `R` at `Index` (inferred).
///
/// Its method writes the route's scope prefix (`"chat."`), so a wire name costs
/// no lookup and no allocation beyond the output buffer.
#[diagnostic::on_unimplemented(
    message = "`{R}` is not a route of this router",
    label = "not declared in the router",
    note = "add `{R}` to the router type (at any depth), or use it with the router that declares it"
)]
pub trait Contains<R, Index> {
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
}

/// The lookup behind [`Contains`], with the route as `Self`.
///
/// Why the route and not the router: when rustc tries an impl, it relates
/// `Self` first. With the route in `Self`, an impl for the wrong position
/// fails at the first element that differs, before it binds the rest of the
/// router; with the router in `Self`, each of the 33 impls tried per step
/// bound (and re-interned) the whole rest of the list first. The lookups
/// of a 500-route app type-check about three times faster this way.
#[doc(hidden)]
pub trait Within<Router, Index> {
    #[doc(hidden)]
    fn write_prefix(out: &mut String, _: Token);
}

#[diagnostic::do_not_recommend]
impl<R, X, I> Contains<X, I> for R
where
    X: Within<R, I>,
{
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        X::write_prefix(out, t)
    }
}

macro_rules! within_at {
    ($at:ident; $($a:ident)*) => {
        #[diagnostic::do_not_recommend]
        impl<X, $($a,)* T> Within<nest!($($a)* ; (X, T)), $at> for X {
            #[inline]
            fn write_prefix(_: &mut String, _: Token) {}
        }

        #[diagnostic::do_not_recommend]
        impl<X, $($a,)* N, S, T, I> Within<nest!($($a)* ; (Scope<N, S>, T)), Inside<$at, I>> for X
        where
            N: Namespace,
            X: Within<S, I>,
        {
            #[inline]
            fn write_prefix(out: &mut String, t: Token) {
                out.push_str(N::NAME);
                out.push('.');
                <X as Within<S, I>>::write_prefix(out, t)
            }
        }
    };
}
for_each_offset!(within_at);

#[diagnostic::do_not_recommend]
impl<X, A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, T, I>
    Within<nest!(A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A15 ; T), Skip<I>> for X
where
    X: Within<T, I>,
{
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        <X as Within<T, I>>::write_prefix(out, t)
    }
}

// A flat tuple of three or more: the same lookup as in its elements listed
// as a nested list (one impl per length, so a lookup tries few impls).
macro_rules! within_flat {
    ($($a:ident $k:ident,)*) => {
        #[diagnostic::do_not_recommend]
        impl<X, $($a,)* I> Within<($($a,)*), InFlat<I>> for X
        where
            X: Within<nest!($($a)* ; ()), I>,
        {
            #[inline]
            fn write_prefix(out: &mut String, t: Token) {
                <X as Within<nest!($($a)* ; ()), I>>::write_prefix(out, t)
            }
        }
    };
}
for_each_flat!(within_flat);

// A pair `(A, B)`: the first element is found as in a nested list's cell
// (`At0`, `Inside<At0, _>`); these find the second, which in a nested list
// would be the rest of the list.
#[diagnostic::do_not_recommend]
impl<X, A0> Within<(A0, X), Second> for X {
    #[inline]
    fn write_prefix(_: &mut String, _: Token) {}
}

#[diagnostic::do_not_recommend]
impl<X, A0, N, S, I> Within<(A0, Scope<N, S>), SecondInside<I>> for X
where
    N: Namespace,
    X: Within<S, I>,
{
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        out.push_str(N::NAME);
        out.push('.');
        <X as Within<S, I>>::write_prefix(out, t)
    }
}

/// Writes the full wire name of route `X` (whose own segment is `name`),
/// marked at `I` in handler state `S` (its scopes are the router's).
#[inline]
pub(crate) fn marked_wire_name<S: MarkHandled<X, I>, X, I>(name: &str) -> String {
    let mut out = String::with_capacity(32);
    S::write_prefix(&mut out, Token);
    out.push_str(name);
    out
}

/// Writes the full wire name of route `X` (whose own segment is `name`) found at
/// `I` in router `R`.
#[inline]
pub(crate) fn wire_name<R: Contains<X, I>, X, I>(name: &str) -> String {
    let mut out = String::with_capacity(32);
    R::write_prefix(&mut out, Token);
    out.push_str(name);
    out
}

/// The full wire-name prefix of the scope named `N`, found at `K` in handler
/// state `S` (`"chat.admin."`).
pub(crate) fn scope_prefix<S: MarkScope<N, K>, N: Namespace, K>() -> String {
    let mut out = String::with_capacity(32);
    S::write_prefix(&mut out, Token);
    out.push_str(N::NAME);
    out.push('.');
    out
}

/// Writes the full wire name of route `X` (own segment `name`), marked at `I`
/// in the handler state `S` of the scope whose prefix is `prefix`.
pub(crate) fn scoped_wire_name<S: MarkScoped<X, I>, X, I>(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 32);
    out.push_str(prefix);
    S::write_prefix(&mut out, Token);
    out.push_str(name);
    out
}
