//! A client typed by something that is not a router.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

async fn run() {
    let _ = Client::<String>::connect("ws://127.0.0.1:1").await;
}

fn main() {
    let _ = run;
}
