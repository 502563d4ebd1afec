//! A handler that asks for an app state other than the one `.state(..)` set.
use zocket::{Ctx, HandlerResult, Incoming, Zocket};

struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = ();
}
type Router = (Ping, ());

struct Db;
struct Cache;

async fn ping(_: (), _ctx: Ctx<Router, (), Cache>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().state(Db).on(Ping, ping).build();
}
