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

/// Calls `$cb!(A0 K0, .. A(N-1) K(N-1),)` for N = 1 and 3 … 32: one impl per
/// length of a flat tuple (two elements are a pair, handled on its own:
/// `(A, B)` is also the shape of a nested list's cell).
macro_rules! for_each_flat {
    ($cb:ident) => {
        $cb!(A0 K0,);
        for_each_flat!(@go $cb [A0 K0, A1 K1, A2 K2,]
            [A3 K3, A4 K4, A5 K5, A6 K6, A7 K7, A8 K8, A9 K9, A10 K10, A11 K11, A12 K12, A13 K13, A14 K14, A15 K15, A16 K16, A17 K17, A18 K18, A19 K19, A20 K20, A21 K21, A22 K22, A23 K23, A24 K24, A25 K25, A26 K26, A27 K27, A28 K28, A29 K29, A30 K30, A31 K31,]);
    };
    (@go $cb:ident [$($a:ident $k:ident,)*] []) => {
        $cb!($($a $k,)*);
    };
    (@go $cb:ident [$($a:ident $k:ident,)*] [$na:ident $nk:ident, $($rest:tt)*]) => {
        $cb!($($a $k,)*);
        for_each_flat!(@go $cb [$($a $k,)* $na $nk,] [$($rest)*]);
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
mod flat; // flat tuples and pairs in the handler state
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

    struct AdminOnly;
    impl Incoming for AdminOnly {
        const NAME: &'static str = "only";
        type Payload = ();
    }

    /// The same routes as `App`, written flat (a pair inside the admin scope).
    type Flat = (
        Ping,
        Pong,
        Scope<ChatNs, (Scope<RoomNs, (Post, OnPost, Scope<AdminNs, (Deep, AdminOnly)>)>,)>,
    );

    #[test]
    fn flat_tuples_and_pairs_walk_like_nested_lists() {
        use Direction::*;
        assert_eq!(
            names::<Flat, _>(),
            vec![
                ("ping".to_owned(), Incoming),
                ("pong".to_owned(), Outgoing),
                ("chat.room.post".to_owned(), Incoming),
                ("chat.room.onPost".to_owned(), Outgoing),
                ("chat.room.admin.deep".to_owned(), Incoming),
                ("chat.room.admin.only".to_owned(), Incoming),
            ]
        );
        assert_eq!(wire_name::<Flat, Pong, _>(Pong::NAME), "pong");
        assert_eq!(
            wire_name::<Flat, OnPost, _>(OnPost::NAME),
            "chat.room.onPost"
        );
        assert_eq!(
            wire_name::<Flat, Deep, _>(Deep::NAME),
            "chat.room.admin.deep"
        );
        assert_eq!(
            wire_name::<Flat, AdminOnly, _>(AdminOnly::NAME),
            "chat.room.admin.only"
        );
        // A pair whose second element is a scope, and a flat level inside a nested list.
        type Mixed = (Ping, Scope<AdminNs, (Deep, (AdminOnly, ()))>);
        assert_eq!(
            wire_name::<Mixed, AdminOnly, _>(AdminOnly::NAME),
            "admin.only"
        );
        type Nested = (Ping, (Scope<AdminNs, (Deep, Post, AdminOnly)>, ()));
        assert_eq!(
            wire_name::<Nested, AdminOnly, _>(AdminOnly::NAME),
            "admin.only"
        );
        assert_eq!(names::<Nested, _>().len(), 4);
    }

    #[test]
    fn a_flat_level_holds_thirty_two() {
        macro_rules! routes {
            ($($r:ident = $n:literal),*) => {$(
                struct $r;
                impl Incoming for $r {
                    const NAME: &'static str = $n;
                    type Payload = ();
                }
            )*};
        }
        routes!(
            R0 = "r0",
            R1 = "r1",
            R2 = "r2",
            R3 = "r3",
            R4 = "r4",
            R5 = "r5",
            R6 = "r6",
            R7 = "r7",
            R8 = "r8",
            R9 = "r9",
            R10 = "r10",
            R11 = "r11",
            R12 = "r12",
            R13 = "r13",
            R14 = "r14",
            R15 = "r15",
            R16 = "r16",
            R17 = "r17",
            R18 = "r18",
            R19 = "r19",
            R20 = "r20",
            R21 = "r21",
            R22 = "r22",
            R23 = "r23",
            R24 = "r24",
            R25 = "r25",
            R26 = "r26",
            R27 = "r27",
            R28 = "r28",
            R29 = "r29",
            R30 = "r30",
            R31 = "r31"
        );
        type Big = (
            R0,
            R1,
            R2,
            R3,
            R4,
            R5,
            R6,
            R7,
            R8,
            R9,
            R10,
            R11,
            R12,
            R13,
            R14,
            R15,
            R16,
            R17,
            R18,
            R19,
            R20,
            R21,
            R22,
            R23,
            R24,
            R25,
            R26,
            R27,
            R28,
            R29,
            R30,
            R31,
        );
        let table = RouteTable::of::<Big, _>().unwrap();
        assert_eq!(table.routes.len(), 32);
        assert_eq!(table.routes[31].name, "r31");
        assert_eq!(wire_name::<Big, R31, _>(R31::NAME), "r31");
        assert_eq!(wire_name::<Big, R16, _>(R16::NAME), "r16");
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
