//! A marker implements both Incoming and Outgoing and has no handler: it must
//! not build (inference used to pick the outgoing reading and leave the
//! incoming route unhandled).
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
impl Outgoing for Both {
    const NAME: &'static str = "both";
    type Payload = Text;
}

type Router = (Both, ());

fn main() {
    let _app = Zocket::<Router>::builder().build();
}
