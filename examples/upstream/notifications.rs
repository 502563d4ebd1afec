//! Upstream Zocket's docs example "Notifications", ported (the guide:
//! `src/docs/from_typescript.md`): admins and moderators send notifications
//! to everyone, to chosen clients, or to rooms; a middleware refuses the rest.
//!
//! ```text
//! cargo run --example upstream_notifications             # serves ws://127.0.0.1:3000
//! cargo run --example upstream_notifications -- --demo   # server and three clients
//! ```
//!
//! Longer than the TypeScript snippet (79 lines to 51, 1.55x): the upstream page
//! leaves out the imports, `zocket.create` with `onConnect` and the server's
//! start (17 lines in its Ping-Pong page; with them, 79 to 68, 1.16x), and the
//! notification's `type` is an enum of its own (8 lines) where zod writes it inline.

// ---- server ----
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{BuildError, Client, ClientId, Conn, Ctx, Incoming, Middleware, MiddlewareExt};
use zocket::{Namespace, Outgoing, Reject, Scope, Zocket, middleware_fn};

#[derive(Clone, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct User {
    user_role: String,
}
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Info,
    Warning,
    Error,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Notify {
    r#type: Kind,
    message: String,
    targets: Option<Vec<ClientId>>,
    rooms: Option<Vec<String>>,
    broadcast: Option<bool>,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Notification {
    r#type: Kind,
    message: String,
    timestamp: u64,
}

struct Send;
impl Incoming for Send {
    const NAME: &'static str = "send";
    type Payload = Notify;
}
struct OnReceive;
impl Outgoing for OnReceive {
    const NAME: &'static str = "onReceive";
    type Payload = Notification;
}
struct NotificationNs;
impl Namespace for NotificationNs {
    const NAME: &'static str = "notification";
}
type AppRouter = (Scope<NotificationNs, (Send, OnReceive)>,);

async fn send(p: Notify, ctx: Ctx<AppRouter, User>) -> zocket::HandlerResult {
    let notification = Notification { r#type: p.r#type, message: p.message, timestamp: now_ms() };
    let delivery = ctx.send(OnReceive, notification)?;
    if p.broadcast == Some(true) {
        delivery.broadcast();
    } else if let Some(targets) = p.targets.filter(|t| !t.is_empty()) {
        delivery.to(targets);
    } else if let Some(rooms) = p.rooms.filter(|r| !r.is_empty()) {
        delivery.to_room(rooms);
    }
    Ok(())
}

/// Only admins and moderators pass (upstream's `protectedMessage`).
fn protected() -> impl Middleware<User, Notify, Out = User> {
    middleware_fn(|user: User, _: &Notify, _: &Conn| match user.user_role.as_str() {
        "admin" | "moderator" => Ok(user),
        _ => Err(Reject::forbidden("Forbidden")),
    })
}

fn app() -> Result<Zocket<AppRouter, User>, BuildError> {
    Zocket::<AppRouter>::builder()
        .on_connect(|user: User, _: ClientId| async move { Ok(user) })
        .on(Send, protected().then(send))
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
/// Connects with a role and prints every notification it receives.
async fn client(url: &str, role: &str) -> Result<Client<AppRouter>, Box<dyn std::error::Error>> {
    let client = Client::<AppRouter>::connect(url).header("userRole", role).await?;
    let me = role.to_owned();
    client
        .on(OnReceive, move |n: Notification| {
            let icon = match n.r#type {
                Kind::Info => "ℹ️",
                Kind::Warning => "⚠️",
                Kind::Error => "❌",
            };
            println!("{me}: {icon} {}", n.message);
        })
        .forever();
    Ok(client)
}

fn notify(
    client: &Client<AppRouter>,
    message: &str,
    targets: Option<Vec<ClientId>>,
    rooms: Option<Vec<String>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let broadcast = Some(targets.is_none() && rooms.is_none());
    Ok(client.send(
        Send,
        Notify { r#type: Kind::Info, message: message.into(), targets, rooms, broadcast },
    )?)
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
    let admin = client(&url, "admin").await?;
    let member = client(&url, "member").await?;
    let mut heard = member.stream(OnReceive);
    let mut refused = member.errors();
    // A member may not send: the middleware refuses, the handler never runs.
    notify(&member, "members cannot do this", None, None)?;
    let error = futures_util::StreamExt::next(&mut refused).await.ok_or("no error")?;
    println!("member: refused: {}", error.message);
    notify(&admin, "System maintenance in 5 minutes", None, None)?;
    let got = futures_util::StreamExt::next(&mut heard).await.ok_or("nothing heard")?;
    assert_eq!(got.message, "System maintenance in 5 minutes");
    admin.close().await;
    member.close().await;
    handle.shutdown();
    handle.closed().await;
    Ok(())
}
