//! `on_disconnect` runs exactly once for every `on_connect` that succeeded,
//! also for a client that vanished while its upgrade was being answered.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use zocket::{Ctx, HandlerResult, Incoming, Zocket};

struct Ping;
impl Incoming for Ping {
    const NAME: &'static str = "ping";
    type Payload = ();
}
type R = (Ping, ());

#[tokio::test]
async fn a_client_gone_during_the_upgrade_still_gets_its_on_disconnect() {
    let gate = Arc::new(Notify::new());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (tx, mut disconnects) = mpsc::unbounded_channel();
    let (open_gate, counted) = (gate.clone(), accepted.clone());
    let app = Zocket::<R>::builder()
        .on_connect(move |_: (), _id| {
            let (gate, counted) = (open_gate.clone(), counted.clone());
            async move {
                // Held until the client has reset its socket.
                gate.notified().await;
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .on_disconnect(move |ctx: Ctx<R>, _rooms| {
            let _ = tx.send(ctx.id());
            async { Ok(()) as HandlerResult }
        })
        .on(Ping, |_: (), _: Ctx<R>| async { Ok(()) })
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = app.handle();
    let server = tokio::spawn(app.serve_listener(listener));

    // A client asks for an upgrade, then resets its socket (no close, no FIN:
    // an RST) while on_connect is still deciding.
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    // A zero linger makes close send an RST at once (it never blocks with zero).
    #[allow(
        deprecated,
        reason = "SO_LINGER 0: the reset this test needs; no blocking"
    )]
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    drop(socket);
    gate.notify_one();

    // on_connect accepted it; on_disconnect runs for it, whichever way the
    // server found out (the 101 could not be written, or the first read failed).
    let gone = tokio::time::timeout(Duration::from_secs(10), disconnects.recv())
        .await
        .expect("on_disconnect runs")
        .unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert!(!handle.is_connected(gone));
    // Exactly once: after a shutdown (which waits for every on_disconnect), no second one.
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
    assert_eq!(disconnects.recv().await, None, "on_disconnect ran twice");
    assert_eq!(handle.connection_count(), 0);
}
