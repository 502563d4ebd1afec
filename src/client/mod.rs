//! A typed Rust client that reconnects by itself.
//!
//! [`Client<R>`] is typed by the same router as the server: it sends only `R`'s
//! incoming routes and listens only on its outgoing ones, each with its own
//! payload type. It reconnects with exponential backoff and jitter, buffers
//! sends while disconnected (bounded), keeps its subscriptions across
//! reconnects, and lets an `on_reconnect` hook restore server-side state such
//! as rooms.
//!
//! It depends on floor 1 (protocol and types) only.

mod builder; // ClientBuilder and Client::connect
mod error; // RequestError, ConnectError, PayloadError
mod handle; // Client: the typed handle users hold
mod policy; // Reconnect, BufferPolicy
mod shared; // ConnState; what the handles and the task share
mod subscription; // Subscription, RouteStream
mod task; // the connection task: connect, serve, reconnect

pub use builder::ClientBuilder;
pub use error::{ConnectError, PayloadError, Refusal, RequestError};
pub use handle::Client;
pub use policy::{BufferPolicy, Reconnect, transient_refusal};
pub use shared::ConnState;
pub use subscription::{RouteStream, Subscription};
