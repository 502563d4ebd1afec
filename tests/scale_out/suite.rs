//! The engine-independent test bodies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use zocket::ClientId;
use zocket::adapter::{Adapter, Inbox, Remote, RoomReady};
use zocket::error::ClusterError;

use crate::common::*;

/// How a test gets a cluster engine's adapter.
pub(crate) trait Engine {
    type Adapter: Adapter;
    /// A new node's adapter for the cluster `prefix`; `None`: the engine's
    /// server is not there (SKIPPED, outside CI).
    async fn adapter(prefix: &str) -> Option<Self::Adapter>;
    /// How many nodes the engine counts as listening to `room`, when it can tell.
    async fn listeners(prefix: &str, room: &str) -> Option<i64>;
    /// Whether deliveries from one node on different channels (a room send,
    /// then a broadcast) arrive in the order they were made.
    const ORDER_ACROSS_CHANNELS: bool;
}

fn prefix(what: &str) -> String {
    format!(
        "zocket-{what}-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    )
}

async fn nodes<E: Engine>(prefix: &str, n: usize) -> Option<Vec<Server>> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(start_node(config(), Some(E::adapter(prefix).await?)).await);
    }
    Some(nodes)
}

/// The next message must be the fence broadcast.
async fn fence(c: &mut Client, tag: &str) {
    let p = c.expect("onBroadcast").await;
    assert_eq!(p["text"], tag, "expected the fence {tag}, got {p}");
}

/// Waits until the engine counts `n` listeners of `room` (when it can
/// count). There is no event to await in this process: the engine's count
/// is polled, within the wait.
async fn until_listeners<E: Engine>(prefix: &str, room: &str, n: i64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match E::listeners(prefix, room).await {
            None => return,
            Some(got) if got == n => return,
            Some(got) => assert!(
                tokio::time::Instant::now() < deadline,
                "{got} nodes listen to room {room}, expected {n}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Per-room routing: a node listens to a room from its first member's join
/// to its last member's leave, and a node with no member in a room receives
/// none of the room's traffic (counted by its `remote_received` metric).
pub(crate) async fn room_traffic_reaches_only_nodes_with_members<E: Engine>() {
    let prefix = prefix("rooms");
    let Some(nodes) = nodes::<E>(&prefix, 3).await else {
        return;
    };
    let mut a = Client::connect(&nodes[0], "a").await;
    let mut b = Client::connect(&nodes[1], "b").await;
    let mut c = Client::connect(&nodes[2], "c").await;
    if let Some(n) = E::listeners(&prefix, "r").await {
        assert_eq!(n, 0);
    }
    for x in [&mut a, &mut b] {
        x.send("rooms.join", json!({"room": "r"})).await;
        x.barrier().await;
    }
    // What a member receives after its join comes after its node listens.
    if let Some(n) = E::listeners(&prefix, "r").await {
        assert_eq!(n, 2, "nodes 0 and 1 listen");
    }
    let received = |n: &Server| n.handle.metrics().remote_received;
    let unused = |n: &Server| n.handle.metrics().remote_unused;
    let before: Vec<(u64, u64)> = nodes.iter().map(|n| (received(n), unused(n))).collect();

    for i in 0..100 {
        a.send("rooms.say", json!({"room": "r", "text": format!("m{i}")}))
            .await;
    }
    for i in 0..100 {
        assert_eq!(a.expect("rooms.onSay").await["text"], format!("m{i}"));
    }
    a.send("broadcast", json!({"text": "fence 1"})).await;
    for x in [&mut a, &mut c] {
        fence(x, "fence 1").await;
    }
    // b: the room's 100 in order, and the fence (after them, with an engine
    // that keeps order across channels).
    let (mut said, mut fenced) = (0, false);
    while said < 100 || !fenced {
        let v = b.recv().await;
        match v["type"].as_str() {
            Some("rooms.onSay") => {
                assert_eq!(v["payload"]["text"], format!("m{said}"));
                said += 1;
            }
            Some("onBroadcast") if !fenced => {
                assert_eq!(v["payload"]["text"], "fence 1");
                assert!(
                    said == 100 || !E::ORDER_ACROSS_CHANNELS,
                    "the fence overtook room messages"
                );
                fenced = true;
            }
            _ => panic!("unexpected {v}"),
        }
    }
    let delta = |i: usize| {
        (
            received(&nodes[i]) - before[i].0,
            unused(&nodes[i]) - before[i].1,
        )
    };
    assert_eq!(delta(1), (101, 0), "node 1: the room's 100 and the fence");
    assert_eq!(delta(2), (1, 0), "node 2 has no member: only the fence");

    // b leaves: node 1 stops listening.
    b.send("rooms.leave", json!({"room": "r"})).await;
    b.barrier().await;
    until_listeners::<E>(&prefix, "r", 1).await;
    let before1 = received(&nodes[1]);
    for i in 0..10 {
        a.send(
            "rooms.say",
            json!({"room": "r", "text": format!("after {i}")}),
        )
        .await;
        assert_eq!(a.expect("rooms.onSay").await["text"], format!("after {i}"));
    }
    a.send("broadcast", json!({"text": "fence 2"})).await;
    for x in [&mut a, &mut b, &mut c] {
        fence(x, "fence 2").await;
    }
    if E::listeners(&prefix, "r").await.is_some() {
        assert_eq!(received(&nodes[1]) - before1, 1, "node 1: only the fence");
    }
    drop((a, b, c));
    for n in nodes {
        n.stop().await;
    }
}

/// The join race: a member that joined a room its node did not listen to
/// yet gets the room's traffic from other nodes that follows anything it
/// received after joining: zocket holds its messages until the node listens.
pub(crate) async fn a_fresh_room_misses_nothing<E: Engine>() {
    let prefix = prefix("fresh");
    let (Some(a0), Some(a1)) = (E::adapter(&prefix).await, E::adapter(&prefix).await) else {
        return;
    };
    let n0 = start_node(config(), Some(a0)).await;
    // Node 1's engine is far away: its subscriptions take 100 ms more.
    let n1 = start_node(config(), Some(SlowToListen(Arc::new(a1)))).await;
    let mut a = Client::connect(&n0, "a").await;
    let mut b = Client::connect(&n1, "b").await;
    for k in 0..10 {
        let room = format!("fresh-{k}");
        a.send("rooms.join", json!({"room": room})).await;
        a.barrier().await;
        // b's join opens the room on node 1; the answer to its barrier is
        // held until node 1 listens, so a's message, sent after, reaches b.
        b.send("rooms.join", json!({"room": room})).await;
        b.barrier().await;
        a.send("rooms.say", json!({"room": room, "text": room}))
            .await;
        assert_eq!(a.expect("rooms.onSay").await["text"], room);
        assert_eq!(b.expect("rooms.onSay").await["text"], room);
    }
    drop((a, b));
    n0.stop().await;
    n1.stop().await;
}

/// An adapter whose subscriptions to rooms take 100 ms longer, as with an
/// engine far away.
struct SlowToListen<A>(Arc<A>);

impl<A: Adapter> Adapter for SlowToListen<A> {
    fn node(&self) -> u32 {
        self.0.node()
    }
    fn publish(&self, remote: Remote) {
        self.0.publish(remote)
    }
    fn start(&self, inbox: Inbox) {
        self.0.start(inbox)
    }
    fn open_room(&self, room: &str) -> RoomReady {
        let (ready, signal) = RoomReady::pending();
        let (inner, room) = (self.0.clone(), room.to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            inner.open_room(&room).await;
            signal.ready();
        });
        ready
    }
    fn close_room(&self, room: &str) {
        self.0.close_room(room)
    }
    fn connected(&self) -> bool {
        self.0.connected()
    }
    fn node_count(&self) -> zocket::adapter::NodeCount<'_> {
        self.0.node_count()
    }
}

/// Members, rooms, join, leave, close and the connection count, asked from
/// one node about clients on the others.
pub(crate) async fn cluster_operations<E: Engine>() {
    let prefix = prefix("ops");
    let Some(mut nodes) = nodes::<E>(&prefix, 3).await else {
        return;
    };
    let mut a = Client::connect(&nodes[0], "a").await;
    let mut b = Client::connect(&nodes[1], "b").await;
    let mut c = Client::connect(&nodes[2], "c").await;
    let (a_id, b_id, c_id) = (
        a.whoami().await.id,
        b.whoami().await.id,
        c.whoami().await.id,
    );
    let cluster = nodes[0].handle.cluster();
    assert_eq!(cluster.connection_count().await, Ok(3));

    for x in [&mut b, &mut c] {
        x.send("rooms.join", json!({"room": "r"})).await;
        x.barrier().await;
    }
    let mut expected = vec![b_id, c_id];
    expected.sort();
    assert_eq!(cluster.members("r").await, Ok(expected.clone()));
    // Any node sees the same.
    assert_eq!(nodes[2].handle.cluster().members("r").await, Ok(expected));
    assert_eq!(cluster.members("nobody").await, Ok(vec![]));
    assert_eq!(cluster.rooms_of(b_id).await, Ok(vec!["r".to_owned()]));
    assert_eq!(cluster.rooms_of(a_id).await, Ok(vec![]));

    // Node 0 makes c (on node 2) join room s; a message to s from node 0
    // then reaches c.
    assert_eq!(cluster.join(c_id, "s").await, Ok(true));
    assert_eq!(cluster.join(c_id, "s").await, Ok(false));
    assert_eq!(c.whoami().await.rooms, ["r", "s"]);
    let n = nodes[0]
        .handle
        .send(
            OnBroadcast,
            Text {
                text: "to s".into(),
            },
        )
        .unwrap()
        .to_room(["s"]);
    assert_eq!(n, 0, "no member of s on node 0");
    assert_eq!(c.expect("onBroadcast").await["text"], "to s");
    assert_eq!(cluster.leave(c_id, "s").await, Ok(true));
    assert_eq!(cluster.leave(c_id, "s").await, Ok(false));
    assert_eq!(c.whoami().await.rooms, ["r"]);

    // Node 0 closes b's connection on node 1.
    assert_eq!(cluster.close(b_id, 4000, "moved").await, Ok(()));
    assert_eq!(b.closed().await, Some(4000));
    let gone = nodes[1].next_disconnect().await;
    assert_eq!(gone.id, b_id);
    assert_eq!(
        cluster.rooms_of(b_id).await,
        Err(ClusterError::NotConnected(b_id))
    );
    assert_eq!(
        cluster.close(b_id, 4000, "again").await,
        Err(ClusterError::NotConnected(b_id))
    );
    assert_eq!(
        cluster.join(b_id, "s").await,
        Err(ClusterError::NotConnected(b_id))
    );
    assert_eq!(cluster.connection_count().await, Ok(2));
    assert_eq!(cluster.members("r").await, Ok(vec![c_id]));
    drop((a, b, c));
    for n in nodes {
        n.stop().await;
    }
}

/// A node that does not answer: a typed error after the timeout, not a hang.
pub(crate) async fn cluster_operations_time_out<E: Engine>() {
    let prefix = prefix("timeout");
    let Some(nodes) = nodes::<E>(&prefix, 2).await else {
        return;
    };
    let mut a = Client::connect(&nodes[0], "a").await;
    let a_id = a.whoami().await.id;
    let short = Duration::from_millis(300);
    let cluster = nodes[1].handle.cluster().timeout(short);
    assert_eq!(cluster.rooms_of(a_id).await, Ok(vec![]));

    // An id of a node that does not exist: nobody answers.
    let ghost: ClientId = ((99u128 << 64) | 1).to_string().parse().unwrap();
    assert_eq!(
        cluster.rooms_of(ghost).await,
        Err(ClusterError::NoAnswer {
            node: 99,
            client: ghost,
            timeout: short
        })
    );

    // A node that listens but does not serve (its adapter is connected, its
    // app never started) counts, and never answers.
    let Some(idle) = E::adapter(&prefix).await else {
        return;
    };
    let started = tokio::time::Instant::now();
    match cluster.connection_count().await {
        Err(ClusterError::Incomplete {
            answered: 1,
            expected: Some(2),
            timeout,
        }) => assert_eq!(timeout, short),
        other => panic!("expected an incomplete count, got {other:?}"),
    }
    assert!(started.elapsed() < WAIT, "the timeout bounds the wait");
    drop(idle);
    drop(a);
    for n in nodes {
        n.stop().await;
    }
}
