//! Flat tuples and pairs in the handler state: marking a route in a flat
//! tuple marks it in the tuple's nested twin and flattens the result back
//! ([`Unnest`]), so a level keeps its form and its shape; a pair `(A, B)`
//! finds its first element as a nested cell does and its second here; and
//! the "every route handled / answered" checks for flat levels.

use super::handled::{
    EveryRequestAnswered, EveryRouteHandled, HasAnswer, HasHandler, MarkIn, NotYetHandled, ScopeIn,
};
use super::index::{Flat, Handled, InFlat, Second, SecondInside};
use super::walk::Token;
use crate::protocol::route::{Namespace, Scope};

/// A nested list of three to sixteen elements, as the flat tuple of the same
/// elements: marking in a flat tuple marks in its nested twin, then flattens
/// the result back, so a level keeps its form (and its shape).
#[doc(hidden)]
pub trait Unnest {
    /// The same elements as a flat tuple.
    type Flat;
}

macro_rules! unnest {
    ($($a:ident $k:ident,)*) => {
        impl<$($a,)*> Unnest for nest!($($a)* ; ()) {
            type Flat = ($($a,)*);
        }
    };
}
for_each_flat!(unnest);

macro_rules! mark_flat {
    ($($a:ident $k:ident,)*) => {
        #[diagnostic::do_not_recommend]
        impl<X, $($a,)* I> MarkIn<($($a,)*), InFlat<I>> for X
        where
            X: MarkIn<nest!($($a)* ; ()), I>,
            <X as MarkIn<nest!($($a)* ; ()), I>>::Out: Unnest,
        {
            type Out = <<X as MarkIn<nest!($($a)* ; ()), I>>::Out as Unnest>::Flat;
            #[inline]
            fn write_prefix(out: &mut String, t: Token) {
                <X as MarkIn<nest!($($a)* ; ()), I>>::write_prefix(out, t)
            }
        }

        #[diagnostic::do_not_recommend]
        impl<N, $($a,)* I> ScopeIn<($($a,)*), InFlat<I>> for N
        where
            N: ScopeIn<nest!($($a)* ; ()), I>,
            <N as ScopeIn<nest!($($a)* ; ()), I>>::Out: Unnest,
        {
            type Found = <N as ScopeIn<nest!($($a)* ; ()), I>>::Found;
            type Out = <<N as ScopeIn<nest!($($a)* ; ()), I>>::Out as Unnest>::Flat;
            #[inline]
            fn write_prefix(out: &mut String, t: Token) {
                <N as ScopeIn<nest!($($a)* ; ()), I>>::write_prefix(out, t)
            }
        }
    };
}
for_each_flat!(mark_flat);

// The second element of a pair (the first is found as in a nested cell).
#[diagnostic::do_not_recommend]
impl<X, A0> MarkIn<(A0, X), Second> for X {
    type Out = (A0, Handled<X>);
    #[inline]
    fn write_prefix(_: &mut String, _: Token) {}
}

// No `do_not_recommend`: this impl's bound is the "already has a handler" message.
impl<X: NotYetHandled, A0> MarkIn<(A0, Handled<X>), Second> for X {
    type Out = (A0, Handled<X>);
    #[inline]
    fn write_prefix(_: &mut String, _: Token) {}
}

#[diagnostic::do_not_recommend]
impl<X, A0, N, S, I> MarkIn<(A0, Scope<N, S>), SecondInside<I>> for X
where
    N: Namespace,
    X: MarkIn<S, I>,
{
    type Out = (A0, Scope<N, <X as MarkIn<S, I>>::Out>);
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        out.push_str(N::NAME);
        out.push('.');
        <X as MarkIn<S, I>>::write_prefix(out, t)
    }
}

#[diagnostic::do_not_recommend]
impl<N, A0, Sub> ScopeIn<(A0, Scope<N, Sub>), Second> for N
where
    N: Namespace,
{
    type Found = Sub;
    type Out = (A0, Handled<Scope<N, Sub>>);
    #[inline]
    fn write_prefix(_: &mut String, _: Token) {}
}

#[diagnostic::do_not_recommend]
impl<N, A0, N2, S, I> ScopeIn<(A0, Scope<N2, S>), SecondInside<I>> for N
where
    N2: Namespace,
    N: ScopeIn<S, I>,
{
    type Found = <N as ScopeIn<S, I>>::Found;
    type Out = (A0, Scope<N2, <N as ScopeIn<S, I>>::Out>);
    #[inline]
    fn write_prefix(out: &mut String, t: Token) {
        out.push_str(N2::NAME);
        out.push('.');
        <N as ScopeIn<S, I>>::write_prefix(out, t)
    }
}

macro_rules! every_handled_flat {
    ($($a:ident $k:ident,)*) => {
        impl<$($a, $k,)*> EveryRouteHandled<Flat<($($k,)*)>> for ($($a,)*)
        where
            $($a: HasHandler<$k>,)*
        {
            fn seal(_: Token) {}
        }

        impl<$($a, $k,)*> EveryRequestAnswered<Flat<($($k,)*)>> for ($($a,)*)
        where
            $($a: HasAnswer<$k>,)*
        {
            fn seal(_: Token) {}
        }
    };
}
for_each_flat!(every_handled_flat);
every_handled_flat!(A0 K0, A1 K1,);
