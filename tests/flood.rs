//! A client writing as fast as its socket takes (a raw writer, no pacing),
//! with the default configuration: over its rate limit it is told a few
//! times, not once per message, and closed with 1008; one provoking
//! validation errors at line rate likewise. Room members keep receiving the
//! allowed rate, and an honest client elsewhere keeps its round trips
//! (latency printed, not asserted).
mod common;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// What a flooder saw: error frames by kind, other frames, its close code.
#[derive(Debug, Default)]
struct Seen {
    errors: Vec<Value>,
    others: usize,
    close: Option<u16>,
    sent: u64,
    elapsed: Duration,
}

/// Floods `frame` as fast as the socket accepts until the server closes.
async fn flood(server: &Server, name: &str, before: &[Value], frame: Value) -> Seen {
    let url = format!("{}?name={name}", server.url());
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut sink, mut stream) = ws.split();
    for f in before {
        sink.send(Message::text(f.to_string())).await.unwrap();
    }
    let text = frame.to_string();
    let started = Instant::now();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        // `feed` hands a frame to the socket's buffer and writes when it is
        // full: as fast as TCP takes it. It fails once the server has closed.
        while sink.feed(Message::text(text.as_str())).await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let mut seen = Seen::default();
    let read = async {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "$zocket.error" {
                        seen.errors.push(v["payload"].clone());
                    } else {
                        seen.others += 1;
                    }
                }
                Message::Close(frame) => {
                    seen.close = frame.map(|f| u16::from(f.code));
                    break;
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("the flooder is closed");
    seen.elapsed = started.elapsed();
    writer.abort();
    seen.sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_is_told_a_few_times_and_closed_while_others_carry_on() {
    let server = start().await;
    // A room reader that keeps reading, and an honest client doing round trips meanwhile.
    let mut reader = Client::connect(&server, "reader").await;
    reader.send("rooms.join", json!({"room": "lobby"})).await;
    reader.barrier().await;
    let (stop_reading, stopped) = tokio::sync::oneshot::channel::<()>();
    let reading = tokio::spawn(async move {
        let mut heard = 0u64;
        let mut stopped = stopped;
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                msg = reader.ws.next() => match msg {
                    Some(Ok(Message::Text(t))) if t.contains("\"rooms.onSay\"") => heard += 1,
                    Some(Ok(_)) => {}
                    other => panic!("the reader lost its connection: {other:?}"),
                },
            }
        }
        // Still served: a round trip after the flood.
        reader.send("whoami", Value::Null).await;
        loop {
            let v = reader.recv().await;
            if v["type"] == "onWhoami" {
                break;
            }
            if v["type"] == "rooms.onSay" {
                heard += 1;
            }
        }
        heard
    });
    let honest_url = format!("{}?name=honest", server.url());
    let honest = tokio::spawn(async move {
        let mut c = Client::connect_url(&honest_url).await;
        let mut latencies = Vec::new();
        for i in 0..200 {
            let t = Instant::now();
            c.send("echo", json!({"text": format!("h{i}")})).await;
            let v = c.expect("onEcho").await;
            assert_eq!(v["text"], format!("h{i}"));
            latencies.push(t.elapsed());
        }
        latencies.sort();
        latencies
    });

    // 1. Tiny valid messages to a room, at socket speed.
    let say = json!({"type": "rooms.say", "payload": {"room": "lobby", "text": "x"}});
    let join = json!({"type": "rooms.join", "payload": {"room": "lobby"}});
    let seen = flood(&server, "flooder", &[join], say).await;
    println!(
        "rate flood: {} sent in {:?}, {} error frames, closed with {:?}",
        seen.sent,
        seen.elapsed,
        seen.errors.len(),
        seen.close
    );
    assert_eq!(seen.close, Some(1008), "{seen:?}");
    let limited: Vec<&Value> = seen
        .errors
        .iter()
        .filter(|e| e["kind"] == "rate_limited")
        .collect();
    assert!(!limited.is_empty(), "told of its limit");
    let allowed = 1 + seen.elapsed.as_secs() as usize;
    assert!(
        limited.len() <= allowed,
        "{} rate_limited frames for {:?} of flood",
        limited.len(),
        seen.elapsed
    );
    assert!(limited.iter().all(|e| e["dropped"].as_u64().is_some()));
    // The reader got what the limit let through (a burst, plus the rate over
    // the flood), and is still served.
    let _ = stop_reading.send(());
    let heard = reading.await.unwrap();
    let most = 500 + 1_000 * (1 + seen.elapsed.as_secs());
    println!("the room's reader heard {heard} of the flood's messages (the limit allows {most})");
    assert!((1..=most).contains(&heard), "{heard}");

    // 2. Messages that fail validation, at socket speed: a few replies, then a close.
    let invalid = json!({"type": "echo", "payload": {"text": ""}});
    let seen = flood(&server, "garbler", &[], invalid).await;
    println!(
        "invalid flood: {} sent in {:?}, {} error frames, closed with {:?}",
        seen.sent,
        seen.elapsed,
        seen.errors.len(),
        seen.close
    );
    assert_eq!(seen.close, Some(1008), "{seen:?}");
    assert!(
        seen.errors.len() <= 21 + 10 * seen.elapsed.as_secs() as usize,
        "{} error frames",
        seen.errors.len()
    );
    assert!(seen.errors.iter().all(|e| e["kind"] == "validation_failed"));

    let latencies = honest.await.unwrap();
    println!(
        "honest client during the floods: 200 round trips, p50 {:?}, p99 {:?}",
        latencies[100], latencies[197]
    );
    server.stop().await;
}

/// A masked client text frame (the mask is fixed: speed, not secrecy).
fn masked_frame(text: &str) -> Vec<u8> {
    let data = text.as_bytes();
    assert!(data.len() < 126);
    let mask = [1u8, 2, 3, 4];
    let mut out = vec![0x81, 0x80 | data.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads unmasked server frames from `buf` until a close frame; its code.
fn close_code_in(buf: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at + 2 <= buf.len() {
        let (op, mut len, mut head) = (buf[at] & 0x0F, (buf[at + 1] & 0x7F) as usize, 2);
        if len == 126 {
            if at + 4 > buf.len() {
                return None;
            }
            len = u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize;
            head = 4;
        } else if len == 127 {
            if at + 10 > buf.len() {
                return None;
            }
            len = u64::from_be_bytes(buf[at + 2..at + 10].try_into().unwrap()) as usize;
            head = 10;
        }
        if at + head + len > buf.len() {
            return None;
        }
        if op == 8 {
            let body = &buf[at + head..at + head + len];
            return Some(if body.len() >= 2 {
                u16::from_be_bytes([body[0], body[1]])
            } else {
                1005
            });
        }
        at += head + len;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_closed_for_abuse_is_not_read_again() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The default close timeout (5 s): a server that read on while waiting
    // for the flooder's close frame would take in hundreds of megabytes.
    let mut server = start_with(config().close_timeout(Duration::from_secs(5))).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(upgrade_request("/?name=flooder", "").as_bytes())
        .await
        .unwrap();
    // The 101's head, byte by byte (nothing after it is read here).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let (mut rd, mut wr) = tcp.into_split();
    let join = json!({"type": "rooms.join", "payload": {"room": "lobby"}}).to_string();
    wr.write_all(&masked_frame(&join)).await.unwrap();
    let say = json!({"type": "rooms.say", "payload": {"room": "lobby", "text": "x"}}).to_string();
    let blob: Vec<u8> = masked_frame(&say).repeat(500);
    let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = written.clone();
    // Raw bytes at socket speed until the server drops the connection.
    let writer = tokio::spawn(async move {
        while wr.write_all(&blob).await.is_ok() {
            counter.fetch_add(blob.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let mut got = Vec::new();
    let code = loop {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(WAIT, rd.read(&mut chunk))
            .await
            .expect("the server answers the flood")
            .unwrap();
        assert!(n > 0, "the server closed the socket before its close frame");
        got.extend_from_slice(&chunk[..n]);
        if let Some(code) = close_code_in(&got) {
            break code;
        }
    };
    assert_eq!(code, 1008);
    let limited = |server: &Server| {
        server
            .handle
            .metrics()
            .errors
            .get(&zocket::ErrorKind::RateLimited)
            .copied()
            .unwrap_or(0)
    };
    let at_close = limited(&server);
    let written_at_close = written.load(std::sync::atomic::Ordering::Relaxed);
    // The server ends the connection without waiting for our close frame
    // (which we never send): on_disconnect runs while we are still writing.
    let gone = server.next_disconnect().await;
    assert_eq!(gone.name, "flooder");
    let after = limited(&server);
    let written_after = written.load(std::sync::atomic::Ordering::Relaxed) - written_at_close;
    println!(
        "rate_limited drops counted: {at_close} at the close, {after} after; \
         {written_after} more bytes written after the close frame arrived"
    );
    assert_eq!(at_close, after);
    // Nothing read after the close: what the flooder wrote after it fits in
    // the two ends' socket buffers (a few megabytes on loopback).
    assert!(
        written_after < 64 << 20,
        "{written_after} bytes taken after the close"
    );
    writer.abort();
    server.stop().await;
}
