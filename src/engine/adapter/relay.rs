//! What the engine adapters (Redis, NATS) share: which channel a delivery
//! travels on, the bounded queues between the hub and the engine's tasks,
//! and their logging when full.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::Inbox;
use super::codec::{Undecodable, VERSION, decode_version, encode_version};
use super::remote::{Packet, Remote, Target};
use crate::util::lock_unpoisoned;

/// Deliveries waiting to be published; beyond this (the engine unreachable
/// for a while), new ones are dropped and logged.
const PUBLISH_QUEUE: usize = 10_000;

/// Deliveries received from other nodes and not yet handed to this node's
/// clients (before `serve` starts, or while delivery lags); beyond this, new
/// ones are dropped and logged.
const RECEIVE_QUEUE: usize = 10_000;

/// Where one delivery travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel<'a> {
    /// Every node listens: broadcasts, sends to several rooms at once, and
    /// zocket's own messages for every node.
    All,
    /// The node that issued the ids listens.
    Node(u32),
    /// The nodes with a member in the room listen.
    Room(&'a str),
}

/// Calls `each` with every channel `remote` travels on and the part of it
/// for that channel: sends to client ids split by the node that issued
/// them; a send to one room goes to the room's channel; a cluster message
/// for one node to the node's; everything else to every node (a send to
/// several rooms too, so that a client in two of them gets one copy).
pub(super) fn route(remote: &Remote, mut each: impl FnMut(Channel<'_>, &Remote)) {
    match &remote.packet {
        Packet::Delivery {
            target: Target::Clients(ids),
            except,
            text,
        } => {
            let mut nodes: Vec<u32> = ids.iter().map(|id| id.node()).collect();
            nodes.sort_unstable();
            nodes.dedup();
            if let [node] = nodes[..] {
                return each(Channel::Node(node), remote);
            }
            for node in nodes {
                let ids = ids.iter().copied().filter(|id| id.node() == node);
                let part = Remote::delivery(
                    remote.origin,
                    Target::Clients(ids.collect()),
                    except.clone(),
                    text.clone(),
                );
                each(Channel::Node(node), &part);
            }
        }
        Packet::Delivery {
            target: Target::Rooms(rooms),
            ..
        } if rooms.len() == 1 => each(Channel::Room(&rooms[0]), remote),
        Packet::Cluster {
            node: Some(node), ..
        } => each(Channel::Node(*node), remote),
        _ => each(Channel::All, remote),
    }
}

/// The adapter's side of its queues: deliveries to publish (with the
/// engine's name for their channel), and, until `start`, the receiving end
/// of what other nodes sent.
pub(super) struct Relay {
    node: u32,
    engine: &'static str,
    /// The packet version written and read (`VERSION`; another only in
    /// tests of mixed-version clusters), shared with [`Received`].
    version: Arc<AtomicU8>,
    tx: mpsc::Sender<(String, Vec<u8>)>,
    /// Deliveries `queue` had to drop because the queue was full.
    dropped: AtomicU64,
    parked: Mutex<Option<Parked>>,
}

struct Parked {
    outgoing: mpsc::Receiver<(String, Vec<u8>)>,
    incoming: mpsc::Receiver<Arrived>,
}

/// What the subscriber hands the delivering task.
pub(super) enum Arrived {
    /// A delivery to make.
    Remote(Remote),
    /// A packet of another version: counted and logged, not read.
    OtherVersion(u8),
}

impl Relay {
    /// The relay, and the receiving side for the engine's subscriber tasks.
    pub(super) fn new(node: u32, engine: &'static str) -> (Relay, Received) {
        let (tx, outgoing) = mpsc::channel(PUBLISH_QUEUE);
        let (in_tx, incoming) = mpsc::channel(RECEIVE_QUEUE);
        let version = Arc::new(AtomicU8::new(VERSION));
        let relay = Relay {
            node,
            engine,
            version: version.clone(),
            tx,
            dropped: AtomicU64::new(0),
            parked: Mutex::new(Some(Parked { outgoing, incoming })),
        };
        let received = Received {
            queue: in_tx,
            node,
            engine,
            version,
            dropped: 0,
        };
        (relay, received)
    }

    /// Writes and reads packet version `version` from now on (tests of
    /// mixed-version clusters only).
    pub(super) fn set_version(&self, version: u8) {
        self.version.store(version, Ordering::Relaxed);
    }

    /// Queues one delivery for publishing on `channel` (never waits).
    pub(super) fn queue(&self, channel: String, remote: &Remote) {
        let bytes = encode_version(remote, self.version.load(Ordering::Relaxed));
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send((channel, bytes)) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    node = self.node,
                    dropped,
                    "{} adapter: publish queue full (is the server down?); deliveries to other nodes dropped",
                    self.engine
                );
            }
        }
    }

    /// Starts delivering what other nodes sent to `inbox`, and hands the
    /// publish queue to `publisher` (once; later calls do nothing).
    pub(super) fn start(
        &self,
        inbox: Inbox,
        publisher: impl FnOnce(mpsc::Receiver<(String, Vec<u8>)>),
    ) {
        let Some(Parked {
            outgoing,
            mut incoming,
        }) = lock_unpoisoned(&self.parked).take()
        else {
            return;
        };
        publisher(outgoing);
        tokio::spawn(async move {
            while let Some(arrived) = incoming.recv().await {
                let alive = match arrived {
                    Arrived::Remote(remote) => inbox.deliver(remote).is_some(),
                    Arrived::OtherVersion(version) => inbox.other_version(version).is_some(),
                };
                if !alive {
                    return; // the app is gone; dropping `incoming` stops the subscribers
                }
            }
        });
    }
}

/// The engine's subscriber side: decodes what arrives and queues it for
/// delivery, dropping (and logging) when the queue is full.
#[derive(Clone)]
pub(super) struct Received {
    queue: mpsc::Sender<Arrived>,
    node: u32,
    engine: &'static str,
    version: Arc<AtomicU8>,
    dropped: u64,
}

impl Received {
    /// Takes one message's bytes; `false` once nobody will deliver any more
    /// (the app is gone: the subscriber should stop).
    pub(super) fn accept(&mut self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true; // a probe (Redis Cluster's count of nodes), not a delivery
        }
        let arrived = match decode_version(bytes, self.version.load(Ordering::Relaxed)) {
            Ok(remote) => Arrived::Remote(remote),
            Err(Undecodable::Version(v)) => Arrived::OtherVersion(v),
            Err(Undecodable::Malformed) => {
                tracing::warn!(
                    node = self.node,
                    "{} adapter: ignoring a malformed delivery",
                    self.engine
                );
                return true;
            }
        };
        match self.queue.try_send(arrived) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    tracing::warn!(
                        node = self.node,
                        dropped = self.dropped,
                        "{} adapter: receive queue full (is the node serving?); deliveries from other nodes dropped",
                        self.engine
                    );
                }
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Resolves once nobody will deliver any more (the app is gone).
    #[cfg(feature = "redis")]
    pub(super) async fn closed(&self) {
        self.queue.closed().await
    }
}
