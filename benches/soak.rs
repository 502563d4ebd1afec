//! Soak: thousands of clients chatting in rooms for minutes; reports lost and
//! reordered messages and the server's memory over time.
//!
//! ```text
//! cargo bench --bench soak                          # 2,000 clients, 120 s
//! cargo bench --bench soak -- --clients 500 --secs 20
//! ```
//!
//! The zocket server runs in its own process pinned to core 0; the clients run
//! here on core 1. Clients join rooms of 10; each sends a numbered message to
//! its room about once a second (jittered). Every receiver checks that each
//! room-mate's numbers arrive consecutively. At the end every client stops
//! sending, and the run waits until each receiver has its room-mates' last
//! messages; anything missing by then is counted as lost.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::{Server, connect_many, serve_or_pin};
use tokio::sync::{Barrier, mpsc};
use tungstenite::Message;

const ROOM_SIZE: usize = 10;

#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    received: AtomicU64,
    out_of_order: AtomicU64,
}

/// What one client saw.
struct Report {
    index: usize,
    sent: u64,
    /// Last sequence number received from each room-mate.
    last: HashMap<usize, u64>,
}

fn arg(name: &str) -> Option<u64> {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    if serve_or_pin() {
        return;
    }
    let clients = arg("--clients").unwrap_or(2000) as usize;
    let secs = arg("--secs").unwrap_or(120);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(soak(clients, secs));
}

async fn soak(n: usize, secs: u64) {
    let server = Server::start("zocket").await;
    let rss_start = server.rss_kib();
    println!(
        "soak: {n} clients in rooms of {ROOM_SIZE}, {secs} s, server pid {}",
        server.pid
    );
    let conns = connect_many(server.port, n).await;
    let totals = Arc::new(Totals::default());
    let ready = Arc::new(Barrier::new(n + 1));
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (report_tx, mut reports) = mpsc::unbounded_channel::<Report>();
    // Final sequence numbers, published when sending stops: (sender -> sent).
    let (final_tx, final_rx) = tokio::sync::watch::channel::<Option<Arc<Vec<u64>>>>(None);
    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<(usize, u64)>();

    for (index, ws) in conns.into_iter().enumerate() {
        let (totals, ready, stop, stopping) = (
            totals.clone(),
            ready.clone(),
            stop.clone(),
            stopping.clone(),
        );
        let (report_tx, sent_tx) = (report_tx.clone(), sent_tx.clone());
        let mut final_rx = final_rx.clone();
        tokio::spawn(async move {
            let room = index / ROOM_SIZE;
            let mates: Vec<usize> = (room * ROOM_SIZE..((room + 1) * ROOM_SIZE).min(n))
                .filter(|&m| m != index)
                .collect();
            let (mut sink, mut stream) = ws.split();
            let join = format!(r#"{{"type":"join","payload":{{"room":"r{room}"}}}}"#);
            sink.send(Message::text(join)).await.unwrap();
            sink.send(Message::text(
                r#"{"type":"echo","payload":{"text":"ready"}}"#,
            ))
            .await
            .unwrap();
            // Joined once the echo (handled after the join) comes back.
            loop {
                if let Some(Ok(Message::Text(t))) = stream.next().await
                    && t.contains("ready")
                {
                    break;
                }
            }
            ready.wait().await;
            let mut last: HashMap<usize, u64> = HashMap::new();
            let mut seq = 0u64;
            let mut rng = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut next_send = Instant::now() + Duration::from_millis(rng % 1000);
            let mut done_sending = false;
            let mut finals: Option<Arc<Vec<u64>>> = None;
            loop {
                if let Some(f) = &finals
                    && mates
                        .iter()
                        .all(|m| last.get(m).copied().unwrap_or(0) >= f[*m])
                {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(next_send.into()), if !done_sending => {
                        if stopping.load(Ordering::Relaxed) {
                            done_sending = true;
                            let _ = sent_tx.send((index, seq));
                            continue;
                        }
                        seq += 1;
                        let msg = format!(r#"{{"type":"say","payload":{{"room":"r{room}","text":"{index}:{seq}"}}}}"#);
                        sink.send(Message::text(msg)).await.unwrap();
                        totals.sent.fetch_add(1, Ordering::Relaxed);
                        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                        next_send += Duration::from_millis(500 + rng % 1000);
                    }
                    () = stop.notified(), if !done_sending => {
                        done_sending = true;
                        let _ = sent_tx.send((index, seq));
                    }
                    changed = final_rx.changed(), if finals.is_none() => {
                        if changed.is_err() { break; }
                        finals = final_rx.borrow().clone();
                    }
                    msg = stream.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            let Some(body) = t.split("\"text\":\"").nth(1) else { continue };
                            let body = body.split('"').next().unwrap_or("");
                            let Some((from, s)) = body.split_once(':') else { continue };
                            let (Ok(from), Ok(s)) = (from.parse::<usize>(), s.parse::<u64>()) else { continue };
                            let prev = last.insert(from, s).unwrap_or(0);
                            if s != prev + 1 {
                                totals.out_of_order.fetch_add(1, Ordering::Relaxed);
                            }
                            totals.received.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
            let _ = report_tx.send(Report {
                index,
                sent: seq,
                last,
            });
            let _ = sink.close().await;
        });
    }
    drop(report_tx);
    drop(sent_tx);
    ready.wait().await;
    let started = Instant::now();
    println!(
        "all {n} clients joined; server RSS {:.1} MiB (before connecting: {:.1} MiB)",
        server.rss_kib() / 1024.0,
        rss_start / 1024.0
    );
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    while started.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let rss = server.rss_kib();
        let t = started.elapsed().as_secs();
        println!(
            "t={t:>4}s  server RSS {:>7.1} MiB  sent {:>9}  delivered {:>10}  server CPU {:>6.1} s",
            rss / 1024.0,
            totals.sent.load(Ordering::Relaxed),
            totals.received.load(Ordering::Relaxed),
            server.cpu()
        );
        samples.push(rss);
    }
    // Stop sending; collect how many each client sent; publish the finals.
    stopping.store(true, Ordering::Relaxed);
    stop.notify_waiters();
    let mut finals = vec![0u64; n];
    for _ in 0..n {
        let (i, s) = sent_rx.recv().await.expect("every client reports");
        finals[i] = s;
    }
    let _ = final_tx.send(Some(Arc::new(finals.clone())));
    let drained = tokio::time::timeout(Duration::from_secs(60), async {
        let mut all = Vec::new();
        while let Some(r) = reports.recv().await {
            all.push(r);
        }
        all
    })
    .await;
    let (lost, expected) = match &drained {
        Ok(reports) => {
            let mut lost = 0u64;
            let mut expected = 0u64;
            for r in reports {
                let room = r.index / ROOM_SIZE;
                for m in
                    (room * ROOM_SIZE..((room + 1) * ROOM_SIZE).min(n)).filter(|&m| m != r.index)
                {
                    expected += finals[m];
                    lost += finals[m].saturating_sub(r.last.get(&m).copied().unwrap_or(0));
                }
                debug_assert_eq!(r.sent, finals[r.index]);
            }
            (lost, expected)
        }
        Err(_) => (u64::MAX, 0),
    };
    let rss_end = server.rss_kib();
    let sent = totals.sent.load(Ordering::Relaxed);
    let received = totals.received.load(Ordering::Relaxed);
    println!();
    println!("messages sent:        {sent}");
    println!("deliveries expected:  {expected}");
    println!("deliveries received:  {received}");
    println!(
        "lost:                 {}",
        if lost == u64::MAX {
            "UNKNOWN (clients did not finish within 60 s)".into()
        } else {
            lost.to_string()
        }
    );
    println!(
        "out of order:         {}",
        totals.out_of_order.load(Ordering::Relaxed)
    );
    let warm = samples
        .get(2)
        .or(samples.first())
        .copied()
        .unwrap_or(rss_end);
    let growth = (rss_end - warm) / warm * 100.0;
    println!(
        "server RSS: {:.1} MiB at t=30s, {:.1} MiB at the end ({growth:+.1}%); min {:.1}, max {:.1} MiB",
        warm / 1024.0,
        rss_end / 1024.0,
        samples.iter().copied().fold(f64::MAX, f64::min) / 1024.0,
        samples.iter().copied().fold(0.0, f64::max) / 1024.0
    );
    println!(
        "server CPU: {:.1} s over {:.0} s",
        server.cpu(),
        started.elapsed().as_secs_f64()
    );
    server.stop().await;
    let ok = lost == 0 && totals.out_of_order.load(Ordering::Relaxed) == 0;
    println!(
        "{}",
        if ok {
            "SOAK OK: zero lost, zero out of order"
        } else {
            "SOAK FAILED"
        }
    );
    std::process::exit(if ok { 0 } else { 1 });
}
