//! Two different markers with one wire name compile, but `build()` refuses
//! them with an error naming both.

use zocket::{BuildError, Ctx, HandlerResult, Incoming, Outgoing, Zocket};

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = ();
}
struct PostAgain;
impl Outgoing for PostAgain {
    const NAME: &'static str = "post";
    type Payload = ();
}
type Router = (Post, (PostAgain, ()));

async fn post(_: (), _: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let err = Zocket::<Router>::builder().on(Post, post).build().err().unwrap();
    assert!(matches!(err, BuildError::DuplicateName { .. }));
    let text = err.to_string();
    assert!(text.contains("Post`") && text.contains("PostAgain`"), "{text}");
    assert!(text.contains("\"post\""), "{text}");
}
