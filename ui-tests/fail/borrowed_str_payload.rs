//! A borrowed `&str` payload: a message is owned data.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Outgoing, Zocket};

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = &'static str;
}
type Router = (Post,);

async fn post(_: &'static str, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Post, post).build();
}
