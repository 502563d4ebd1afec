//! Upstream Zocket's RPC frames: `{"type", "payload", "rpcId"}` in, answered on
//! `{"type": "__rpc_res", "rpcId", "payload"}`; failures carry `"error"` there
//! too (and come on `$zocket.error` as for any message).
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn rpc_id_requests_are_answered_on_rpc_res() {
    let server = start().await;
    let mut c = Client::connect(&server, "v1").await;
    // Success on a request route: the handler's answer.
    c.send_raw(r#"{"type":"math.double","payload":{"n":21},"rpcId":"k3x9"}"#)
        .await;
    assert_eq!(
        c.recv().await,
        json!({"type": "__rpc_res", "rpcId": "k3x9", "payload": {"n": 42}})
    );

    // A handler error: on __rpc_res with the error, then on $zocket.error.
    c.send_raw(r#"{"type":"math.divide","payload":{"n":0},"rpcId":"a1"}"#)
        .await;
    let v = c.recv().await;
    assert_eq!(
        (v["type"].as_str(), v["rpcId"].as_str()),
        (Some("__rpc_res"), Some("a1")),
        "{v}"
    );
    assert_eq!(v["error"]["kind"], "rejected");
    assert_eq!(v["error"]["message"], "division by zero");
    c.expect_error("rejected").await;

    // A validation error: the same way.
    c.send_raw(r#"{"type":"math.double","payload":{"n":5000000},"rpcId":"b2"}"#)
        .await;
    let v = c.recv().await;
    assert_eq!(
        (v["rpcId"].as_str(), v["error"]["kind"].as_str()),
        (Some("b2"), Some("validation_failed")),
        "{v}"
    );
    c.expect_error("validation_failed").await;

    // A message route with an rpcId: answered as upstream does, with no payload.
    c.send_raw(r#"{"type":"rooms.join","payload":{"room":"x"},"rpcId":"c3"}"#)
        .await;
    assert_eq!(c.recv().await, json!({"type": "__rpc_res", "rpcId": "c3"}));

    // zocket's own `id` keeps working next to it.
    c.send_raw(r#"{"type":"math.double","payload":{"n":1},"id":7}"#)
        .await;
    assert_eq!(
        c.recv().await,
        json!({"type": "$zocket.reply", "id": 7, "payload": {"n": 2}})
    );
    server.stop().await;
}
