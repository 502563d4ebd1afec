//! Every feature of the typed core in one program: routes nested three scopes
//! deep, a handler for every incoming route, `on_connect` data, two middleware
//! in a chain (one stateful, one reading the payload), the middleware reused on
//! routes with different payloads, and typed sends to every kind of target.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{
    ClientId, Conn, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt, Namespace, Outgoing,
    Reject, Scope, Zocket,
};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1, max = 2000))]
    text: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct Room {
    #[garde(length(min = 1, max = 64))]
    room: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct RoomText {
    #[garde(length(min = 1, max = 64))]
    room: String,
    #[garde(length(min = 1, max = 2000))]
    text: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct Kick {
    #[garde(skip)]
    target: ClientId,
}
#[derive(Deserialize, Validate)]
struct AuthHeaders {
    #[garde(length(min = 1, max = 32))]
    name: String,
    #[garde(skip)]
    role: Option<String>,
}

// Routes: zero-sized markers, written out by hand (no macro needed).
struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = ();
}
struct Pong;
impl Outgoing for Pong {
    const NAME: &'static str = "pong";
    type Payload = ();
}
struct Join;
impl Incoming for Join {
    const NAME: &'static str = "join";
    type Payload = Room;
}
struct Say;
impl Incoming for Say {
    const NAME: &'static str = "say";
    type Payload = RoomText;
}
struct OnSay;
impl Outgoing for OnSay {
    const NAME: &'static str = "onSay";
    type Payload = RoomText;
}
struct Shout;
impl Incoming for Shout {
    const NAME: &'static str = "shout";
    type Payload = Text;
}
struct OnShout;
impl Outgoing for OnShout {
    const NAME: &'static str = "onShout";
    type Payload = Text;
}
struct KickUser;
impl Incoming for KickUser {
    const NAME: &'static str = "kick";
    type Payload = Kick;
}
struct Kicked;
impl Outgoing for Kicked {
    const NAME: &'static str = "kicked";
    type Payload = ();
}
struct ChatNs;
impl Namespace for ChatNs {
    const NAME: &'static str = "chat";
}
struct RoomsNs;
impl Namespace for RoomsNs {
    const NAME: &'static str = "rooms";
}
struct AdminNs;
impl Namespace for AdminNs {
    const NAME: &'static str = "admin";
}

type Admin = (KickUser, (Kicked, ()));
type Rooms = (Join, (Say, (OnSay, (Scope<AdminNs, Admin>, ()))));
type Chat = (Shout, (OnShout, (Scope<RoomsNs, Rooms>, ())));
type AppRouter = (Ping, (Pong, (Scope<ChatNs, Chat>, ())));

#[derive(Clone)]
struct User {
    name: String,
    admin: bool,
}
struct Limited {
    user: User,
    remaining: u32,
}
struct AdminUser {
    name: String,
}

/// Stateful: counts messages per client.
#[derive(Default)]
struct RateLimit {
    seen: Mutex<HashMap<ClientId, u32>>,
}
impl<P: Sync> Middleware<User, P> for RateLimit {
    type Out = Limited;
    async fn call(&self, user: User, _: &P, conn: &Conn) -> Result<Limited, Reject> {
        let mut seen = self.seen.lock().unwrap();
        let n = seen.entry(conn.id()).or_default();
        *n += 1;
        if *n > 100 {
            return Err(Reject::new("slow down"));
        }
        Ok(Limited {
            user,
            remaining: 100 - *n,
        })
    }
}

/// Reads the payload through a trait, so it serves any payload that has one.
trait Targeted {
    fn target(&self) -> Option<ClientId>;
}
impl Targeted for Kick {
    fn target(&self) -> Option<ClientId> {
        Some(self.target)
    }
}
impl Targeted for Text {
    fn target(&self) -> Option<ClientId> {
        None
    }
}
struct RequireAdmin;
impl<P: Targeted + Sync> Middleware<Limited, P> for RequireAdmin {
    type Out = AdminUser;
    async fn call(&self, l: Limited, p: &P, conn: &Conn) -> Result<AdminUser, Reject> {
        if !l.user.admin || p.target() == Some(conn.id()) {
            return Err(Reject::forbidden("admins only, and not on themselves"));
        }
        let _ = l.remaining;
        Ok(AdminUser { name: l.user.name })
    }
}

type Ctx0<C = User> = Ctx<AppRouter, C>;

async fn ping(_: (), ctx: Ctx0) -> HandlerResult {
    ctx.reply(Pong, ())?;
    Ok(())
}
async fn join(r: Room, ctx: Ctx0) -> HandlerResult {
    ctx.join(&r.room)?;
    Ok(())
}
async fn say(msg: RoomText, ctx: Ctx0<Limited>) -> HandlerResult {
    let room = msg.room.clone();
    ctx.send(OnSay, msg)?.except(ctx.id()).to_room([room]);
    Ok(())
}
async fn shout(msg: Text, ctx: Ctx0<AdminUser>) -> HandlerResult {
    let _ = &ctx.data().name;
    ctx.send(OnShout, msg)?.broadcast();
    Ok(())
}
async fn kick(k: Kick, ctx: Ctx0<AdminUser>) -> HandlerResult {
    ctx.send(Kicked, ())?.to([k.target]);
    ctx.server().close(k.target, 1008, "kicked");
    Ok(())
}

fn main() {
    let limiter = Arc::new(RateLimit::default());
    let app = Zocket::<AppRouter>::builder()
        .on_connect(|h: AuthHeaders, _id| async move {
            Ok(User {
                admin: h.role.as_deref() == Some("admin"),
                name: h.name,
            })
        })
        .on_disconnect(|ctx: Ctx0, rooms: Vec<String>| async move {
            let _ = (ctx.id(), rooms);
            Ok(())
        })
        .on(Ping, ping)
        .on(Join, join)
        .on(Say, limiter.clone().then(say))
        .on(Shout, limiter.clone().and(RequireAdmin).then(shout))
        .on(KickUser, limiter.and(RequireAdmin).then(kick))
        .build()
        .expect("valid router");

    let names: Vec<&str> = app.routes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ping",
            "pong",
            "chat.shout",
            "chat.onShout",
            "chat.rooms.join",
            "chat.rooms.say",
            "chat.rooms.onSay",
            "chat.rooms.admin.kick",
            "chat.rooms.admin.kicked",
        ]
    );
    // A server handle sends outside handlers, with the same type checks.
    let handle = app.handle();
    let sent = handle
        .send(OnShout, Text { text: "hello".into() })
        .unwrap()
        .broadcast();
    assert_eq!(sent, 0, "nobody is connected yet");
    let invalid = handle.send(OnShout, Text { text: String::new() });
    assert!(invalid.is_err(), "outgoing payloads are validated too");
}
