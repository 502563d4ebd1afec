//! Hostile clients over real sockets: floods, broken frames, nested JSON,
//! vanishing clients, and a shutdown in the middle of traffic. Every test also
//! checks that what the server accepted for a healthy client arrives, in order.
mod common;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tungstenite::Message;

/// Performs the upgrade by hand and returns the raw socket, so a test can
/// write frames no WebSocket library would produce.
async fn raw_upgrade(server: &Server, name: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(upgrade_request(&format!("/?name={name}"), "").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "server closed during the handshake");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// A masked client frame with `opcode` and `payload` (payload < 126 bytes).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads server frames until a close frame; returns its code.
async fn read_close_code(tcp: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
            .await
            .unwrap()
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        // Walk the unmasked server frames.
        let mut at = 0;
        while buf.len() >= at + 2 {
            let opcode = buf[at] & 0x0f;
            let len = (buf[at + 1] & 0x7f) as usize;
            let (start, len) = match len {
                126 if buf.len() >= at + 4 => (
                    at + 4,
                    u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize,
                ),
                126 | 127 => break,
                n => (at + 2, n),
            };
            if buf.len() < start + len {
                break;
            }
            if opcode == 8 {
                return (len >= 2).then(|| u16::from_be_bytes([buf[start], buf[start + 1]]));
            }
            at = start + len;
        }
    }
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let mut server = start().await;
    let mut healthy = Client::connect(&server, "healthy").await;
    healthy.barrier().await;
    let mut tcp = raw_upgrade(&server, "evil").await;
    tcp.write_all(&frame(0x1, &[0x7b, 0xff, 0xfe, 0x7d]))
        .await
        .unwrap();
    assert_eq!(read_close_code(&mut tcp).await, Some(1007));
    assert_eq!(server.next_disconnect().await.name, "evil");
    healthy.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn a_protocol_violation_closes_with_1002() {
    let mut server = start().await;
    let mut tcp = raw_upgrade(&server, "evil").await;
    // Opcode 0x3 is reserved.
    tcp.write_all(&frame(0x3, b"??")).await.unwrap();
    assert_eq!(read_close_code(&mut tcp).await, Some(1002));
    assert_eq!(server.next_disconnect().await.name, "evil");
    server.stop().await;
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    let server = start_with(config().max_message_size(1 << 20).max_frame_size(1 << 20)).await;
    let mut a = Client::connect(&server, "a").await;
    let depth = 200_000;
    // Refused either while finding the envelope's end (serde_json's recursion
    // limit) or while reading the payload as `Text`; never a crash.
    for payload in [
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!(
            "{}1{}",
            r#"{"a":"#.repeat(depth / 10),
            "}".repeat(depth / 10)
        ),
    ] {
        a.send_raw(&format!(r#"{{"type":"echo","payload":{payload}}}"#))
            .await;
        let e = a.expect("$zocket.error").await;
        assert!(
            matches!(e["kind"].as_str(), Some("invalid_json" | "invalid_payload")),
            "{e}"
        );
        // Nested inside the envelope itself.
        a.send_raw(&format!(r#"{{"nested":{payload},"type":"echo"}}"#))
            .await;
        let e = a.expect("$zocket.error").await;
        assert!(
            matches!(e["kind"].as_str(), Some("invalid_json" | "invalid_payload")),
            "{e}"
        );
    }
    a.barrier().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_does_not_starve_others_and_nothing_is_lost() {
    // The rate limit is off: this test is about queued work not being lost.
    let server = start_with(config().queue_len(100_000).rate_limit(None)).await;
    let mut flooder = Client::connect(&server, "flooder").await;
    let mut other = Client::connect(&server, "other").await;
    flooder.barrier().await;
    other.barrier().await;
    // The flooder fires 20,000 messages without waiting; its replies queue up
    // (its queue is large enough here) until it reads them.
    const FLOOD: usize = 20_000;
    let (mut sink, mut stream) = flooder.ws.split();
    let flood = tokio::spawn(async move {
        for i in 0..FLOOD {
            let text = json!({"type": "echo", "payload": {"text": i.to_string()}}).to_string();
            sink.feed(Message::text(text)).await.unwrap();
        }
        sink.flush().await.unwrap();
        sink
    });
    // Meanwhile another client gets every one of its round trips answered.
    for i in 0..50 {
        other
            .send("echo", json!({"text": format!("other {i}")}))
            .await;
        assert_eq!(other.expect("onEcho").await["text"], format!("other {i}"));
    }
    let _sink = flood.await.unwrap();
    // Every flood message the server accepted comes back, in order.
    for i in 0..FLOOD {
        let msg = loop {
            match tokio::time::timeout(WAIT, stream.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap()
            {
                Message::Text(t) => break t,
                _ => continue,
            }
        };
        let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
        assert_eq!(v["payload"]["text"], i.to_string());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_without_a_close_frame_leave_nothing_behind() {
    let mut server = start().await;
    const N: usize = 300;
    let mut clients = Vec::new();
    for i in 0..N {
        let mut c = Client::connect(&server, &format!("v{i}")).await;
        c.send("rooms.join", json!({"room": format!("room{}", i % 7)}))
            .await;
        c.send("rooms.join", json!({"room": "all"})).await;
        clients.push(c);
    }
    for c in &mut clients {
        c.barrier().await;
    }
    assert_eq!(server.handle.connection_count(), N);
    assert_eq!(server.handle.rooms().len(), 8);
    // Drop every socket abruptly: no close frame, just TCP going away.
    for c in clients {
        let tcp = c.ws.into_inner();
        if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = tcp {
            drop(tcp); // no close frame: the socket just goes away
        }
    }
    for _ in 0..N {
        server.next_disconnect().await;
    }
    assert_eq!(server.handle.connection_count(), 0);
    assert!(
        server.handle.rooms().is_empty(),
        "{:?}",
        server.handle.rooms()
    );
    // And the server still serves.
    let mut c = Client::connect(&server, "after").await;
    c.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_connects_and_sends_nothing_is_dropped_after_the_handshake_timeout() {
    let server = start_with(config().handshake_timeout(Duration::from_millis(200))).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, idle.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_traffic_delivers_what_was_accepted_in_order_then_1001() {
    let server = start_with(config().queue_len(10_000).rate_limit(None)).await;
    let mut clients = Vec::new();
    for i in 0..10 {
        let mut c = Client::connect(&server, &format!("c{i}")).await;
        c.barrier().await;
        clients.push(c);
    }
    // Each client streams numbered echoes and reads replies until the close;
    // it reports once 100 replies have come back, so the shutdown lands
    // mid-traffic.
    let (flowing_tx, mut flowing) = tokio::sync::mpsc::unbounded_channel();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let flowing_tx = flowing_tx.clone();
            tokio::spawn(async move {
                let (mut sink, mut stream) = c.ws.split();
                let writer = tokio::spawn(async move {
                    for i in 0..100_000u32 {
                        let t =
                            json!({"type": "echo", "payload": {"text": i.to_string()}}).to_string();
                        if sink.send(Message::text(t)).await.is_err() {
                            break;
                        }
                    }
                });
                let mut next = 0u32;
                let code = loop {
                    match tokio::time::timeout(WAIT, stream.next())
                        .await
                        .expect("no stall")
                    {
                        Some(Ok(Message::Text(t))) => {
                            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                            assert_eq!(v["payload"]["text"], next.to_string(), "a gap or reorder");
                            next += 1;
                            if next == 100 {
                                let _ = flowing_tx.send(());
                            }
                        }
                        Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break None,
                    }
                };
                writer.abort();
                (next, code)
            })
        })
        .collect();
    for _ in 0..10 {
        tokio::time::timeout(WAIT, flowing.recv())
            .await
            .unwrap()
            .unwrap();
    }
    let handle = server.handle.clone();
    handle.shutdown();
    let mut gone = server.stop_collecting().await;
    for t in tasks {
        let (received, code) = t.await.unwrap();
        assert_eq!(code, Some(1001), "after {received} replies");
    }
    gone.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(gone.len(), 10, "on_disconnect ran for every client");
    assert_eq!(handle.connection_count(), 0);
}

#[tokio::test]
async fn sockets_beyond_the_limit_are_closed_at_once_and_the_server_recovers() {
    let server = start_with(
        config()
            .max_connections(2)
            .max_pending_handshakes(3)
            .handshake_timeout(Duration::from_secs(30)),
    )
    .await;
    // Five silent sockets fill connections + pending handshakes...
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // ...(proved by a health probe: it is the sixth socket, so it is refused
    // even though it would be a valid request).
    let mut sixth = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, sixth.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a response");
    // Once they go away, the server serves again.
    drop(silent);
    let mut ok = None;
    for _ in 0..100 {
        // The silent sockets' tasks end as the server notices each EOF.
        match tokio_tungstenite::connect_async(format!("{}?name=x", server.url())).await {
            Ok((ws, _)) => {
                ok = Some(Client { ws });
                break;
            }
            Err(_) => tokio::task::yield_now().await,
        }
    }
    ok.expect("served again").barrier().await;
    server.stop().await;
}

/// A message that starts and never finishes (a first fragment, or half a
/// frame) is abandoned after the message timeout: the client is closed with
/// 1008, even though it keeps the connection alive with pings.
#[tokio::test]
async fn a_message_that_never_finishes_is_abandoned_after_the_message_timeout() {
    let mut server = start_with(config().message_timeout(Duration::from_millis(300))).await;
    let mut healthy = Client::connect(&server, "healthy").await;

    // A first fragment (FIN unset), then pings only.
    let mut fragment = raw_upgrade(&server, "fragment").await;
    let mut first = frame(0x1, br#"{"type":"echo","#);
    first[0] &= 0x7f; // clear FIN
    fragment.write_all(&first).await.unwrap();
    fragment
        .write_all(&frame(0x9, b"still here"))
        .await
        .unwrap();
    assert_eq!(read_close_code(&mut fragment).await, Some(1008));
    assert_eq!(server.next_disconnect().await.name, "fragment");

    // Half a frame: the header promises 100 bytes, 10 arrive.
    let mut half = raw_upgrade(&server, "half").await;
    let mut header = vec![0x81, 0x80 | 100, 1, 2, 3, 4];
    header.extend_from_slice(&[b'x'; 10]);
    half.write_all(&header).await.unwrap();
    assert_eq!(read_close_code(&mut half).await, Some(1008));
    assert_eq!(server.next_disconnect().await.name, "half");

    healthy.barrier().await;
    server.stop().await;
}
