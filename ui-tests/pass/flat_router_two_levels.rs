//! Flat routers: sixteen routes and a scope at the top level, sixteen routes
//! and a scope inside it, a pair in a nested scope,
//! and a nested list mixed in; every check holds, and the wire names follow.
use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Ctx, HandlerResult, Incoming, Namespace, Outgoing, Scope, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Num {
    #[garde(range(min = 0))]
    n: i64,
}

struct In0;
impl Incoming for In0 {
    const NAME: &'static str = "in0";
    type Payload = Num;
}

struct In1;
impl Incoming for In1 {
    const NAME: &'static str = "in1";
    type Payload = Num;
}

struct In2;
impl Incoming for In2 {
    const NAME: &'static str = "in2";
    type Payload = Num;
}

struct In3;
impl Incoming for In3 {
    const NAME: &'static str = "in3";
    type Payload = Num;
}

struct In4;
impl Incoming for In4 {
    const NAME: &'static str = "in4";
    type Payload = Num;
}

struct In5;
impl Incoming for In5 {
    const NAME: &'static str = "in5";
    type Payload = Num;
}

struct In6;
impl Incoming for In6 {
    const NAME: &'static str = "in6";
    type Payload = Num;
}

struct In7;
impl Incoming for In7 {
    const NAME: &'static str = "in7";
    type Payload = Num;
}

struct Out0;
impl Outgoing for Out0 {
    const NAME: &'static str = "out0";
    type Payload = Num;
}

struct Out1;
impl Outgoing for Out1 {
    const NAME: &'static str = "out1";
    type Payload = Num;
}

struct Out2;
impl Outgoing for Out2 {
    const NAME: &'static str = "out2";
    type Payload = Num;
}

struct Out3;
impl Outgoing for Out3 {
    const NAME: &'static str = "out3";
    type Payload = Num;
}

struct Out4;
impl Outgoing for Out4 {
    const NAME: &'static str = "out4";
    type Payload = Num;
}

struct Out5;
impl Outgoing for Out5 {
    const NAME: &'static str = "out5";
    type Payload = Num;
}

struct Out7;
impl Outgoing for Out7 {
    const NAME: &'static str = "out7";
    type Payload = Num;
}
struct Out6;
impl Outgoing for Out6 {
    const NAME: &'static str = "out6";
    type Payload = Num;
}

struct AdminIn0;
impl Incoming for AdminIn0 {
    const NAME: &'static str = "in0";
    type Payload = Num;
}

struct AdminOut0;
impl Outgoing for AdminOut0 {
    const NAME: &'static str = "out0";
    type Payload = Num;
}

struct AdminIn1;
impl Incoming for AdminIn1 {
    const NAME: &'static str = "in1";
    type Payload = Num;
}

struct AdminOut1;
impl Outgoing for AdminOut1 {
    const NAME: &'static str = "out1";
    type Payload = Num;
}

struct AdminIn2;
impl Incoming for AdminIn2 {
    const NAME: &'static str = "in2";
    type Payload = Num;
}

struct AdminOut2;
impl Outgoing for AdminOut2 {
    const NAME: &'static str = "out2";
    type Payload = Num;
}

struct AdminIn3;
impl Incoming for AdminIn3 {
    const NAME: &'static str = "in3";
    type Payload = Num;
}

struct AdminOut3;
impl Outgoing for AdminOut3 {
    const NAME: &'static str = "out3";
    type Payload = Num;
}

struct AdminIn4;
impl Incoming for AdminIn4 {
    const NAME: &'static str = "in4";
    type Payload = Num;
}

struct AdminOut4;
impl Outgoing for AdminOut4 {
    const NAME: &'static str = "out4";
    type Payload = Num;
}

struct AdminIn5;
impl Incoming for AdminIn5 {
    const NAME: &'static str = "in5";
    type Payload = Num;
}

struct AdminOut5;
impl Outgoing for AdminOut5 {
    const NAME: &'static str = "out5";
    type Payload = Num;
}

struct AdminIn6;
impl Incoming for AdminIn6 {
    const NAME: &'static str = "in6";
    type Payload = Num;
}

struct AdminOut6;
impl Outgoing for AdminOut6 {
    const NAME: &'static str = "out6";
    type Payload = Num;
}

struct AdminIn7;
impl Incoming for AdminIn7 {
    const NAME: &'static str = "in7";
    type Payload = Num;
}

struct AdminOut7;
impl Outgoing for AdminOut7 {
    const NAME: &'static str = "out7";
    type Payload = Num;
}

struct Ban;
impl Incoming for Ban {
    const NAME: &'static str = "ban";
    type Payload = Num;
}

struct Kick;
impl Incoming for Kick {
    const NAME: &'static str = "kick";
    type Payload = Num;
}

struct Mute;
impl Incoming for Mute {
    const NAME: &'static str = "mute";
    type Payload = Num;
}

struct Admin;
impl Namespace for Admin {
    const NAME: &'static str = "admin";
}
struct Mod;
impl Namespace for Mod {
    const NAME: &'static str = "mod";
}

/// Sixteen routes, then a scope holding a pair and a nested list.
type AdminRoutes = (
    AdminIn0,
    AdminOut0,
    AdminIn1,
    AdminOut1,
    AdminIn2,
    AdminOut2,
    AdminIn3,
    AdminOut3,
    AdminIn4,
    AdminOut4,
    AdminIn5,
    AdminOut5,
    AdminIn6,
    AdminOut6,
    AdminIn7,
    AdminOut7,
    Scope<Mod, (Ban, Scope<Mod2, (Kick, (Mute, ()))>)>,
);
struct Mod2;
impl Namespace for Mod2 {
    const NAME: &'static str = "deep";
}

/// Sixteen routes and a scope.
type Router = (
    In0,
    In1,
    In2,
    In3,
    In4,
    In5,
    In6,
    In7,
    Out0,
    Out1,
    Out2,
    Out3,
    Out4,
    Out5,
    Out6,
    Out7,
    Scope<Admin, AdminRoutes>,
);

type C = Ctx<Router>;

async fn top(n: Num, ctx: C) -> HandlerResult {
    ctx.send(Out6, n)?.to([ctx.id()]);
    Ok(())
}

async fn admin(n: Num, ctx: C) -> HandlerResult {
    ctx.send(AdminOut7, n)?.broadcast();
    Ok(())
}

fn main() {
    let app = Zocket::<Router>::builder()
        .on(In0, top)
        .on(In1, top)
        .on(In2, top)
        .on(In3, top)
        .on(In4, top)
        .on(In5, top)
        .on(In6, top)
        .on(In7, top)
        .on(AdminIn0, admin)
        .on(AdminIn1, admin)
        .on(AdminIn2, admin)
        .on(AdminIn3, admin)
        .on(AdminIn4, admin)
        .on(AdminIn5, admin)
        .on(AdminIn6, admin)
        .on(AdminIn7, admin)
        .on(Ban, admin)
        .on(Kick, admin)
        .on(Mute, admin)
        .build()
        .expect("valid router");
    let names: Vec<&str> = app.routes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 16 + 16 + 3);
    assert_eq!(names[0], "in0");
    assert_eq!(names[15], "out7");
    assert_eq!(names[16], "admin.in0");
    assert_eq!(names[31], "admin.out7");
    assert_eq!(
        &names[32..],
        [
            "admin.mod.ban",
            "admin.mod.deep.kick",
            "admin.mod.deep.mute"
        ]
    );
}
