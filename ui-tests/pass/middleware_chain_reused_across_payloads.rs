//! One middleware chain value guards routes with different payloads.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Conn, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt, Reject, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}
#[derive(Serialize, Deserialize, Validate)]
struct Join {
    #[garde(length(min = 1))]
    room: String,
}

struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
struct Enter;
impl Incoming for Enter {
    const NAME: &'static str = "enter";
    type Payload = Join;
}

#[derive(Clone)]
struct User {
    name: String,
}
#[derive(Clone)]
struct Authed {
    name: String,
}

#[derive(Clone)]
struct Log;
impl<C: Send + 'static, P: Sync> Middleware<C, P> for Log {
    type Out = C;
    async fn call(&self, data: C, _: &P, _: &Conn) -> Result<C, Reject> {
        Ok(data)
    }
}

#[derive(Clone)]
struct Authenticate;
impl<P: Sync> Middleware<User, P> for Authenticate {
    type Out = Authed;
    async fn call(&self, user: User, _: &P, _: &Conn) -> Result<Authed, Reject> {
        if user.name.is_empty() {
            return Err(Reject::unauthorized("who are you?"));
        }
        Ok(Authed { name: user.name })
    }
}

type Router = (Post, (Enter, ()));

async fn post(_: Text, ctx: Ctx<Router, Authed>) -> HandlerResult {
    let _ = &ctx.data().name;
    Ok(())
}
async fn enter(j: Join, ctx: Ctx<Router, Authed>) -> HandlerResult {
    ctx.join(&j.room)?;
    Ok(())
}

fn main() {
    let guard = Log.and(Authenticate);
    let app = Zocket::<Router>::builder()
        .on_connect(|_: (), _| async { Ok(User { name: "a".into() }) })
        .on(Post, guard.clone().then(post))
        .on(Enter, guard.then(enter))
        .build()
        .unwrap();
    assert_eq!(app.routes().len(), 2);
}
