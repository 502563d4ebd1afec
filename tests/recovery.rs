//! Connection-state recovery over real sockets: a client whose TCP connection
//! dies (no close frame) comes back within the window with its token and last
//! offset, and gets its id, its rooms and exactly the messages it missed.
mod common;
mod proxy;

use std::time::Duration;

use common::{Client, Server, WAIT, config, start_with};
use proxy::Proxy;
use serde_json::{Value, json};
use zocket::{Config, Recovery};

fn recovery(window: Duration) -> Config {
    config().recovery(Some(Recovery::default().window(window)))
}

/// The greeting every connection gets first with recovery on.
struct Welcome {
    id: String,
    token: String,
    recovered: bool,
}

async fn welcome(client: &mut Client) -> Welcome {
    let p = client.expect("$zocket.welcome").await;
    Welcome {
        id: p["clientId"].as_str().unwrap().to_owned(),
        token: p["token"].as_str().unwrap().to_owned(),
        recovered: p["recovered"].as_bool().unwrap(),
    }
}

/// Reads messages until `route`; returns its payload and the offset it carried.
async fn expect_with_offset(client: &mut Client, route: &str) -> (Value, u64) {
    let v = client.recv().await;
    assert_eq!(v["type"], route, "unexpected message {v}");
    let offset = v["offset"]
        .as_u64()
        .unwrap_or_else(|| panic!("no offset in {v}"));
    (v["payload"].clone(), offset)
}

/// Kills the client's TCP connection: no close frame, a reset.
fn kill(client: Client) {
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = client.ws.get_ref() {
        let _ = tcp.set_zero_linger();
    }
    drop(client);
}

/// Waits until the server has noticed `n` dropped sessions.
async fn detached(server: &Server, n: u64) {
    tokio::time::timeout(WAIT, async {
        while server.handle.metrics().sessions_detached < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the server notices the dropped connection");
}

/// Round-trips an echo, skipping what arrives before it (the room messages a
/// sender gets too): everything the client sent before has been handled.
async fn settle(client: &mut Client) {
    client.send("echo", json!({"text": "settle"})).await;
    loop {
        let v = client.recv().await;
        if v["type"] == "onEcho" && v["payload"]["text"] == "settle" {
            return;
        }
    }
}

async fn resume(server: &Server, name: &str, token: &str, offset: u64) -> Client {
    let url = format!(
        "{}?name={name}&zocket-session={token}&zocket-offset={offset}",
        server.url()
    );
    Client::connect_url(&url).await
}

#[tokio::test]
async fn a_dropped_client_gets_exactly_the_messages_it_missed_in_order() {
    let mut server = start_with(recovery(Duration::from_secs(60))).await;
    let mut alice = Client::connect(&server, "alice").await;
    let first = welcome(&mut alice).await;
    assert!(!first.recovered);
    for room in ["r1", "r2"] {
        alice.send("rooms.join", json!({"room": room})).await;
    }
    alice.send("echo", json!({"text": "ready"})).await;
    let (_, last) = expect_with_offset(&mut alice, "onEcho").await;

    let mut bob = Client::connect(&server, "bob").await;
    welcome(&mut bob).await;
    for room in ["r1", "r2"] {
        bob.send("rooms.join", json!({"room": room})).await;
    }
    bob.barrier().await;

    kill(alice);
    detached(&server, 1).await;

    // 7 messages to alice's rooms and 2 to her id, interleaved.
    let plan = [
        ("r1", "m1"),
        ("r2", "m2"),
        ("", "m3"),
        ("r1", "m4"),
        ("r2", "m5"),
        ("r1", "m6"),
        ("", "m7"),
        ("r2", "m8"),
        ("r1", "m9"),
    ];
    for (room, text) in plan {
        if room.is_empty() {
            bob.send("dm", json!({"to": [first.id], "text": text}))
                .await;
        } else {
            bob.send("rooms.say", json!({"room": room, "text": text}))
                .await;
        }
    }
    settle(&mut bob).await; // all nine handled

    let mut alice = resume(&server, "alice", &first.token, last).await;
    let again = welcome(&mut alice).await;
    assert!(again.recovered, "resumed within the window");
    assert_eq!(again.id, first.id, "same client id");
    let mut previous = last;
    for (room, text) in plan {
        let route = if room.is_empty() {
            "onDm"
        } else {
            "rooms.onSay"
        };
        let (payload, offset) = expect_with_offset(&mut alice, route).await;
        assert_eq!(payload["text"], text, "in order");
        assert!(offset > previous, "offsets grow: {offset} after {previous}");
        previous = offset;
    }
    // The app's on_recover hook ran after the replay, before anything new.
    let (payload, _) = expect_with_offset(&mut alice, "onEcho").await;
    assert_eq!(payload["text"], "recovered");
    // A tenth, sent after the resume, comes after the nine.
    bob.send("rooms.say", json!({"room": "r1", "text": "m10"}))
        .await;
    let (payload, _) = expect_with_offset(&mut alice, "rooms.onSay").await;
    assert_eq!(payload["text"], "m10");
    settle(&mut bob).await;

    let me = alice.whoami().await;
    assert_eq!(me.id.to_string(), first.id);
    assert_eq!(me.rooms, ["r1", "r2"], "rooms kept");
    assert!(
        server.disconnects.try_recv().is_err(),
        "on_disconnect did not run"
    );
    let m = server.handle.metrics();
    assert_eq!((m.sessions_detached, m.sessions_recovered), (1, 1));
    server.stop().await;
}

#[tokio::test]
async fn after_the_window_the_session_is_gone_and_on_disconnect_ran_once() {
    let mut server = start_with(recovery(Duration::from_millis(200))).await;
    let mut alice = Client::connect(&server, "alice").await;
    let first = welcome(&mut alice).await;
    alice.send("rooms.join", json!({"room": "r1"})).await;
    alice.barrier().await;
    kill(alice);
    let gone = server.next_disconnect().await;
    assert_eq!(
        (gone.name.as_str(), gone.rooms.clone()),
        ("alice", vec!["r1".to_owned()])
    );

    let mut alice = resume(&server, "alice", &first.token, 1).await;
    let again = welcome(&mut alice).await;
    assert!(!again.recovered, "too late: a fresh session");
    assert_ne!(again.id, first.id);
    let me = alice.whoami().await; // the next message: nothing was replayed
    assert!(me.rooms.is_empty());
    drop(alice);
    let disconnects = server.stop_collecting().await;
    assert!(
        disconnects.iter().all(|d| d.id.to_string() != first.id),
        "on_disconnect ran once for the old session"
    );
}

#[tokio::test]
async fn a_token_does_not_resume_a_session_for_another_client() {
    let server = start_with(recovery(Duration::from_secs(60))).await;
    let mut alice = Client::connect(&server, "alice").await;
    let first = welcome(&mut alice).await;
    alice.barrier().await;
    kill(alice);
    detached(&server, 1).await;

    // Bob presents alice's token: he gets a session of his own.
    let mut bob = resume(&server, "bob", &first.token, 0).await;
    let bobs = welcome(&mut bob).await;
    assert!(!bobs.recovered);
    assert_ne!(bobs.id, first.id);
    // A forged secret for alice's id does not work either.
    let forged = format!("{}.{}", first.id, "0".repeat(32));
    let mut mallory = resume(&server, "alice", &forged, 0).await;
    assert!(!welcome(&mut mallory).await.recovered);
    // Alice's own token still resumes her session.
    let mut alice = resume(&server, "alice", &first.token, 0).await;
    let again = welcome(&mut alice).await;
    assert!(again.recovered);
    assert_eq!(again.id, first.id);
    // Written before the drop, after offset 0: the barrier's answer, again.
    assert_eq!(
        expect_with_offset(&mut alice, "onEcho").await.0["text"],
        "barrier"
    );
    assert_eq!(
        expect_with_offset(&mut alice, "onEcho").await.0["text"],
        "recovered"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_says_goodbye_is_gone_at_once() {
    let mut server = start_with(recovery(Duration::from_secs(60))).await;
    let mut alice = Client::connect(&server, "alice").await;
    let first = welcome(&mut alice).await;
    alice.ws.close(None).await.unwrap();
    let gone = server.next_disconnect().await;
    assert_eq!(
        gone.id.to_string(),
        first.id,
        "on_disconnect at the close, not after the window"
    );
    let mut again = resume(&server, "alice", &first.token, 0).await;
    assert!(!welcome(&mut again).await.recovered);
    server.stop().await;
}

#[tokio::test]
async fn a_session_whose_queue_overflowed_while_away_is_not_recovered() {
    let server = start_with(recovery(Duration::from_secs(60)).queue_len(4)).await;
    let mut alice = Client::connect(&server, "alice").await;
    let first = welcome(&mut alice).await;
    alice.barrier().await;
    kill(alice);
    detached(&server, 1).await;
    let mut bob = Client::connect(&server, "bob").await;
    welcome(&mut bob).await;
    for i in 0..40 {
        bob.send("dm", json!({"to": [first.id], "text": format!("m{i}")}))
            .await;
    }
    bob.barrier().await;
    let mut alice = resume(&server, "alice", &first.token, 0).await;
    let again = welcome(&mut alice).await;
    assert!(
        !again.recovered,
        "messages were lost: the client must resynchronise"
    );
    assert_ne!(again.id, first.id);
    server.stop().await;
}

#[tokio::test]
async fn the_rust_client_resumes_by_itself_and_its_buffered_sends_follow() {
    use common::{Echo, Join, OnEcho, OnSay, Room, RoomText, Said, Say, TestRouter, Text};
    use zocket::{ConnState, Reconnect};

    let server = start_with(recovery(Duration::from_secs(60))).await;
    let proxy = Proxy::start(server.addr).await;
    let fast = Reconnect {
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..Reconnect::default()
    };
    let alice = zocket::Client::<TestRouter>::connect(format!("ws://{}/", proxy.addr))
        .header("name", "alice")
        .reconnect(fast)
        .await
        .expect("connects");
    let (said_tx, mut said) = tokio::sync::mpsc::unbounded_channel();
    let _sub = alice.on(OnSay, move |s: Said| {
        let _ = said_tx.send(s.text);
    });
    let (echo_tx, mut echoes) = tokio::sync::mpsc::unbounded_channel();
    let _echo = alice.on(OnEcho, move |t: Text| {
        let _ = echo_tx.send(t.text);
    });
    alice.send(Join, Room { room: "r1".into() }).unwrap();
    alice
        .send(
            Echo,
            Text {
                text: "joined".into(),
            },
        )
        .unwrap();
    let got = tokio::time::timeout(WAIT, echoes.recv()).await.unwrap();
    assert_eq!(got.as_deref(), Some("joined"));
    assert!(!alice.recovered(), "the first connection resumes nothing");

    let mut states = alice.state_changes();
    proxy.cut_and_pause();
    tokio::time::timeout(
        WAIT,
        states.wait_for(|s| matches!(s, ConnState::Reconnecting { .. })),
    )
    .await
    .expect("the client notices")
    .unwrap();
    detached(&server, 1).await;

    let mut bob = Client::connect(&server, "bob").await;
    welcome(&mut bob).await;
    bob.send("rooms.join", json!({"room": "r1"})).await;
    for i in 1..=5 {
        bob.send("rooms.say", json!({"room": "r1", "text": format!("m{i}")}))
            .await;
    }
    settle(&mut bob).await;
    // Sent while away: buffered by the client, sent after the resume.
    alice
        .send(
            Say,
            RoomText {
                room: "r1".into(),
                text: "back".into(),
            },
        )
        .unwrap();

    proxy.resume();
    tokio::time::timeout(WAIT, states.wait_for(|s| *s == ConnState::Open))
        .await
        .expect("the client reconnects")
        .unwrap();
    assert!(alice.recovered(), "the session was resumed");
    let mut texts = Vec::new();
    while texts.len() < 6 {
        let t = tokio::time::timeout(WAIT, said.recv())
            .await
            .expect("replayed within the wait");
        texts.push(t.unwrap());
    }
    assert_eq!(
        texts,
        ["m1", "m2", "m3", "m4", "m5", "back"],
        "missed messages in order, then its own"
    );
    // Bob gets alice's buffered message too.
    loop {
        let v = bob.recv().await;
        if v["type"] == "rooms.onSay" && v["payload"]["text"] == "back" {
            break;
        }
    }
    server.stop().await;
}

/// Connects with the session token and the raw offset parameter `offset`
/// (`None`: no offset at all).
async fn resume_raw(server: &Server, name: &str, token: &str, offset: Option<&str>) -> Client {
    let offset = offset.map_or(String::new(), |o| format!("&zocket-offset={o}"));
    let url = format!(
        "{}?name={name}&zocket-session={token}{offset}",
        server.url()
    );
    Client::connect_url(&url).await
}

#[tokio::test]
async fn a_resume_without_a_readable_offset_or_past_the_last_one_starts_fresh() {
    let server = start_with(recovery(Duration::from_secs(60))).await;
    // Each case drops a session that has written messages, then presents its
    // token with a bad offset: a fresh session, never a replay of what the
    // client has. The last case, with the real offset, resumes.
    let cases: [(Option<&str>, bool); 8] = [
        (None, false),
        (Some(""), false),
        (Some("abc"), false),
        (Some("-1"), false),
        (Some("+2"), false),
        (Some("1.5"), false),
        (Some("999999"), false), // past the last one written
        (Some("LAST"), true),
    ];
    for (n, (offset, resumes)) in cases.into_iter().enumerate() {
        let name = format!("c{n}");
        let mut client = Client::connect(&server, &name).await;
        let first = welcome(&mut client).await;
        client.send("echo", json!({"text": "one"})).await;
        let (_, last) = expect_with_offset(&mut client, "onEcho").await;
        kill(client);
        detached(&server, n as u64 + 1).await;
        let offset = offset.map(|o| {
            if o == "LAST" {
                last.to_string()
            } else {
                o.to_owned()
            }
        });
        let mut again = resume_raw(&server, &name, &first.token, offset.as_deref()).await;
        let w = welcome(&mut again).await;
        assert_eq!(w.recovered, resumes, "offset {offset:?}");
        if resumes {
            assert_eq!(w.id, first.id);
        } else {
            assert_ne!(
                w.id, first.id,
                "offset {offset:?}: a fresh session has a new id"
            );
            // Nothing is replayed: the next message is the answer to this one.
            again.send("echo", json!({"text": "fresh"})).await;
            let (payload, offset_now) = expect_with_offset(&mut again, "onEcho").await;
            assert_eq!((payload["text"].as_str(), offset_now), (Some("fresh"), 1));
        }
    }
    server.stop().await;
}
