//! Limits per client address: one host holding many half-open handshakes
//! cannot lock out other hosts, and one host gets at most so many connections.
//! The "hosts" are loopback addresses (127.0.0.1 and 127.0.0.2).
mod common;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// A TCP connection to `addr` from the loopback address `from`.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A WebSocket handshake from `from`; `Err(status)` when refused over HTTP.
async fn ws_from(
    from: [u8; 4],
    server: &Server,
    extra: &[(&'static str, &str)],
) -> Result<Client, u16> {
    use tungstenite::client::IntoClientRequest;
    let stream = connect_from(from, server.addr).await;
    let mut request = format!("{}?name=x", server.url())
        .into_client_request()
        .unwrap();
    for (name, value) in extra {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
    {
        Ok((ws, _)) => Ok(Client { ws }),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("unexpected handshake failure: {e}"),
    }
}

#[tokio::test]
async fn a_handshake_flood_from_one_address_leaves_other_addresses_served() {
    let server = start_with(
        config()
            .max_pending_handshakes(16)
            .max_pending_handshakes_per_ip(Some(4))
            .handshake_timeout(Duration::from_secs(30))
            .health_check("/health"),
    )
    .await;
    // 127.0.0.2 opens 40 sockets and never sends a request. With a budget of
    // 16 handshakes, the cap of 4 per address applies once 8 are in use: it
    // gets 8, and the rest of its sockets are closed at once.
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(connect_from([127, 0, 0, 2], server.addr).await);
    }
    let mut closed = 0;
    for tcp in &mut silent[8..] {
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0);
        closed += 1;
    }
    assert_eq!(closed, 32);
    // Another address connects, and the health check answers.
    let mut other = ws_from([127, 0, 0, 1], &server, &[]).await.expect("served");
    other.barrier().await;
    let (status, body) = http(server.addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn connections_from_one_address_are_capped_with_429() {
    let server = start_with(config().max_connections_per_ip(Some(2))).await;
    let mut a1 = ws_from([127, 0, 0, 2], &server, &[]).await.unwrap();
    let _a2 = ws_from([127, 0, 0, 2], &server, &[]).await.unwrap();
    assert_eq!(ws_from([127, 0, 0, 2], &server, &[]).await.err(), Some(429));
    let mut b = ws_from([127, 0, 0, 1], &server, &[])
        .await
        .expect("another address");
    b.barrier().await;
    // A connection that ends frees its slot.
    a1.barrier().await;
    drop(a1);
    let gone = server.handle.connection_count();
    for _ in 0..100 {
        if let Ok(mut again) = ws_from([127, 0, 0, 2], &server, &[]).await {
            again.barrier().await;
            server.stop().await;
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the slot never came free ({gone} connections)");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_counted() {
    let server = start_with(
        config()
            .max_connections_per_ip(Some(1))
            .trust_forwarded_for(true),
    )
    .await;
    let alice = [("x-forwarded-for", "203.0.113.7, 10.0.0.1")];
    let bob = [("x-forwarded-for", "198.51.100.4")];
    let _a = ws_from([127, 0, 0, 1], &server, &alice).await.unwrap();
    assert_eq!(
        ws_from([127, 0, 0, 1], &server, &alice).await.err(),
        Some(429)
    );
    let mut b = ws_from([127, 0, 0, 1], &server, &bob)
        .await
        .expect("a different client");
    b.barrier().await;
    server.stop().await;

    // Without trust, the header is ignored: both count against 127.0.0.1.
    let server = start_with(config().max_connections_per_ip(Some(1))).await;
    let _a = ws_from([127, 0, 0, 1], &server, &alice).await.unwrap();
    assert_eq!(
        ws_from([127, 0, 0, 1], &server, &bob).await.err(),
        Some(429)
    );
    server.stop().await;
}
