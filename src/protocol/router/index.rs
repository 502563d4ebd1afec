//! The types that inference picks: where a route sits in a router (`Here`,
//! `There`, `Inside`), what kind each element is (`AsIncoming`, `AsOutgoing`, `AsRequest`,
//! `AsScope`), and the mark a handled route gets (`Handled`).
//!
//! Like frunk's indices, they appear in error messages and inferred bounds but
//! are never written by users: none of them can be constructed (each holds a
//! private field), and they are hidden from the documentation's front page.

use std::marker::PhantomData;

/// Inference picks this: the route is the head of this list.
pub struct Here {
    _private: (),
}
/// Inference picks this: the route is somewhere in the tail of this list.
pub struct There<I> {
    _private: PhantomData<fn() -> I>,
}
/// Inference picks this: the route is inside the scope at the head of this list.
pub struct Inside<I> {
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
/// Inference picks this: the element is a scope whose router has shape `P`.
pub struct AsScope<P> {
    _private: PhantomData<fn() -> P>,
}

/// The mark left in place of an incoming route once
/// [`Builder::on`](crate::Builder::on) has registered its handler.
pub struct Handled<R> {
    _private: PhantomData<fn() -> R>,
}
