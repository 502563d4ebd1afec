//! `RequireAdmin` takes `Authed`, so it cannot run before `Authenticate`.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Conn, Ctx, HandlerResult, Incoming, Middleware, MiddlewareExt, Outgoing, Reject, Zocket};

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
struct OnPost;
impl Outgoing for OnPost {
    const NAME: &'static str = "onPost";
    type Payload = Text;
}


#[derive(Clone)]
struct User {
    name: String,
}
struct Authed {
    name: String,
}
struct Admin {
    name: String,
}

struct Authenticate;
impl<P: Sync> Middleware<User, P> for Authenticate {
    type Out = Authed;
    async fn call(&self, u: User, _: &P, _: &Conn) -> Result<Authed, Reject> {
        Ok(Authed { name: u.name })
    }
}

struct RequireAdmin;
impl<P: Sync> Middleware<Authed, P> for RequireAdmin {
    type Out = Admin;
    async fn call(&self, a: Authed, _: &P, _: &Conn) -> Result<Admin, Reject> {
        Ok(Admin { name: a.name })
    }
}

type Router = (Post, (OnPost, ()));

async fn admin_only(_: Text, _: Ctx<Router, Admin>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .on_connect(|_: (), _| async { Ok(User { name: "x".into() }) })
        .on(Post, RequireAdmin.and(Authenticate).then(admin_only))
        .build();
}
