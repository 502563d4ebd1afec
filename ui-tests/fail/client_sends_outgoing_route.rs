//! A client tries to send a server -> client route.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Incoming, Outgoing};

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

type Router = (Post, (OnPost, ()));

async fn run(client: Client<Router>) {
    client.send(OnPost, Text { text: "x".into() }).unwrap();
}

fn main() {
    let _ = run;
}
