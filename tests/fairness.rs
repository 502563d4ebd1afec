//! One client's burst must not hurt the others: a connection handles a bounded
//! number of frames per wake-up, so the members of a room drain their queues
//! between a sender's messages instead of looking like slow consumers.
mod common;
use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tungstenite::Message;

const READERS: usize = 50;
const BURST: usize = 1_000;

async fn burst_into_a_room_of_fast_readers() {
    // Default queues (256 messages per client, slow consumers closed); the
    // rate limit is off, this is about queues (it would cut a burst of 1,000).
    let server = start_with(config().rate_limit(None)).await;
    let mut readers = Vec::new();
    for i in 0..READERS {
        let mut c = Client::connect(&server, &format!("r{i}")).await;
        c.send("rooms.join", json!({"room": "lobby"})).await;
        c.barrier().await;
        readers.push(c);
    }
    let mut sender = Client::connect(&server, "sender").await;
    sender.send("rooms.join", json!({"room": "lobby"})).await;
    sender.barrier().await;

    // The whole burst in as few writes as the client library makes: the server
    // reads it from its socket in large chunks.
    for i in 0..BURST {
        let text =
            json!({"type": "rooms.say", "payload": {"room": "lobby", "text": format!("m{i}")}});
        sender
            .ws
            .feed(Message::text(text.to_string()))
            .await
            .unwrap();
    }
    sender.ws.flush().await.unwrap();

    // Every reader is fast (its socket buffer holds the whole burst); each
    // gets every message, in order, and nobody is closed.
    for (n, reader) in readers.iter_mut().enumerate() {
        for i in 0..BURST {
            let p = reader.expect("rooms.onSay").await;
            assert_eq!(p["text"], format!("m{i}"), "reader {n}, message {i}");
        }
        reader.barrier().await;
    }
    for i in 0..BURST {
        assert_eq!(sender.expect("rooms.onSay").await["text"], format!("m{i}"));
    }
    assert_eq!(
        server.handle.connection_count(),
        READERS + 1,
        "nobody was closed"
    );
    assert_eq!(server.handle.metrics().dropped_slow, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_burst_into_a_room_closes_no_fast_reader() {
    burst_into_a_room_of_fast_readers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_into_a_room_closes_no_fast_reader_on_two_threads() {
    burst_into_a_room_of_fast_readers().await;
}

/// A client in 100,000 rooms disconnects: it leaves them a batch at a time,
/// so another client's round trips meanwhile stay fast. Prints the latency
/// figures; the assertion is a generous bound (the target is 10 ms p99).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_100k_rooms_does_not_stall_other_clients() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    const ROOMS: usize = 100_000;
    let mut server = start_with(config().max_rooms_per_client(ROOMS).rate_limit(None)).await;
    let mut big = Client::connect(&server, "big").await;
    let big_id = big.whoami().await.id;
    for i in 0..ROOMS {
        assert_eq!(server.handle.join(big_id, &format!("room-{i}")), Ok(true));
    }
    assert_eq!(server.handle.rooms().len(), ROOMS);

    let mut other = Client::connect(&server, "other").await;
    other.barrier().await;
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                other.barrier().await;
                latencies.push(t.elapsed());
            }
            latencies
        })
    };
    drop(big);
    let gone = server.next_disconnect().await;
    assert_eq!(gone.id, big_id);
    assert_eq!(gone.rooms.len(), ROOMS, "on_disconnect got every room");
    stop.store(true, Ordering::Relaxed);
    let mut latencies = measuring.await.unwrap();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    let max = *latencies.last().unwrap();
    println!(
        "round trips while a 100k-room client left: {}, p99 {:?}, max {:?}",
        latencies.len(),
        p99,
        max
    );
    assert!(server.handle.rooms().is_empty());
    assert!(p99 < Duration::from_millis(250), "p99 {p99:?}");
    server.stop().await;
}
