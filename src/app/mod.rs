//! Floor 3, the typed front: where the router type meets the engine.
//!
//! Everything generic over the router lives here; [`Builder::build`] checks it
//! all and erases each handler once into the engine's dispatch table.
//!
//! [`Builder::build`]: builder::Builder::build

pub(crate) mod ask; // Ask: a question to one client on a ClientRequest route
pub(crate) mod builder; // Zocket, Builder, Headers: the typestate that needs every handler
pub(crate) mod cluster; // Cluster: rooms and clients across every node of a cluster
pub(crate) mod connection; // Connection: a connection's handle for timers and tasks, ended with it
pub(crate) mod context; // Ctx: payload's companion in a handler
pub(crate) mod delivery; // Delivery: one serialized message, recipients chosen after
pub(crate) mod handle; // ServerHandle: the server from outside handlers
pub(crate) mod handler; // Handler, and its erasure into the dispatch table
pub(crate) mod headers; // Headers: the handshake data on_connect takes
pub(crate) mod middleware; // Middleware, Stack, Guarded: typed context transformers
pub(crate) mod presence; // Presence: who is in a room, keyed by user, with typed diffs
pub(crate) mod reauth; // Builder::on_reauth, Builder::expires: long-lived credentials
mod register; // Builder::on and Builder::on_request: the handler state's steps
pub(crate) mod scope; // Builder::scope: one guard for every handler of a scope
pub(crate) mod state; // Builder::state: the app's state, typed into every context
