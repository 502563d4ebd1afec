//! What the Rust client does when a *re*connection is refused: retried when a
//! retry can help (503, 429, ...), stopped when it cannot (403, ...).
mod common;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use zocket::{Client, ConnState, Reconnect};

fn reconnect_after(min: u64) -> Reconnect {
    Reconnect {
        min_delay: Duration::from_millis(min),
        max_delay: Duration::from_millis(min * 2),
        ..Reconnect::default()
    }
}

/// Waits until the client's state passes `test`.
async fn state(client: &Client<TestRouter>, test: impl Fn(&ConnState) -> bool) -> ConnState {
    let mut changes = client.state_changes();
    let state = tokio::time::timeout(WAIT, changes.wait_for(|s| test(s)))
        .await
        .expect("within the wait")
        .expect("the client runs");
    *state
}

/// A client whose handshake name becomes "banned" (refused with 403) once
/// the returned flag is set; `retry` is its refusal policy.
async fn client_to_be_banned(
    server: &Server,
    retry: fn(u16) -> bool,
) -> (Client<TestRouter>, Arc<AtomicBool>) {
    let banned = Arc::new(AtomicBool::new(false));
    let flag = banned.clone();
    let client = Client::<TestRouter>::connect(server.url())
        .headers_with(move || {
            let name = if flag.load(Ordering::SeqCst) {
                "banned"
            } else {
                "alice"
            };
            async move { Ok::<_, String>([("name", name)]) }
        })
        .reconnect(reconnect_after(20))
        .retry_refused(retry)
        .await
        .expect("the first connection is accepted");
    (client, banned)
}

#[tokio::test]
async fn a_reconnection_refused_with_403_stops_the_client_and_says_why() {
    let server = start().await;
    let (client, banned) = client_to_be_banned(&server, zocket::transient_refusal).await;
    assert_eq!(client.refusal(), None);
    banned.store(true, Ordering::SeqCst);
    client.reconnect();
    assert_eq!(
        state(&client, |s| *s == ConnState::Closed).await,
        ConnState::Closed
    );
    let refusal = client.refusal().expect("the refusal is kept");
    assert_eq!(refusal.status, 403);
    assert!(refusal.body.contains("you are banned"), "{}", refusal.body);
    // One refused attempt, not a retry loop.
    assert_eq!(server.handle.metrics().handshakes_refused, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_reconnection_refused_with_503_is_retried_until_there_is_room() {
    let server = start_with(config().max_connections(1)).await;
    let client = Client::<TestRouter>::connect(server.url())
        .header("name", "alice")
        .reconnect(reconnect_after(500))
        .await
        .expect("connects");
    let (tx, mut ids) = tokio::sync::mpsc::unbounded_channel();
    let _sub = client.on(OnWhoami, move |w: Whoami| {
        let _ = tx.send(w.id);
    });
    client.send(AskWhoami, ()).unwrap();
    let id = tokio::time::timeout(WAIT, ids.recv())
        .await
        .unwrap()
        .unwrap();
    // The server drops the client; before it comes back, someone else takes the only slot.
    assert!(server.handle.close(id, 1012, "make room"));
    while server.handle.connection_count() != 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut probe = common::Client::connect(&server, "probe").await;
    assert_eq!(probe.whoami().await.name, "probe");
    // The client's next attempt is refused (503, full) and it keeps trying.
    let s = state(
        &client,
        |s| matches!(s, ConnState::Reconnecting { attempt } if *attempt >= 2),
    )
    .await;
    assert!(matches!(s, ConnState::Reconnecting { .. }), "{s:?}");
    assert!(server.handle.metrics().handshakes_refused >= 1);
    assert_eq!(client.refusal(), None, "a 503 does not stop the client");
    // Room again: it gets in by itself.
    drop(probe);
    state(&client, |s| *s == ConnState::Open).await;
    client.send(AskWhoami, ()).unwrap();
    tokio::time::timeout(WAIT, ids.recv())
        .await
        .unwrap()
        .unwrap();
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_retry_policy_is_the_apps_to_choose() {
    let server = start().await;
    let (client, banned) = client_to_be_banned(&server, |status| status == 403).await;
    banned.store(true, Ordering::SeqCst);
    client.reconnect();
    // Refused again and again, and still trying...
    state(
        &client,
        |s| matches!(s, ConnState::Reconnecting { attempt } if *attempt >= 3),
    )
    .await;
    assert_eq!(client.refusal(), None);
    // ...until the credentials are good again.
    banned.store(false, Ordering::SeqCst);
    state(&client, |s| *s == ConnState::Open).await;
    client.close().await;
    server.stop().await;
}
