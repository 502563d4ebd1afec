//! Targets of a send: everyone, everyone but the sender, chosen ids, and the
//! server handle outside handlers.
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn broadcast_reaches_everyone_including_the_sender() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let mut c = Client::connect(&server, "c").await;
    // Make sure all three are registered before broadcasting.
    for x in [&mut a, &mut b, &mut c] {
        x.barrier().await;
    }
    a.send("broadcast", json!({"text": "all"})).await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(x.expect("onBroadcast").await["text"], "all");
    }
    server.stop().await;
}

#[tokio::test]
async fn broadcast_except_skips_the_sender() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    b.barrier().await;
    a.send("shout", json!({"text": "not me"})).await;
    assert_eq!(b.expect("onBroadcast").await["text"], "not me");
    // The sender's next message is its barrier reply, not the shout.
    a.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn except_leaves_out_several_clients() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let mut c = Client::connect(&server, "c").await;
    let (ida, idb, idc) = (
        a.whoami().await.id,
        b.whoami().await.id,
        c.whoami().await.id,
    );
    let text = |t: &str| Text { text: t.into() };
    // An array of ids, a Vec, and calls that add up: each time only c gets it.
    let sent = [
        server
            .handle
            .send(OnBroadcast, text("1"))
            .unwrap()
            .except([ida, idb])
            .broadcast(),
        server
            .handle
            .send(OnBroadcast, text("2"))
            .unwrap()
            .except(vec![ida, idb])
            .to([ida, idb, idc]),
        server
            .handle
            .send(OnBroadcast, text("3"))
            .unwrap()
            .except(ida)
            .except(idb)
            .broadcast(),
    ];
    assert_eq!(sent, [1, 1, 1]);
    for t in ["1", "2", "3"] {
        assert_eq!(c.expect("onBroadcast").await["text"], t);
    }
    // a and b got none of them: their next message is their barrier reply.
    a.barrier().await;
    b.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn send_to_chosen_ids_reaches_only_them() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let mut c = Client::connect(&server, "c").await;
    let (bid, cid) = (b.whoami().await.id, c.whoami().await.id);
    a.send("dm", json!({"to": [bid], "text": "psst"})).await;
    assert_eq!(b.expect("onDm").await["text"], "psst");
    // Barriers after the dm: neither a nor c got it.
    a.barrier().await;
    c.barrier().await;
    // Several ids at once, with a stale one that is skipped.
    a.send("dm", json!({"to": [bid, cid, "12345"], "text": "both"}))
        .await;
    assert_eq!(b.expect("onDm").await["text"], "both");
    assert_eq!(c.expect("onDm").await["text"], "both");
    server.stop().await;
}

#[tokio::test]
async fn server_handle_sends_outside_handlers() {
    let server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    let aid = a.whoami().await.id;
    b.barrier().await;
    let n = server
        .handle
        .send(
            OnBroadcast,
            Text {
                text: "tick".into(),
            },
        )
        .unwrap()
        .broadcast();
    assert_eq!(n, 2);
    assert_eq!(a.expect("onBroadcast").await["text"], "tick");
    assert_eq!(b.expect("onBroadcast").await["text"], "tick");
    let n = server
        .handle
        .send(
            OnDm,
            Text {
                text: "just a".into(),
            },
        )
        .unwrap()
        .to([aid]);
    assert_eq!(n, 1);
    assert_eq!(a.expect("onDm").await["text"], "just a");
    // Invalid outgoing payloads are refused before anything is queued, and handed back.
    let err = server
        .handle
        .send(
            OnDm,
            Text {
                text: String::new(),
            },
        )
        .unwrap_err();
    assert_eq!(err.into_payload().text, "");
    b.barrier().await;
    server.stop().await;
}
