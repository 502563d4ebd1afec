//! Floor 2, the engine: everything a running app does that does not depend on
//! its router type.
//!
//! Built from floor 1 only; the typed front (floor 3) fills it with erased
//! handlers and the transport (floor 4) feeds it sockets.

pub(crate) mod adapter; // Adapter, Remote, Inbox: delivery between nodes (Redis behind it)
pub(crate) mod asks; // questions asked of clients (ClientRequest), waiting for answers
pub(crate) mod config; // Config, SlowConsumer: every limit and policy
pub(crate) mod conn; // Conn: one connection as handlers see it
pub(crate) mod dispatch; // erased handlers, the dispatch table, failures and their reports
pub(crate) mod hub; // Hub: connections, rooms, delivery
pub(crate) mod lifecycle; // running tasks and the shutdown flag
pub(crate) mod metrics; // Counters and the Metrics snapshot
pub(crate) mod outbox; // a connection's bounded outgoing queue
#[cfg(feature = "metrics")]
pub(crate) mod prometheus; // the Prometheus exposition (feature `metrics`)
pub(crate) mod rate; // RateLimit: per-client token buckets
pub(crate) mod recovery; // Recovery: offsets, the written-message history, session tokens
pub(crate) mod report; // failures told to the client, counted, logged within a budget
pub(crate) mod tasks; // a connection's tasks and timers, ended with it
