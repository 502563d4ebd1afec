//! Authentication and authorization: validated handshake headers, `on_connect`
//! that refuses unknown tokens (401), and a role middleware that rejects
//! non-admins (the client gets the error; the handler never runs).
//!
//! ```text
//! cargo run --example auth
//! ```

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{
    Client, ClientId, Conn, ConnectError, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt,
    Outgoing, Reject, Zocket,
};

/// Sent as `?token=...` (browsers cannot set WebSocket headers) or as a header.
#[derive(Deserialize, Validate)]
struct AuthHeaders {
    #[garde(length(min = 8, max = 128))]
    token: String,
}

#[derive(Clone, Debug)]
struct User {
    name: String,
    role: Role,
}
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Member,
    Admin,
}
/// What handlers behind `RequireAdmin` get: proof that the user is an admin.
struct Admin {
    name: String,
}

/// Looks a token up (a real app would ask a database or verify a JWT).
async fn authenticate(h: AuthHeaders, id: ClientId) -> Result<User, Reject> {
    match h.token.as_str() {
        "admin-token-1" => Ok(User {
            name: "ada".into(),
            role: Role::Admin,
        }),
        "member-token-1" => Ok(User {
            name: "bob".into(),
            role: Role::Member,
        }),
        _ => {
            println!("refusing client {id}: unknown token");
            Err(Reject::unauthorized("unknown token"))
        }
    }
}

struct RequireAdmin;
impl<P: Sync> Middleware<User, P> for RequireAdmin {
    type Out = Admin;
    async fn call(&self, user: User, _: &P, _: &Conn) -> Result<Admin, Reject> {
        match user.role {
            Role::Admin => Ok(Admin { name: user.name }),
            Role::Member => Err(Reject::forbidden("admins only")),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, Validate)]
struct Announcement {
    #[garde(length(min = 1, max = 500))]
    text: String,
}

struct Announce;
impl Incoming for Announce {
    const NAME: &'static str = "announce";
    type Payload = Announcement;
}
struct OnAnnouncement;
impl Outgoing for OnAnnouncement {
    const NAME: &'static str = "onAnnouncement";
    type Payload = Announcement;
}
type AppRouter = (Announce, (OnAnnouncement, ()));

async fn announce(a: Announcement, ctx: Ctx<AppRouter, Admin>) -> HandlerResult {
    println!("{} announces: {}", ctx.data().name, a.text);
    ctx.send(OnAnnouncement, a)?.broadcast();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Zocket::<AppRouter>::builder()
        .on_connect(authenticate)
        .on(Announce, RequireAdmin.then(announce))
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = app.handle();
    tokio::spawn(app.serve_listener(listener));

    // No valid token: the handshake is refused with 401 and no socket opens.
    match Client::<AppRouter>::connect(&url)
        .header("token", "wrong-token")
        .await
    {
        Err(ConnectError::Refused { status, body }) => println!("refused: {status} {body}"),
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }

    let admin = Client::<AppRouter>::connect(&url)
        .header("token", "admin-token-1")
        .await?;
    let member = Client::<AppRouter>::connect(&url)
        .header("token", "member-token-1")
        .await?;
    let mut heard = member.stream(OnAnnouncement);
    let mut errors = member.errors();

    // The member is rejected by the middleware; the handler does not run.
    member.send(
        Announce,
        Announcement {
            text: "I am not an admin".into(),
        },
    )?;
    use futures_util::StreamExt;
    let e = errors.next().await.ok_or("no error")?;
    println!("member got: {:?} - {}", e.kind, e.message);

    // The admin gets through, and everyone hears it.
    admin.send(
        Announce,
        Announcement {
            text: "maintenance at 6".into(),
        },
    )?;
    let a = heard.next().await.ok_or("no announcement")?;
    println!("member heard: {}", a.text);

    admin.close().await;
    member.close().await;
    server.shutdown();
    server.closed().await;
    Ok(())
}
