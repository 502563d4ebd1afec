//! Request ids (PROTOCOL.md §6): a JSON string or number of at most 64 bytes
//! (a string's own bytes, without quotes); anything else, `null` included,
//! is refused with `invalid_json`, for `id` and upstream's `rpcId` alike.
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn ids_are_strings_or_numbers_of_at_most_64_bytes_and_null_is_not_one() {
    let server = start().await;
    let mut c = Client::connect(&server, "alice").await;
    let ok = |id: serde_json::Value| json!({"type": "math.double", "payload": {"n": 2}, "id": id});
    // 64 characters of string (66 bytes of JSON), a 64-digit number: accepted.
    for id in [
        json!("x".repeat(64)),
        json!("é".repeat(32)),
        json!(7),
        json!(-3),
    ] {
        c.send_raw(&ok(id.clone()).to_string()).await;
        let reply = c.recv().await;
        assert_eq!(
            (&reply["type"], &reply["id"]),
            (&json!("$zocket.reply"), &id),
            "{reply}"
        );
    }
    let digits = "9".repeat(64);
    c.send_raw(&format!(
        r#"{{"type":"math.double","payload":{{"n":2}},"id":{digits}}}"#
    ))
    .await;
    assert_eq!(c.recv().await["type"], "$zocket.reply");
    // Too long, null, or not a string or number: invalid_json, and nothing ran.
    for id in [
        json!("x".repeat(65)),
        json!("é".repeat(33)),
        json!(null),
        json!(true),
        json!({"a": 1}),
        json!([1]),
    ] {
        c.send_raw(&ok(id.clone()).to_string()).await;
        let e = c.expect("$zocket.error").await;
        assert_eq!(e["kind"], "invalid_json", "id {id}: {e}");
    }
    // rpcId follows the same rule.
    for rpc in [json!(null), json!("x".repeat(65)), json!(false)] {
        let msg = json!({"type": "math.double", "payload": {"n": 2}, "rpcId": rpc});
        c.send_raw(&msg.to_string()).await;
        let e = c.expect("$zocket.error").await;
        assert_eq!(e["kind"], "invalid_json", "rpcId {rpc}: {e}");
    }
    let msg = json!({"type": "math.double", "payload": {"n": 2}, "rpcId": "r1"});
    c.send_raw(&msg.to_string()).await;
    let answer = c.recv().await;
    assert_eq!(
        (&answer["type"], &answer["rpcId"]),
        (&json!("__rpc_res"), &json!("r1"))
    );
    server.stop().await;
}
