//! The chat app tested the way an app author would: with `zocket::testing`,
//! in memory, typed. `cargo test --example chat` (and `cargo test`) runs them.

use zocket::ErrorKind;
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

#[tokio::test]
async fn members_of_a_room_see_each_other_join_talk_and_leave() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    alice.send(Join, room("lobby")).await;
    assert_eq!(alice.expect(OnJoin).await.name, "alice");
    bob.send(Join, room("lobby")).await;
    assert_eq!(alice.expect(OnJoin).await.name, "bob");
    assert_eq!(bob.expect(OnJoin).await.name, "bob");

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
    assert_eq!(alice.expect(OnLeave).await.name, "bob");
}

#[tokio::test]
async fn writing_to_a_room_you_have_not_joined_is_rejected_and_nobody_hears_it() {
    let server = server();
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    bob.send(Join, room("lobby")).await;
    bob.expect(OnJoin).await;
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
        alice.send(Join, room(r)).await;
        alice.expect(OnJoin).await;
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
    for c in [&mut alice, &mut bob] {
        c.send(Join, room("lobby")).await;
    }
    alice.expect(OnJoin).await;
    alice.expect(OnJoin).await;
    bob.close().await;
    assert_eq!(alice.expect(OnLeave).await.name, "bob");
}

#[tokio::test]
async fn with_recovery_a_dropped_member_comes_back_with_what_it_missed() {
    let config = Config::default().recovery(Some(Recovery::default()));
    let server = TestServer::new(app(config, ContractCheck::Warn).unwrap());
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    alice.send(Join, room("lobby")).await;
    alice.expect(OnJoin).await;
    bob.send(Join, room("lobby")).await;
    bob.expect(OnJoin).await;
    alice.expect(OnJoin).await;
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
