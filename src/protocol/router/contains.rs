//! [`Contains`]: a route occurs in a router, and where (for its wire name).

use super::index::{Here, Inside, There};
use super::walk::Token;
use crate::protocol::route::{Namespace, Scope, assert_marker};

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

#[diagnostic::do_not_recommend]
impl<R, T> Contains<R, Here> for (R, T) {
    #[inline]
    fn write_prefix(_: &mut String, _: Token) {}
}

#[diagnostic::do_not_recommend]
impl<R, H, T, I> Contains<R, There<I>> for (H, T)
where
    T: Contains<R, I>,
{
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        T::write_prefix(out, t)
    }
}

#[diagnostic::do_not_recommend]
impl<R, N, S, T, I> Contains<R, Inside<I>> for (Scope<N, S>, T)
where
    N: Namespace,
    S: Contains<R, I>,
{
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        out.push_str(N::NAME);
        out.push('.');
        S::write_prefix(out, t)
    }
}

/// Writes the full wire name of route `X` (whose own segment is `name`) found at
/// `I` in router `R`.
#[inline]
pub(crate) fn wire_name<R: Contains<X, I>, X, I>(name: &str) -> String {
    assert_marker::<X>();
    let mut out = String::with_capacity(32);
    R::write_prefix(&mut out, Token);
    out.push_str(name);
    out
}
