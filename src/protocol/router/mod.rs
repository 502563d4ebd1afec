//! Routers: nested HList tuples of routes, and the type machinery that checks
//! them. The public catalogue is `zocket::router`; its guide is
//! `src/docs/router.md`.

/// `nest!(A B C ; T)` is the list type `(A, (B, (C, T)))`.
macro_rules! nest {
    (; $tail:ty) => { $tail };
    ($head:ident $($rest:ident)* ; $tail:ty) => { ($head, nest!($($rest)* ; $tail)) };
}

/// Calls `$cb!(AtK; A0 .. A(K-1))` for K = 0 … 15: one impl per offset inside a chunk.
macro_rules! for_each_offset {
    ($cb:ident) => {
        for_each_offset!(@go $cb []
            [At0 At1 At2 At3 At4 At5 At6 At7 At8 At9 At10 At11 At12 At13 At14 At15]
            [A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14]);
    };
    (@go $cb:ident [$($done:ident)*] [$at:ident] []) => {
        $cb!($at; $($done)*);
    };
    (@go $cb:ident [$($done:ident)*] [$at:ident $($ats:ident)*] [$next:ident $($nexts:ident)*]) => {
        $cb!($at; $($done)*);
        for_each_offset!(@go $cb [$($done)* $next] [$($ats)*] [$($nexts)*]);
    };
}

/// Calls `$cb!(A0 K0, .. A(K-1) K(K-1))` for K = 0 … 15: one impl per length of
/// the last, partial chunk (elements and their kinds).
macro_rules! for_each_rest {
    ($cb:ident) => {
        for_each_rest!(@go $cb []
            [A0 K0, A1 K1, A2 K2, A3 K3, A4 K4, A5 K5, A6 K6, A7 K7,
             A8 K8, A9 K9, A10 K10, A11 K11, A12 K12, A13 K13, A14 K14,]);
    };
    (@go $cb:ident [$($a:ident $k:ident,)*] []) => {
        $cb!($($a $k,)*);
    };
    (@go $cb:ident [$($a:ident $k:ident,)*] [$na:ident $nk:ident, $($rest:tt)*]) => {
        $cb!($($a $k,)*);
        for_each_rest!(@go $cb [$($a $k,)* $na $nk,] [$($rest)*]);
    };
}

/// The sixteen elements and kinds of a whole chunk, for `$cb!(A0 K0, .. A15 K15,)`.
macro_rules! with_chunk {
    ($cb:ident) => {
        $cb!(A0 K0, A1 K1, A2 K2, A3 K3, A4 K4, A5 K5, A6 K6, A7 K7,
             A8 K8, A9 K9, A10 K10, A11 K11, A12 K12, A13 K13, A14 K14, A15 K15,);
    };
}

mod contains; // Contains: a route occurs in a router; its wire-name prefix
#[cfg(feature = "schema")]
pub(crate) mod describe; // Describe: the walk that also collects payload schemas
mod handled; // MarkHandled, EveryRouteHandled: the builder's handler state
pub(crate) mod index; // At0..At15/Skip/Inside, Chunk/Rest, AsIncoming..AsScope, Handled: inference picks them
mod table; // routes() and the checked RouteTable
mod walk; // Router, RouteNode: a well-formed router, walked for its routes

pub use contains::Contains;
pub(crate) use contains::{marked_wire_name, scope_prefix, scoped_wire_name, wire_name};
pub use handled::{
    EveryRequestAnswered, EveryRouteHandled, HasAnswer, HasHandler, MarkAnswered, MarkHandled,
    MarkScope, MarkScoped, NotYetHandled, Untouched,
};
pub(crate) use table::RouteTable;
pub use table::routes;
pub use walk::{Direction, RouteInfo, RouteNode, Router};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::BuildError;
    use crate::protocol::route::{Incoming, Namespace, Outgoing, Scope};

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
