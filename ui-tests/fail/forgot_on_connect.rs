//! Handlers take `Ctx<_, User>`, but no `.on_connect(..)` makes a `User`:
//! the error names `.on_connect`.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerError, HandlerResult, Incoming, Request, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
struct Edit;
impl Incoming for Edit {
    const NAME: &'static str = "edit";
    type Payload = Text;
}
struct Count;
impl Request for Count {
    const NAME: &'static str = "count";
    type Payload = ();
    type Response = Total;
}

#[derive(Serialize, Deserialize, Validate)]
struct Total {
    #[garde(skip)]
    n: u32,
}

type Router = (Post, Edit, Count);

#[derive(Clone)]
struct User {
    name: String,
}

async fn post(_: Text, ctx: Ctx<Router, User>) -> HandlerResult {
    println!("{}", ctx.data().name);
    Ok(())
}

async fn count(_: (), _: Ctx<Router, User>) -> Result<Total, HandlerError> {
    Ok(Total { n: 1 })
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .on(Post, post)
        .on(Edit, |_: Text, ctx: Ctx<Router, User>| async move {
            println!("{}", ctx.data().name);
            Ok(())
        })
        .on_request(Count, count)
        .build();
}
