//! An incoming route three scopes deep has no handler.
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

struct Deep;
impl Incoming for Deep {
    const NAME: &'static str = "deep";
    type Payload = Text;
}
struct A;
impl Namespace for A {
    const NAME: &'static str = "a";
}
struct B;
impl Namespace for B {
    const NAME: &'static str = "b";
}
struct C;
impl Namespace for C {
    const NAME: &'static str = "c";
}

type Router = (Post, (Scope<A, (OnPost, (Scope<B, (Scope<C, (Deep, ())>, ())>, ()))>, ()));

async fn post(_: Text, _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder().on(Post, post).build();
}
