//! Limits: oversized messages, and clients that read too slowly.
mod common;
use common::*;
use serde_json::json;
use zocket::SlowConsumer;

#[tokio::test]
async fn a_message_just_under_the_limit_is_served() {
    let server = start_with(
        config()
            .max_message_size(16 * 1024)
            .max_frame_size(16 * 1024),
    )
    .await;
    let mut a = Client::connect(&server, "a").await;
    let pad = "p".repeat(16 * 1024 - 100);
    let text = json!({"type": "echo", "payload": {"text": "fits", "pad": pad}}).to_string();
    assert!(text.len() <= 16 * 1024);
    a.send_raw(&text).await;
    assert_eq!(a.expect("onEcho").await["text"], "fits");
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009_and_others_are_unaffected() {
    let mut server = start_with(
        config()
            .max_message_size(16 * 1024)
            .max_frame_size(16 * 1024),
    )
    .await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    b.barrier().await;
    let aid = a.whoami().await.id;
    let pad = "p".repeat(16 * 1024 + 1);
    a.send_raw(&json!({"type": "echo", "payload": {"text": "x", "pad": pad}}).to_string())
        .await;
    assert_eq!(a.closed().await, Some(1009));
    assert_eq!(server.next_disconnect().await.id, aid);
    b.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn ten_megabyte_frames_are_refused_by_default() {
    let mut server = start().await;
    let mut a = Client::connect(&server, "a").await;
    let big = "x".repeat(10 << 20);
    // The server closes as soon as the frame header announces the size, so
    // the send itself may fail part-way: either way the connection ends with 1009.
    use futures_util::SinkExt;
    let _ = a.ws.send(tungstenite::Message::text(big)).await;
    assert!(matches!(a.closed().await, Some(1009) | None));
    server.next_disconnect().await;
    let mut b = Client::connect(&server, "b").await;
    b.barrier().await;
    server.stop().await;
}

fn blob(seq: u64) -> Blob {
    Blob {
        seq,
        data: "b".repeat(60_000),
    }
}

/// Broadcasts blobs in rounds of `per_round` (no more than the queue holds),
/// waiting each round for the healthy client to receive them, until the slow
/// client has had messages dropped. Returns how many were sent.
async fn overrun(server: &Server, fast: &mut Client, per_round: u64) -> u64 {
    let mut seq = 0;
    for _round in 0..10_000 {
        for _ in 0..per_round {
            server.handle.send(OnBlob, blob(seq)).unwrap().broadcast();
            seq += 1;
        }
        for expected in seq - per_round..seq {
            assert_eq!(
                fast.expect("onBlob").await["seq"],
                expected,
                "in order, none lost"
            );
        }
        if server.handle.metrics().dropped_slow > 0 {
            return seq;
        }
    }
    panic!("the slow client never filled its queue");
}

#[tokio::test]
async fn slow_consumer_is_closed_and_does_not_delay_others() {
    let mut server = start_with(config().queue_len(8)).await;
    let mut fast = Client::connect(&server, "fast").await;
    let mut slow = Client::connect(&server, "slow").await;
    let slow_id = slow.whoami().await.id;
    fast.barrier().await;
    // From here on `slow` never reads.
    let sent = overrun(&server, &mut fast, 4).await;
    assert!(sent > 0);
    let gone = server.next_disconnect().await;
    assert_eq!(gone.id, slow_id);
    // The healthy client keeps being served.
    fast.barrier().await;
    drop(slow);
    server.stop().await;
}

#[tokio::test]
async fn slow_consumer_with_drop_policy_keeps_its_connection() {
    let server = start_with(config().queue_len(8).slow_consumer(SlowConsumer::Drop)).await;
    let mut fast = Client::connect(&server, "fast").await;
    let mut slow = Client::connect(&server, "slow").await;
    let slow_id = slow.whoami().await.id;
    fast.barrier().await;
    overrun(&server, &mut fast, 4).await;
    assert!(
        server.handle.is_connected(slow_id),
        "dropped messages, kept the client"
    );
    fast.barrier().await;
    server.stop().await;
}

/// A queue over its soft bound for a moment is not a slow consumer: twenty
/// messages queued at once for a client with an 8-message soft bound all
/// arrive, and the client stays connected.
#[tokio::test]
async fn a_momentary_burst_over_the_soft_bound_closes_nobody() {
    let server = start_with(config().queue_len(8)).await;
    let mut c = Client::connect(&server, "c").await;
    let id = c.whoami().await.id;
    // Queued back to back from this task: the client's task has no chance to
    // drain in between, so its queue holds all twenty at once.
    for seq in 0..20 {
        server
            .handle
            .send(
                OnBlob,
                Blob {
                    seq,
                    data: "b".into(),
                },
            )
            .unwrap()
            .to([id]);
    }
    for seq in 0..20 {
        assert_eq!(c.expect("onBlob").await["seq"], seq);
    }
    assert!(server.handle.is_connected(id));
    assert_eq!(server.handle.metrics().dropped_slow, 0);
    c.barrier().await;
    server.stop().await;
}

/// Over its rate limit a client's messages are dropped with `rate_limited`;
/// one that keeps sending is closed with 1008; others are not affected.
#[tokio::test]
async fn a_client_over_its_rate_limit_is_told_then_closed_if_it_keeps_on() {
    use zocket::RateLimit;
    let mut server =
        start_with(config().rate_limit(Some(RateLimit::new(1, 10, 1 << 20, 1 << 20)))).await;
    let mut calm = Client::connect(&server, "calm").await;
    let mut noisy = Client::connect(&server, "noisy").await;
    let noisy_id = noisy.whoami().await.id; // 1 of its 10
    for i in 0..9 {
        noisy.send("echo", json!({"text": format!("e{i}")})).await;
    }
    for i in 0..9 {
        assert_eq!(noisy.expect("onEcho").await["text"], format!("e{i}"));
    }
    // The burst is spent: the next one is dropped, and the client is told.
    noisy.send("echo", json!({"text": "too fast"})).await;
    let e = noisy.expect_error("rate_limited").await;
    assert!(e["message"].as_str().unwrap().contains("slow down"), "{e}");
    // Keeping on while limited closes the connection.
    for _ in 0..20 {
        noisy.send("echo", json!({"text": "more"})).await;
    }
    assert_eq!(noisy.closed().await, Some(1008));
    assert_eq!(server.next_disconnect().await.id, noisy_id);
    // The calm client is served as before.
    calm.barrier().await;
    assert!(server.handle.metrics().errors[&zocket::ErrorKind::RateLimited] >= 2);
    server.stop().await;
}
