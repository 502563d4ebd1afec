//! The cluster adapter: the trait an adapter implements, what travels between
//! nodes, and the [`DeliverRemote`] trait the engine offers adapters. The
//! public catalogue is `zocket::adapter`; its guide is `src/docs/adapter.md`.

use std::sync::{Arc, Weak};

mod codec; // encode/decode: a compact binary form of `Remote` for byte transports
#[cfg(feature = "nats")]
pub(crate) mod nats; // NatsAdapter: NATS publish/subscribe between nodes
mod ready; // RoomReady: when a node receives a room's deliveries
#[cfg(feature = "redis")]
pub(crate) mod redis; // RedisAdapter: Redis pub/sub between nodes
#[cfg(any(feature = "redis", feature = "nats"))]
mod relay; // what the engine adapters share: channels per delivery, bounded queues
mod remote; // Remote, Target: what travels between nodes

pub(crate) use codec::VERSION as PACKET_VERSION;
pub use codec::{decode, encode};
pub use ready::{RoomReady, RoomReadySignal};
pub use remote::{Opaque, Packet, Remote, Target};

/// Carries deliveries between server processes.
///
/// `publish` is called on the hot path, inside `Delivery::to`/`to_room`/
/// `broadcast`, so it must not block or wait: queue the message for a
/// background task (the Redis adapter uses a bounded channel, and logs what it
/// has to drop while Redis is unreachable). `start` is called once, from
/// `serve`, inside the tokio runtime.
///
/// An adapter that only counts what would leave this node (a real one would
/// send [`encode`]d bytes over its transport in `publish`, and feed what it
/// receives, [`decode`]d, to the inbox it got in `start`):
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use zocket::adapter::{Adapter, Inbox, Remote, RoomReady};
///
/// #[derive(Default)]
/// struct Counting(AtomicUsize);
///
/// impl Adapter for Counting {
///     fn node(&self) -> u32 {
///         1
///     }
///     fn publish(&self, _remote: Remote) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
///     fn start(&self, _inbox: Inbox) {}
///     // Every delivery goes everywhere: nothing to subscribe to per room.
///     fn open_room(&self, _room: &str) -> RoomReady {
///         RoomReady::now()
///     }
///     fn close_room(&self, _room: &str) {}
/// }
///
/// # type AppRouter = ();
/// let app = zocket::Zocket::<AppRouter>::builder()
///     .adapter(Counting::default())
///     .build()
///     .unwrap();
/// ```
pub trait Adapter: Send + Sync + 'static {
    /// This node's id; every [`ClientId`](crate::ClientId) issued here carries it.
    fn node(&self) -> u32;
    /// Sends a packet of this node (a delivery, or one of zocket's own
    /// messages, see [`Packet`]) to the other nodes. Must not block.
    fn publish(&self, remote: Remote);
    /// Starts receiving packets from other nodes; hand each to `inbox`.
    fn start(&self, inbox: Inbox);
    /// Whether the adapter is connected to the other nodes right now: what
    /// the readiness check ([`Config::ready_check`](crate::Config::ready_check))
    /// reports. Adapters that cannot tell answer `true` (the default).
    fn connected(&self) -> bool {
        true
    }
    /// The first member of `room` on this node joined: from now on this
    /// node needs the room's deliveries from the other nodes. An adapter
    /// that routes per room subscribes to the room here and returns a
    /// [`RoomReady`] that becomes ready once it receives them; one that
    /// sends every node everything returns [`RoomReady::now`] (the default).
    ///
    /// Called in order with [`close_room`](Adapter::close_room) for the same
    /// room, under the lock of the room's shard of this node's room table: it
    /// must not block.
    ///
    /// No default: an adapter that wraps another must pass this on (a
    /// wrapper that answered "ready" itself would leave the inner adapter
    /// unsubscribed, and the room's traffic from other nodes lost).
    fn open_room(&self, room: &str) -> RoomReady;
    /// The last member of `room` on this node left: the node no longer
    /// needs the room's deliveries. Must not block.
    fn close_room(&self, room: &str);
    /// How many nodes, this one included, share the cluster now, if the
    /// adapter can tell (the default cannot: `None`). Cluster-wide questions
    /// ([`ServerHandle::cluster`](crate::ServerHandle::cluster)) wait for
    /// that many answers; without a count they wait for their whole timeout.
    fn node_count(&self) -> NodeCount<'_> {
        Box::pin(async { None })
    }
}

/// What [`Adapter::node_count`] returns: the number of nodes, once known.
pub type NodeCount<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<usize>> + Send + 'a>>;

/// What the engine offers an adapter: delivery of what other nodes sent to
/// this node's clients. The engine's hub implements it; the adapter sees
/// only this trait, never the hub.
pub(crate) trait DeliverRemote: Send + Sync {
    /// This node's id.
    fn node(&self) -> u32;
    /// Delivers to this node's clients among `remote.target`; returns how many got it.
    fn deliver_remote(&self, remote: Remote) -> usize;
    /// A packet of another version arrived (a node of another zocket
    /// release): count it and say so in the log; it is not read. (Only the
    /// byte adapters, Redis and NATS, read versions.)
    #[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
    fn other_version(&self, version: u8);
}

/// Where an adapter hands deliveries that arrive from other nodes.
#[derive(Clone)]
pub struct Inbox {
    engine: Weak<dyn DeliverRemote>,
}

impl Inbox {
    pub(crate) fn new(engine: Weak<dyn DeliverRemote>) -> Self {
        Inbox { engine }
    }

    /// Delivers `remote` to this node's clients; returns how many got it, or
    /// `None` once the app is gone (the adapter should stop). Deliveries that
    /// this node published itself are ignored.
    pub fn deliver(&self, remote: Remote) -> Option<usize> {
        let engine = self.engine.upgrade()?;
        if remote.origin == engine.node() {
            return Some(0);
        }
        Some(engine.deliver_remote(remote))
    }

    /// A packet of another version than this node's arrived: counted
    /// (`Metrics::remote_other_version`) and logged, never read; `None` once
    /// the app is gone.
    #[cfg_attr(not(any(feature = "redis", feature = "nats")), allow(dead_code))]
    pub(crate) fn other_version(&self, version: u8) -> Option<()> {
        self.engine.upgrade()?.other_version(version);
        Some(())
    }
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

/// How the hub holds its adapter.
pub(crate) type DynAdapter = Arc<dyn Adapter>;
