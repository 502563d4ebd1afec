//! A Rust client listens on `OnList`, whose payload only derives
//! `Serialize` (enough for the server that sends it, not for a client).
use garde::Validate;
use serde::Serialize;
use zocket::{Client, Outgoing};

#[derive(Serialize, Validate)]
#[garde(allow_unvalidated)]
struct Listing {
    names: Vec<String>,
}
struct OnList;
impl Outgoing for OnList {
    const NAME: &'static str = "onList";
    type Payload = Listing;
}
type Router = (OnList,);

async fn run(client: Client<Router>) {
    let _sub = client.on(OnList, |_: Listing| {});
}

fn main() {
    let _ = run;
}
