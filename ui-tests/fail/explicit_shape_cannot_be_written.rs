//! Writing the router's shape by hand (what rustc's help once suggested) would
//! pick one reading of a two-direction marker; the shape types are private.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

struct Both;
impl Incoming for Both {
    const NAME: &'static str = "both";
    type Payload = Text;
}
impl Request for Both {
    const NAME: &'static str = "both";
    type Payload = Text;
    type Response = Text;
}

type Router = (Both, ());

fn main() {
    let _app = Zocket::<Router>::builder::<(zocket::router::KIn, ())>().build();
    let _app = Zocket::<Router>::builder::<(zocket::router::AsIncoming, ())>().build();
}
