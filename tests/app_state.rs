//! App state (`Builder::state`, `ctx.state()`): one value every connection
//! shares, typed, in handlers, guarded scopes and `on_disconnect`.
use std::collections::BTreeMap;
use std::sync::Mutex;

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::testing::TestServer;
use zocket::{
    Conn, Ctx, HandlerResult, Incoming, Middleware, Namespace, Outgoing, Reject, Scope, Zocket,
};

/// What the app keeps for everyone: names online, and a counter.
#[derive(Default)]
struct App {
    online: Mutex<BTreeMap<String, u32>>,
    said: Mutex<u64>,
}

#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Said {
    total: u64,
    online: Vec<String>,
}

struct Say;
impl Incoming for Say {
    const NAME: &'static str = "say";
    type Payload = ();
}
struct Join;
impl Incoming for Join {
    const NAME: &'static str = "join";
    type Payload = ();
}
struct Reset;
impl Incoming for Reset {
    const NAME: &'static str = "reset";
    type Payload = ();
}
struct OnSaid;
impl Outgoing for OnSaid {
    const NAME: &'static str = "onSaid";
    type Payload = Said;
}
struct AdminNs;
impl Namespace for AdminNs {
    const NAME: &'static str = "admin";
}
type R = (Join, (Say, (OnSaid, (Scope<AdminNs, (Reset, ())>, ()))));

#[derive(Deserialize, Validate)]
struct Hello {
    #[garde(length(min = 1))]
    name: String,
}
type C<D = String> = Ctx<R, D, App>;

async fn join(_: (), ctx: C) -> HandlerResult {
    *ctx.state()
        .online
        .lock()
        .unwrap()
        .entry(ctx.data().clone())
        .or_default() += 1;
    Ok(())
}

async fn say(_: (), ctx: C) -> HandlerResult {
    let total = {
        let mut said = ctx.state().said.lock().unwrap();
        *said += 1;
        *said
    };
    let online = ctx.state().online.lock().unwrap().keys().cloned().collect();
    ctx.send(OnSaid, Said { total, online })?.broadcast();
    Ok(())
}

/// Only "root" may reset.
#[derive(Clone)]
struct RootOnly;
impl<P: Sync> Middleware<String, P> for RootOnly {
    type Out = String;
    async fn call(&self, name: String, _: &P, _: &Conn) -> Result<String, Reject> {
        if name == "root" {
            Ok(name)
        } else {
            Err(Reject::forbidden("root only"))
        }
    }
}

async fn reset(_: (), ctx: C) -> HandlerResult {
    *ctx.state().said.lock().unwrap() = 0;
    Ok(())
}

fn app() -> Zocket<R, String> {
    Zocket::<R>::builder()
        .state(App::default())
        .on_connect(|h: Hello, _| async move { Ok(h.name) })
        .on_disconnect(|ctx: C, _rooms| async move {
            let mut online = ctx.state().online.lock().unwrap();
            if let Some(n) = online.get_mut(ctx.data()) {
                *n -= 1;
                if *n == 0 {
                    online.remove(ctx.data());
                }
            }
            Ok(())
        })
        .on(Join, join)
        .on(Say, say)
        .scope(AdminNs, RootOnly, |admin| admin.on(Reset, reset))
        .build()
        .unwrap()
}

async fn said(client: &mut zocket::testing::TestClient<R>) -> (u64, Vec<String>) {
    let s = client.expect(OnSaid).await;
    (s.total, s.online)
}

#[tokio::test]
async fn connections_share_the_apps_state_in_handlers_scopes_and_on_disconnect() {
    let server = TestServer::new(app());
    let mut alice = server.connect([("name", "alice")]).await.unwrap();
    let mut bob = server.connect([("name", "bob")]).await.unwrap();
    // (Messages of one connection are handled in order: a join, then a say.)
    alice.send(Join, ()).await;
    alice.send(Say, ()).await;
    assert_eq!(said(&mut alice).await, (1, vec!["alice".to_owned()]));
    assert_eq!(said(&mut bob).await.0, 1);
    bob.send(Join, ()).await;
    bob.send(Say, ()).await;
    let both = vec!["alice".to_owned(), "bob".to_owned()];
    assert_eq!(
        said(&mut alice).await,
        (2, both.clone()),
        "bob's count and name are alice's"
    );
    assert_eq!(said(&mut bob).await, (2, both));

    // A guarded scope's handler reads the same state.
    let mut root = server.connect([("name", "root")]).await.unwrap();
    alice.send(Reset, ()).await;
    alice.expect_error(zocket::ErrorKind::Rejected).await;
    root.send(Reset, ()).await;
    root.send(Say, ()).await;
    assert_eq!(said(&mut root).await.0, 1, "root reset the count");
    assert_eq!(said(&mut alice).await.0, 1);
    assert_eq!(said(&mut bob).await.0, 1);

    // on_disconnect has it too: bob goes offline for everyone.
    bob.close().await;
    alice.send(Say, ()).await;
    let (total, online) = said(&mut alice).await;
    assert_eq!((total, online), (2, vec!["alice".to_owned()]));
}
