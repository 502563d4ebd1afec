//! [`Router`] and [`RouteNode`]: a well-formed router, and the walk that lists
//! its routes at run time. The walk's argument seals every router trait.

use std::any::type_name;

use super::index::{
    AsClientRequest, AsIncoming, AsOutgoing, AsRequest, AsScope, Chunk, Flat, Rest,
};
use crate::protocol::error::BuildError;
use crate::protocol::route::{
    ClientRequest, Incoming, Namespace, Outgoing, Request, Scope, check_segment, marker_name,
};

mod private {
    /// Walks a router; its presence in every method signature seals the traits.
    pub struct Walk<'a> {
        pub(crate) prefix: &'a mut String,
        pub(crate) routes: &'a mut Vec<crate::protocol::router::walk::RouteInfo>,
        pub(crate) invalid: Option<crate::protocol::error::BuildError>,
    }
    /// Seals the traits that have no other method.
    pub struct Token;
}
pub(crate) use private::{Token, Walk};

/// Which way a route's messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Client → server ([`Incoming`]).
    Incoming,
    /// Server → client ([`Outgoing`]).
    Outgoing,
    /// Client → server with a reply ([`Request`]).
    Request,
    /// Server → client with a reply ([`ClientRequest`]).
    ClientRequest,
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

/// A well-formed router: a flat tuple of up to 32 routes and scopes,
/// `(Join, Leave, Post, Scope<Admin, (Ban, Kick)>)`, or a nested tuple list
/// ending in `()`, `(Join, (Leave, (Post, ())))`, of any length; the two
/// forms mix at any depth.
///
/// `Shape` records the kind of every element; inference picks it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a router",
    label = "not a router",
    note = "a router is a tuple of routes, e.g. `(SendMessage, OnMessage, Scope<Admin, (Ban, Kick)>)` (up to 32 elements), or a nested list ending in `()`, e.g. `(SendMessage, (OnMessage, ()))`; every element is an `Incoming`, `Outgoing`, `Request` or `ClientRequest` route or a `Scope<Namespace, Router>`; write a level flat to have the element that is not a route named"
)]
pub trait Router<Shape>: Send + Sync + 'static {
    #[doc(hidden)]
    fn walk(walk: &mut Walk<'_>);
}

/// One element of a router. `Kind` is inferred.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a route",
    label = "listed in a router",
    note = "every element of a router implements `Incoming`, `Outgoing`, `Request` or `ClientRequest` (exactly one of them), or is a `Scope<Namespace, Router>`"
)]
pub trait RouteNode<Kind>: Send + Sync + 'static {
    #[doc(hidden)]
    fn walk(walk: &mut Walk<'_>);
}

macro_rules! router_rest {
    ($($a:ident $k:ident,)*) => {
        // No `do_not_recommend`: the element that is not a route must be named.
        impl<$($a, $k,)*> Router<Rest<nest!($($k)* ; ())>> for nest!($($a)* ; ())
        where
            $($a: RouteNode<$k>,)*
        {
            #[allow(unused_variables)]
            fn walk(walk: &mut Walk<'_>) {
                $($a::walk(walk);)*
            }
        }
    };
}
for_each_rest!(router_rest);

macro_rules! router_chunk {
    ($($a:ident $k:ident,)*) => {
        // No `do_not_recommend`: the element that is not a route must be named.
        impl<$($a, $k,)* T, P> Router<Chunk<nest!($($k)* ; ()), P>> for nest!($($a)* ; T)
        where
            $($a: RouteNode<$k>,)*
            T: Router<P>,
        {
            fn walk(walk: &mut Walk<'_>) {
                $($a::walk(walk);)*
                T::walk(walk);
            }
        }
    };
}
with_chunk!(router_chunk);

macro_rules! router_flat {
    ($($a:ident $k:ident,)*) => {
        // No `do_not_recommend`: the element that is not a route must be named.
        impl<$($a, $k,)*> Router<Flat<($($k,)*)>> for ($($a,)*)
        where
            $($a: RouteNode<$k>,)*
        {
            fn walk(walk: &mut Walk<'_>) {
                $($a::walk(walk);)*
            }
        }
    };
}
for_each_flat!(router_flat);
router_flat!(A0 K0, A1 K1,);

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
impl<X: Incoming> RouteNode<AsIncoming> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, marker_name!(X), Direction::Incoming);
    }
}

#[diagnostic::do_not_recommend]
impl<X: Outgoing> RouteNode<AsOutgoing> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, marker_name!(X), Direction::Outgoing);
    }
}

#[diagnostic::do_not_recommend]
impl<X: Request> RouteNode<AsRequest> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, marker_name!(X), Direction::Request);
    }
}

#[diagnostic::do_not_recommend]
impl<X: ClientRequest> RouteNode<AsClientRequest> for X {
    fn walk(walk: &mut Walk<'_>) {
        push_route::<X>(walk, marker_name!(X), Direction::ClientRequest);
    }
}

#[diagnostic::do_not_recommend]
impl<N: Namespace, S: Router<P>, P> RouteNode<AsScope<P>> for Scope<N, S> {
    fn walk(walk: &mut Walk<'_>) {
        check_name::<N>(walk, N::NAME);
        let len = walk.prefix.len();
        walk.prefix.push_str(N::NAME);
        walk.prefix.push('.');
        S::walk(walk);
        walk.prefix.truncate(len);
    }
}
