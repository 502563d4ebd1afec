//! Direct messages: send to one chosen client id.
//!
//! ```text
//! cargo run --example private_messages
//! ```
//! Three clients connect; each learns its id from `whoami`, and alice sends a
//! private message that only bob receives.

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, ClientId, Ctx, HandlerResult, Incoming, Outgoing, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Dm {
    #[garde(skip)]
    to: ClientId,
    #[garde(length(chars, min = 1, max = 500))]
    text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Delivered {
    #[garde(skip)]
    from: ClientId,
    #[garde(skip)]
    text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
struct Me {
    #[garde(skip)]
    id: ClientId,
}

struct SendDm;
impl Incoming for SendDm {
    const NAME: &'static str = "dm";
    type Payload = Dm;
}
struct WhoAmI;
impl Incoming for WhoAmI {
    const NAME: &'static str = "whoami";
    type Payload = ();
}
struct OnDm;
impl Outgoing for OnDm {
    const NAME: &'static str = "onDm";
    type Payload = Delivered;
}
struct OnMe;
impl Outgoing for OnMe {
    const NAME: &'static str = "onMe";
    type Payload = Me;
}
type AppRouter = (SendDm, (WhoAmI, (OnDm, (OnMe, ()))));
type C = Ctx<AppRouter>;

async fn dm(dm: Dm, ctx: C) -> HandlerResult {
    let n = ctx
        .send(
            OnDm,
            Delivered {
                from: ctx.id(),
                text: dm.text,
            },
        )?
        .to([dm.to]);
    if n == 0 {
        return Err(zocket::Reject::new(format!("client {} is not connected", dm.to)).into());
    }
    Ok(())
}

async fn whoami(_: (), ctx: C) -> HandlerResult {
    ctx.reply(OnMe, Me { id: ctx.id() })?;
    Ok(())
}

async fn client(
    url: &str,
    name: &'static str,
) -> Result<(Client<AppRouter>, ClientId), Box<dyn std::error::Error>> {
    let client = Client::<AppRouter>::connect(url).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sub = client.on(OnMe, move |me: Me| {
        let _ = tx.send(me.id);
    });
    client.send(WhoAmI, ())?;
    let id = rx.recv().await.ok_or("no reply")?;
    sub.unsubscribe();
    client
        .on(OnDm, move |d: Delivered| {
            println!("{name} got a DM from {}: {}", d.from, d.text)
        })
        .forever();
    println!("{name} is client {id}");
    Ok((client, id))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Zocket::<AppRouter>::builder()
        .on(SendDm, dm)
        .on(WhoAmI, whoami)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = app.handle();
    tokio::spawn(app.serve_listener(listener));

    let (alice, _) = client(&url, "alice").await?;
    let (bob, bob_id) = client(&url, "bob").await?;
    let (carol, _) = client(&url, "carol").await?;
    let mut bob_inbox = bob.stream(OnDm);
    alice.send(
        SendDm,
        Dm {
            to: bob_id,
            text: "only for you, bob".into(),
        },
    )?;
    use futures_util::StreamExt;
    let got = bob_inbox.next().await.ok_or("bob got nothing")?;
    assert_eq!(got.text, "only for you, bob");
    for c in [alice, bob, carol] {
        c.close().await;
    }
    server.shutdown();
    server.closed().await;
    Ok(())
}
