//! The smallest zocket program: a server and a typed client in one process.
//!
//! ```text
//! cargo run --example ping_pong
//! ```

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerResult, Incoming, Outgoing, Zocket};

#[derive(Debug, Serialize, Deserialize, Validate)]
struct Ball {
    #[garde(range(max = 1_000))]
    hits: u32,
}

struct Ping; // client -> server
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = Ball;
}
struct Pong; // server -> client
impl Outgoing for Pong {
    const NAME: &'static str = "pong";
    type Payload = Ball;
}
type AppRouter = (Ping, (Pong, ()));

async fn ping(ball: Ball, ctx: Ctx<AppRouter>) -> HandlerResult {
    ctx.reply(
        Pong,
        Ball {
            hits: ball.hits + 1,
        },
    )?; // only to the sender
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Zocket::<AppRouter>::builder().on(Ping, ping).build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = app.handle();
    let serving = tokio::spawn(app.serve_listener(listener));

    let client = Client::<AppRouter>::connect(url).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _sub = client.on(Pong, move |ball: Ball| {
        let _ = tx.send(ball);
    });
    client.send(Ping, Ball { hits: 0 })?;
    while let Some(ball) = rx.recv().await {
        println!("pong: {} hits", ball.hits);
        if ball.hits >= 5 {
            break;
        }
        client.send(
            Ping,
            Ball {
                hits: ball.hits + 1,
            },
        )?;
    }
    client.close().await;
    server.shutdown();
    serving.await??;
    Ok(())
}
