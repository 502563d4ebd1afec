//! A server-side timer broadcasting to everyone through the server handle.
//!
//! ```text
//! cargo run --example notifications        # serves ws://127.0.0.1:3001 until Ctrl-C
//! ```
//! With `DEMO=1` it also starts a client, prints three notifications and exits.

use std::time::Duration;

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{Client, Outgoing, Zocket};

#[derive(Debug, Serialize, Deserialize, Validate)]
struct Notice {
    #[garde(skip)]
    seq: u64,
    #[garde(length(min = 1, max = 200))]
    text: String,
}

struct OnNotice; // a router with no incoming route needs no handler at all
impl Outgoing for OnNotice {
    const NAME: &'static str = "onNotice";
    type Payload = Notice;
}
type AppRouter = (OnNotice, ());

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Zocket::<AppRouter>::builder().build()?;
    let server = app.handle();

    // The timer: every 500 ms, tell everyone. The send is typed like a handler's.
    let timer = server.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        for seq in 0.. {
            tick.tick().await;
            let notice = Notice {
                seq,
                text: format!("tick #{seq}"),
            };
            let n = timer
                .send(OnNotice, notice)
                .expect("valid notice")
                .broadcast();
            if n > 0 {
                println!("notified {n} client(s)");
            }
        }
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let serving = tokio::spawn(app.serve_with_shutdown(listener, zocket::shutdown_signal()));
    println!("notifications on {url}");

    if std::env::var_os("DEMO").is_some() {
        let client = Client::<AppRouter>::connect(url).await?;
        let mut notices = client.stream(OnNotice);
        use futures_util::StreamExt;
        for _ in 0..3 {
            let n = notices.next().await.ok_or("stream ended")?;
            println!("client got: {} ({})", n.text, n.seq);
        }
        client.close().await;
        server.shutdown();
    }
    serving.await??;
    Ok(())
}
