//! tests/failures.rs through the test kit: every way a message can fail, in memory.
mod common;
mod kit;
use std::sync::atomic::Ordering;

use common::*;
use kit::*;
use serde_json::json;
use zocket::ErrorKind;

#[tokio::test]
async fn malformed_json_is_reported_and_the_connection_survives() {
    let app = kit();
    let mut a = app.client("a").await;
    for bad in [
        "not json",
        "[1,2]",
        "{}",
        r#"{"type": 42}"#,
        r#"{"payload": {}}"#,
    ] {
        a.send_raw(bad).await;
        assert_eq!(a.expect_error(ErrorKind::InvalidJson).await.route, None);
    }
    barrier(&mut a).await;
}

#[tokio::test]
async fn unknown_routes_are_reported_with_their_name() {
    let app = kit();
    let mut a = app.client("a").await;
    for (name, echoed) in [
        ("nope.nothing", "nope.nothing"),
        ("onEcho", "onEcho"),
        ("$zocket.error", "$zocket.error"),
    ] {
        a.send_raw(json!({"type": name, "payload": {}}).to_string())
            .await;
        assert_eq!(
            a.expect_error(ErrorKind::UnknownRoute)
                .await
                .route
                .as_deref(),
            Some(echoed)
        );
    }
    a.send_raw(json!({"type": "x".repeat(10_000), "payload": {}}).to_string())
        .await;
    let e = a.expect_error(ErrorKind::UnknownRoute).await;
    assert!(
        e.route.unwrap().len() <= 128,
        "a huge name is echoed truncated"
    );
    barrier(&mut a).await;
}

#[tokio::test]
async fn wrong_payload_shape_never_reaches_the_handler() {
    let app = kit();
    let mut a = app.client("a").await;
    for bad in [
        json!({"txt": "typo"}),
        json!("a string"),
        json!(null),
        json!({"text": 5}),
    ] {
        a.send_raw(json!({"type": "echo", "payload": bad}).to_string())
            .await;
        let e = a.expect_error(ErrorKind::InvalidPayload).await;
        assert_eq!(e.route.as_deref(), Some("echo"));
        assert!(!e.details.is_empty());
    }
    assert_eq!(
        app.echo_calls.load(Ordering::SeqCst),
        0,
        "handler never called"
    );
    barrier(&mut a).await;
    assert_eq!(app.echo_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failed_validation_never_reaches_the_handler() {
    let app = kit();
    let mut a = app.client("a").await;
    a.send(
        Echo,
        Text {
            text: String::new(),
        },
    )
    .await;
    let e = a.expect_error(ErrorKind::ValidationFailed).await;
    assert_eq!(e.details[0].path, "text");
    a.send(
        Echo,
        Text {
            text: "y".repeat(201),
        },
    )
    .await;
    a.expect_error(ErrorKind::ValidationFailed).await;
    assert_eq!(app.echo_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn middleware_rejection_stops_the_handler_and_tells_the_sender() {
    let app = kit();
    let (mut a, mut b) = (app.client("a").await, app.client("b").await);
    b.send(Join, Room { room: "x".into() }).await;
    barrier(&mut b).await;
    a.send(
        Say,
        RoomText {
            room: "x".into(),
            text: "let me in".into(),
        },
    )
    .await;
    let e = a.expect_error(ErrorKind::Rejected).await;
    assert_eq!(
        (e.route.as_deref(), e.message.as_str()),
        (Some("rooms.say"), "not a member of x")
    );
    b.expect_nothing().await;
}

#[tokio::test]
async fn handler_errors_are_contained_and_not_leaked() {
    let app = kit();
    let mut a = app.client("a").await;
    a.send(Fail, ()).await;
    let e = a.expect_error(ErrorKind::HandlerError).await;
    assert_eq!(e.route.as_deref(), Some("debug.fail"));
    assert!(
        !e.message.contains("secret"),
        "internal details stay in the log"
    );
    barrier(&mut a).await;
}

#[tokio::test]
async fn handler_panics_are_contained() {
    let app = kit();
    let (mut a, mut b) = (app.client("a").await, app.client("b").await);
    a.send(Panic, ()).await;
    assert_eq!(
        a.expect_error(ErrorKind::HandlerError)
            .await
            .route
            .as_deref(),
        Some("debug.panic")
    );
    barrier(&mut a).await;
    barrier(&mut b).await;
}

#[tokio::test]
async fn binary_frames_are_reported_not_fatal() {
    let app = kit();
    let mut a = app.client("a").await;
    a.send_binary(vec![0xffu8, 0xfe, 0x00]).await; // not UTF-8
    a.expect_error(ErrorKind::UnsupportedFrame).await;
    barrier(&mut a).await;
}

#[tokio::test]
async fn binary_frames_holding_json_are_read_as_text_unless_refused() {
    let app = kit();
    let mut a = app.client("a").await;
    a.send_binary(br#"{"type":"echo","payload":{"text":"as text"}}"#.to_vec())
        .await;
    assert_eq!(
        a.expect(OnEcho).await.text,
        "as text",
        "what the original Zocket server does"
    );
    a.send_binary(b"not json".to_vec()).await;
    a.expect_error(ErrorKind::InvalidJson).await;
    let strict = kit_with(config().binary_as_text(false));
    let mut b = strict.client("b").await;
    b.send_binary(br#"{"type":"echo","payload":{"text":"x"}}"#.to_vec())
        .await;
    b.expect_error(ErrorKind::UnsupportedFrame).await;
    barrier(&mut b).await;
}

#[tokio::test]
async fn error_replies_carry_only_an_excerpt_of_what_the_client_sent() {
    let app = kit();
    let mut c = app.client("a").await;
    let huge = "x".repeat(60_000);
    let frames = [
        (
            json!({"type": "math.double", "id": 1, "payload": {"n": huge}}).to_string(),
            ErrorKind::InvalidPayload,
        ),
        (
            json!({"type": huge, "payload": null}).to_string(),
            ErrorKind::UnknownRoute,
        ),
        (
            format!("{{\"type\": [\"{huge}\"]}}"),
            ErrorKind::InvalidJson,
        ),
    ];
    for (frame, kind) in frames {
        c.send_raw(frame).await;
        c.expect_error(kind).await;
        let reply = c.transcript().last().unwrap().to_string();
        assert!(reply.len() < 1024, "{kind:?}: a {}-byte reply", reply.len());
    }
    barrier(&mut c).await;
}
