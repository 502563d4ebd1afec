//! The chat example as a cluster: two chat processes sharing a real
//! redis-server exchange room messages between their clients and are ready;
//! they list the same users, and when one is killed with SIGKILL (no
//! goodbye), its users leave the other's list within the configured bound,
//! with leave diffs.
#![cfg(feature = "redis")]

mod chat_process;

use std::time::{Duration, Instant};

use chat_process::{ChatProcess, skip_or_fail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn redis_ok(url: &str) -> bool {
    zocket::RedisAdapter::connect(url, "zocket-probe")
        .await
        .is_ok()
}

async fn connect(addr: &str, name: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?name={name}"))
        .await
        .expect("connects");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next message on `route` (others are skipped), within `wait`.
async fn next_on(ws: &mut Ws, route: &str, wait: Duration) -> Option<Value> {
    tokio::time::timeout(wait, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == route {
                    return v["payload"].clone();
                }
            }
        }
        Value::Null
    })
    .await
    .ok()
}

/// Who is online in the lobby, as this connection's node sees it (sorted names).
async fn who(ws: &mut Ws, id: u64) -> Vec<String> {
    send(
        ws,
        json!({"type": "chat.who", "payload": {"room": "lobby"}, "id": id}),
    )
    .await;
    loop {
        let reply = next_on(ws, "$zocket.reply", Duration::from_secs(10))
            .await
            .expect("an answer");
        if reply["room"] == "lobby" {
            return reply["online"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_the_list_and_a_killed_node_leaves_it_within_the_bound() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    if !redis_ok(&url).await {
        return skip_or_fail("redis-server on 127.0.0.1:6379");
    }
    let prefix = format!("zocket-presence-{}", std::process::id());
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
        ("PRESENCE_TIMEOUT_SECS", "2"),
    ];
    let a = ChatProcess::start_with_env(&env).await;
    let b = ChatProcess::start_with_env(&env).await;

    let mut watcher = connect(&a.addr, "watcher").await;
    send(
        &mut watcher,
        json!({"type": "chat.join", "payload": {"room": "lobby"}}),
    )
    .await;
    let me = next_on(&mut watcher, "chat.onPresence", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(me["key"], "watcher");

    let mut ann = connect(&b.addr, "ann").await;
    send(
        &mut ann,
        json!({"type": "chat.join", "payload": {"room": "lobby"}}),
    )
    .await;
    // The diff made on node B reaches the watcher on node A.
    let joined = next_on(&mut watcher, "chat.onPresence", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        (joined["key"].as_str(), joined["event"].as_str()),
        (Some("ann"), Some("join"))
    );

    // Both nodes list both users (replication is asynchronous: ask until it settles).
    let both = vec!["ann".to_owned(), "watcher".to_owned()];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut id = 1;
    loop {
        let (on_a, on_b) = (who(&mut watcher, id).await, who(&mut ann, id + 1).await);
        id += 2;
        if on_a == both && on_b == both {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lists did not converge: A {on_a:?}, B {on_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Node B dies without a word.
    let killed = Instant::now();
    b.kill().await;
    let left = next_on(&mut watcher, "chat.onPresence", Duration::from_secs(10))
        .await
        .expect("a leave diff within the bound");
    let after = killed.elapsed();
    assert_eq!(
        (left["key"].as_str(), left["event"].as_str()),
        (Some("ann"), Some("leave"))
    );
    // Node timeout 2 s, heartbeats and sweeps every 2/3 s: gone within about 3 s.
    assert!(after < Duration::from_secs(5), "removed after {after:?}");
    assert_eq!(who(&mut watcher, 1000).await, ["watcher"]);
    println!("a killed node's users left the list after {after:?} (node timeout 2 s)");
    drop(a);
}

/// `GET path` on the chat process at `addr`: the status code and body.
async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut response))
        .await
        .expect("an answer")
        .unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_chat_processes_share_rooms_through_redis() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    if !redis_ok(&url).await {
        return skip_or_fail("redis-server on 127.0.0.1:6379");
    }
    let prefix = format!("zocket-cluster-{}", std::process::id());
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let a = ChatProcess::start_with_env(&env).await;
    let b = ChatProcess::start_with_env(&env).await;
    for node in [&a.addr, &b.addr] {
        assert_eq!(
            http_get(node, "/ready").await,
            (200, r#"{"status":"ready"}"#.to_owned())
        );
    }

    let mut alice = connect(&a.addr, "alice").await;
    let mut bob = connect(&b.addr, "bob").await;
    send(
        &mut alice,
        json!({"type": "chat.join", "payload": {"room": "lobby"}}),
    )
    .await;
    next_on(&mut alice, "chat.onJoin", Duration::from_secs(10))
        .await
        .expect("alice sees her own join");
    send(
        &mut bob,
        json!({"type": "chat.join", "payload": {"room": "lobby"}}),
    )
    .await;
    // Bob's join on node B reaches Alice on node A.
    let joined = next_on(&mut alice, "chat.onJoin", Duration::from_secs(10))
        .await
        .expect("bob's join crosses nodes");
    assert_eq!(joined["name"], "bob");

    send(
        &mut alice,
        json!({"type": "chat.send", "payload": {"room": "lobby", "text": "hi bob"}}),
    )
    .await;
    let got = next_on(&mut bob, "chat.onMessage", Duration::from_secs(10))
        .await
        .expect("alice's message reaches bob on the other node");
    assert_eq!(
        (got["name"].as_str(), got["text"].as_str()),
        (Some("alice"), Some("hi bob"))
    );
    send(
        &mut bob,
        json!({"type": "chat.send", "payload": {"room": "lobby", "text": "hi alice"}}),
    )
    .await;
    // Alice's own message comes back to her first (a room send includes the
    // sender), then Bob's answer.
    let mut got = Value::Null;
    for _ in 0..2 {
        got = next_on(&mut alice, "chat.onMessage", Duration::from_secs(10))
            .await
            .expect("a message for alice");
        if got["name"] == "bob" {
            break;
        }
    }
    assert_eq!(
        (got["name"].as_str(), got["text"].as_str()),
        (Some("bob"), Some("hi alice"))
    );
    drop((alice, bob));
    a.kill().await;
    b.kill().await;
}
