//! The typed client against a real zocket server.
mod common;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use zocket::{BufferPolicy, Client, ConnState, ConnectError, ErrorKind, Reconnect, SendError};

type TestClient = Client<TestRouter>;

fn fast_reconnect() -> Reconnect {
    Reconnect {
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..Reconnect::default()
    }
}

async fn connect(server: &Server, name: &str) -> TestClient {
    Client::<TestRouter>::connect(server.url())
        .header("name", name)
        .reconnect(fast_reconnect())
        .await
        .expect("connects")
}

fn text(s: &str) -> Text {
    Text { text: s.into() }
}

/// Receives the next value from a listener's channel, within the wait.
async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("within the wait")
        .expect("open")
}

#[tokio::test]
async fn typed_round_trip() {
    let server = start().await;
    let client = connect(&server, "alice").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = client.on(OnEcho, move |t: Text| {
        let _ = tx.send(t.text);
    });
    client.send(Echo, text("hello")).unwrap();
    assert_eq!(next(&mut rx).await, "hello");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _who = client.on(OnWhoami, move |w: Whoami| {
        let _ = tx.send(w.name);
    });
    client.send(AskWhoami, ()).unwrap();
    assert_eq!(next(&mut rx).await, "alice", "headers reached on_connect");
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn several_listeners_each_get_every_message_and_unsubscribe_stops_one() {
    let server = start().await;
    let client = connect(&server, "a").await;
    let (tx1, mut rx1) = mpsc::unbounded_channel();
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let sub1 = client.on(OnBroadcast, move |t: Text| {
        let _ = tx1.send(t.text);
    });
    let _sub2 = client.on(OnBroadcast, move |t: Text| {
        let _ = tx2.send(t.text);
    });
    client.send(Broadcast, text("one")).unwrap();
    assert_eq!(next(&mut rx1).await, "one");
    assert_eq!(next(&mut rx2).await, "one");
    sub1.unsubscribe();
    client.send(Broadcast, text("two")).unwrap();
    assert_eq!(next(&mut rx2).await, "two");
    // Listener 1's sender was dropped with its subscription: its channel ends
    // without having received "two".
    assert_eq!(tokio::time::timeout(WAIT, rx1.recv()).await.unwrap(), None);
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn stream_yields_in_order() {
    let server = start().await;
    let client = connect(&server, "a").await;
    let mut stream = client.stream(OnEcho);
    for i in 0..100 {
        client.send(Echo, text(&i.to_string())).unwrap();
    }
    for i in 0..100 {
        let t = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.text, i.to_string());
    }
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn server_errors_reach_the_client_typed() {
    let server = start().await;
    let client = connect(&server, "a").await;
    let mut errors = client.errors();
    client
        .send(
            Say,
            RoomText {
                room: "x".into(),
                text: "not a member".into(),
            },
        )
        .unwrap();
    let e = tokio::time::timeout(WAIT, errors.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::Rejected);
    assert_eq!(e.route.as_deref(), Some("rooms.say"));
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn reconnects_after_a_restart_on_the_same_port_flushes_the_buffer_and_keeps_subscriptions() {
    let server = start().await;
    let addr = server.addr;
    let reconnects = Arc::new(AtomicUsize::new(0));
    let hook_count = reconnects.clone();
    let client = Client::<TestRouter>::connect(server.url())
        .header("name", "resilient")
        .reconnect(fast_reconnect())
        .on_reconnect(move |c: &TestClient| {
            hook_count.fetch_add(1, Ordering::SeqCst);
            // Restore server-side state: rooms are per connection.
            c.send(
                Join,
                Room {
                    room: "back".into(),
                },
            )
            .unwrap();
        })
        .await
        .unwrap();
    let mut states = client.state_changes();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = client.on(OnEcho, move |t: Text| {
        let _ = tx.send(t.text);
    });
    client.send(Echo, text("before")).unwrap();
    assert_eq!(next(&mut rx).await, "before");

    server.stop().await;
    states
        .wait_for(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await
        .unwrap();
    for i in 0..3 {
        client.send(Echo, text(&format!("buffered {i}"))).unwrap();
    }
    assert_eq!(client.buffered(), 3);

    // A new server on the same port.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (app, _disconnects, _calls) = app(config());
    let handle = app.handle();
    let task = tokio::spawn(app.serve_listener(listener));

    for i in 0..3 {
        assert_eq!(
            next(&mut rx).await,
            format!("buffered {i}"),
            "flushed in order"
        );
    }
    assert_eq!(client.state(), ConnState::Open);
    assert_eq!(reconnects.load(Ordering::SeqCst), 1);
    // The hook's join ran before the buffered echoes, so the room exists now.
    assert_eq!(handle.rooms(), ["back"]);
    client.close().await;
    handle.shutdown();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn close_stops_reconnecting_and_later_sends_fail() {
    let mut server = start().await;
    let client = connect(&server, "a").await;
    client.close().await;
    assert_eq!(client.state(), ConnState::Closed);
    server.next_disconnect().await;
    match client.send(Echo, text("late")) {
        Err(SendError::Closed { payload, .. }) => assert_eq!(payload.text, "late"),
        other => panic!("unexpected {other:?}"),
    }
    // close() returned after the connection task ended: nothing can reconnect.
    assert_eq!(server.handle.connection_count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_full_buffer_reports_its_error_or_drops_the_oldest() {
    let server = start().await;
    let strict = Client::<TestRouter>::connect(server.url())
        .header("name", "strict")
        .reconnect(fast_reconnect())
        .buffer(2, BufferPolicy::Error)
        .await
        .unwrap();
    let lenient = Client::<TestRouter>::connect(server.url())
        .header("name", "lenient")
        .reconnect(fast_reconnect())
        .buffer(2, BufferPolicy::DropOldest)
        .await
        .unwrap();
    let mut s1 = strict.state_changes();
    let mut s2 = lenient.state_changes();
    server.stop().await;
    s1.wait_for(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await
        .unwrap();
    s2.wait_for(|s| matches!(s, ConnState::Reconnecting { .. }))
        .await
        .unwrap();

    strict.send(Echo, text("1")).unwrap();
    strict.send(Echo, text("2")).unwrap();
    match strict.send(Echo, text("3")) {
        Err(SendError::Full { payload, route }) => {
            assert_eq!(payload.text, "3", "the payload is handed back");
            assert_eq!(route, "echo");
        }
        other => panic!("unexpected {other:?}"),
    }
    for i in 0..5 {
        lenient.send(Echo, text(&i.to_string())).unwrap();
    }
    assert_eq!(lenient.buffered(), 2);
    strict.close().await;
    lenient.close().await;
}

#[tokio::test]
async fn refused_handshakes_are_connect_errors() {
    let server = start().await;
    let err = Client::<TestRouter>::connect(server.url())
        .header("name", "anon")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectError::Refused { status: 401, .. }),
        "{err}"
    );
    let err = Client::<TestRouter>::connect(server.url())
        .await
        .unwrap_err();
    match err {
        ConnectError::Refused { status, body } => {
            assert_eq!(status, 400);
            assert!(body.contains("Invalid headers"), "{body}");
        }
        other => panic!("unexpected {other}"),
    }
    // As a real HTTP header instead of a query parameter.
    let client = Client::<TestRouter>::connect(server.url())
        .http_header("name", "hdr")
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _s = client.on(OnWhoami, move |w: Whoami| {
        let _ = tx.send(w.name);
    });
    client.send(AskWhoami, ()).unwrap();
    assert_eq!(next(&mut rx).await, "hdr");
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_payloads_are_refused_before_sending() {
    let server = start().await;
    let client = connect(&server, "a").await;
    match client.send(Echo, text("")) {
        Err(SendError::Invalid { payload, .. }) => assert_eq!(payload.text, ""),
        other => panic!("unexpected {other:?}"),
    }
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_panicking_listener_does_not_break_the_client() {
    let server = start().await;
    let client = connect(&server, "a").await;
    let _bad = client.on(OnEcho, |t: Text| {
        if t.text == "boom" {
            panic!("listener bug");
        }
    });
    let mut good = client.stream(OnEcho);
    client.send(Echo, text("boom")).unwrap();
    client.send(Echo, text("after")).unwrap();
    for expected in ["boom", "after"] {
        let t = tokio::time::timeout(WAIT, good.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.text, expected);
    }
    assert_eq!(client.state(), ConnState::Open);
    client.close().await;
    server.stop().await;
}
