//! Two answering handlers for one client request route.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, ClientRequest};

#[derive(Serialize, Deserialize, Validate)]
struct Answer {
    #[garde(skip)]
    yes: bool,
}

struct Confirm;
impl ClientRequest for Confirm {
    const NAME: &'static str = "confirm";
    type Payload = ();
    type Response = Answer;
}
type Router = (Confirm, ());

async fn run() {
    let _client = Client::<Router>::connect("ws://127.0.0.1:1/")
        .on_request(Confirm, |_: ()| async { Ok::<_, String>(Answer { yes: true }) })
        .on_request(Confirm, |_: ()| async { Ok::<_, String>(Answer { yes: false }) })
        .await;
}

fn main() {
    let _ = run();
}
