//! A route marker with a field: the field would never reach the handler.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

struct PostTo {
    room: String,
}
impl Incoming for PostTo {
    const NAME: &'static str = "postTo";
    type Payload = Text;
}

type Router = (PostTo, ());

async fn post(_t: Text, _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .on(PostTo { room: "lobby".into() }, post)
        .build();
}
