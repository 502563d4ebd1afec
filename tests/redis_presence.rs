//! Presence across nodes: two chat processes sharing a real redis-server list
//! the same users, and when one is killed with SIGKILL (no goodbye), its users
//! leave the other's list within the configured bound, with leave diffs.
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
