//! A marker implements both Request and Outgoing and has no handler: it must
//! not build, and a client of the router must not compile either.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

struct Ask;
impl Request for Ask {
    const NAME: &'static str = "ask";
    type Payload = Text;
    type Response = Text;
}
impl Outgoing for Ask {
    const NAME: &'static str = "ask";
    type Payload = Text;
}

type Router = (Ask, ());

async fn client() {
    let _ = Client::<Router>::connect("ws://127.0.0.1:1").await;
}

fn main() {
    let _app = Zocket::<Router>::builder().build();
    let _ = client;
}
