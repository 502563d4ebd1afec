//! Upstream Zocket's docs example "Chat Rooms", ported (the guide:
//! `src/docs/from_typescript.md`): join and leave rooms, members hear who
//! joins and leaves, and only members can post to a room.
//!
//! ```text
//! cargo run --example upstream_chat_rooms             # serves ws://127.0.0.1:3000
//! cargo run --example upstream_chat_rooms -- --demo   # server and two clients in one process
//! ```

// ---- server ----
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{BuildError, Client, ClientId, Ctx, Incoming, Namespace, Outgoing, Scope, Zocket};

#[derive(Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Headers {
    #[serde(rename = "user-name")]
    user_name: Option<String>,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct RoomId {
    room_id: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct Message {
    room_id: String,
    content: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct Member {
    room_id: String,
    user_name: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct Posted {
    room_id: String,
    user_name: String,
    content: String,
    timestamp: u64,
}

struct Join;
impl Incoming for Join {
    const NAME: &'static str = "join";
    type Payload = RoomId;
}
struct Leave;
impl Incoming for Leave {
    const NAME: &'static str = "leave";
    type Payload = RoomId;
}
struct Post;
impl Incoming for Post {
    const NAME: &'static str = "message";
    type Payload = Message;
}
struct OnJoin;
impl Outgoing for OnJoin {
    const NAME: &'static str = "onJoin";
    type Payload = Member;
}
struct OnLeave;
impl Outgoing for OnLeave {
    const NAME: &'static str = "onLeave";
    type Payload = Member;
}
struct OnMessage;
impl Outgoing for OnMessage {
    const NAME: &'static str = "onMessage";
    type Payload = Posted;
}
struct Rooms;
impl Namespace for Rooms {
    const NAME: &'static str = "rooms";
}
type ChatRouter = (Scope<Rooms, (Join, Leave, Post, OnJoin, OnLeave, OnMessage)>,);
type C = Ctx<ChatRouter, String>;

fn app() -> Result<Zocket<ChatRouter, String>, BuildError> {
    Zocket::<ChatRouter>::builder()
        .on_connect(|h: Headers, _: ClientId| async move {
            Ok(h.user_name.unwrap_or_else(|| "Anonymous".into()))
        })
        .on_disconnect(|ctx: C, rooms| async move {
            let rooms = if rooms.is_empty() { "none".into() } else { rooms.join(", ") };
            println!("❌ {} ({}) disconnected from rooms: {rooms}", ctx.data(), ctx.id());
            Ok(())
        })
        .on(Join, |p: RoomId, ctx: C| async move {
            ctx.join(&p.room_id)?;
            let member = Member { room_id: p.room_id.clone(), user_name: ctx.data().clone() };
            ctx.send(OnJoin, member)?.to_room([&p.room_id]);
            Ok(())
        })
        .on(Leave, |p: RoomId, ctx: C| async move {
            let member = Member { room_id: p.room_id.clone(), user_name: ctx.data().clone() };
            ctx.send(OnLeave, member)?.to_room([&p.room_id]);
            ctx.leave(&p.room_id);
            Ok(())
        })
        .on(Post, |p: Message, ctx: C| async move {
            if !ctx.in_room(&p.room_id) {
                println!(
                    "🚫 {} tried to send message to {} without joining",
                    ctx.data(),
                    p.room_id
                );
                return Ok(());
            }
            let (user_name, timestamp) = (ctx.data().clone(), now_ms());
            let posted =
                Posted { room_id: p.room_id.clone(), user_name, content: p.content, timestamp };
            ctx.send(OnMessage, posted)?.to_room([&p.room_id]);
            Ok(())
        })
        .build()
}

fn now_ms() -> u64 {
    std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_millis() as u64)
}

async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("🚀 Server running on ws://{addr}");
    Ok(app()?.serve(addr).await?)
}

// ---- client ----
/// Connects as `name` and prints who joins and what is said.
async fn client(url: &str, name: &str) -> Result<Client<ChatRouter>, Box<dyn std::error::Error>> {
    let client = Client::<ChatRouter>::connect(url).header("user-name", name).await?;
    let me = name.to_owned();
    client
        .on(OnJoin, move |m: Member| println!("{me}: {} joined {}", m.user_name, m.room_id))
        .forever();
    let me = name.to_owned();
    client
        .on(OnMessage, move |m: Posted| {
            println!("{me}: [{}] {}: {}", m.room_id, m.user_name, m.content)
        })
        .forever();
    Ok(client)
}

fn join(client: &Client<ChatRouter>, room_id: &str) -> Result<(), Box<dyn std::error::Error>> {
    Ok(client.send(Join, RoomId { room_id: room_id.into() })?)
}

fn send_message(
    client: &Client<ChatRouter>,
    room_id: &str,
    content: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    Ok(client.send(Post, Message { room_id: room_id.into(), content: content.into() })?)
}

// ---- main ----
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !std::env::args().any(|a| a == "--demo") {
        return serve("127.0.0.1:3000").await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = app()?;
    let handle = server.handle();
    tokio::spawn(server.serve_listener(listener));
    let bob = client(&url, "Bob").await?;
    let (mut bob_joins, mut bob_heard) = (bob.stream(OnJoin), bob.stream(OnMessage));
    join(&bob, "general")?;
    futures_util::StreamExt::next(&mut bob_joins).await.ok_or("bob did not join")?; // his own
    let alice = client(&url, "Alice").await?;
    join(&alice, "general")?;
    send_message(&alice, "random", "nobody hears this: Alice is not in random")?;
    send_message(&alice, "general", "hi all")?;
    let heard = futures_util::StreamExt::next(&mut bob_heard).await.ok_or("bob heard nothing")?;
    assert_eq!((heard.user_name.as_str(), heard.content.as_str()), ("Alice", "hi all"));
    alice.close().await;
    bob.close().await;
    handle.shutdown();
    handle.closed().await;
    Ok(())
}
