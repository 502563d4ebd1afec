//! What both Redis modes share: the cluster's channel names, the rooms to
//! follow, the health of the links, and the retry pace.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::engine::adapter::RoomReadySignal;
use crate::engine::adapter::relay::Relay;

/// How long a (re)subscription may take before the members waiting for it
/// are let go (they may then miss the room's first deliveries).
pub(super) const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before retry number `failures` (100 ms doubling, at most 5 s).
pub(super) fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}

/// Whether each of the adapter's two Redis connections is up.
#[derive(Default)]
pub(super) struct Link {
    pub(super) subscribed: AtomicBool,
    pub(super) publish_failing: AtomicBool,
}

impl Link {
    pub(super) fn up() -> Arc<Link> {
        let link = Arc::new(Link::default());
        link.subscribed.store(true, Ordering::SeqCst);
        link
    }
}

/// The channels of one cluster (nodes sharing a prefix).
#[derive(Debug, Clone)]
pub(super) struct Channels {
    pub(super) prefix: String,
    /// Broadcasts, sends to several rooms at once, and zocket's own
    /// messages (session hand-overs, presence): every node subscribes.
    pub(super) all: String,
}

impl Channels {
    pub(super) fn new(prefix: &str) -> Self {
        Channels {
            prefix: prefix.to_owned(),
            all: format!("{prefix}:deliveries"),
        }
    }
    /// Sends to the client ids a node issued.
    pub(super) fn node(&self, node: u32) -> String {
        format!("{}:node:{node}", self.prefix)
    }
    /// Sends to one room: the nodes with a member in it subscribe.
    pub(super) fn room(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }
}

/// A change to the rooms this node listens to.
pub(super) enum RoomCmd {
    Open(String, RoomReadySignal),
    Close(String),
}

/// What a connected adapter is made of, whichever the mode.
pub(super) struct Parts {
    pub(super) node: u32,
    pub(super) channels: Channels,
    pub(super) relay: Relay,
    /// Rooms to subscribe to and unsubscribe from, in order.
    pub(super) rooms: mpsc::UnboundedSender<RoomCmd>,
    pub(super) link: Arc<Link>,
    /// Deliveries go to the channel of their recipients (`true`, the
    /// default), or all to the cluster channel.
    pub(super) per_room: bool,
}

/// Takes this node's id from the cluster's counter (`INCR <prefix>:nodes`),
/// so ids are unique across nodes. Node 0 means "no adapter"; INCR starts at 1.
pub(super) async fn take_node_id(
    conn: &mut impl redis::aio::ConnectionLike,
    prefix: &str,
) -> Result<u32, redis::RedisError> {
    let node: u64 = redis::cmd("INCR")
        .arg(format!("{prefix}:nodes"))
        .query_async(conn)
        .await?;
    Ok((node as u32).max(1))
}
