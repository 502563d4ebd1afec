//! The chat app tested the way an app author would: with `zocket::testing`,
//! in memory, typed. `cargo test` runs them (through tests/chat_app.rs).

use zocket::ErrorKind;
use zocket::presence::PresenceEvent;
use zocket::testing::{TestClient, TestServer};

use super::*;

fn server() -> TestServer<AppRouter, User> {
    TestServer::new(app(Config::default(), ContractCheck::Warn).expect("the chat app builds"))
}

async fn user(server: &TestServer<AppRouter, User>, name: &str) -> TestClient<AppRouter> {
    server.connect([("name", name)]).await.expect("accepted")
}

fn room(name: &str) -> Room {
    Room { room: name.into() }
}

/// `client` joins `r`: it sees its own join, then itself come online.
async fn enter(client: &mut TestClient<AppRouter>, r: &str, name: &str) {
    client.send(Join, room(r)).await;
    assert_eq!(client.expect(OnJoin).await.name, name);
    let diff = client.expect(OnPresence).await;
    assert_eq!((diff.key.as_str(), diff.event), (name, PresenceEvent::Join));
}

#[tokio::test]
async fn members_of_a_room_see_each_other_join_talk_and_leave() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    enter(&mut alice, "lobby", "alice").await;
    enter(&mut bob, "lobby", "bob").await;
    assert_eq!(alice.expect(OnJoin).await.name, "bob");
    assert_eq!(alice.expect(OnPresence).await.key, "bob");

    bob.send(
        Send,
        Post {
            room: "lobby".into(),
            text: "hello".into(),
        },
    )
    .await;
    for client in [&mut alice, &mut bob] {
        let m = client.expect(OnMessage).await;
        assert_eq!((m.name.as_str(), m.text.as_str()), ("bob", "hello"));
    }

    alice
        .send(
            SetTyping,
            Typing {
                room: "lobby".into(),
                typing: true,
            },
        )
        .await;
    assert!(bob.expect(OnTyping).await.typing);
    alice.expect_nothing().await; // typing goes to the others only

    bob.send(Leave, room("lobby")).await;
    let gone = alice.expect(OnPresence).await;
    assert_eq!(
        (gone.key.as_str(), gone.event),
        ("bob", PresenceEvent::Leave)
    );
    assert_eq!(alice.expect(OnLeave).await.name, "bob");
}

#[tokio::test]
async fn writing_to_a_room_you_have_not_joined_is_rejected_and_nobody_hears_it() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    enter(&mut bob, "lobby", "bob").await;
    alice
        .send(
            Send,
            Post {
                room: "lobby".into(),
                text: "let me in".into(),
            },
        )
        .await;
    let e = alice.expect_error(ErrorKind::Rejected).await;
    assert!(e.message.contains("join room \"lobby\""), "{}", e.message);
    bob.expect_nothing().await;
}

#[tokio::test]
async fn invalid_messages_never_reach_a_handler() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    alice.send(Join, room("")).await;
    let e = alice.expect_error(ErrorKind::ValidationFailed).await;
    assert_eq!(e.details[0].path, "room");
    alice.send(Join, room(&"x".repeat(65))).await;
    alice.expect_error(ErrorKind::ValidationFailed).await;
    assert!(alice.request(Rooms, ()).await.unwrap().rooms.is_empty());
}

#[tokio::test]
async fn the_rooms_request_answers_the_rooms_you_are_in() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    for r in ["b", "a"] {
        enter(&mut alice, r, "alice").await;
    }
    assert_eq!(alice.request(Rooms, ()).await.unwrap().rooms, ["a", "b"]);
}

#[tokio::test]
async fn names_are_checked_at_the_door() {
    let server = server();
    assert_eq!(
        server.connect([("name", "")]).await.unwrap_err().status,
        400
    );
    let sneaky = server
        .connect([("name", "evil\u{202E}txt")])
        .await
        .unwrap_err();
    assert_eq!(sneaky.status, 400);
    assert!(sneaky.body.contains("bidirectional"), "{}", sneaky.body);
}

#[tokio::test]
async fn a_member_who_disconnects_is_seen_leaving() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    enter(&mut alice, "lobby", "alice").await;
    enter(&mut bob, "lobby", "bob").await;
    alice.expect(OnJoin).await;
    alice.expect(OnPresence).await;
    bob.close().await;
    let gone = alice.expect(OnPresence).await;
    assert_eq!(
        (gone.key.as_str(), gone.event),
        ("bob", PresenceEvent::Leave)
    );
    assert_eq!(alice.expect(OnLeave).await.name, "bob");
}

#[tokio::test]
async fn two_tabs_of_one_name_are_online_once() {
    let server = server();
    let mut watcher = user(&server, "watcher").await;
    enter(&mut watcher, "lobby", "watcher").await;
    let mut tab1 = user(&server, "ann").await;
    let mut tab2 = user(&server, "ann").await;
    enter(&mut tab1, "lobby", "ann").await;
    watcher.expect(OnJoin).await;
    assert_eq!(watcher.expect(OnPresence).await.event, PresenceEvent::Join);
    tab2.send(Join, room("lobby")).await;
    watcher.expect(OnJoin).await;
    let second = watcher.expect(OnPresence).await;
    assert_eq!(
        (second.event, second.metas.len()),
        (PresenceEvent::Update, 2),
        "no second join"
    );
    let who = watcher.request(Who, room("lobby")).await.unwrap();
    assert_eq!(who.online.keys().collect::<Vec<_>>(), ["ann", "watcher"]);
    assert_eq!(who.online["ann"].len(), 2);
    tab1.close().await;
    assert_eq!(
        watcher.expect(OnPresence).await.event,
        PresenceEvent::Update
    );
    watcher.expect(OnLeave).await;
    tab2.close().await;
    assert_eq!(watcher.expect(OnPresence).await.event, PresenceEvent::Leave);
}

#[tokio::test]
async fn with_recovery_a_dropped_member_comes_back_with_what_it_missed() {
    let config = Config::default().recovery(Some(Recovery::default()));
    let server = TestServer::new(app(config, ContractCheck::Warn).unwrap());
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    enter(&mut alice, "lobby", "alice").await;
    enter(&mut bob, "lobby", "bob").await;
    alice.expect(OnJoin).await;
    alice.expect(OnPresence).await;
    let id = alice.id().expect("told on $zocket.welcome");
    let away = alice.drop_connection();
    // bob talks while alice is away (her session is kept once the server noticed).
    while server.handle().is_connected(id) {
        tokio::task::yield_now().await;
    }
    bob.send(
        Send,
        Post {
            room: "lobby".into(),
            text: "you there?".into(),
        },
    )
    .await;
    bob.expect(OnMessage).await;
    let mut alice = server.resume(away).await.unwrap();
    assert_eq!(alice.expect(OnMessage).await.text, "you there?");
    assert!(alice.recovered());
    assert_eq!(alice.id(), Some(id));
}

#[tokio::test(start_paused = true)]
async fn typing_stops_by_itself_and_typing_outside_a_room_is_dropped_quietly() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    enter(&mut alice, "lobby", "alice").await;
    enter(&mut bob, "lobby", "bob").await;
    assert_eq!(alice.expect(OnJoin).await.name, "bob");
    alice.expect(OnPresence).await;
    let typing = |typing| Typing {
        room: "lobby".into(),
        typing,
    };
    // alice types, then vanishes from the conversation: after TYPING_EXPIRES
    // (virtual time) bob sees her stop, once.
    alice.send(SetTyping, typing(true)).await;
    assert!(bob.expect(OnTyping).await.typing);
    alice.send(SetTyping, typing(true)).await; // another keystroke restarts the timer
    assert!(bob.expect(OnTyping).await.typing);
    let stopped = bob.expect(OnTyping).await;
    assert!(!stopped.typing && stopped.name == "alice");
    bob.expect_nothing().await;
    // Saying "stopped" cancels the timer: no second "stopped" later.
    alice.send(SetTyping, typing(true)).await;
    assert!(bob.expect(OnTyping).await.typing);
    alice.send(SetTyping, typing(false)).await;
    assert!(!bob.expect(OnTyping).await.typing);
    tokio::time::advance(TYPING_EXPIRES * 2).await;
    bob.expect_nothing().await;
    // Typing in a room she is not in: nothing comes back, it is counted.
    alice
        .send(
            SetTyping,
            Typing {
                room: "elsewhere".into(),
                typing: true,
            },
        )
        .await;
    alice.expect_nothing().await;
    assert_eq!(server.handle().metrics().dropped["chat.typing"], 1);
}

/// The contract the TypeScript side builds against (`examples/chat/contract.ts`,
/// committed) is this router's: `ZOCKET_UPDATE_CONTRACT=1 cargo test` rewrites it.
#[test]
fn the_committed_typescript_contract_is_up_to_date() {
    Contract::of::<AppRouter, _>()
        .with_handshake::<Hello>()
        .assert_typescript("examples/chat/contract.ts");
}

/// `chat.topic` refuses with its own typed error, which reaches the Rust
/// client typed (over a real socket, with `zocket::Client`) and the test kit.
#[tokio::test]
async fn a_topic_is_refused_with_the_routes_own_typed_error() {
    let app = app(Config::default(), ContractCheck::Warn).expect("the chat app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws?name=alice", listener.local_addr().unwrap());
    let handle = app.handle();
    tokio::spawn(app.serve_listener(listener));
    let client = zocket::Client::<AppRouter>::connect(url)
        .on_request(AskPoked, |_: Poked| async {
            Ok::<_, String>(PokeReply { reply: "hi".into() })
        })
        .await
        .unwrap();
    let set = |topic: &str| SetTopic {
        room: "lobby".into(),
        topic: topic.into(),
    };
    match client
        .request(Topic, set("rust"))
        .await
        .unwrap()
        .into_result()
    {
        Err(TopicError::NotAMember { room }) => assert_eq!(room, "lobby"),
        other => panic!("expected NotAMember, got {other:?}"),
    }
    client.send(Join, room("lobby")).unwrap();
    let set_topic = client.request(Topic, set("rust")).await.unwrap();
    assert_eq!(set_topic.into_result().unwrap().topic, "rust");
    assert!(matches!(
        client.request(Topic, set("rust")).await.unwrap(),
        Outcome::Err(TopicError::Unchanged)
    ));
    // A payload that fails the route's rules is refused before it is sent.
    let invalid = client.request(Topic, set("")).await.unwrap_err();
    assert!(
        matches!(invalid, zocket::RequestError::Send(_)),
        "{invalid:?}"
    );
    client.close().await;
    handle.shutdown();

    // The test kit reads it the same way.
    let server = server();
    let mut bob = user(&server, "bob").await;
    assert!(matches!(
        bob.request(Topic, set("x")).await.unwrap(),
        Outcome::Err(TopicError::NotAMember { .. })
    ));
}
