//! A guarded scope is registered once: a second `.scope(AdminNs, ..)` fails.
#![allow(unused_imports)]
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Conn, Ctx, HandlerResult, Incoming, Middleware, Namespace, Reject, Scope, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1))]
    text: String,
}
#[derive(Clone)]
struct Guard;
impl<C: Send + 'static, P: Sync> Middleware<C, P> for Guard {
    type Out = C;
    async fn call(&self, data: C, _: &P, _: &Conn) -> Result<C, Reject> {
        Ok(data)
    }
}
struct AdminNs;
impl Namespace for AdminNs {
    const NAME: &'static str = "admin";
}
struct Ban;
impl Incoming for Ban {
    const NAME: &'static str = "ban";
    type Payload = Text;
}
struct Kick;
impl Incoming for Kick {
    const NAME: &'static str = "kick";
    type Payload = Text;
}
struct Post;
impl Incoming for Post {
    const NAME: &'static str = "post";
    type Payload = Text;
}
type Router = (Scope<AdminNs, (Ban, (Kick, ()))>, (Post, ()));

async fn ban(_t: Text, _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}
async fn post(_t: Text, _ctx: Ctx<Router>) -> HandlerResult {
    Ok(())
}

fn main() {
    let _app = Zocket::<Router>::builder()
        .scope(AdminNs, Guard, |admin| admin.on(Ban, ban).on(Kick, ban))
        .scope(AdminNs, Guard, |admin| admin)
        .on(Post, post)
        .build();
}
