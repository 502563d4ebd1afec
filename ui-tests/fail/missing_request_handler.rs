//! A request route without a handler.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Num {
    #[garde(skip)]
    n: i64,
}
#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

struct Double;
impl Request for Double {
    const NAME: &'static str = "double";
    type Payload = Num;
    type Response = Num;
}
struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
type Router = (Double, (Post, ()));

async fn post(_: Text, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Post, post).build();
}
