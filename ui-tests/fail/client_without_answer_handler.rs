//! A client for a router with a client request route, built without a
//! handler that answers it: awaiting the builder does not compile.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, ClientRequest, Incoming};

#[derive(Serialize, Deserialize, Validate)]
struct Question {
    #[garde(length(min = 1))]
    text: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct Answer {
    #[garde(skip)]
    yes: bool,
}

struct Confirm;
impl ClientRequest for Confirm {
    const NAME: &'static str = "confirm";
    type Payload = Question;
    type Response = Answer;
}
struct Delete;
impl Incoming for Delete {
    const NAME: &'static str = "delete";
    type Payload = ();
}
type Router = (Delete, (Confirm, ()));

async fn run() {
    let _client = Client::<Router>::connect("ws://127.0.0.1:1/").await;
}

fn main() {
    let _ = run();
}
