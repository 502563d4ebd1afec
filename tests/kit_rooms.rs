//! tests/rooms.rs through the test kit: rooms, in memory.
mod common;
mod kit;
use common::*;
use kit::*;
use zocket::ErrorKind;

fn room(r: &str) -> Room {
    Room { room: r.into() }
}
fn say(r: &str, t: &str) -> RoomText {
    RoomText {
        room: r.into(),
        text: t.into(),
    }
}

#[tokio::test]
async fn room_send_reaches_members_only() {
    let app = kit();
    let handle = app.server.handle();
    let (mut a, mut b, mut c) = (
        app.client("a").await,
        app.client("b").await,
        app.client("c").await,
    );
    a.send(Join, room("x")).await;
    b.send(Join, room("x")).await;
    c.send(Join, room("y")).await;
    for x in [&mut a, &mut b, &mut c] {
        barrier(x).await;
    }
    let aid = whoami(&mut a).await.id;
    a.send(Say, say("x", "hi x")).await;
    for x in [&mut a, &mut b] {
        let p = x.expect(OnSay).await;
        assert_eq!((p.text.as_str(), p.from), ("hi x", aid));
    }
    c.expect_nothing().await;
    assert_eq!(handle.rooms(), ["x", "y"]);
    assert_eq!(handle.members("x").len(), 2);
}

#[tokio::test]
async fn leaving_stops_delivery_and_empty_rooms_are_removed() {
    let app = kit();
    let (mut a, mut b) = (app.client("a").await, app.client("b").await);
    a.send(Join, room("x")).await;
    b.send(Join, room("x")).await;
    barrier(&mut b).await;
    b.send(Leave, room("x")).await;
    barrier(&mut b).await;
    a.send(Say, say("x", "still here?")).await;
    assert_eq!(a.expect(OnSay).await.text, "still here?");
    b.expect_nothing().await;
    a.send(Leave, room("x")).await;
    barrier(&mut a).await;
    assert!(
        app.server.handle().rooms().is_empty(),
        "the empty room is gone"
    );
}

#[tokio::test]
async fn room_send_after_a_member_disconnects_reaches_the_rest() {
    let mut app = kit();
    let (mut a, mut b, mut c) = (
        app.client("a").await,
        app.client("b").await,
        app.client("c").await,
    );
    for x in [&mut a, &mut b, &mut c] {
        x.send(Join, room("x")).await;
        barrier(x).await;
    }
    c.send(Join, room("z")).await;
    let cid = whoami(&mut c).await.id;
    c.drop_connection();
    let gone = app.next_disconnect().await;
    assert_eq!((gone.id, gone.name.as_str()), (cid, "c"));
    assert_eq!(
        gone.rooms,
        ["x", "z"],
        "on_disconnect gets the rooms it was in"
    );
    let handle = app.server.handle();
    assert_eq!(handle.members("x").len(), 2, "it left them first");
    assert!(!handle.rooms().contains(&"z".to_owned()));
    a.send(Say, say("x", "bye c")).await;
    assert_eq!(a.expect(OnSay).await.text, "bye c");
    assert_eq!(b.expect(OnSay).await.text, "bye c");
}

#[tokio::test]
async fn on_disconnect_runs_once_per_connection() {
    let mut app = kit();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut c = app.client(&format!("u{i}")).await;
        ids.push(whoami(&mut c).await.id);
        if i % 2 == 0 {
            c.close().await; // a clean close handshake...
        } else {
            c.drop_connection(); // ...or a dropped connection
        }
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(app.next_disconnect().await.id);
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    assert_eq!(app.server.handle().connection_count(), 0);
    let mut disconnects = app.disconnects;
    app.server.shutdown().await;
    assert!(
        disconnects.try_recv().is_err(),
        "no second call, not even at shutdown"
    );
}

#[tokio::test]
async fn a_join_beyond_the_room_limit_is_refused_with_an_error() {
    let app = kit_with(config().max_rooms_per_client(3));
    let mut a = app.client("a").await;
    for r in ["r1", "r2", "r3"] {
        a.send(Join, room(r)).await;
    }
    barrier(&mut a).await;
    a.send(Join, room("r4")).await;
    let e = a.expect_error(ErrorKind::Rejected).await;
    assert_eq!(e.route.as_deref(), Some("rooms.join"));
    assert!(e.message.contains("at most 3 rooms"), "{}", e.message);
    assert_eq!(whoami(&mut a).await.rooms, ["r1", "r2", "r3"]);
    a.send(Leave, room("r1")).await;
    a.send(Join, room("r4")).await;
    assert_eq!(whoami(&mut a).await.rooms, ["r2", "r3", "r4"]);
}
