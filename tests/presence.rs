//! Typed presence over real sockets: join, update and leave diffs; two
//! connections under one key make one join and one leave; a disconnect
//! sends the leave; the list matches.
mod common;

use std::collections::BTreeMap;

use common::{Client, WAIT};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use zocket::presence::{Presence, PresenceDiff};
use zocket::{Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
struct Online {
    #[garde(length(min = 1, max = 32))]
    name: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Enter {
    #[garde(length(min = 1))]
    room: String,
    #[garde(length(min = 1))]
    key: String,
    #[garde(length(min = 1, max = 32))]
    name: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Room {
    #[garde(length(min = 1))]
    room: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Who {
    #[garde(skip)]
    list: BTreeMap<String, Vec<Online>>,
}

struct Track;
impl Incoming for Track {
    const NAME: &'static str = "track";
    type Payload = Enter;
}
struct Rename;
impl Incoming for Rename {
    const NAME: &'static str = "rename";
    type Payload = Enter;
}
struct Untrack;
impl Incoming for Untrack {
    const NAME: &'static str = "untrack";
    type Payload = Room;
}
struct List;
impl Request for List {
    const NAME: &'static str = "list";
    type Payload = Room;
    type Response = Who;
}
struct OnPresence;
impl Outgoing for OnPresence {
    const NAME: &'static str = "onPresence";
    type Payload = PresenceDiff<Online>;
}
type Api = (Track, (Rename, (Untrack, (List, (OnPresence, ())))));

async fn server() -> String {
    let presence = Presence::<Online>::new();
    let (p1, p2, p3, p4) = (
        presence.clone(),
        presence.clone(),
        presence.clone(),
        presence.clone(),
    );
    let app = Zocket::<Api>::builder()
        .presence(&presence, OnPresence)
        .on(Track, move |e: Enter, ctx: Ctx<Api>| {
            let p = p1.clone();
            async move {
                ctx.join(&e.room)?;
                p.track(ctx.conn(), &e.room, &e.key, Online { name: e.name })?;
                HandlerResult::Ok(())
            }
        })
        .on(Rename, move |e: Enter, ctx: Ctx<Api>| {
            let p = p2.clone();
            async move {
                p.update(ctx.conn(), &e.room, Online { name: e.name })?;
                HandlerResult::Ok(())
            }
        })
        .on(Untrack, move |r: Room, ctx: Ctx<Api>| {
            let p = p3.clone();
            async move {
                p.untrack(ctx.conn(), &r.room);
                HandlerResult::Ok(())
            }
        })
        .on_request(List, move |r: Room, _ctx: Ctx<Api>| {
            let p = p4.clone();
            async move {
                Ok::<_, HandlerError>(Who {
                    list: p.list(&r.room),
                })
            }
        })
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve_listener(listener));
    format!("ws://{addr}/")
}

async fn track(c: &mut Client, room: &str, key: &str, name: &str) {
    c.send("track", json!({"room": room, "key": key, "name": name}))
        .await;
}

/// The next presence diff: (key, event, names).
async fn diff(c: &mut Client) -> (String, String, Vec<String>) {
    let p = c.expect("onPresence").await;
    let names = p["metas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    (
        p["key"].as_str().unwrap().to_owned(),
        p["event"].as_str().unwrap().to_owned(),
        names,
    )
}

fn d(key: &str, event: &str, names: &[&str]) -> (String, String, Vec<String>) {
    (
        key.into(),
        event.into(),
        names.iter().map(|s| s.to_string()).collect(),
    )
}

async fn list(c: &mut Client, room: &str) -> serde_json::Value {
    c.send_raw(&json!({"type": "list", "payload": {"room": room}, "id": 1}).to_string())
        .await;
    let v = c.recv().await;
    assert_eq!(v["type"], "$zocket.reply", "{v}");
    v["payload"]["list"].clone()
}

#[tokio::test]
async fn join_update_and_leave_diffs_reach_the_room() {
    let url = server().await;
    let mut alice = Client::connect_url(&format!("{url}?n=a")).await;
    let mut bob = Client::connect_url(&format!("{url}?n=b")).await;
    track(&mut alice, "lobby", "u1", "alice").await;
    assert_eq!(diff(&mut alice).await, d("u1", "join", &["alice"]));
    track(&mut bob, "lobby", "u2", "bob").await;
    assert_eq!(diff(&mut alice).await, d("u2", "join", &["bob"]));
    assert_eq!(diff(&mut bob).await, d("u2", "join", &["bob"]));
    alice
        .send(
            "rename",
            json!({"room": "lobby", "key": "u1", "name": "alicia"}),
        )
        .await;
    assert_eq!(diff(&mut alice).await, d("u1", "update", &["alicia"]));
    assert_eq!(diff(&mut bob).await, d("u1", "update", &["alicia"]));
    assert_eq!(
        list(&mut bob, "lobby").await,
        json!({"u1": [{"name": "alicia"}], "u2": [{"name": "bob"}]})
    );
    bob.send("untrack", json!({"room": "lobby"})).await;
    assert_eq!(diff(&mut alice).await, d("u2", "leave", &["bob"]));
    assert_eq!(
        list(&mut alice, "lobby").await,
        json!({"u1": [{"name": "alicia"}]})
    );
}

#[tokio::test]
async fn two_connections_under_one_key_make_one_join_and_one_leave() {
    let url = server().await;
    let mut watcher = Client::connect_url(&format!("{url}?n=w")).await;
    track(&mut watcher, "lobby", "w", "watcher").await;
    diff(&mut watcher).await;
    let mut tab1 = Client::connect_url(&format!("{url}?n=1")).await;
    let mut tab2 = Client::connect_url(&format!("{url}?n=2")).await;
    track(&mut tab1, "lobby", "ann", "ann (tab 1)").await;
    assert_eq!(diff(&mut watcher).await, d("ann", "join", &["ann (tab 1)"]));
    track(&mut tab2, "lobby", "ann", "ann (tab 2)").await;
    assert_eq!(
        diff(&mut watcher).await,
        d("ann", "update", &["ann (tab 1)", "ann (tab 2)"]),
        "no second join"
    );
    tab1.ws.close(None).await.unwrap();
    assert_eq!(
        diff(&mut watcher).await,
        d("ann", "update", &["ann (tab 2)"]),
        "not gone while a tab is open"
    );
    tab2.ws.close(None).await.unwrap();
    assert_eq!(
        diff(&mut watcher).await,
        d("ann", "leave", &["ann (tab 2)"])
    );
    assert_eq!(
        list(&mut watcher, "lobby").await,
        json!({"w": [{"name": "watcher"}]})
    );
}

#[tokio::test]
async fn a_dropped_connection_sends_the_leave() {
    let url = server().await;
    let mut watcher = Client::connect_url(&format!("{url}?n=w")).await;
    track(&mut watcher, "lobby", "w", "watcher").await;
    diff(&mut watcher).await;
    let mut alice = Client::connect_url(&format!("{url}?n=a")).await;
    track(&mut alice, "lobby", "alice", "alice").await;
    assert_eq!(diff(&mut watcher).await, d("alice", "join", &["alice"]));
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = alice.ws.get_ref() {
        let _ = tcp.set_zero_linger();
    }
    drop(alice);
    let left = tokio::time::timeout(WAIT, diff(&mut watcher))
        .await
        .unwrap();
    assert_eq!(left, d("alice", "leave", &["alice"]));
}

#[tokio::test]
async fn invalid_metadata_is_refused_and_tracks_nothing() {
    let url = server().await;
    let mut alice = Client::connect_url(&format!("{url}?n=a")).await;
    track(&mut alice, "lobby", "u1", &"x".repeat(40)).await;
    alice.expect_error("validation_failed").await;
    assert_eq!(list(&mut alice, "lobby").await, json!({}));
}
