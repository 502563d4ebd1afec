//! The NATS adapter (feature `nats`): room sends, broadcasts and sends to
//! client ids reach the clients of every server process sharing a NATS
//! server (or cluster of NATS servers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::Client;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use super::relay::{Channel, Received, Relay, route};
use super::remote::Remote;
use super::{Adapter, Inbox, NodeCount, RoomReady, RoomReadySignal};
use crate::util::lock_unpoisoned;

mod subjects; // subject names, the prefix as a token, announcements, node ids

use subjects::{ALIVE, BYE, Subjects, hello, random_node, read_hello, subject_token};

/// How often a node tells the others it is alive.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// A node not heard from for this long no longer counts as a node.
const PEER_EXPIRY: Duration = Duration::from_secs(6);
/// How long a node waits, on connecting, for an answer to "is this node id
/// taken?" before it takes the id.
const CLAIM_WAIT: Duration = Duration::from_millis(500);

/// Why [`NatsAdapter::connect`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsAdapterError {
    /// The prefix is empty.
    #[error("the cluster prefix is empty: give the nodes of one cluster a shared name")]
    EmptyPrefix,
    /// The NATS server cannot be reached.
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    /// A subscription, or the choice of a node id, failed.
    #[error("NATS: {0}")]
    Nats(String),
}

/// Carries deliveries between server processes over NATS core
/// publish/subscribe.
///
/// Routing is per room, as with [`RedisAdapter`](crate::RedisAdapter): a
/// node subscribes to a room's subject while it has a member in the room, to
/// its own subject for sends to the client ids it issued, and to one subject
/// for broadcasts; it receives only deliveries with a recipient on it (plus
/// broadcasts). Node ids are chosen at random and checked with the other
/// nodes (no other node answers for it); nodes announce themselves every two
/// seconds, which is how [`ServerHandle::cluster`](crate::ServerHandle::cluster)
/// knows how many answers to wait for.
///
/// NATS core is at-most-once, like Redis pub/sub. The client reconnects by
/// itself, with its subscriptions; deliveries made while it is disconnected
/// are buffered by the client (within its limits) and the rest dropped.
///
/// Order: deliveries from one node to one room (and to one node's client
/// ids, and broadcasts) arrive in the order they were made. Between two
/// subjects (a room send, then a broadcast) NATS does not keep order.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # type AppRouter = ();
/// use zocket::{NatsAdapter, Zocket};
///
/// let adapter = NatsAdapter::connect("nats://127.0.0.1:4222", "chat").await?;
/// let app = Zocket::<AppRouter>::builder().adapter(adapter).build()?;
/// app.serve("0.0.0.0:3000").await?;
/// # Ok(()) }
/// ```
pub struct NatsAdapter {
    node: u32,
    client: Client,
    subjects: Subjects,
    relay: Relay,
    rooms: mpsc::UnboundedSender<RoomCmd>,
    peers: Arc<Peers>,
    /// The background tasks (subscribers, heartbeat): stopped on drop.
    tasks: Vec<AbortHandle>,
}

impl std::fmt::Debug for NatsAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsAdapter")
            .field("node", &self.node)
            .field("prefix", &self.subjects.prefix)
            .finish_non_exhaustive()
    }
}

/// A change to the rooms this node listens to.
enum RoomCmd {
    Open(String, RoomReadySignal),
    Close(String),
}

/// The other nodes, when each was last heard from; and how many of this
/// node's own announcements came back (a round trip through NATS: every
/// announcement published before has been read when one comes back).
struct Peers {
    seen: Mutex<HashMap<u32, Instant>>,
    heard: watch::Sender<u64>,
}

fn nats_error(what: &str, e: impl std::fmt::Display) -> NatsAdapterError {
    NatsAdapterError::Nats(format!("{what}: {e}"))
}

impl NatsAdapter {
    /// Connects to NATS at `url` (e.g. `nats://127.0.0.1:4222`), chooses a
    /// node id no other node of the cluster has, and subscribes. Nodes that
    /// share a `prefix` (any non-empty string) form one cluster.
    ///
    /// When this returns, the node is subscribed: whatever another node
    /// publishes from now on reaches this node's clients once it serves.
    ///
    /// # Errors
    ///
    /// An empty prefix, or when NATS cannot be reached or refuses a
    /// subscription.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, NatsAdapterError> {
        if prefix.is_empty() {
            return Err(NatsAdapterError::EmptyPrefix);
        }
        let client = async_nats::connect(url).await?;
        let subjects = Subjects {
            prefix: subject_token(prefix),
        };
        let node = claim_node(&client, &subjects).await?;
        let mut claim = client
            .subscribe(subjects.claim(node))
            .await
            .map_err(|e| nats_error("subscribe", e))?;
        let mut own = futures_util::stream::select(
            client
                .subscribe(subjects.all())
                .await
                .map_err(|e| nats_error("subscribe", e))?,
            client
                .subscribe(subjects.node(node))
                .await
                .map_err(|e| nats_error("subscribe", e))?,
        );
        let mut hellos = client
            .subscribe(subjects.hello())
            .await
            .map_err(|e| nats_error("subscribe", e))?;
        let inbox = client.new_inbox();
        let mut answers = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| nats_error("subscribe", e))?;
        client.flush().await.map_err(|e| nats_error("flush", e))?;
        // Deliveries to every node and to this one are heard from here on.
        server_has_read_so_far(&client).await;

        let (relay, received) = Relay::new(node, "nats");
        let peers = Arc::new(Peers {
            seen: Mutex::default(),
            heard: watch::channel(0u64).0,
        });
        let mut tasks = Vec::new();

        // Deliveries for every node and for this node's client ids.
        let mut rx = received.clone();
        tasks.push(
            tokio::spawn(async move {
                while let Some(msg) = own.next().await {
                    if !rx.accept(&msg.payload) {
                        return;
                    }
                }
            })
            .abort_handle(),
        );
        // Other nodes asking whether this node's id is taken: it is.
        let c = client.clone();
        tasks.push(
            tokio::spawn(async move {
                while let Some(msg) = claim.next().await {
                    if let Some(reply) = msg.reply {
                        let _ = c.publish(reply, hello(node, ALIVE).into()).await;
                    }
                }
            })
            .abort_handle(),
        );
        // Nodes announcing themselves (answered, when they ask, so a new
        // node learns of the others at once), and the answers to this
        // node's own announcement.
        let (c, p) = (client.clone(), peers.clone());
        tasks.push(
            tokio::spawn(async move {
                loop {
                    let msg = tokio::select! {
                        m = hellos.next() => m,
                        m = answers.next() => m,
                    };
                    let Some(msg) = msg else { return };
                    let Some((from, kind)) = read_hello(&msg.payload) else {
                        continue;
                    };
                    if from == node {
                        p.heard.send_modify(|n| *n += 1);
                        continue;
                    }
                    match kind {
                        BYE => {
                            lock_unpoisoned(&p.seen).remove(&from);
                        }
                        _ => {
                            lock_unpoisoned(&p.seen).insert(from, Instant::now());
                            if let Some(reply) = msg.reply {
                                let _ = c.publish(reply, hello(node, ALIVE).into()).await;
                            }
                        }
                    }
                }
            })
            .abort_handle(),
        );
        // The heartbeat.
        let (c, subject) = (client.clone(), subjects.hello());
        tasks.push(
            tokio::spawn(async move {
                let mut every = tokio::time::interval(HEARTBEAT);
                every.tick().await;
                loop {
                    every.tick().await;
                    let _ = c.publish(subject.clone(), hello(node, ALIVE).into()).await;
                }
            })
            .abort_handle(),
        );
        // The rooms this node listens to.
        let (rooms, cmds) = mpsc::unbounded_channel();
        tasks.push(
            tokio::spawn(follow_rooms(
                client.clone(),
                subjects.clone(),
                cmds,
                received,
            ))
            .abort_handle(),
        );
        client
            .publish_with_reply(subjects.hello(), inbox, hello(node, ALIVE).into())
            .await
            .map_err(|e| nats_error("publish", e))?;
        client.flush().await.map_err(|e| nats_error("flush", e))?;
        Ok(NatsAdapter {
            node,
            client,
            subjects,
            relay,
            rooms,
            peers,
            tasks,
        })
    }
}

/// Chooses a node id that no node of the cluster answers for.
async fn claim_node(client: &Client, subjects: &Subjects) -> Result<u32, NatsAdapterError> {
    use async_nats::RequestErrorKind;
    for _ in 0..16 {
        let node = random_node();
        let asked = tokio::time::timeout(
            CLAIM_WAIT,
            client.request(subjects.claim(node), Vec::new().into()),
        )
        .await;
        match asked {
            // Nobody listens for this id (or nobody answered in time): take it.
            Err(_) => return Ok(node),
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    RequestErrorKind::NoResponders | RequestErrorKind::TimedOut
                ) =>
            {
                return Ok(node);
            }
            Ok(Err(e)) => return Err(nats_error("choose a node id", e)),
            // Taken: try another.
            Ok(Ok(_)) => continue,
        }
    }
    Err(NatsAdapterError::Nats(
        "no free node id after 16 tries".to_owned(),
    ))
}

/// Returns once the NATS server has read everything this client sent
/// before the call (or after 5 s, or when the connection fails): a message
/// to a fresh inbox of this client's, sent after the rest, comes back.
async fn server_has_read_so_far(client: &Client) {
    let inbox = client.new_inbox();
    let Ok(mut probe) = client.subscribe(inbox.clone()).await else {
        return;
    };
    if client.publish(inbox, Default::default()).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(5), probe.next()).await;
    }
}

/// Follows the node's rooms: subscribes to a room's subject when its first
/// member here joins (the members wait until NATS has the subscription),
/// unsubscribes when its last one leaves.
async fn follow_rooms(
    client: Client,
    subjects: Subjects,
    mut cmds: mpsc::UnboundedReceiver<RoomCmd>,
    received: Received,
) {
    let mut rooms: HashMap<String, AbortHandle> = HashMap::new();
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            RoomCmd::Open(room, signal) => {
                let (client, subject, mut rx) =
                    (client.clone(), subjects.room(&room), received.clone());
                let task = tokio::spawn(async move {
                    let mut sub = match client.subscribe(subject).await {
                        Ok(sub) => sub,
                        Err(e) => {
                            tracing::warn!(error = %e, "nats adapter: cannot subscribe to a room");
                            return; // the signal drops: the members go on
                        }
                    };
                    // `flush` only writes the client's buffer out; NATS has
                    // the subscription once it has read what this
                    // connection sent after it (it reads one connection's
                    // operations in order): a message to a subject of our
                    // own, sent after, coming back.
                    server_has_read_so_far(&client).await;
                    signal.ready();
                    while let Some(msg) = sub.next().await {
                        if !rx.accept(&msg.payload) {
                            return;
                        }
                    }
                });
                if let Some(old) = rooms.insert(room, task.abort_handle()) {
                    old.abort();
                }
            }
            // Aborting the task drops its subscription: NATS unsubscribes.
            RoomCmd::Close(room) => {
                if let Some(task) = rooms.remove(&room) {
                    task.abort();
                }
            }
        }
    }
    for task in rooms.into_values() {
        task.abort();
    }
}

impl Adapter for NatsAdapter {
    fn node(&self) -> u32 {
        self.node
    }

    fn publish(&self, remote: Remote) {
        route(&remote, |channel, part| {
            let subject = match channel {
                Channel::All => self.subjects.all(),
                Channel::Node(node) => self.subjects.node(node),
                Channel::Room(room) => self.subjects.room(room),
            };
            self.relay.queue(subject, part);
        });
    }

    fn start(&self, inbox: Inbox) {
        self.relay.start(inbox, |mut outgoing| {
            let client = self.client.clone();
            tokio::spawn(async move {
                while let Some((subject, bytes)) = outgoing.recv().await {
                    if let Err(e) = client.publish(subject, bytes.into()).await {
                        tracing::warn!(error = %e, "nats adapter: publish failed; delivery dropped");
                    }
                }
            });
        });
    }

    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn open_room(&self, room: &str) -> RoomReady {
        let (ready, signal) = RoomReady::pending();
        // If the follower task is gone, the signal drops here: ready.
        let _ = self.rooms.send(RoomCmd::Open(room.to_owned(), signal));
        ready
    }

    fn close_room(&self, room: &str) {
        let _ = self.rooms.send(RoomCmd::Close(room.to_owned()));
    }

    fn node_count(&self) -> NodeCount<'_> {
        Box::pin(async move {
            // A round trip of this node's own announcement: announcements
            // other nodes made before it have been read when it comes back.
            let mut heard = self.peers.heard.subscribe();
            let before = *heard.borrow_and_update();
            self.client
                .publish(self.subjects.hello(), hello(self.node, ALIVE).into())
                .await
                .ok()?;
            tokio::time::timeout(Duration::from_secs(1), heard.wait_for(|n| *n > before))
                .await
                .ok()?
                .ok()?;
            let now = Instant::now();
            let mut seen = lock_unpoisoned(&self.peers.seen);
            seen.retain(|_, at| now.duration_since(*at) < PEER_EXPIRY);
            Some(seen.len() + 1)
        })
    }
}

impl Drop for NatsAdapter {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Tells the others at once (otherwise they forget this node after
        // PEER_EXPIRY).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, subject) = (self.client.clone(), self.subjects.hello());
            let bye = hello(self.node, BYE);
            runtime.spawn(async move {
                let _ = client.publish(subject, bye.into()).await;
                let _ = client.flush().await;
            });
        }
    }
}
