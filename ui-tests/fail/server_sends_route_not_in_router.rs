//! A handler sends an outgoing route from another router.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Namespace, Outgoing, Scope, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct Join {
    #[garde(length(min = 1))]
    room: String,
}

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
struct Enter;
impl Incoming for Enter {
    const NAME: &'static str = "enter";
    type Payload = Join;
}
struct OnPost;
impl Outgoing for OnPost {
    const NAME: &'static str = "onPost";
    type Payload = Text;
}

struct Elsewhere;
impl Outgoing for Elsewhere {
    const NAME: &'static str = "elsewhere";
    type Payload = Text;
}
type Router = (Post, (OnPost, ()));

async fn post(msg: Text, ctx: Ctx<Router>) -> HandlerResult {
    ctx.send(Elsewhere, msg)?.broadcast();
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Post, post).build();
}
