//! A test expects a message on a client -> server route: the test kit, like
//! the real client, only waits on routes the server sends.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::testing::TestClient;
use zocket::{Incoming, Outgoing};

#[derive(Debug, Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}
struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
struct OnPost;
impl Outgoing for OnPost {
    const NAME: &'static str = "onPost";
    type Payload = Text;
}
type Router = (Post, (OnPost, ()));

async fn run(mut client: TestClient<Router>) {
    let _text = client.expect(Post).await;
}

fn main() {
    let _ = run;
}
