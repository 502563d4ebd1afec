//! One marker listed in two scopes: which wire name would `.on(Post, ..)` or
//! `ctx.send` mean? An ambiguity, like a marker listed twice.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Namespace, Scope, Zocket};

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
struct Chat;
impl Namespace for Chat {
    const NAME: &'static str = "chat";
}
struct Admin;
impl Namespace for Admin {
    const NAME: &'static str = "admin";
}

type Router = (Scope<Chat, (Post, ())>, (Scope<Admin, (Post, ())>, ()));

async fn post(_t: Text, _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Post, post).build();
}
