//! Upstream Zocket's docs example "Ping-Pong", ported (the guide:
//! `src/docs/from_typescript.md`): a client sends `echo.ping`, the server
//! answers the sender with `echo.pong`; `onConnect` reads a `user` header.
//!
//! ```text
//! cargo run --example upstream_ping_pong             # serves ws://127.0.0.1:3000
//! cargo run --example upstream_ping_pong -- --demo   # server and client in one process
//! ```
//!
//! Longer than the TypeScript (54 lines to 40, 1.35x): each payload is a named
//! struct with its derives (5 lines; zod writes it inline in the route), and
//! the headers are one more; everything else is line for line.

// ---- server ----
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{BuildError, Client, ClientId, Ctx, Incoming, Namespace, Outgoing, Scope, Zocket};

#[derive(Deserialize, Validate)]
#[garde(allow_unvalidated)]
pub(crate) struct Headers {
    user: Option<String>,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
pub(crate) struct PingMsg {
    message: String,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
pub(crate) struct PongMsg {
    reply: String,
}

pub(crate) struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = PingMsg;
}
pub(crate) struct Pong;
impl Outgoing for Pong {
    const NAME: &'static str = "pong";
    type Payload = PongMsg;
}
pub(crate) struct Echo;
impl Namespace for Echo {
    const NAME: &'static str = "echo";
}
pub(crate) type AppRouter = (Scope<Echo, (Ping, Pong)>,);

/// The connection's data is the user's name.
pub(crate) fn app() -> Result<Zocket<AppRouter, String>, BuildError> {
    Zocket::<AppRouter>::builder()
        .on_connect(|h: Headers, id: ClientId| async move {
            let user = h.user.unwrap_or_else(|| "guest".into());
            println!("✅ {user} connected ({id})");
            Ok(user)
        })
        .on_disconnect(|ctx: Ctx<AppRouter, String>, _| async move {
            println!("❌ {} disconnected ({})", ctx.data(), ctx.id());
            Ok(())
        })
        .on(Ping, |p: PingMsg, ctx: Ctx<AppRouter, String>| async move {
            ctx.reply(Pong, PongMsg { reply: format!("pong: {}", p.message) })?;
            Ok(())
        })
        .build()
}

pub(crate) async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("🚀 Server running on ws://{addr}");
    Ok(app()?.serve(addr).await?)
}

// ---- client ----
/// Connects as Alice, sends a ping, prints the reply, and closes.
pub(crate) async fn client(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::<AppRouter>::connect(url).header("user", "Alice").await?;
    println!("Connected!");
    let mut pongs = client.stream(Pong);
    client.send(Ping, PingMsg { message: "Hello!".into() })?;
    let pong = futures_util::StreamExt::next(&mut pongs).await.ok_or("no pong")?;
    println!("Received: {}", pong.reply);
    client.close().await;
    println!("Disconnected");
    Ok(())
}

// ---- main ----
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--demo") {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let server = app()?;
        let handle = server.handle();
        tokio::spawn(server.serve_listener(listener));
        client(&url).await?;
        handle.shutdown();
        handle.closed().await;
        return Ok(());
    }
    serve("127.0.0.1:3000").await
}
