//! `NoLinks` checks `Text` payloads; put in front of a route whose payload is
//! `Join`, the error names the middleware and both types, not the handler.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Conn, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt, Reject, Zocket};

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

#[derive(Clone)]
struct User;

/// Only for `Text` payloads.
struct NoLinks;
impl Middleware<User, Text> for NoLinks {
    type Out = User;
    async fn call(&self, u: User, t: &Text, _: &Conn) -> Result<User, Reject> {
        if t.text.contains("http") {
            Err(Reject::forbidden("no links"))
        } else {
            Ok(u)
        }
    }
}

type Router = (Post, (Enter, ()));

async fn post(_: Text, _: Ctx<Router, User>) -> HandlerResult {
    Ok(())
}
async fn enter(_: Join, _: Ctx<Router, User>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .on_connect(|_: (), _| async { Ok(User) })
        .on(Post, NoLinks.then(post))
        .on(Enter, NoLinks.then(enter))
        .build();
}
