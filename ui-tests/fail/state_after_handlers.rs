//! `.state(..)` after a handler is registered: the handler was typed without it.
use zocket::{Ctx, HandlerResult, Incoming, Zocket};

struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = ();
}
type Router = (Ping, ());

struct Db;

async fn ping(_: (), _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Ping, ping).state(Db).build();
}
