//! Every way a message can fail: the handler is not called (or its failure is
//! contained), the client is told on the reserved error route, and the
//! connection keeps working.
mod common;
use std::sync::atomic::Ordering;

use common::*;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_reported_and_the_connection_survives() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    for bad in [
        "not json",
        "[1,2]",
        "{}",
        r#"{"type": 42}"#,
        r#"{"payload": {}}"#,
    ] {
        a.send_raw(bad).await;
        let e = a.expect_error("invalid_json").await;
        assert!(e["route"].is_null());
    }
    a.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_reported_with_their_name() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    a.send("nope.nothing", json!({})).await;
    assert_eq!(
        a.expect_error("unknown_route").await["route"],
        "nope.nothing"
    );
    // An outgoing route is not something a client can send.
    a.send("onEcho", json!({"text": "x"})).await;
    assert_eq!(a.expect_error("unknown_route").await["route"], "onEcho");
    // The reserved route is not a user route either.
    a.send("$zocket.error", json!({})).await;
    a.expect_error("unknown_route").await;
    // A huge name is echoed truncated.
    a.send(&"x".repeat(10_000), json!({})).await;
    let e = a.expect_error("unknown_route").await;
    assert!(e["route"].as_str().unwrap().len() <= 128);
    a.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn wrong_payload_shape_never_reaches_the_handler() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    for bad in [
        json!({"txt": "typo"}),
        json!("a string"),
        json!(null),
        json!({"text": 5}),
    ] {
        a.send("echo", bad).await;
        let e = a.expect_error("invalid_payload").await;
        assert_eq!(e["route"], "echo");
        assert!(!e["details"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        server.echo_calls.load(Ordering::SeqCst),
        0,
        "handler never called"
    );
    a.barrier().await;
    assert_eq!(server.echo_calls.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test]
async fn failed_validation_never_reaches_the_handler() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    a.send("echo", json!({"text": ""})).await;
    let e = a.expect_error("validation_failed").await;
    assert_eq!(e["details"][0]["path"], "text");
    a.send("echo", json!({"text": "y".repeat(201)})).await;
    a.expect_error("validation_failed").await;
    assert_eq!(server.echo_calls.load(Ordering::SeqCst), 0);
    a.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn middleware_rejection_stops_the_handler_and_tells_the_sender() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    b.send("rooms.join", json!({"room": "x"})).await;
    b.barrier().await;
    a.send("rooms.say", json!({"room": "x", "text": "let me in"}))
        .await;
    let e = a.expect_error("rejected").await;
    assert_eq!(e["route"], "rooms.say");
    assert_eq!(e["message"], "not a member of x");
    // Nobody in the room got anything.
    b.barrier().await;
    a.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn handler_errors_are_contained_and_not_leaked() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    a.send("debug.fail", json!(null)).await;
    let e = a.expect_error("handler_error").await;
    assert_eq!(e["route"], "debug.fail");
    assert!(
        !e.to_string().contains("secret"),
        "internal details stay in the log"
    );
    a.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn handler_panics_are_contained() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    a.send("debug.panic", json!(null)).await;
    assert_eq!(
        a.expect_error("handler_error").await["route"],
        "debug.panic"
    );
    // Same connection, and everyone else, still served.
    a.barrier().await;
    b.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn binary_frames_are_reported_not_fatal() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    use futures_util::SinkExt;
    a.ws.send(tungstenite::Message::binary(vec![0xffu8, 0xfe, 0x00]))
        .await
        .unwrap();
    a.expect_error("unsupported_frame").await;
    a.barrier().await;
    server.stop().await;
}

/// Nothing a client sends comes back (or goes to the log) in full: a 60 KB
/// string in a number field, a 60 KB route name and 60 KB of garbage JSON
/// each get an error reply under 1 KiB.
#[tokio::test]
async fn error_replies_carry_only_an_excerpt_of_what_the_client_sent() {
    use futures_util::StreamExt;
    let server = start().await;
    let mut c = Client::connect(&server, "a").await;
    let huge = "x".repeat(60_000);
    let frames = [
        json!({"type": "math.double", "id": 1, "payload": {"n": huge}}).to_string(),
        json!({"type": huge, "payload": null}).to_string(),
        format!("{{\"type\": [\"{huge}\"]}}"),
    ];
    for (frame, kind) in frames
        .iter()
        .zip(["invalid_payload", "unknown_route", "invalid_json"])
    {
        c.send_raw(frame).await;
        let reply = loop {
            match tokio::time::timeout(WAIT, c.ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                tungstenite::Message::Text(t) => break t,
                _ => continue,
            }
        };
        assert!(reply.len() < 1024, "{kind}: a {}-byte reply", reply.len());
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(v["payload"]["kind"], kind, "{v}");
    }
    c.barrier().await;
    server.stop().await;
}
