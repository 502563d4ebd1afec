//! Rooms: join, leave, room sends, and what happens when a member disconnects.
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn room_send_reaches_members_only() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let mut c = Client::connect(&server, "c").await;
    a.send("rooms.join", json!({"room": "x"})).await;
    b.send("rooms.join", json!({"room": "x"})).await;
    c.send("rooms.join", json!({"room": "y"})).await;
    for x in [&mut a, &mut b, &mut c] {
        x.barrier().await;
    }
    let aid = a.whoami().await.id;
    a.send("rooms.say", json!({"room": "x", "text": "hi x"}))
        .await;
    for x in [&mut a, &mut b] {
        let p = x.expect("rooms.onSay").await;
        assert_eq!(p["text"], "hi x");
        assert_eq!(p["from"], aid.to_string(), "client ids are JSON strings");
    }
    c.barrier().await;
    assert_eq!(server.handle.rooms(), ["x", "y"]);
    assert_eq!(server.handle.members("x").len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn leaving_stops_delivery_and_empty_rooms_are_removed() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    a.send("rooms.join", json!({"room": "x"})).await;
    b.send("rooms.join", json!({"room": "x"})).await;
    b.barrier().await;
    b.send("rooms.leave", json!({"room": "x"})).await;
    b.barrier().await;
    a.send("rooms.say", json!({"room": "x", "text": "still here?"}))
        .await;
    assert_eq!(a.expect("rooms.onSay").await["text"], "still here?");
    b.barrier().await;
    a.send("rooms.leave", json!({"room": "x"})).await;
    a.barrier().await;
    assert!(server.handle.rooms().is_empty(), "the empty room is gone");
    server.stop().await;
}

#[tokio::test]
async fn room_send_after_a_member_disconnects_reaches_the_rest() {
    let mut server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let c = Client::connect(&server, "c").await;
    let mut c = c;
    for x in [&mut a, &mut b, &mut c] {
        x.send("rooms.join", json!({"room": "x"})).await;
        x.barrier().await;
    }
    c.send("rooms.join", json!({"room": "z"})).await;
    let cid = c.whoami().await.id;
    drop(c);
    let gone = server.next_disconnect().await;
    assert_eq!(gone.id, cid);
    assert_eq!(gone.name, "c");
    assert_eq!(
        gone.rooms,
        ["x", "z"],
        "on_disconnect gets the rooms it was in"
    );
    assert_eq!(server.handle.members("x").len(), 2, "it left them first");
    assert!(!server.handle.rooms().contains(&"z".to_owned()));
    a.send("rooms.say", json!({"room": "x", "text": "bye c"}))
        .await;
    assert_eq!(a.expect("rooms.onSay").await["text"], "bye c");
    assert_eq!(b.expect("rooms.onSay").await["text"], "bye c");
    server.stop().await;
}

#[tokio::test]
async fn on_disconnect_runs_once_per_connection() {
    let mut server = start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut c = Client::connect(&server, &format!("u{i}")).await;
        ids.push(c.whoami().await.id);
        if i % 2 == 0 {
            // A clean close handshake...
            c.ws.close(None).await.unwrap();
            let _ = c.closed().await;
        }
        // ...or a dropped socket: both end in exactly one on_disconnect.
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(server.next_disconnect().await.id);
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    assert_eq!(server.handle.connection_count(), 0);
    let late = server.stop_collecting().await;
    assert!(
        late.is_empty(),
        "no second call, not even at shutdown: {late:?}"
    );
}

/// A client may be in `max_rooms_per_client` rooms; a join beyond it is
/// refused with an error the client sees, and changes nothing.
#[tokio::test]
async fn a_join_beyond_the_room_limit_is_refused_with_an_error() {
    let server = start_with(config().max_rooms_per_client(3)).await;
    let mut a = Client::connect(&server, "a").await;
    for room in ["r1", "r2", "r3"] {
        a.send("rooms.join", json!({"room": room})).await;
    }
    a.barrier().await;
    a.send("rooms.join", json!({"room": "r4"})).await;
    let e = a.expect_error("rejected").await;
    assert_eq!(e["route"], "rooms.join");
    assert!(
        e["message"].as_str().unwrap().contains("at most 3 rooms"),
        "{e}"
    );
    assert_eq!(a.whoami().await.rooms, ["r1", "r2", "r3"]);
    // Leaving one makes room for another.
    a.send("rooms.leave", json!({"room": "r1"})).await;
    a.send("rooms.join", json!({"room": "r4"})).await;
    assert_eq!(a.whoami().await.rooms, ["r2", "r3", "r4"]);
    server.stop().await;
}

/// `ServerHandle::cluster()` on a server without an adapter: this node
/// answers every operation at once.
#[tokio::test]
async fn cluster_operations_without_an_adapter_answer_from_this_node() {
    use zocket::error::ClusterError;
    let mut server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let (aid, bid) = (a.whoami().await.id, b.whoami().await.id);
    let cluster = server.handle.cluster();
    assert_eq!(cluster.connection_count().await, Ok(2));
    assert_eq!(cluster.join(aid, "x").await, Ok(true));
    assert_eq!(cluster.join(aid, "x").await, Ok(false));
    assert_eq!(cluster.join(bid, "x").await, Ok(true));
    let mut both = vec![aid, bid];
    both.sort();
    assert_eq!(cluster.members("x").await, Ok(both));
    assert_eq!(cluster.rooms_of(aid).await, Ok(vec!["x".to_owned()]));
    assert_eq!(a.whoami().await.rooms, ["x"]);
    assert_eq!(cluster.leave(aid, "x").await, Ok(true));
    assert_eq!(cluster.members("x").await, Ok(vec![bid]));
    // A close reason longer than a close frame allows is cut, not refused.
    let long = "é".repeat(100);
    assert_eq!(cluster.close(bid, 4000, &long).await, Ok(()));
    assert_eq!(b.closed().await, Some(4000));
    server.next_disconnect().await;
    assert_eq!(
        cluster.rooms_of(bid).await,
        Err(ClusterError::NotConnected(bid))
    );
    assert_eq!(cluster.connection_count().await, Ok(1));
    drop(a);
}
