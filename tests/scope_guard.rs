//! A scope-wide guard: every handler registered in `.scope(AdminNs, guard, ..)`
//! runs behind the guard, over real sockets.
mod common;
use common::{Client, WAIT};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zocket::{
    Conn, Ctx, HandlerError, HandlerResult, Incoming, Middleware, Namespace, Outgoing, Reject,
    Request, Scope, Zocket,
};

#[derive(Serialize, Deserialize, Validate)]
struct Name {
    #[garde(length(min = 1, max = 32))]
    name: String,
}

#[derive(Deserialize, Validate)]
struct Hello {
    #[garde(skip)]
    role: Option<String>,
}

#[derive(Clone)]
struct User {
    admin: bool,
}
struct Admin;

#[derive(Clone)]
struct RequireAdmin;
impl<P: Sync> Middleware<User, P> for RequireAdmin {
    type Out = Admin;
    async fn call(&self, user: User, _: &P, _: &Conn) -> Result<Admin, Reject> {
        if user.admin {
            Ok(Admin)
        } else {
            Err(Reject::forbidden("admins only"))
        }
    }
}

struct AdminNs;
impl Namespace for AdminNs {
    const NAME: &'static str = "admin";
}
struct Ban;
impl Incoming for Ban {
    const NAME: &'static str = "ban";
    type Payload = Name;
}
struct Count;
impl Request for Count {
    const NAME: &'static str = "count";
    type Payload = ();
    type Response = Name;
}
struct Banned;
impl Outgoing for Banned {
    const NAME: &'static str = "banned";
    type Payload = Name;
}
struct Hi;
impl Incoming for Hi {
    const NAME: &'static str = "hi";
    type Payload = ();
}
type Api = (Scope<AdminNs, (Ban, (Count, ()))>, (Banned, (Hi, ())));

async fn ban(n: Name, ctx: Ctx<Api, Admin>) -> HandlerResult {
    let _: &Admin = ctx.data();
    ctx.reply(Banned, n)?;
    Ok(())
}
async fn count(_: (), _: Ctx<Api, Admin>) -> Result<Name, HandlerError> {
    Ok(Name { name: "one".into() })
}
async fn hi(_: (), ctx: Ctx<Api, User>) -> HandlerResult {
    ctx.reply(
        Banned,
        Name {
            name: "hello".into(),
        },
    )?;
    Ok(())
}

/// Serves `app` on a free port; the future it returns shuts it down and
/// waits for it to end.
async fn serve<R: Send + Sync + 'static>(
    app: Zocket<R, User>,
) -> (std::net::SocketAddr, impl std::future::Future<Output = ()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = app.handle();
    let served = tokio::spawn(app.serve_listener(listener));
    let stop = async move {
        handle.shutdown();
        tokio::time::timeout(WAIT, served)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    };
    (addr, stop)
}

#[tokio::test]
async fn every_handler_of_a_guarded_scope_runs_behind_the_guard() {
    let app = Zocket::<Api>::builder()
        .on_connect(|h: Hello, _| async move {
            Ok(User {
                admin: h.role.as_deref() == Some("admin"),
            })
        })
        .scope(AdminNs, RequireAdmin, |admin| {
            admin.on(Ban, ban).on_request(Count, count)
        })
        .on(Hi, hi)
        .build()
        .unwrap();
    let (addr, stop) = serve(app).await;

    let mut guest = Client::connect_url(&format!("ws://{addr}/?role=guest")).await;
    let mut admin = Client::connect_url(&format!("ws://{addr}/?role=admin")).await;

    guest.send("admin.ban", json!({"name": "x"})).await;
    assert_eq!(
        guest.expect_error("rejected").await["message"],
        "admins only"
    );
    guest
        .send_raw(r#"{"type":"admin.count","id":1,"payload":null}"#)
        .await;
    let e = guest.expect_error("rejected").await;
    assert_eq!(e["id"], 1);
    // Outside the scope, no guard.
    guest.send("hi", serde_json::Value::Null).await;
    assert_eq!(guest.expect("banned").await["name"], "hello");

    admin.send("admin.ban", json!({"name": "x"})).await;
    assert_eq!(admin.expect("banned").await["name"], "x");
    admin
        .send_raw(r#"{"type":"admin.count","id":2,"payload":null}"#)
        .await;
    let reply = admin.recv().await;
    assert_eq!(reply["type"], "$zocket.reply", "{reply}");
    assert_eq!(reply["payload"]["name"], "one");

    drop((guest, admin));
    stop.await;
}

struct ChatNs;
impl Namespace for ChatNs {
    const NAME: &'static str = "chat";
}
struct ModNs;
impl Namespace for ModNs {
    const NAME: &'static str = "mod";
}
struct Mute;
impl Incoming for Mute {
    const NAME: &'static str = "mute";
    type Payload = Name;
}
/// The guarded scope sits inside another scope and holds one of its own.
type Nested = (
    Scope<
        ChatNs,
        (
            Hi,
            (Scope<AdminNs, (Ban, (Scope<ModNs, (Mute, ())>, ()))>, ()),
        ),
    >,
    (Banned, ()),
);

async fn nested_hi(_: (), ctx: Ctx<Nested, User>) -> HandlerResult {
    ctx.reply(Banned, Name { name: "hi".into() })?;
    Ok(())
}
async fn nested_admin(n: Name, ctx: Ctx<Nested, Admin>) -> HandlerResult {
    ctx.reply(Banned, n)?;
    Ok(())
}

/// `.scope(AdminNs, ..)` finds a scope at any depth; its handlers (also those of
/// scopes inside it) get their full wire names and run behind the guard.
#[tokio::test]
async fn a_guarded_scope_inside_a_scope_keeps_full_wire_names() {
    let app = Zocket::<Nested>::builder()
        .on_connect(|h: Hello, _| async move {
            Ok(User {
                admin: h.role.as_deref() == Some("admin"),
            })
        })
        .scope(AdminNs, RequireAdmin, |admin| {
            admin.on(Ban, nested_admin).on(Mute, nested_admin)
        })
        .on(Hi, nested_hi)
        .build()
        .unwrap();
    let (addr, stop) = serve(app).await;

    let mut guest = Client::connect_url(&format!("ws://{addr}/?role=guest")).await;
    let mut admin = Client::connect_url(&format!("ws://{addr}/?role=admin")).await;
    for route in ["chat.admin.ban", "chat.admin.mod.mute"] {
        guest.send(route, json!({"name": route})).await;
        assert_eq!(
            guest.expect_error("rejected").await["message"],
            "admins only",
            "{route}"
        );
        admin.send(route, json!({"name": route})).await;
        assert_eq!(admin.expect("banned").await["name"], route);
    }
    guest.send("chat.hi", serde_json::Value::Null).await;
    assert_eq!(guest.expect("banned").await["name"], "hi");

    drop((guest, admin));
    stop.await;
}
