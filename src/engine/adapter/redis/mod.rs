//! The Redis adapter (feature `redis`): room sends, broadcasts and sends to
//! client ids reach the clients of every server process sharing a Redis.

use std::sync::atomic::Ordering;

use super::relay::{Channel, route};
use super::remote::Remote;
use super::{Adapter, Inbox, NodeCount, RoomReady};

mod cluster; // Redis Cluster: sharded pub/sub over the cluster client
mod shared; // channel names, room commands, link health, retry pace
mod single; // one redis-server: plain pub/sub on a subscriber connection

use shared::{Parts, RoomCmd};

/// Carries deliveries between server processes over Redis pub/sub.
///
/// Each delivery is serialized once (in a compact binary form) and published
/// on the channel of its recipients, so a node receives only deliveries with
/// a recipient on it:
///
/// | delivery | channel | who listens |
/// |---|---|---|
/// | to one room | `<prefix>:room:<room>` | nodes with a member in the room, from its first member's join to its last one's leave |
/// | to client ids | `<prefix>:node:<node>` (one per node among the ids) | the node that issued the ids |
/// | broadcast, several rooms at once, zocket's own messages | `<prefix>:deliveries` | every node |
///
/// A member who opens a room on its node (the node did not listen to it
/// yet) gets nothing more until the node's subscription is confirmed (its
/// messages wait in its queue), so whatever it receives after joining, the
/// room's later traffic from other nodes reaches it too. The node id, part
/// of every client id, comes from `INCR <prefix>:nodes`, so ids are unique
/// across nodes.
///
/// Order: one redis-server writes to a subscriber in publish order, so the
/// deliveries one node makes arrive at every other node in the order they
/// were made, whatever their channels. With Redis Cluster
/// ([`connect_cluster`](RedisAdapter::connect_cluster)) that holds per
/// channel (per room, per node, for broadcasts).
///
/// If Redis goes away, local delivery keeps working; the adapter logs, retries
/// with backoff, and resumes. Deliveries made while it is disconnected are
/// published once it reconnects (up to 10,000 queued; beyond that, dropped and
/// logged). Redis pub/sub itself is at-most-once: a node that is not
/// subscribed when a delivery is published misses it. [`RedisAdapter::connect`]
/// subscribes before it returns, so a node receives every delivery published
/// from then on; those that arrive before it serves wait (up to 10,000) until
/// it does.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # type AppRouter = ();
/// use zocket::{RedisAdapter, Zocket};
///
/// let adapter = RedisAdapter::connect("redis://127.0.0.1/", "chat").await?;
/// let app = Zocket::<AppRouter>::builder().adapter(adapter).build()?;
/// app.serve("0.0.0.0:3000").await?;
/// # Ok(()) }
/// ```
pub struct RedisAdapter {
    mode: Mode,
    parts: Parts,
}

/// One redis-server, or a Redis Cluster.
enum Mode {
    Single(redis::Client),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("node", &self.parts.node)
            .field("prefix", &self.parts.channels.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisAdapter {
    /// Connects to Redis at `url`, takes a node id and subscribes to the
    /// cluster's channel. Nodes that share a `prefix` (e.g. the app's name)
    /// form one cluster.
    ///
    /// When this returns, the node is subscribed: whatever another node
    /// publishes from now on reaches this node's clients once it serves.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached to take the node id or to subscribe.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let (client, parts) = single::connect(url, prefix).await?;
        Ok(RedisAdapter {
            mode: Mode::Single(client),
            parts,
        })
    }

    /// Connects to a Redis Cluster (7.0 or later) through any of `nodes`
    /// (e.g. `["redis://10.0.0.1:6379/"]`), takes a node id and subscribes,
    /// with sharded pub/sub: each room's channel lives on the shard that
    /// owns its slot, so room traffic is spread over the Redis cluster's
    /// shards. Nodes that share a `prefix` form one cluster.
    ///
    /// Order across channels (a room send, then a broadcast) is kept only
    /// when both channels live on the same shard; per channel it always is.
    ///
    /// # Errors
    ///
    /// When the cluster cannot be reached to take the node id or to subscribe.
    pub async fn connect_cluster(nodes: &[&str], prefix: &str) -> Result<Self, redis::RedisError> {
        let (conn, parts) = cluster::connect(nodes, prefix).await?;
        Ok(RedisAdapter {
            mode: Mode::Cluster(conn),
            parts,
        })
    }

    /// `false`: publish every delivery on the cluster channel, where every
    /// node receives it, and subscribe to no room channel, as zocket's Redis
    /// adapter did before it routed per room. For a rolling upgrade from
    /// such nodes (they listen to the cluster channel only: keep every node
    /// on `false` until all run this version), and to measure what per-room
    /// routing saves. Default `true`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), redis::RedisError> {
    /// let adapter = zocket::RedisAdapter::connect("redis://127.0.0.1/", "chat")
    ///     .await?
    ///     .route_per_room(false);
    /// # Ok(()) }
    /// ```
    pub fn route_per_room(mut self, on: bool) -> Self {
        self.parts.per_room = on;
        self
    }

    /// Writes and reads inter-node packets of `version` instead of this
    /// release's: for tests of clusters where nodes run different zocket
    /// releases (`tests/redis_multi_node.rs`). Not part of the API.
    #[doc(hidden)]
    pub fn packet_version(self, version: u8) -> Self {
        self.parts.relay.set_version(version);
        self
    }
}

impl Adapter for RedisAdapter {
    fn node(&self) -> u32 {
        self.parts.node
    }

    fn publish(&self, remote: Remote) {
        if !self.parts.per_room {
            let all = self.parts.channels.all.clone();
            return self.parts.relay.queue(all, &remote);
        }
        route(&remote, |channel, part| {
            let name = match channel {
                Channel::All => self.parts.channels.all.clone(),
                Channel::Node(node) => self.parts.channels.node(node),
                Channel::Room(room) => self.parts.channels.room(room),
            };
            self.parts.relay.queue(name, part);
        });
    }

    fn open_room(&self, room: &str) -> RoomReady {
        if !self.parts.per_room {
            return RoomReady::now(); // everything arrives on the cluster channel
        }
        let (ready, signal) = RoomReady::pending();
        // If the subscriber task is gone, the signal drops here: ready.
        let _ = self
            .parts
            .rooms
            .send(RoomCmd::Open(room.to_owned(), signal));
        ready
    }

    fn close_room(&self, room: &str) {
        if !self.parts.per_room {
            return;
        }
        let _ = self.parts.rooms.send(RoomCmd::Close(room.to_owned()));
    }

    fn node_count(&self) -> NodeCount<'_> {
        Box::pin(async move {
            match &self.mode {
                // Every node listens to the cluster channel: Redis counts them.
                Mode::Single(client) => {
                    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                    let (_, n): (String, usize) = redis::cmd("PUBSUB")
                        .arg("NUMSUB")
                        .arg(&self.parts.channels.all)
                        .query_async(&mut conn)
                        .await
                        .ok()?;
                    Some(n)
                }
                Mode::Cluster(conn) => {
                    cluster::node_count(conn.clone(), &self.parts.channels).await
                }
            }
        })
    }

    fn start(&self, inbox: Inbox) {
        self.parts.relay.start(inbox, |outgoing| match &self.mode {
            Mode::Single(client) => {
                tokio::spawn(single::publisher(
                    client.clone(),
                    outgoing,
                    self.parts.link.clone(),
                ));
            }
            Mode::Cluster(conn) => {
                tokio::spawn(cluster::publisher(
                    conn.clone(),
                    outgoing,
                    self.parts.link.clone(),
                ));
            }
        });
    }

    fn connected(&self) -> bool {
        self.parts.link.subscribed.load(Ordering::SeqCst)
            && !self.parts.link.publish_failing.load(Ordering::SeqCst)
    }
}
