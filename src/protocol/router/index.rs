//! The types that inference picks: where a route sits in a router (`At0` …
//! `At15`, `Skip`, `Inside`), the shape of a router (`Chunk`, `Rest`), what
//! kind each element is (`AsIncoming`, `AsOutgoing`, `AsRequest`, `AsScope`),
//! and the mark a handled route gets (`Handled`).
//!
//! Like frunk's indices, they appear in error messages and inferred bounds but
//! are never written by users: none of them can be constructed (each holds a
//! private field), and none is reachable from outside the crate, so a
//! hand-written index or shape cannot steer a check.
//!
//! # Why chunks of sixteen
//!
//! A router is a nested list `(A, (B, (C, ..)))`. Walking it one element per
//! trait step costs one level of rustc's recursion limit (128 by default) per
//! element, so a router of about 130 routes failed to compile. The impls here
//! take sixteen elements per step (`Skip`, `Chunk`) and reach any of the next
//! sixteen in one step (`At0` … `At15`, `Rest`), so a lookup costs one level per
//! sixteen routes: 500 routes need about 32. Each position has exactly one
//! index (`Skip` only ever jumps whole chunks, `AtK` only reaches inside one),
//! so inference stays unambiguous, and a marker listed twice is still an
//! ambiguity.

use std::marker::PhantomData;

macro_rules! offsets {
    ($($at:ident = $k:literal,)*) => {$(
        #[doc = concat!("Inference picks this: the route is element ", stringify!($k), " of the list from here.")]
        pub struct $at {
            _private: (),
        }
    )*};
}

offsets! {
    At0 = 0, At1 = 1, At2 = 2, At3 = 3, At4 = 4, At5 = 5, At6 = 6, At7 = 7,
    At8 = 8, At9 = 9, At10 = 10, At11 = 11, At12 = 12, At13 = 13, At14 = 14, At15 = 15,
}

/// Inference picks this: the route lies past the next sixteen elements, at `I` from there.
pub struct Skip<I> {
    _private: PhantomData<fn() -> I>,
}
/// Inference picks this: the route is inside the scope at `At`, at `I` within it.
pub struct Inside<At, I> {
    _private: PhantomData<fn() -> (At, I)>,
}

/// Inference picks this: sixteen elements of kinds `Ks`, then a list of shape `P`.
pub struct Chunk<Ks, P> {
    _private: PhantomData<fn() -> (Ks, P)>,
}
/// Inference picks this: the last (fewer than sixteen) elements, of kinds `Ks`.
pub struct Rest<Ks> {
    _private: PhantomData<fn() -> Ks>,
}

/// Inference picks this: a flat tuple of elements of kinds `Ks` (a tuple).
pub struct Flat<Ks> {
    _private: PhantomData<fn() -> Ks>,
}
/// Inference picks this: the route is in a flat tuple of three or more, at
/// `I` in the same elements listed as a nested list.
pub struct InFlat<I> {
    _private: PhantomData<fn() -> I>,
}
/// Inference picks this: the route is the second element of a pair `(A, B)`.
pub struct Second {
    _private: (),
}
/// Inference picks this: the route is inside the scope that is the second
/// element of a pair, at `I` within it.
pub struct SecondInside<I> {
    _private: PhantomData<fn() -> I>,
}

/// Inference picks this: the element is an incoming route.
pub struct AsIncoming {
    _private: (),
}
/// Inference picks this: the element is an outgoing route.
pub struct AsOutgoing {
    _private: (),
}
/// Inference picks this: the element is a request route.
pub struct AsRequest {
    _private: (),
}
/// Inference picks this: the element is a client request route (server asks).
pub struct AsClientRequest {
    _private: (),
}
/// Inference picks this: the element is a scope whose router has shape `P`.
pub struct AsScope<P> {
    _private: PhantomData<fn() -> P>,
}

/// The mark left in place of an incoming route once
/// [`Builder::on`](crate::Builder::on) has registered its handler.
pub struct Handled<R> {
    _private: PhantomData<fn() -> R>,
}
