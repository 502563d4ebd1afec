//! App state with on_connect data, a middleware chain and a guarded scope.
use std::sync::atomic::{AtomicU64, Ordering};

use zocket::{
    Conn, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt, Namespace, Reject, Scope,
    Zocket,
};

struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = ();
}
struct Wipe;
impl Incoming for Wipe {
    const NAME: &'static str = "wipe";
    type Payload = ();
}
struct Admin;
impl Namespace for Admin {
    const NAME: &'static str = "admin";
}
type Router = (Ping, (Scope<Admin, (Wipe, ())>, ()));

#[derive(Default)]
struct Db {
    pings: AtomicU64,
}

#[derive(Clone)]
struct Anyone;
impl<P: Sync> Middleware<u32, P> for Anyone {
    type Out = u32;
    async fn call(&self, user: u32, _: &P, _: &Conn) -> Result<u32, Reject> {
        Ok(user)
    }
}

async fn ping(_: (), ctx: Ctx<Router, u32, Db>) -> HandlerResult {
    ctx.state().pings.fetch_add(u64::from(*ctx.data()), Ordering::Relaxed);
    Ok(())
}

async fn wipe(_: (), ctx: Ctx<Router, u32, Db>) -> HandlerResult {
    ctx.state().pings.store(0, Ordering::Relaxed);
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .state(Db::default())
        .on_connect(|_: (), _id| async { Ok(1u32) })
        .on_disconnect(|ctx: Ctx<Router, u32, Db>, _rooms| async move {
            let _ = ctx.state().pings.load(Ordering::Relaxed);
            Ok(())
        })
        .on(Ping, Anyone.then(ping))
        .scope(Admin, Anyone, |admin| admin.on(Wipe, wipe))
        .build()
        .unwrap();
}
