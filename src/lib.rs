#![doc = include_str!("docs/crate.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The source is a house of four floors; each imports only the floors below it
// (tests/module_graph.rs checks this):
//
// 1. protocol/  routes, routers, the wire envelope, ClientId, errors (no tokio)
// 2. engine/    the hub (connections, rooms, delivery), outboxes, dispatch over
//               erased handlers, lifecycle, config, metrics, the cluster adapter
// 3. app/       the typed front: Zocket, Builder, Handler, middleware, Ctx, ServerHandle
// 4. server/    transport: accept loop, HTTP upgrade, the session loop, axum
//
// client/ stands beside them and uses floor 1 only. `util` is below them all.
// testing/ (the public test kit) sits on top: it serves apps over in-memory pipes.

mod app;
mod client;
mod engine;
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod fuzzing;
#[doc(hidden)]
pub mod hub_bench; // the hub without sockets, for benches/hub.rs (not part of the API)
mod protocol;
mod server;
pub mod testing;
mod util;

pub mod adapter {
    //! Scaling out: how room sends, broadcasts and sends to client ids reach
    //! the clients of other server processes.
    #![doc = include_str!("docs/adapter.md")]
    pub use crate::engine::adapter::{
        Adapter, Inbox, NodeCount, Opaque, Packet, Remote, RoomReady, RoomReadySignal, Target,
        decode, encode,
    };
}

pub mod error {
    //! Errors, one enum per concern.
    //!
    //! - [`BuildError`]: the app or client cannot be built from its router (fatal, at start-up).
    //! - [`SendError`]: a message could not be queued; it hands the payload back.
    //! - [`Reject`]: a middleware, handler or `on_connect` refuses; not a failure of the
    //!   server, the client is told why.
    //! - [`HandlerError`]: what a handler returns when it fails; logged, and the client
    //!   gets a generic error message (internal details never leave the server).
    //! - [`ConnectError`], [`RequestError`], [`PayloadError`]: the client's.
    //!
    //! A normal close is not an error: it is the `on_disconnect` event.
    pub use crate::app::cluster::ClusterError;
    pub use crate::client::{ConnectError, PayloadError, RequestError};
    pub use crate::protocol::error::{
        AskError, BuildError, HandlerError, HandlerResult, Reject, SendError,
    };
}

pub mod router {
    //! Routers: flat tuples or nested HList tuples of routes, and the traits that check them.
    #![doc = include_str!("docs/router.md")]
    pub use crate::protocol::router::{
        Contains, Direction, EveryRequestAnswered, EveryRouteHandled, HasAnswer, HasHandler,
        MarkAnswered, MarkHandled, MarkScope, MarkScoped, NotYetHandled, RouteInfo, RouteNode,
        Router, Untouched, routes,
    };
}

pub mod contract {
    //! The contract across the border: JSON Schema, TypeScript types and zod
    //! schemas generated from the router, and the fingerprint that lets a
    //! server detect clients built against another contract.
    #![doc = include_str!("docs/contract.md")]
    #[cfg(feature = "schema")]
    pub use crate::protocol::contract::document::Contract;
    #[cfg(feature = "schema")]
    pub use crate::protocol::contract::entry::RouteContract;
    pub use crate::protocol::contract::identity::{
        CONTRACT_PARAM, CONTRACT_ROUTES_PARAM, ContractCheck, ContractIdentity, DriftKind,
        RouteDrift,
    };
    #[cfg(feature = "schema")]
    pub use crate::protocol::router::describe::{Describe, DescribeNode};
}

pub mod presence {
    //! Who is in a room: entries keyed by a user key the app chooses, with
    //! typed metadata, and join/leave/update diffs on an outgoing route.
    #![doc = include_str!("docs/presence.md")]
    pub use crate::app::presence::{
        DEFAULT_NODE_TIMEOUT, Presence, PresenceDiff, PresenceError, PresenceEvent, PresenceMeta,
    };
}

pub mod docs {
    //! Guides that do not belong to one item.
    #![doc = include_str!("docs/debugging_type_errors.md")]

    pub mod from_typescript {
        //! Coming from TypeScript Zocket: each construct mapped, and upstream's
        //! five docs examples ported.
        #![doc = include_str!("docs/from_typescript.md")]
    }
}

// Floor 1: protocol and types.
pub use protocol::client_id::ClientId;
pub use protocol::error::{AskError, BuildError, HandlerError, HandlerResult, Reject, SendError};
pub use protocol::outcome::Outcome;
pub use protocol::route::{
    AUTH_ROUTE, ClientReceives, ClientRequest, ClientSends, Decode, ERROR_ROUTE, EXPIRING_ROUTE,
    Encode, Incoming, Namespace, OFFSET_PARAM, Outgoing, PING_ROUTE, PONG_ROUTE, Payload,
    REFUSAL_PARAM, REPLY_ROUTE, Request, SESSION_PARAM, Scope, ServerReceives, ServerSends,
    WELCOME_ROUTE,
};
pub use protocol::wire::{ErrorKind, ErrorPayload, Issue};
// Floor 2: the engine.
#[cfg(feature = "nats")]
pub use engine::adapter::nats::{NatsAdapter, NatsAdapterError};
#[cfg(feature = "redis")]
pub use engine::adapter::redis::RedisAdapter;
pub use engine::config::{Config, SlowConsumer};
pub use engine::conn::Conn;
pub use engine::metrics::{Metrics, RouteOut};
pub use engine::rate::RateLimit;
pub use engine::recovery::Recovery;
// Floor 3: the typed front.
pub use app::ask::Ask;
pub use app::builder::{Builder, Zocket};
pub use app::cluster::Cluster;
pub use app::connection::{Connection, TaskHandle, Timer};
pub use app::context::Ctx;
pub use app::delivery::{Delivery, ExceptIds};
pub use app::handle::ServerHandle;
pub use app::handler::{ConnectionData, Handler};
pub use app::headers::Headers;
pub use app::middleware::{Guarded, Middleware, MiddlewareExt, MiddlewareFn, Stack, middleware_fn};
pub use app::scope::ScopedBuilder;
// Floor 4: transport.
#[doc(hidden)]
pub use server::echo::serve_conformance_echo;
pub use server::listener::shutdown_signal;
// Beside them: the client.
pub use client::{
    BufferPolicy, Client, ClientBuilder, ConnState, ConnectError, Reconnect, Refusal, RequestError,
    RouteStream, Subscription, transient_refusal,
};

/// Re-exported so payload types can derive `Validate` without a direct dependency.
pub use garde;
/// Re-exported for the `schema` feature: payload types derive `JsonSchema`.
#[cfg(feature = "schema")]
pub use schemars;
