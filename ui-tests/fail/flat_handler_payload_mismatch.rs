//! A flat router: the handler for `Kick` (payload `Join`) takes `Text`.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Namespace, Outgoing, Request, Scope, Zocket};

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
struct Ban;
impl Incoming for Ban {
    const NAME: &'static str = "ban";
    type Payload = Join;
}
struct Kick;
impl Incoming for Kick {
    const NAME: &'static str = "kick";
    type Payload = Join;
}
struct Admin;
impl Namespace for Admin {
    const NAME: &'static str = "admin";
}

async fn post(_: Text, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}
async fn join(_: Join, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

type Router = (Post, Enter, OnPost, Scope<Admin, (Ban, Kick)>);

fn main() {
    let _app = Zocket::<Router>::builder()
        .on(Post, post)
        .on(Enter, join)
        .on(Ban, join)
        .on(Kick, post)
        .build();
}
