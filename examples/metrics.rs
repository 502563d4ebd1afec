//! Prints the server's metrics snapshot while a few clients talk.
//!
//! ```text
//! cargo run --example metrics
//! ```

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Ctx, HandlerResult, Incoming, Outgoing, Zocket};

#[derive(Serialize, Deserialize, Validate)]
struct Text {
    #[garde(length(min = 1, max = 200))]
    text: String,
}
struct Say;
impl Incoming for Say {
    const NAME: &'static str = "say";
    type Payload = Text;
}
struct OnSay;
impl Outgoing for OnSay {
    const NAME: &'static str = "onSay";
    type Payload = Text;
}
type AppRouter = (Say, (OnSay, ()));

async fn say(t: Text, ctx: Ctx<AppRouter>) -> HandlerResult {
    ctx.send(OnSay, t)?.broadcast();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Zocket::<AppRouter>::builder().on(Say, say).build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = app.handle();
    tokio::spawn(app.serve_listener(listener));

    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Client::<AppRouter>::connect(&url).await?);
    }
    let mut heard = clients[2].stream(OnSay);
    for (i, c) in clients.iter().enumerate() {
        c.send(
            Say,
            Text {
                text: format!("hello from {i}"),
            },
        )?;
    }
    use futures_util::StreamExt;
    for _ in 0..3 {
        heard.next().await;
    }
    let m = server.metrics();
    println!(
        "connections: {} (total {})",
        m.connections, m.connections_total
    );
    println!("rooms: {}", m.rooms);
    for (route, n) in &m.messages_in {
        println!("in  {route}: {n}");
    }
    for (route, out) in &m.messages_out {
        println!(
            "out {route}: {} sent, {} delivered",
            out.sent, out.delivered
        );
    }
    println!(
        "errors: {:?}, dropped by the slow-consumer policy: {}",
        m.errors, m.dropped_slow
    );
    for c in clients {
        c.close().await;
    }
    server.shutdown();
    server.closed().await;
    Ok(())
}
