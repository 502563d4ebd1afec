//! tests/delivery.rs through the test kit: targets of a send, in memory.
mod common;
mod kit;
use common::*;
use kit::*;

fn text(s: &str) -> Text {
    Text { text: s.into() }
}

#[tokio::test]
async fn broadcast_reaches_everyone_including_the_sender() {
    let app = kit();
    let (mut a, mut b, mut c) = (
        app.client("a").await,
        app.client("b").await,
        app.client("c").await,
    );
    for x in [&mut a, &mut b, &mut c] {
        barrier(x).await;
    }
    a.send(Broadcast, text("all")).await;
    for x in [&mut a, &mut b, &mut c] {
        assert_eq!(x.expect(OnBroadcast).await.text, "all");
    }
}

#[tokio::test]
async fn broadcast_except_skips_the_sender() {
    let app = kit();
    let (mut a, mut b) = (app.client("a").await, app.client("b").await);
    barrier(&mut b).await;
    a.send(Shout, text("not me")).await;
    assert_eq!(b.expect(OnBroadcast).await.text, "not me");
    a.expect_nothing().await;
}

#[tokio::test]
async fn send_to_chosen_ids_reaches_only_them() {
    let app = kit();
    let (mut a, mut b, mut c) = (
        app.client("a").await,
        app.client("b").await,
        app.client("c").await,
    );
    let (bid, cid) = (whoami(&mut b).await.id, whoami(&mut c).await.id);
    a.send(
        SendDm,
        Dm {
            to: vec![bid],
            text: "psst".into(),
        },
    )
    .await;
    assert_eq!(b.expect(OnDm).await.text, "psst");
    a.expect_nothing().await;
    c.expect_nothing().await;
    // Several ids at once, with a stale one that is skipped.
    let stale: zocket::ClientId = "12345".parse().unwrap();
    a.send(
        SendDm,
        Dm {
            to: vec![bid, cid, stale],
            text: "both".into(),
        },
    )
    .await;
    assert_eq!(b.expect(OnDm).await.text, "both");
    assert_eq!(c.expect(OnDm).await.text, "both");
}

#[tokio::test]
async fn server_handle_sends_outside_handlers() {
    let app = kit();
    let handle = app.server.handle();
    let (mut a, mut b) = (app.client("a").await, app.client("b").await);
    let aid = whoami(&mut a).await.id;
    barrier(&mut b).await;
    assert_eq!(
        handle.send(OnBroadcast, text("tick")).unwrap().broadcast(),
        2
    );
    assert_eq!(a.expect(OnBroadcast).await.text, "tick");
    assert_eq!(b.expect(OnBroadcast).await.text, "tick");
    assert_eq!(handle.send(OnDm, text("just a")).unwrap().to([aid]), 1);
    assert_eq!(a.expect(OnDm).await.text, "just a");
    b.expect_nothing().await;
    // Invalid outgoing payloads are refused before anything is queued, and handed back.
    let err = handle.send(OnDm, text("")).unwrap_err();
    assert_eq!(err.into_payload().text, "");
}
