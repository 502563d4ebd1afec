//! `ctx.ask` on an outgoing (message) route: only `ClientRequest` routes answer.
use zocket::{Ctx, HandlerResult, Incoming, Outgoing};

struct Delete;
impl Incoming for Delete {
    const NAME: &'static str = "delete";
    type Payload = ();
}
struct Deleted;
impl Outgoing for Deleted {
    const NAME: &'static str = "deleted";
    type Payload = ();
}
type Router = (Delete, (Deleted, ()));

async fn delete(_: (), ctx: Ctx<Router>) -> HandlerResult {
    let _answer = ctx.ask(Deleted, ()).await?;
    Ok(())
}

fn main() {
    let _ = delete;
}
