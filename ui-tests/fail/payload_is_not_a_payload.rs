//! A route whose payload type is not serde + garde: declaring it is fine
//! (a route asks for nothing), handling it is not, in the library's words:
//! the type, the derives, and why (the server receives it on `Post`).
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Outgoing, Zocket};

struct Opaque {
    n: u32,
}
struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Opaque;
}
type Router = (Post,);

async fn post(_: Opaque, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Post, post).build();
}
