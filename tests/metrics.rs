//! The metrics snapshot counts what happened: connections, refusals, messages
//! in and out per route, errors by kind.
mod common;
use common::*;
use serde_json::json;
use zocket::ErrorKind;

#[tokio::test]
async fn metrics_count_messages_errors_and_connections() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    b.barrier().await;
    a.send("broadcast", json!({"text": "all"})).await;
    a.expect("onBroadcast").await;
    b.expect("onBroadcast").await;
    a.send("echo", json!({"text": ""})).await;
    a.expect_error("validation_failed").await;
    a.send("nope", json!(null)).await;
    a.expect_error("unknown_route").await;
    a.send("debug.fail", json!(null)).await;
    a.expect_error("handler_error").await;
    assert_eq!(
        http(server.addr, &upgrade_request("/?name=anon", ""))
            .await
            .0,
        401
    );
    a.barrier().await;

    let m = server.handle.metrics();
    assert_eq!(m.connections, 2);
    assert_eq!(m.connections_total, 2, "the refused one never opened");
    assert_eq!(m.handshakes_refused, 1);
    assert_eq!(m.messages_in["broadcast"], 1);
    assert_eq!(
        m.messages_in["echo"], 3,
        "b's and a's barriers, and the invalid one"
    );
    assert_eq!(m.messages_in["debug.fail"], 1);
    assert_eq!(m.messages_out["onBroadcast"].sent, 1);
    assert_eq!(m.messages_out["onBroadcast"].delivered, 2);
    assert_eq!(m.messages_out["onEcho"].sent, 2);
    assert_eq!(m.errors[&ErrorKind::ValidationFailed], 1);
    assert_eq!(m.errors[&ErrorKind::UnknownRoute], 1);
    assert_eq!(m.errors[&ErrorKind::HandlerError], 1);
    assert!(!m.errors.contains_key(&ErrorKind::Rejected));
    assert_eq!(m.dropped_slow, 0);
    server.stop().await;
}
