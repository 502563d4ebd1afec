//! Upstream Zocket's docs example "Private Messaging", ported (the guide:
//! `src/docs/from_typescript.md`): a client learns its id, and sends a
//! message that only the client with the target id receives.
//!
//! ```text
//! cargo run --example upstream_private_messaging             # serves ws://127.0.0.1:3000
//! cargo run --example upstream_private_messaging -- --demo   # server and three clients
//! ```
//!
//! Longer than the TypeScript snippet (82 lines to 47, 1.74x): the upstream page
//! leaves out the imports, `zocket.create` with `onConnect` and the server's
//! start, which its Ping-Pong page writes in 17 lines; with them, 82 to 64 (1.28x).

// ---- server ----
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{BuildError, Client, ClientId, Ctx, Incoming, Namespace, Outgoing, Scope, Zocket};

#[derive(Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct Headers {
    user_name: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct Private {
    target_user_id: ClientId,
    message: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Delivered {
    from: String,
    message: String,
    timestamp: u64,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct Me {
    client_id: ClientId,
}

struct SendPrivate;
impl Incoming for SendPrivate {
    const NAME: &'static str = "private";
    type Payload = Private;
}
struct OnPrivate;
impl Outgoing for OnPrivate {
    const NAME: &'static str = "onPrivate";
    type Payload = Delivered;
}
struct GetClientId;
impl Incoming for GetClientId {
    const NAME: &'static str = "getClientId";
    type Payload = ();
}
struct OnClientId;
impl Outgoing for OnClientId {
    const NAME: &'static str = "onClientId";
    type Payload = Me;
}
struct Chat;
impl Namespace for Chat {
    const NAME: &'static str = "chat";
}
struct Connection;
impl Namespace for Connection {
    const NAME: &'static str = "connection";
}
type AppRouter =
    (Scope<Chat, (SendPrivate, OnPrivate)>, Scope<Connection, (GetClientId, OnClientId)>);
type C = Ctx<AppRouter, String>;

fn app() -> Result<Zocket<AppRouter, String>, BuildError> {
    Zocket::<AppRouter>::builder()
        .on_connect(|h: Headers, _: ClientId| async move { Ok(h.user_name) })
        .on(SendPrivate, |p: Private, ctx: C| async move {
            let delivered =
                Delivered { from: ctx.data().clone(), message: p.message, timestamp: now_ms() };
            ctx.send(OnPrivate, delivered)?.to([p.target_user_id]);
            Ok(())
        })
        .on(GetClientId, |_: (), ctx: C| async move {
            ctx.reply(OnClientId, Me { client_id: ctx.id() })?;
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
/// Connects as `name`, learns its own client id, and prints private messages.
async fn client(
    url: &str,
    name: &str,
) -> Result<(Client<AppRouter>, ClientId), Box<dyn std::error::Error>> {
    let client = Client::<AppRouter>::connect(url).header("userName", name).await?;
    let mut ids = client.stream(OnClientId);
    client.send(GetClientId, ())?;
    let my_id = futures_util::StreamExt::next(&mut ids).await.ok_or("no id")?.client_id;
    println!("{name}: my client ID: {my_id}");
    let me = name.to_owned();
    client
        .on(OnPrivate, move |d: Delivered| println!("{me}: private from {}: {}", d.from, d.message))
        .forever();
    Ok((client, my_id))
}

fn send_private_message(
    client: &Client<AppRouter>,
    target: ClientId,
    message: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    Ok(client.send(SendPrivate, Private { target_user_id: target, message: message.into() })?)
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
    let (alice, _) = client(&url, "Alice").await?;
    let (bob, bob_id) = client(&url, "Bob").await?;
    let (carol, carol_id) = client(&url, "Carol").await?;
    let (mut bob_inbox, mut carol_inbox) = (bob.stream(OnPrivate), carol.stream(OnPrivate));
    send_private_message(&alice, bob_id, "only for you, Bob")?;
    let got = futures_util::StreamExt::next(&mut bob_inbox).await.ok_or("Bob got nothing")?;
    assert_eq!((got.from.as_str(), got.message.as_str()), ("Alice", "only for you, Bob"));
    // Carol did not get Bob's: the first message she gets is the one she sends herself.
    send_private_message(&carol, carol_id, "a note to self")?;
    let first = futures_util::StreamExt::next(&mut carol_inbox).await.ok_or("Carol got nothing")?;
    assert_eq!(first.message, "a note to self");
    for c in [alice, bob, carol] {
        c.close().await;
    }
    handle.shutdown();
    handle.closed().await;
    Ok(())
}
