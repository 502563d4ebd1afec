//! Routers: nested HList tuples of routes, and the type machinery that checks them.
//!
//! A router is a list written as nested pairs ending in `()`:
//!
//! ```text
//! type Chat = (SendMessage, (OnMessage, ()));
//! type App  = (Ping, (Scope<ChatNs, Chat>, ()));   // Chat's routes become "chat.*"
//! ```
//!
//! Each element is an [`Incoming`] route, an [`Outgoing`] route, or a
//! [`Scope<Namespace, Router>`](Scope) that nests another router to any depth.
//! A route's wire name is its scopes' names and its own name joined with dots:
//! `"chat.message"`.
//!
//! # The traits in this module
//!
//! You never implement them and rarely name them: they appear in the bounds of
//! [`Builder::on`](crate::Builder::on), [`Ctx::send`](crate::Ctx::send) and the
//! [`Client`](crate::Client), and the compiler proves them for you. Their extra
//! type parameters (`Shape`, `Index`) are *inferred*: like frunk's `Here`/`There`,
//! they record where a route sits in the router, and inference picks them.
//!
//! | trait | proves | a failure reads |
//! |---|---|---|
//! | [`Router<Shape>`] | the type is a well-formed router | "`X` is not a route" |
//! | [`Contains<Route, Index>`] | `Route` occurs in the router | "`Route` is not a route of this router" |
//! | [`MarkHandled<Route, Index>`] | `Route` has no handler yet | "route `Route` already has a handler" |
//! | [`EveryRouteHandled<Shape>`] | every incoming route has a handler | "no handler for incoming route `Route`" |
//!
//! The traits are sealed: their methods take a type you cannot name.
//!
//! # What the compiler cannot reword
//!
//! A marker listed twice in one router makes the `Index` of [`Contains`]
//! ambiguous, and rustc reports `E0283 type annotations needed` at the call
//! that uses the marker (see `src/docs/debugging_type_errors.md`). A marker that
//! implements both `Incoming` and `Outgoing` makes the `Shape` ambiguous in the
//! same way. Duplicate *wire names* from different markers are caught by
//! [`Builder::build`](crate::Builder::build) with an error that names both.

use std::any::type_name;
use std::collections::HashMap;
use std::marker::PhantomData;

use crate::error::BuildError;
use crate::route::{Incoming, Namespace, Outgoing, Request, Scope, check_segment};

mod private {
    /// Walks a router; its presence in every method signature seals the traits.
    pub struct Walk<'a> {
        pub(crate) prefix: &'a mut String,
        pub(crate) routes: &'a mut Vec<super::RouteInfo>,
        pub(crate) invalid: Option<crate::error::BuildError>,
    }
    /// Seals the traits that have no other method.
    pub struct Token;
}
use private::{Token, Walk};

/// Which way a route's messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → server ([`Incoming`]).
    Incoming,
    /// Server → client ([`Outgoing`]).
    Outgoing,
    /// Client → server with a reply ([`Request`]).
    Request,
}

/// One route of a router, as found by walking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The full dotted wire name, e.g. `"chat.message"`.
    pub name: String,
    /// Which way it travels.
    pub direction: Direction,
    /// The marker type's path, e.g. `"my_app::SendMessage"`.
    pub marker: &'static str,
}

/// Index: the route is the head of this list.
pub struct Here;
/// Index: the route is somewhere in the tail of this list.
pub struct There<I>(PhantomData<I>);
/// Index: the route is inside the scope at the head of this list.
pub struct Inside<I>(PhantomData<I>);

/// Shape: this element is an incoming route.
pub struct KIn;
/// Shape: this element is an outgoing route.
pub struct KOut;
/// Shape: this element is a request route.
pub struct KReq;
/// Shape: this element is a scope whose router has shape `P`.
pub struct KScope<P>(PhantomData<P>);

/// A router type-level marker left in place of an incoming route once
/// [`Builder::on`](crate::Builder::on) has registered its handler.
pub struct Handled<R>(PhantomData<fn() -> R>);

/// A well-formed router: a nested tuple list of routes and scopes ending in `()`.
///
/// `Shape` records the kind of every element; inference picks it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a router",
    label = "not a router",
    note = "a router is a nested tuple list ending in `()`, e.g. `(SendMessage, (OnMessage, ()))`, whose elements are `Incoming` or `Outgoing` routes or `Scope<Namespace, Router>`s"
)]
pub trait Router<Shape>: Send + Sync + 'static {
    #[doc(hidden)]
    fn walk(walk: &mut Walk<'_>);
}

/// One element of a router. `Kind` is inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a route",
    label = "listed in a router",
    note = "every element of a router implements `Incoming`, `Outgoing` or `Request` (exactly one of them), or is a `Scope<Namespace, Router>`"
)]
pub trait RouteNode<Kind>: Send + Sync + 'static {
    #[doc(hidden)]
    fn walk(walk: &mut Walk<'_>);
}

impl Router<()> for () {
    fn walk(_: &mut Walk<'_>) {}
}

impl<H, T, K, P> Router<(K, P)> for (H, T)
where
    H: RouteNode<K>,
    T: Router<P>,
{
    fn walk(walk: &mut Walk<'_>) {
        H::walk(walk);
        T::walk(walk);
    }
}

/// Records the first malformed name segment met during a walk.
fn check_name<X: 'static>(walk: &mut Walk<'_>, segment: &str) {
    if walk.invalid.is_none()
        && let Err(problem) = check_segment(segment)
    {
        walk.invalid = Some(BuildError::InvalidName {
            name: format!("{}{segment}", walk.prefix),
            marker: type_name::<X>(),
            problem,
        });
    }
}

fn push_route<X: 'static>(walk: &mut Walk<'_>, name: &str, direction: Direction) {
    check_name::<X>(walk, name);
    let mut full = walk.prefix.clone();
    full.push_str(name);
    walk.routes.push(RouteInfo {
        name: full,
        direction,
        marker: type_name::<X>(),
    });
}

#[diagnostic::do_not_recommend]
impl<X: Incoming> RouteNode<KIn> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, X::NAME, Direction::Incoming);
    }
}

#[diagnostic::do_not_recommend]
impl<X: Outgoing> RouteNode<KOut> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, X::NAME, Direction::Outgoing);
    }
}

#[diagnostic::do_not_recommend]
impl<X: Request> RouteNode<KReq> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, X::NAME, Direction::Request);
    }
}

#[diagnostic::do_not_recommend]
impl<N: Namespace, S: Router<P>, P> RouteNode<KScope<P>> for Scope<N, S> {
    fn walk(walk: &mut Walk<'_>) {
        check_name::<N>(walk, N::NAME);
        let len = walk.prefix.len();
        walk.prefix.push_str(N::NAME);
        walk.prefix.push('.');
        S::walk(walk);
        walk.prefix.truncate(len);
    }
}

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
    let mut out = String::with_capacity(32);
    R::write_prefix(&mut out, Token);
    out.push_str(name);
    out
}

/// Replaces the still unhandled route `R` at `Index` with [`Handled<R>`].
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

/// A route already marked [`Handled`] fails this bound.
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

/// Every incoming route in the handler state has been marked [`Handled`].
///
/// `Shape` is the router's (known from [`Router<Shape>`]), so the compiler
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

impl<X: Outgoing> HasHandler<KOut> for X {
    fn seal(_: Token) {}
}

impl<X: Incoming> HasHandler<KIn> for Handled<X> {
    fn seal(_: Token) {}
}

impl<X: Request> HasHandler<KReq> for Handled<X> {
    fn seal(_: Token) {}
}

impl<N, S, P> HasHandler<KScope<P>> for Scope<N, S>
where
    S: EveryRouteHandled<P>,
{
    fn seal(_: Token) {}
}

/// Every route of router `R`, in declaration order.
pub fn routes<R: Router<P>, P>() -> Vec<RouteInfo> {
    walk::<R, P>().0
}

fn walk<R: Router<P>, P>() -> (Vec<RouteInfo>, Option<BuildError>) {
    let mut prefix = String::new();
    let mut routes = Vec::new();
    let mut walk = Walk {
        prefix: &mut prefix,
        routes: &mut routes,
        invalid: None,
    };
    R::walk(&mut walk);
    let invalid = walk.invalid;
    (routes, invalid)
}

/// The checked list of a router's routes: names are valid and unique.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<RouteInfo>,
}

impl RouteTable {
    /// Walks `R` and checks every wire name: segments are well-formed and no two
    /// routes (in either direction) share a name.
    pub(crate) fn of<R: Router<P>, P>() -> Result<Self, BuildError> {
        let (routes, invalid) = walk::<R, P>();
        if let Some(e) = invalid {
            return Err(e);
        }
        let mut seen: HashMap<&str, &RouteInfo> = HashMap::with_capacity(routes.len());
        for route in &routes {
            if let Some(first) = seen.insert(&route.name, route) {
                return Err(BuildError::DuplicateName {
                    name: route.name.clone(),
                    first: first.marker,
                    second: route.marker,
                });
            }
        }
        Ok(RouteTable { routes })
    }

    /// Routes a client sends: incoming and request routes.
    pub(crate) fn incoming(&self) -> impl Iterator<Item = &RouteInfo> {
        self.routes
            .iter()
            .filter(|r| r.direction != Direction::Outgoing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ping;
    impl Incoming for Ping {
        const NAME: &'static str = "ping";
        type Payload = ();
    }
    struct Pong;
    impl Outgoing for Pong {
        const NAME: &'static str = "pong";
        type Payload = ();
    }
    struct Post;
    impl Incoming for Post {
        const NAME: &'static str = "post";
        type Payload = ();
    }
    struct OnPost;
    impl Outgoing for OnPost {
        const NAME: &'static str = "onPost";
        type Payload = ();
    }
    struct Deep;
    impl Incoming for Deep {
        const NAME: &'static str = "deep";
        type Payload = ();
    }
    struct AlsoPing;
    impl Outgoing for AlsoPing {
        const NAME: &'static str = "ping";
        type Payload = ();
    }
    struct Bad;
    impl Incoming for Bad {
        const NAME: &'static str = "no.dots";
        type Payload = ();
    }
    struct ChatNs;
    impl Namespace for ChatNs {
        const NAME: &'static str = "chat";
    }
    struct RoomNs;
    impl Namespace for RoomNs {
        const NAME: &'static str = "room";
    }
    struct AdminNs;
    impl Namespace for AdminNs {
        const NAME: &'static str = "admin";
    }

    type Inner = (Deep, ());
    type Rooms = (Post, (OnPost, (Scope<AdminNs, Inner>, ())));
    type App = (
        Ping,
        (Pong, (Scope<ChatNs, (Scope<RoomNs, Rooms>, ())>, ())),
    );

    fn names<R: Router<P>, P>() -> Vec<(String, Direction)> {
        routes::<R, P>()
            .into_iter()
            .map(|r| (r.name, r.direction))
            .collect()
    }

    #[test]
    fn names_follow_scopes_in_declaration_order() {
        use Direction::*;
        assert_eq!(
            names::<App, _>(),
            vec![
                ("ping".to_owned(), Incoming),
                ("pong".to_owned(), Outgoing),
                ("chat.room.post".to_owned(), Incoming),
                ("chat.room.onPost".to_owned(), Outgoing),
                ("chat.room.admin.deep".to_owned(), Incoming),
            ]
        );
    }

    #[test]
    fn contains_writes_the_scope_prefix() {
        assert_eq!(wire_name::<App, Ping, _>(Ping::NAME), "ping");
        assert_eq!(
            wire_name::<App, OnPost, _>(OnPost::NAME),
            "chat.room.onPost"
        );
        assert_eq!(
            wire_name::<App, Deep, _>(Deep::NAME),
            "chat.room.admin.deep"
        );
    }

    #[test]
    fn table_lists_incoming_routes_only_as_incoming() {
        let table = RouteTable::of::<App, _>().unwrap();
        let incoming: Vec<_> = table.incoming().map(|r| r.name.as_str()).collect();
        assert_eq!(incoming, ["ping", "chat.room.post", "chat.room.admin.deep"]);
        assert!(table.incoming().all(|r| r.direction != Direction::Outgoing));
        assert!(!incoming.contains(&"pong"));
        assert!(!incoming.contains(&"chat.room.onPost"));
    }

    #[test]
    fn duplicate_wire_names_name_both_markers() {
        let err = RouteTable::of::<(Ping, (AlsoPing, ())), _>().unwrap_err();
        match &err {
            BuildError::DuplicateName {
                name,
                first,
                second,
            } => {
                assert_eq!(name, "ping");
                assert!(first.ends_with("::Ping"), "{first}");
                assert!(second.ends_with("::AlsoPing"), "{second}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("Ping") && text.contains("AlsoPing") && text.contains("\"ping\""));
    }

    #[test]
    fn same_marker_name_in_different_scopes_is_fine() {
        type R = (Ping, (Scope<ChatNs, (Ping, ())>, ()));
        let table = RouteTable::of::<R, _>().unwrap();
        let names: Vec<_> = table.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ping", "chat.ping"]);
    }

    #[test]
    fn malformed_segments_are_rejected() {
        let err = RouteTable::of::<(Bad, ()), _>().unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidName { ref name, .. } if name == "no.dots"),
            "{err:?}"
        );
    }
}
