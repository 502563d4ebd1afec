//! `.on_connect(..)` after a handler is registered: the handler was typed with
//! the data before `on_connect`.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}

type Router = (Post, ());

async fn post(_t: Text, _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .on(Post, post)
        .on_connect(|_: (), _id| async { Ok(7u32) })
        .build();
}
