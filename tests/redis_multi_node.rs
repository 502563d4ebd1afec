//! Three zocket servers sharing a real redis-server: room sends, broadcasts,
//! `except` (one id or several, on several nodes) and sends to a client id on
//! another node arrive exactly once.
//! `.ci/run` starts redis-server on 127.0.0.1:6379 (or set REDIS_URL).
#![cfg(feature = "redis")]

mod common;
use common::*;
use serde_json::json;
use zocket::RedisAdapter;

async fn adapter(prefix: &str) -> Option<RedisAdapter> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    match RedisAdapter::connect(&url, prefix).await {
        Ok(a) => Some(a),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("redis-server is required when CI is set (.ci/run starts it): {e}")
        }
        Err(e) => {
            eprintln!("\n***** SKIPPED: no redis-server at {url} ({e}); run .ci/run *****\n");
            None
        }
    }
}

/// Three nodes of a new cluster (`route_per_room` as given); `None` when
/// there is no redis-server (outside CI).
async fn three_nodes(tag: &str, per_room: bool) -> Option<Vec<Server>> {
    let prefix = format!(
        "zocket-{tag}-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    );
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let a = adapter(&prefix).await?.route_per_room(per_room);
        nodes.push(start_node(config(), Some(a)).await);
    }
    Some(nodes)
}

/// The next message must be the fence broadcast: nothing else (no duplicate,
/// no stray delivery) came before it.
async fn fence(c: &mut Client, tag: &str) {
    let p = c.expect("onBroadcast").await;
    assert_eq!(p["text"], tag, "expected the fence {tag}, got {p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_cross_nodes_exactly_once() {
    let Some(nodes) = three_nodes("test", true).await else {
        return;
    };
    // a on node 0, b and d on node 1, c on node 2.
    let mut a = Client::connect(&nodes[0], "a").await;
    let mut b = Client::connect(&nodes[1], "b").await;
    let mut c = Client::connect(&nodes[2], "c").await;
    let mut d = Client::connect(&nodes[1], "d").await;
    let mut client_ids = Vec::new();
    for x in [&mut a, &mut b, &mut c, &mut d] {
        client_ids.push(x.whoami().await.id);
    }
    let nodes_of: std::collections::HashSet<u32> = client_ids.iter().map(|id| id.node()).collect();
    assert_eq!(
        nodes_of.len(),
        3,
        "each node issues ids with its own node id: {client_ids:?}"
    );
    let d_id = client_ids[3];

    // Each adapter subscribed before `connect` returned, so a broadcast from
    // any node reaches every node from the start.
    for (i, sender) in [0usize, 1, 2].into_iter().enumerate() {
        let tag = format!("warm-up {i}");
        let who: &mut Client = match sender {
            0 => &mut a,
            1 => &mut b,
            _ => &mut c,
        };
        who.send("broadcast", json!({"text": tag})).await;
        for x in [&mut a, &mut b, &mut c, &mut d] {
            fence(x, &tag).await;
        }
    }

    // Room send across nodes: a, b, c in room x; d is not.
    for x in [&mut a, &mut b, &mut c] {
        x.send("rooms.join", json!({"room": "x"})).await;
        x.barrier().await;
    }
    a.send("rooms.say", json!({"room": "x", "text": "hello x"}))
        .await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(x.expect("rooms.onSay").await["text"], "hello x");
    }
    a.send("broadcast", json!({"text": "fence 1"})).await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        fence(x, "fence 1").await;
    }

    // Broadcast except the sender, across nodes.
    a.send("shout", json!({"text": "not a"})).await;
    for x in [&mut b, &mut c, &mut d] {
        assert_eq!(x.expect("onBroadcast").await["text"], "not a");
    }
    a.send("broadcast", json!({"text": "fence 2"})).await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        fence(x, "fence 2").await;
    }

    // A direct message to a client id issued by another node.
    a.send("dm", json!({"to": [d_id], "text": "psst d"})).await;
    assert_eq!(d.expect("onDm").await["text"], "psst d");
    a.send("broadcast", json!({"text": "fence 3"})).await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        fence(x, "fence 3").await;
    }

    // The server handle of one node reaches everyone too.
    let n = nodes[2]
        .handle
        .send(
            OnBroadcast,
            Text {
                text: "from node 2".into(),
            },
        )
        .unwrap()
        .broadcast();
    assert_eq!(n, 1, "node 2's own client, counted locally");
    for x in [&mut a, &mut b, &mut c, &mut d] {
        assert_eq!(x.expect("onBroadcast").await["text"], "from node 2");
    }
    a.send("broadcast", json!({"text": "fence 4"})).await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        fence(x, "fence 4").await;
    }

    // Several clients left out, on several nodes (b and d on node 1, c on
    // node 2), from node 0: only a gets it.
    let n = nodes[0]
        .handle
        .send(
            OnBroadcast,
            Text {
                text: "only a".into(),
            },
        )
        .unwrap()
        .except([client_ids[1], client_ids[2], d_id])
        .broadcast();
    assert_eq!(n, 1);
    assert_eq!(a.expect("onBroadcast").await["text"], "only a");
    a.send("broadcast", json!({"text": "fence 5"})).await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        fence(x, "fence 5").await;
    }
    drop((a, b, c, d));
    for n in nodes {
        n.stop().await;
    }
}

/// A private redis-server on a free port, killed on drop.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<PrivateRedis> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut r = PrivateRedis { port, child };
        // Wait for its "Ready to accept connections" line.
        use std::io::BufRead;
        let out = r.child.stdout.take()?;
        for line in std::io::BufReader::new(out).lines() {
            if line.ok()?.contains("Ready to accept connections") {
                return Some(r);
            }
        }
        None
    }
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_redis_keeps_local_delivery_and_reconnects() {
    // A free port can be taken again between finding it and redis binding
    // it: try a few.
    let redis = (0..5).find_map(|_| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        PrivateRedis::start(port)
    });
    let Some(redis) = redis else {
        if std::env::var_os("CI").is_some() {
            panic!("redis-server is required when CI is set");
        }
        eprintln!("\n***** SKIPPED: redis-server is not installed; run .ci/run *****\n");
        return;
    };
    let port = redis.port;
    let url = redis.url();
    let n1 = start_node(
        config(),
        Some(RedisAdapter::connect(&url, "lose").await.unwrap()),
    )
    .await;
    let n2 = start_node(
        config(),
        Some(RedisAdapter::connect(&url, "lose").await.unwrap()),
    )
    .await;
    let mut a = Client::connect(&n1, "a").await;
    let mut a2 = Client::connect(&n1, "a2").await;
    let mut b = Client::connect(&n2, "b").await;
    a.send("broadcast", json!({"text": "before"})).await;
    for x in [&mut a, &mut a2, &mut b] {
        fence(x, "before").await;
    }

    drop(redis); // Redis goes away.
    // Local delivery keeps working on each node.
    a.send("broadcast", json!({"text": "local only"})).await;
    fence(&mut a, "local only").await;
    fence(&mut a2, "local only").await;
    b.barrier().await;

    // Redis comes back on the same port; the adapters reconnect by themselves
    // and cross-node delivery resumes (retried until the subscription is back).
    let _redis = PrivateRedis::start(port).expect("restart redis-server");
    // What node 1 broadcast while Redis was away is published once its
    // publisher reconnects: b sees it once, late, never twice.
    let mut late = 0;
    let mut round = 0;
    loop {
        round += 1;
        let tag = format!("after {round}");
        b.send("broadcast", json!({"text": tag})).await;
        loop {
            let p = b.expect("onBroadcast").await;
            if p["text"] == "local only" {
                late += 1;
                assert_eq!(late, 1, "delivered twice");
                continue;
            }
            assert_eq!(p["text"], tag.as_str());
            break;
        }
        // a receives either this round's message (reconnected) or, if node 1
        // was not subscribed yet, nothing; the echo barrier tells them apart.
        a.send("echo", json!({"text": "probe"})).await;
        let mut got = false;
        loop {
            let v = a.recv().await;
            match v["type"].as_str() {
                Some("onBroadcast") => {
                    got |= v["payload"]["text"] == tag;
                }
                Some("onEcho") => break,
                _ => panic!("unexpected {v}"),
            }
        }
        if got {
            break;
        }
        assert!(round < 200, "cross-node delivery never resumed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop((a, a2, b));
    n1.stop().await;
    n2.stop().await;
}

/// How many subscribers Redis counts on the adapter channel of `prefix`.
async fn subscribers(url: &str, prefix: &str) -> i64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(format!("{prefix}:deliveries"))
        .query_async(&mut conn)
        .await
        .unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_subscribed_when_connect_returns_and_unsubscribes_when_dropped() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let prefix = format!("zocket-sub-{}", std::process::id());
    let Some(first) = adapter(&prefix).await else {
        return;
    };
    // Subscribed before `connect` returned, not later in a background task:
    // a delivery published now already reaches this node.
    assert_eq!(subscribers(&url, &prefix).await, 1);
    let second = adapter(&prefix).await.expect("redis is up");
    assert_eq!(subscribers(&url, &prefix).await, 2);

    // An adapter dropped without serving releases its subscription. Redis
    // learns of it when the connection closes; poll its count (no event to
    // await in this process) until it drops, within the wait.
    drop(second);
    let deadline = tokio::time::Instant::now() + WAIT;
    while subscribers(&url, &prefix).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped adapter kept its subscription"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    drop(first);
}

/// Connection-state recovery across nodes: a client dropped on one node
/// comes back through another and gets its id, its rooms and exactly the
/// messages it missed (sent from both nodes), in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_dropped_on_one_node_resumes_on_another() {
    use std::time::Duration;
    let prefix = format!(
        "zocket-test-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    );
    let recovering = || {
        config().recovery(Some(
            zocket::Recovery::default().window(Duration::from_secs(60)),
        ))
    };
    let (Some(a1), Some(a2)) = (adapter(&prefix).await, adapter(&prefix).await) else {
        return;
    };
    let mut node_a = start_node(recovering(), Some(a1)).await;
    let mut node_b = start_node(recovering(), Some(a2)).await;

    let mut alice = Client::connect(&node_a, "alice").await;
    let welcome = alice.expect("$zocket.welcome").await;
    let (id, token) = (
        welcome["clientId"].as_str().unwrap().to_owned(),
        welcome["token"].as_str().unwrap().to_owned(),
    );
    for room in ["r1", "r2"] {
        alice.send("rooms.join", json!({"room": room})).await;
    }
    alice.send("echo", json!({"text": "ready"})).await;
    let ready = alice.recv().await;
    let last = ready["offset"].as_u64().unwrap();

    let mut bob = Client::connect(&node_b, "bob").await;
    bob.expect("$zocket.welcome").await;
    for room in ["r1", "r2"] {
        bob.send("rooms.join", json!({"room": room})).await;
    }
    bob.barrier().await;

    // Alice's connection dies (a reset, no close frame).
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = alice.ws.get_ref() {
        let _ = tcp.set_zero_linger();
    }
    drop(alice);
    tokio::time::timeout(WAIT, async {
        while node_a.handle.metrics().sessions_detached < 1 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("node A notices");

    // From node B: 7 to her rooms, 2 to her id.
    let plan = [
        ("r1", "m1"),
        ("r2", "m2"),
        ("", "m3"),
        ("r1", "m4"),
        ("r2", "m5"),
        ("r1", "m6"),
        ("", "m7"),
        ("r2", "m8"),
        ("r1", "m9"),
    ];
    for (room, text) in plan {
        if room.is_empty() {
            bob.send("dm", json!({"to": [id], "text": text})).await;
        } else {
            bob.send("rooms.say", json!({"room": room, "text": text}))
                .await;
        }
    }
    bob.send("echo", json!({"text": "sent"})).await;
    loop {
        let v = bob.recv().await;
        if v["type"] == "onEcho" {
            break;
        }
    }

    // She comes back through node B.
    let url = format!(
        "{}?name=alice&zocket-session={token}&zocket-offset={last}",
        node_b.url()
    );
    let mut alice = Client::connect_url(&url).await;
    let again = alice.expect("$zocket.welcome").await;
    assert_eq!(
        again["recovered"], true,
        "resumed on the other node: {again}"
    );
    assert_eq!(again["clientId"], id.as_str(), "same client id");
    let mut previous = last;
    for (room, text) in plan {
        let v = alice.recv().await;
        let route = if room.is_empty() {
            "onDm"
        } else {
            "rooms.onSay"
        };
        assert_eq!(
            (v["type"].as_str(), v["payload"]["text"].as_str()),
            (Some(route), Some(text)),
            "{v}"
        );
        let offset = v["offset"].as_u64().unwrap();
        assert!(offset > previous, "offsets keep growing across the move");
        previous = offset;
    }
    assert_eq!(
        alice.expect("onEcho").await["text"],
        "recovered",
        "on_recover ran on node B"
    );
    bob.send("rooms.say", json!({"room": "r1", "text": "m10"}))
        .await;
    assert_eq!(alice.expect("rooms.onSay").await["text"], "m10");
    let me = alice.whoami().await;
    assert_eq!(
        (me.id.to_string(), me.rooms.clone()),
        (id.clone(), vec!["r1".to_owned(), "r2".to_owned()])
    );
    assert!(
        node_a.disconnects.try_recv().is_err(),
        "no on_disconnect on node A"
    );
    assert!(node_b.disconnects.try_recv().is_err(), "nor on node B");
    node_a.stop().await;
    node_b.stop().await;
}

/// `route_per_room(false)`: every delivery on the cluster channel, as
/// before per-room routing: room sends still arrive, and a node without a
/// member in the room receives them too (counted as unused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_room_routing_every_node_receives_every_room_send() {
    let Some(nodes) = three_nodes("flat", false).await else {
        return;
    };
    let mut a = Client::connect(&nodes[0], "a").await;
    let mut b = Client::connect(&nodes[1], "b").await;
    let mut c = Client::connect(&nodes[2], "c").await;
    for x in [&mut a, &mut b] {
        x.send("rooms.join", json!({"room": "r"})).await;
        x.barrier().await;
    }
    let before = nodes[2].handle.metrics();
    for i in 0..20 {
        a.send("rooms.say", json!({"room": "r", "text": format!("m{i}")}))
            .await;
    }
    for i in 0..20 {
        assert_eq!(b.expect("rooms.onSay").await["text"], format!("m{i}"));
    }
    a.send("broadcast", json!({"text": "fence"})).await;
    for x in [&mut a, &mut b, &mut c] {
        let mut p = x.recv().await;
        while p["type"] == "rooms.onSay" {
            p = x.recv().await;
        }
        assert_eq!(p["payload"]["text"], "fence", "{p}");
    }
    let after = nodes[2].handle.metrics();
    assert_eq!(after.remote_received - before.remote_received, 21);
    assert_eq!(
        after.remote_unused - before.remote_unused,
        20,
        "node 2 has no member of r: the room's 20 were wasted there"
    );
    drop((a, b, c));
    for n in nodes {
        n.stop().await;
    }
}

/// Two nodes of one cluster, one of which speaks a newer inter-node packet
/// version (an injected version: a node of a later zocket release). Each
/// refuses the other's packets: nothing is delivered from them (no misread
/// delivery), each counts them in its metrics and logs it, and neither panics;
/// each node keeps serving its own clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_speaking_a_newer_packet_version_is_refused_logged_and_counted() {
    let prefix = format!(
        "zocket-version-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    );
    let Some(old) = adapter(&prefix).await else {
        return;
    };
    let Some(new) = adapter(&prefix).await else {
        return;
    };
    let old = start_node(config(), Some(old.route_per_room(false))).await;
    let new = start_node(config(), Some(new.route_per_room(false).packet_version(2))).await;
    let mut a = Client::connect(&old, "a").await;
    let mut b = Client::connect(&new, "b").await;
    // A broadcast from the newer node: the old node does not read it...
    b.send("broadcast", json!({"text": "from-v2"})).await;
    assert_eq!(b.expect("onBroadcast").await["text"], "from-v2");
    // A count has no event to await: poll it within the wait.
    let counted = |node: &Server, which: &'static str| {
        let handle = node.handle.clone();
        async move {
            let deadline = std::time::Instant::now() + WAIT;
            while handle.metrics().remote_other_version == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the {which} node counted no packet of another version"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    counted(&old, "old").await;
    // ... and the other way round.
    a.send("broadcast", json!({"text": "from-v1"})).await;
    fence(&mut a, "from-v1").await;
    counted(&new, "new").await;
    // Neither client got the other node's broadcast: the next message each
    // sees is its own fence, and nothing was delivered from a packet.
    a.send("broadcast", json!({"text": "fence-a"})).await;
    fence(&mut a, "fence-a").await;
    b.send("broadcast", json!({"text": "fence-b"})).await;
    fence(&mut b, "fence-b").await;
    assert_eq!(old.handle.metrics().remote_received, 0);
    assert_eq!(new.handle.metrics().remote_received, 0);
    old.stop().await;
    new.stop().await;
}
