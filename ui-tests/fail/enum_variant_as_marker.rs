//! An enum used as a marker: `Room::Leave` and `Room::Join` are one type, so
//! a handler registered for one would run for the other.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

enum Room {
    Join,
    Leave,
}
impl Incoming for Room {
    const NAME: &'static str = "room";
    type Payload = Text;
}

type Router = (Room, ());

async fn join(_t: Text, _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _ = Room::Leave;
    let _app = Zocket::<Router>::builder().on(Room::Join, join).build();
}
