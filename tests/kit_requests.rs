//! tests/request_reply.rs and tests/requests.rs through the test kit.
mod common;
mod kit;
use common::*;
use kit::*;
use zocket::ErrorKind;

#[tokio::test]
async fn echo_replies_to_the_sender_only() {
    let app = kit();
    let (mut a, mut b) = (app.client("alice").await, app.client("bob").await);
    a.send(
        Echo,
        Text {
            text: "hello".into(),
        },
    )
    .await;
    assert_eq!(a.expect(OnEcho).await.text, "hello");
    b.expect_nothing().await;
}

#[tokio::test]
async fn context_carries_on_connect_data_id_and_rooms() {
    let app = kit();
    let mut a = app.client("alice").await;
    let me = whoami(&mut a).await;
    assert_eq!(me.name, "alice");
    assert!(me.rooms.is_empty());
    assert!(app.server.handle().is_connected(me.id));
    a.send(
        Join,
        Room {
            room: "lobby".into(),
        },
    )
    .await;
    assert_eq!(whoami(&mut a).await.rooms, ["lobby"]);
}

#[tokio::test]
async fn messages_from_one_client_are_handled_in_order() {
    let app = kit();
    let mut a = app.client("alice").await;
    for i in 0..200 {
        a.send(
            Echo,
            Text {
                text: i.to_string(),
            },
        )
        .await;
    }
    for i in 0..200 {
        assert_eq!(a.expect(OnEcho).await.text, i.to_string());
    }
}

#[tokio::test]
async fn missing_payload_is_null_for_unit_routes() {
    let app = kit();
    let mut a = app.client("alice").await;
    a.send_raw(r#"{"type":"whoami"}"#).await;
    assert_eq!(a.expect(OnWhoami).await.name, "alice");
}

#[tokio::test]
async fn a_typed_request_gets_its_typed_answer() {
    let app = kit();
    let mut c = app.client("req").await;
    assert_eq!(
        c.request(Double, Num { n: 21 }).await.unwrap(),
        Num { n: 42 }
    );
    assert_eq!(
        c.request(Divide, Num { n: 8 }).await.unwrap(),
        Num { n: 125 }
    );
}

#[tokio::test]
async fn many_requests_in_a_row_are_matched_by_id() {
    let app = kit();
    let mut c = app.client("req").await;
    for n in 1..=200 {
        assert_eq!(
            c.request(Double, Num { n }).await.unwrap(),
            Num { n: 2 * n }
        );
    }
}

#[tokio::test]
async fn failures_reach_the_caller_as_typed_errors() {
    let app = kit();
    let mut c = app.client("req").await;
    let e = c.request(Divide, Num { n: 0 }).await.unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Rejected, "division by zero")
    );
    assert_eq!(e.route.as_deref(), Some("math.divide"));
    let e = c.request(Divide, Num { n: 13 }).await.unwrap_err();
    assert_eq!(e.message, "unlucky");
    // The kit does not validate before sending: the server does.
    let e = c.request(Double, Num { n: 5_000_000 }).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::ValidationFailed);
    assert_eq!(c.request(Double, Num { n: 1 }).await.unwrap(), Num { n: 2 });
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_request_is_silence_and_others_are_still_served() {
    let app = kit();
    let mut c = app.client("t").await;
    c.send_raw(r#"{"type":"math.hang","payload":null,"id":1}"#)
        .await;
    c.expect_nothing().await; // 100 ms of virtual time, no answer
    let mut other = app.client("u").await;
    assert_eq!(
        other.request(Double, Num { n: 3 }).await.unwrap(),
        Num { n: 6 }
    );
}

#[tokio::test]
async fn the_wire_format_echoes_the_id_and_plain_messages_get_no_reply() {
    let app = kit();
    let mut raw = app.client("raw").await;
    raw.send_raw(r#"{"type":"math.double","payload":{"n":4},"id":"abc"}"#)
        .await;
    assert_eq!(
        raw.next_json().await,
        serde_json::json!({"type": "$zocket.reply", "id": "abc", "payload": {"n": 8}})
    );
    raw.send_raw(r#"{"type":"math.double","payload":{"n":"x"},"id":7}"#)
        .await;
    assert_eq!(
        raw.expect_error(ErrorKind::InvalidPayload).await.id,
        Some(serde_json::json!(7))
    );
    raw.send_raw(r#"{"type":"nope","id":8}"#).await;
    assert_eq!(
        raw.expect_error(ErrorKind::UnknownRoute).await.id,
        Some(serde_json::json!(8))
    );
    raw.send_raw(r#"{"type":"math.double","payload":{"n":1},"id":{"x":1}}"#)
        .await;
    raw.expect_error(ErrorKind::InvalidJson).await;
    raw.send_raw(r#"{"type":"math.double","payload":{"n":2}}"#)
        .await;
    barrier(&mut raw).await;
    assert_eq!(app.server.handle().metrics().messages_in["math.double"], 3);
}
