//! The Redis adapter (feature `redis`): room sends, broadcasts and sends to
//! client ids reach the clients of every server process sharing a Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use std::collections::HashSet;

use super::relay::{Channel, Received, Relay, route};
use super::remote::Remote;
use super::{Adapter, Inbox, NodeCount, RoomReady, RoomReadySignal};

/// Carries deliveries between server processes over Redis pub/sub.
///
/// Every node publishes the deliveries it makes (serialized once, in a compact
/// binary form) on one channel and subscribes to it; each node delivers what
/// others published to its own clients. The node id, part of every client id,
/// comes from `INCR <prefix>:nodes`, so ids are unique across nodes.
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
    node: u32,
    channels: Channels,
    client: redis::Client,
    relay: Relay,
    /// Rooms to subscribe to and unsubscribe from, in order, for the subscriber task.
    rooms: mpsc::UnboundedSender<RoomCmd>,
    /// The subscription is live, and publishing has not failed since the
    /// last (re)connection: what [`Adapter::connected`] reports.
    link: Arc<Link>,
}

/// Whether each of the adapter's two Redis connections is up.
#[derive(Default)]
struct Link {
    subscribed: AtomicBool,
    publish_failing: AtomicBool,
}

/// The channels of one cluster (nodes sharing a prefix).
#[derive(Debug, Clone)]
struct Channels {
    prefix: String,
    /// Broadcasts, sends to several rooms at once, and zocket's own
    /// messages (session hand-overs, presence): every node subscribes.
    all: String,
}

impl Channels {
    fn new(prefix: &str) -> Self {
        Channels {
            prefix: prefix.to_owned(),
            all: format!("{prefix}:deliveries"),
        }
    }
    /// Sends to the client ids a node issued.
    fn node(&self, node: u32) -> String {
        format!("{}:node:{node}", self.prefix)
    }
    /// Sends to one room: the nodes with a member in it subscribe.
    fn room(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }
}

/// A change to the rooms this node listens to.
enum RoomCmd {
    Open(String, RoomReadySignal),
    Close(String),
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("node", &self.node)
            .field("prefix", &self.channels.prefix)
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
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let node: u64 = redis::cmd("INCR")
            .arg(format!("{prefix}:nodes"))
            .query_async(&mut conn)
            .await?;
        // Node 0 means "no adapter"; INCR starts at 1.
        let node = (node as u32).max(1);
        let channels = Channels::new(prefix);
        let own = [channels.all.clone(), channels.node(node)];
        let pubsub = subscribe(&client, &own).await?;
        let (relay, received) = Relay::new(node, "redis");
        let link = Arc::new(Link::default());
        link.subscribed.store(true, Ordering::SeqCst);
        let (rooms, room_cmds) = mpsc::unbounded_channel();
        tokio::spawn(
            Subscriber {
                client: client.clone(),
                channels: channels.clone(),
                own,
                node,
                rooms: HashSet::new(),
                received,
                link: link.clone(),
            }
            .run(pubsub, room_cmds),
        );
        Ok(RedisAdapter {
            node,
            channels,
            client,
            relay,
            rooms,
            link,
        })
    }
}

impl Adapter for RedisAdapter {
    fn node(&self) -> u32 {
        self.node
    }

    fn publish(&self, remote: Remote) {
        route(&remote, |channel, part| {
            let name = match channel {
                Channel::All => self.channels.all.clone(),
                Channel::Node(node) => self.channels.node(node),
                Channel::Room(room) => self.channels.room(room),
            };
            self.relay.queue(name, part);
        });
    }

    fn open_room(&self, room: &str) -> RoomReady {
        let (ready, signal) = RoomReady::pending();
        // If the subscriber task is gone, the signal drops here: ready.
        let _ = self.rooms.send(RoomCmd::Open(room.to_owned(), signal));
        ready
    }

    fn close_room(&self, room: &str) {
        let _ = self.rooms.send(RoomCmd::Close(room.to_owned()));
    }

    fn node_count(&self) -> NodeCount<'_> {
        Box::pin(async move {
            // Every node listens to the cluster channel: Redis counts them.
            let mut conn = self.client.get_multiplexed_async_connection().await.ok()?;
            let (_, n): (String, usize) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&self.channels.all)
                .query_async(&mut conn)
                .await
                .ok()?;
            Some(n)
        })
    }

    fn start(&self, inbox: Inbox) {
        self.relay.start(inbox, |outgoing| {
            tokio::spawn(publisher(self.client.clone(), outgoing, self.link.clone()));
        });
    }

    fn connected(&self) -> bool {
        self.link.subscribed.load(Ordering::SeqCst)
            && !self.link.publish_failing.load(Ordering::SeqCst)
    }
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis((100u64 << failures.min(6)).min(5_000))
}

async fn publisher(
    client: redis::Client,
    mut rx: mpsc::Receiver<(String, Vec<u8>)>,
    link: Arc<Link>,
) {
    let mut failures = 0u32;
    let mut pending: Option<(String, Vec<u8>)> = None;
    loop {
        let mut conn = until_ok(&mut failures, "connect to publish", || {
            client.get_multiplexed_async_connection()
        })
        .await;
        link.publish_failing.store(false, Ordering::SeqCst);
        loop {
            let (channel, bytes) = match pending.take() {
                Some(b) => b,
                None => match rx.recv().await {
                    Some(b) => b,
                    None => return, // the adapter is gone
                },
            };
            let sent: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&bytes)
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "redis adapter: publish failed; reconnecting");
                link.publish_failing.store(true, Ordering::SeqCst);
                pending = Some((channel, bytes));
                failures += 1;
                tokio::time::sleep(backoff(failures)).await;
                break; // reconnect
            }
        }
    }
}

/// How long a (re)subscription may take before the members waiting for it
/// are let go (they may then miss the room's first deliveries).
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Receives what other nodes publish and queues it for delivery; follows
/// the node's rooms (subscribing to a room when its first member here joins,
/// unsubscribing when its last one leaves); subscribes again, to its own
/// channels and every room, whenever the subscription is lost. Stops when
/// the queue's receiver is gone (the adapter was dropped unused, or the app
/// stopped).
struct Subscriber {
    client: redis::Client,
    channels: Channels,
    /// The broadcast channel and this node's own.
    own: [String; 2],
    node: u32,
    /// The rooms with a member on this node.
    rooms: HashSet<String>,
    received: Received,
    link: Arc<Link>,
}

impl Subscriber {
    async fn run(mut self, first: redis::aio::PubSub, mut cmds: mpsc::UnboundedReceiver<RoomCmd>) {
        use futures_util::StreamExt;
        let mut failures = 0u32;
        let mut ready = Some(first);
        loop {
            let pubsub = match ready.take() {
                Some(p) => p,
                None => {
                    let mut all: Vec<String> = self.own.to_vec();
                    all.extend(self.rooms.iter().map(|r| self.channels.room(r)));
                    tokio::select! {
                        _ = self.received.closed() => return,
                        p = until_ok(&mut failures, "subscribe", || subscribe(&self.client, &all)) => p,
                    }
                }
            };
            self.link.subscribed.store(true, Ordering::SeqCst);
            let (mut sink, mut messages) = pubsub.split();
            loop {
                let msg = tokio::select! {
                    _ = self.received.closed() => return,
                    cmd = cmds.recv() => {
                        let Some(cmd) = cmd else { return }; // the adapter is gone
                        if self.follow(&mut sink, cmd, &mut cmds).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    m = messages.next() => m,
                };
                let Some(msg) = msg else { break };
                if !self.received.accept(msg.get_payload_bytes()) {
                    return;
                }
            }
            self.link.subscribed.store(false, Ordering::SeqCst);
            tracing::warn!(
                node = self.node,
                "redis adapter: subscription lost; resubscribing"
            );
            failures += 1;
            tokio::time::sleep(backoff(failures)).await;
        }
    }

    /// Applies `first` and whatever room changes are queued behind it, in
    /// order, a run of subscriptions (or unsubscriptions) in one command.
    /// The members waiting for a room are let go once its subscription is
    /// confirmed, or when it fails (then `Err`: the connection is renewed,
    /// and every room subscribed again).
    async fn follow(
        &mut self,
        sink: &mut redis::aio::PubSubSink,
        first: RoomCmd,
        cmds: &mut mpsc::UnboundedReceiver<RoomCmd>,
    ) -> Result<(), ()> {
        let mut batch = vec![first];
        while batch.len() < 1024
            && let Ok(cmd) = cmds.try_recv()
        {
            batch.push(cmd);
        }
        let mut batch = batch.into_iter().peekable();
        while let Some(cmd) = batch.next() {
            let open = matches!(cmd, RoomCmd::Open(..));
            let mut run = vec![cmd];
            while let Some(next) = batch.next_if(|c| matches!(c, RoomCmd::Open(..)) == open) {
                run.push(next);
            }
            let mut names = Vec::with_capacity(run.len());
            let mut signals = Vec::new();
            for cmd in run {
                match cmd {
                    RoomCmd::Open(room, signal) => {
                        names.push(self.channels.room(&room));
                        self.rooms.insert(room);
                        signals.push(signal);
                    }
                    RoomCmd::Close(room) => {
                        names.push(self.channels.room(&room));
                        self.rooms.remove(&room);
                    }
                }
            }
            let done = if open {
                tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.subscribe(&names)).await
            } else {
                tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.unsubscribe(&names)).await
            };
            // Confirmed, or failed: either way the waiting members go on.
            drop(signals);
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(node = self.node, error = %e, "redis adapter: cannot follow the node's rooms; reconnecting");
                    return Err(());
                }
                Err(_) => {
                    tracing::warn!(
                        node = self.node,
                        "redis adapter: Redis did not confirm a (un)subscription in time; reconnecting"
                    );
                    return Err(());
                }
            }
        }
        Ok(())
    }
}

/// Runs `attempt` until it succeeds, logging each failure and waiting longer
/// after each (`failures` counts them across calls; a success resets it).
async fn until_ok<T, F, Fut>(failures: &mut u32, what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, redis::RedisError>>,
{
    loop {
        match attempt().await {
            Ok(value) => {
                if *failures > 0 {
                    tracing::info!(
                        failures = *failures,
                        "redis adapter: {what}: succeeded again"
                    );
                }
                *failures = 0;
                return value;
            }
            Err(e) => {
                *failures += 1;
                tracing::warn!(error = %e, failures = *failures, "redis adapter: cannot {what}; retrying");
                tokio::time::sleep(backoff(*failures)).await;
            }
        }
    }
}

async fn subscribe(
    client: &redis::Client,
    channels: &[String],
) -> Result<redis::aio::PubSub, redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channels).await?;
    Ok(pubsub)
}
