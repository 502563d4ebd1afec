//! Heartbeat and handshake timeouts: dead peers and stalled handshakes are
//! closed; live ones are kept.
mod common;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;
use tungstenite::Message;

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_closed() {
    let mut server = start_with(config().heartbeat(Some(Duration::from_millis(100)))).await;
    let mut silent = Client::connect(&server, "silent").await;
    let id = silent.whoami().await.id;
    // From now on the client never reads, so it never answers a ping.
    let gone = server.next_disconnect().await;
    assert_eq!(gone.id, id);
    assert!(!server.handle.is_connected(id));
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    let server = start_with(config().heartbeat(Some(Duration::from_millis(250)))).await;
    let mut live = Client::connect(&server, "live").await;
    let id = live.whoami().await.id;
    // Reading lets tungstenite answer each ping; wait for six of them, i.e.
    // three times the silence limit.
    let mut pings = 0;
    while pings < 6 {
        let msg = tokio::time::timeout(WAIT, live.ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if matches!(msg, Message::Ping(_)) {
            pings += 1;
        }
    }
    assert!(server.handle.is_connected(id));
    live.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_dropped() {
    let server = start_with(config().handshake_timeout(Duration::from_millis(200))).await;
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Half a request, then nothing.
    use tokio::io::AsyncWriteExt;
    stalled
        .write_all(b"GET /?name=x HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, stalled.read(&mut buf))
        .await
        .expect("the server gives up on the handshake")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a response");
    // Others are served meanwhile and after.
    let mut ok = Client::connect(&server, "ok").await;
    ok.barrier().await;
    server.stop().await;
}
