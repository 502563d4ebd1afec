//! A client's message reaches its handler, and the handler's reply reaches the client.
mod common;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn echo_replies_to_the_sender_only() {
    let server = start().await;
    let mut a = Client::connect(&server, "alice").await;
    let mut b = Client::connect(&server, "bob").await;
    a.send("echo", json!({"text": "hello"})).await;
    assert_eq!(a.expect("onEcho").await, json!({"text": "hello"}));
    // b got nothing: its first message is the reply to its own barrier.
    b.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn context_carries_on_connect_data_id_and_rooms() {
    let server = start().await;
    let mut a = Client::connect(&server, "alice").await;
    let me = a.whoami().await;
    assert_eq!(me.name, "alice");
    assert!(me.rooms.is_empty());
    assert!(server.handle.is_connected(me.id));
    a.send("rooms.join", json!({"room": "lobby"})).await;
    assert_eq!(a.whoami().await.rooms, ["lobby"]);
    server.stop().await;
}

#[tokio::test]
async fn messages_from_one_client_are_handled_in_order() {
    let server = start().await;
    let mut a = Client::connect(&server, "alice").await;
    for i in 0..200 {
        a.send("echo", json!({"text": i.to_string()})).await;
    }
    for i in 0..200 {
        assert_eq!(a.expect("onEcho").await["text"], i.to_string());
    }
    server.stop().await;
}

#[tokio::test]
async fn missing_payload_is_null_for_unit_routes() {
    let server = start().await;
    let mut a = Client::connect(&server, "alice").await;
    a.send_raw(r#"{"type":"whoami"}"#).await;
    let p: Value = a.expect("onWhoami").await;
    assert_eq!(p["name"], "alice");
    server.stop().await;
}
