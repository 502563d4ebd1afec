#![doc = include_str!("docs/crate.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
mod app;
#[cfg(feature = "axum")]
mod axum;
mod client;
mod config;
mod connection;
mod context;
pub mod error;
#[cfg(any(fuzzing, test))]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod fuzzing;
mod handler;
mod metrics;
mod middleware;
#[cfg(feature = "redis")]
mod redis_adapter;
mod registry;
mod route;
pub mod router;
mod server;
mod wire;

pub mod docs {
    //! Guides that do not belong to one item.
    #![doc = include_str!("docs/debugging_type_errors.md")]
}

pub use app::{Builder, Headers, Zocket};
pub use client::{
    BufferPolicy, Client, ClientBuilder, ConnState, ConnectError, Reconnect, RequestError,
    RouteStream, Subscription,
};
pub use config::{Config, SlowConsumer};
pub use context::{Conn, Ctx, Delivery, ServerHandle, Stats};
pub use error::{BuildError, HandlerError, HandlerResult, Reject, SendError};
pub use handler::Handler;
pub use metrics::{Metrics, RouteOut};
pub use middleware::{Guarded, Middleware, MiddlewareExt, Stack};
#[cfg(feature = "redis")]
pub use redis_adapter::RedisAdapter;
pub use registry::ClientId;
pub use route::{ERROR_ROUTE, Incoming, Namespace, Outgoing, Payload, REPLY_ROUTE, Request, Scope};
pub use server::shutdown_signal;
pub use wire::{ErrorKind, ErrorPayload, Issue};

/// Re-exported so payload types can derive `Validate` without a direct dependency.
pub use garde;
