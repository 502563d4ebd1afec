//! The server sends `Empty` on `OnList`, and `Empty` only derives
//! `Deserialize`: the error names the type, the derive and the reason.
use garde::Validate;
use serde::Deserialize;
use zocket::{Ctx, HandlerResult, Incoming, Outgoing, Zocket};

#[derive(Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Empty {}

struct List;
impl Incoming for List {
    const NAME: &'static str = "list";
    type Payload = ();
}
struct OnList;
impl Outgoing for OnList {
    const NAME: &'static str = "onList";
    type Payload = Empty;
}
type Router = (List, OnList);

async fn list(_: (), ctx: Ctx<Router>) -> HandlerResult {
    ctx.reply(OnList, Empty {})?;
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(List, list).build();
}
