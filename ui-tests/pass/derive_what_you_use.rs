//! Each side derives what it does with a payload: the server deserializes
//! what it receives (`Deserialize + Validate`) and serializes what it sends
//! (`Serialize + Validate`); nothing else is asked.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerError, HandlerResult, Incoming, Outgoing, Request, Zocket};

/// Only received.
#[derive(Deserialize, Validate)]
struct Post {
    #[garde(length(min = 1, max = 100))]
    text: String,
}
/// Only sent.
#[derive(Serialize, Validate)]
#[garde(allow_unvalidated)]
struct Posted {
    text: String,
    by: String,
}
/// Only sent, as a request's answer.
#[derive(Serialize, Validate)]
#[garde(allow_unvalidated)]
struct Count {
    n: u64,
}

struct Send;
impl Incoming for Send {
    const NAME: &'static str = "send";
    type Payload = Post;
}
struct OnPost;
impl Outgoing for OnPost {
    const NAME: &'static str = "onPost";
    type Payload = Posted;
}
struct HowMany;
impl Request for HowMany {
    const NAME: &'static str = "howMany";
    type Payload = ();
    type Response = Count;
}
type Router = (Send, OnPost, HowMany);

async fn send(p: Post, ctx: Ctx<Router>) -> HandlerResult {
    let by = ctx.id().to_string();
    ctx.send(OnPost, Posted { text: p.text, by })?.broadcast();
    Ok(())
}

async fn how_many(_: (), _: Ctx<Router>) -> Result<Count, HandlerError> {
    Ok(Count { n: 1 })
}

fn main() {
    let app = Zocket::<Router>::builder()
        .on(Send, send)
        .on_request(HowMany, how_many)
        .build()
        .expect("valid router");
    assert_eq!(app.routes().len(), 3);
}
