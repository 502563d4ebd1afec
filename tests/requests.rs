//! Request routes (zocket extension): the client sends an `id`, the handler's
//! typed answer comes back on `$zocket.reply` with it; failures carry the id.
mod common;
use std::time::Duration;

use common::*;
use serde_json::json;
use zocket::{ErrorKind, Reconnect, RequestError, SendError};

type TypedClient = zocket::Client<TestRouter>;

async fn client(server: &Server) -> TypedClient {
    TypedClient::connect(server.url())
        .header("name", "req")
        .reconnect(Reconnect::default())
        .request_timeout(Duration::from_secs(5))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_typed_request_gets_its_typed_answer() {
    let server = start().await;
    let c = client(&server).await;
    assert_eq!(
        c.request(Double, Num { n: 21 }).await.unwrap(),
        Num { n: 42 }
    );
    assert_eq!(
        c.request(Divide, Num { n: 8 }).await.unwrap(),
        Num { n: 125 }
    );
    c.close().await;
    server.stop().await;
}

#[tokio::test]
async fn concurrent_requests_are_matched_by_id() {
    let server = start().await;
    let c = client(&server).await;
    let calls = (1..=200).map(|n| {
        let c = c.clone();
        async move { (n, c.request(Double, Num { n }).await) }
    });
    for (n, answer) in futures_util::future::join_all(calls).await {
        assert_eq!(answer.unwrap(), Num { n: 2 * n });
    }
    c.close().await;
    server.stop().await;
}

#[tokio::test]
async fn failures_reach_the_caller_as_typed_errors() {
    let server = start().await;
    let c = client(&server).await;
    // Refused by the handler...
    match c.request(Divide, Num { n: 0 }).await {
        Err(RequestError::Server(e)) => {
            assert_eq!(e.kind, ErrorKind::Rejected);
            assert_eq!(e.message, "division by zero");
            assert_eq!(e.route.as_deref(), Some("math.divide"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // ...by the middleware in front of it...
    match c.request(Divide, Num { n: 13 }).await {
        Err(RequestError::Server(e)) => assert_eq!(e.message, "unlucky"),
        other => panic!("unexpected {other:?}"),
    }
    // ...or by the client's own validation, before anything is sent.
    match c.request(Double, Num { n: 5_000_000 }).await {
        Err(RequestError::Send(SendError::Invalid { payload, .. })) => {
            assert_eq!(payload.n, 5_000_000)
        }
        other => panic!("unexpected {other:?}"),
    }
    // The client keeps working.
    assert_eq!(c.request(Double, Num { n: 1 }).await.unwrap(), Num { n: 2 });
    c.close().await;
    server.stop().await;
}

#[tokio::test]
async fn an_unanswered_request_times_out_and_close_ends_waiting_ones() {
    let server = start().await;
    let impatient = TypedClient::connect(server.url())
        .header("name", "t")
        .request_timeout(Duration::from_millis(200))
        .await
        .unwrap();
    assert!(matches!(
        impatient.request(Hang, ()).await,
        Err(RequestError::Timeout)
    ));
    impatient.close().await;

    // A request still waiting when the client closes ends with `Closed`.
    let c = client(&server).await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            let call = c.request(Hang, ());
            let _ = tx.send(());
            call.await
        })
    };
    rx.await.unwrap();
    tokio::task::yield_now().await;
    c.close().await;
    assert!(matches!(waiting.await.unwrap(), Err(RequestError::Closed)));
    server.stop().await;
}

#[tokio::test]
async fn the_wire_format_echoes_the_id_and_plain_messages_get_no_reply() {
    let server = start().await;
    let mut raw = Client::connect(&server, "raw").await;
    // A string id is echoed verbatim.
    raw.send_raw(r#"{"type":"math.double","payload":{"n":4},"id":"abc"}"#)
        .await;
    let v = raw.recv().await;
    assert_eq!(
        v,
        json!({"type": "$zocket.reply", "id": "abc", "payload": {"n": 8}})
    );
    // A failure names the id too.
    raw.send_raw(r#"{"type":"math.double","payload":{"n":"x"},"id":7}"#)
        .await;
    let e = raw.expect_error("invalid_payload").await;
    assert_eq!(e["id"], 7);
    raw.send_raw(r#"{"type":"nope","id":8}"#).await;
    assert_eq!(raw.expect_error("unknown_route").await["id"], 8);
    // An id that is not a string or number is refused.
    raw.send_raw(r#"{"type":"math.double","payload":{"n":1},"id":{"x":1}}"#)
        .await;
    raw.expect_error("invalid_json").await;
    // Without an id (a plain Zocket client), the handler runs and nothing is sent back.
    raw.send("math.double", json!({"n": 2})).await;
    raw.barrier().await;
    let m = server.handle.metrics();
    assert_eq!(
        m.messages_in["math.double"], 3,
        "both valid requests were handled"
    );
    server.stop().await;
}
