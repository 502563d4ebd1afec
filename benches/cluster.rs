//! Scale-out through Redis with node processes on this machine: how much of
//! what a node receives from Redis it has a recipient for (the waste), with
//! and without per-room routing, and fan-out with 1, 2 and 4 nodes.
//!
//! ```text
//! redis-server --daemonize yes
//! cargo bench --bench cluster --features redis             # the full run
//! cargo bench --bench cluster --features redis -- --smoke  # a tiny run
//! ```
//!
//! Node processes run on core 0 (`taskset -c 0`), the load generator on
//! core 1, redis-server unpinned. This machine has two cores: throughput
//! figures show the cost of the extra work, not a cluster's capacity.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tungstenite::Message;

mod support;
use support::{Server, Ws, connect_many, serve_or_pin};

/// One node's adapter counters: deliveries received from other nodes, and
/// those with no recipient here.
async fn stats(port: u16) -> (u64, u64) {
    let mut ws = connect_many(port, 1).await.pop().unwrap();
    ws.send(Message::text(r#"{"type":"stats","payload":null}"#))
        .await
        .unwrap();
    loop {
        if let Some(Ok(Message::Text(t))) = ws.next().await {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            let text = v["payload"]["text"].as_str().unwrap().to_owned();
            let mut it = text.split(' ').map(|n| n.parse::<u64>().unwrap());
            return (it.next().unwrap(), it.next().unwrap());
        }
    }
}

/// Joins every client to its room; returns once each join is confirmed (an
/// echo answered after it). Each client then counts what it receives.
async fn join_all(
    clients: Vec<(Ws, String)>,
    received: Arc<AtomicUsize>,
    target: Arc<AtomicUsize>,
    done: Arc<Notify>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let joined = Arc::new(AtomicUsize::new(0));
    let all_joined = Arc::new(Notify::new());
    let n = clients.len();
    let mut tasks = Vec::new();
    for (mut ws, room) in clients {
        let (received, target, done) = (received.clone(), target.clone(), done.clone());
        let (joined, all_joined) = (joined.clone(), all_joined.clone());
        tasks.push(tokio::spawn(async move {
            let join = format!(r#"{{"type":"join","payload":{{"room":"{room}"}}}}"#);
            ws.send(Message::text(join)).await.unwrap();
            ws.send(Message::text(r#"{"type":"echo","payload":{"text":"j"}}"#))
                .await
                .unwrap();
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if t.contains("onEcho") {
                            if joined.fetch_add(1, Ordering::SeqCst) + 1 == n {
                                all_joined.notify_one();
                            }
                            continue;
                        }
                        let got = received.fetch_add(1, Ordering::Relaxed) + 1;
                        if got == target.load(Ordering::Relaxed) {
                            done.notify_one();
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
        }));
    }
    if joined.load(Ordering::SeqCst) < n {
        all_joined.notified().await;
    }
    tasks
}

struct Waste {
    /// Per node: (received from Redis, of which unused).
    nodes: Vec<(u64, u64)>,
    deliveries_per_sec: f64,
    cpu_us_per_delivery: f64,
}

/// `nodes` node processes of `kind`; `rooms` rooms whose `members` members
/// are all on one node (room k on node k % nodes); one sender per node
/// sends `sends` messages, round-robin over every room.
async fn waste(kind: &str, nodes: usize, rooms: usize, members: usize, sends: usize) -> Waste {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let prefix = format!(
        "zocket-bench-cluster-{}-{:?}",
        std::process::id(),
        Instant::now()
    );
    let mut servers = Vec::new();
    for _ in 0..nodes {
        servers.push(Server::start(&format!("{kind} {url} {prefix}")).await);
    }
    let mut clients = Vec::new();
    for room in 0..rooms {
        let port = servers[room % nodes].port;
        for ws in connect_many(port, members).await {
            clients.push((ws, format!("r{room}")));
        }
    }
    let received = Arc::new(AtomicUsize::new(0));
    let target = Arc::new(AtomicUsize::new(usize::MAX));
    let done = Arc::new(Notify::new());
    let tasks = join_all(clients, received.clone(), target.clone(), done.clone()).await;
    let mut senders = Vec::new();
    for s in &servers {
        senders.push(connect_many(s.port, 1).await.pop().unwrap());
    }
    let mut before = Vec::new();
    for s in &servers {
        before.push(stats(s.port).await);
    }
    let expected = nodes * sends * members;
    target.store(expected, Ordering::SeqCst);
    let cpu = || servers.iter().map(|s| s.cpu()).sum::<f64>();
    let cpu0 = cpu();
    let t0 = Instant::now();
    let notified = done.notified();
    for (i, sender) in senders.iter_mut().enumerate() {
        for k in 0..sends {
            let room = (k + i) % rooms;
            let say = format!(
                r#"{{"type":"say","payload":{{"room":"r{room}","text":"0123456789012345678901234567890123456789"}}}}"#
            );
            sender.feed(Message::text(say)).await.unwrap();
        }
        sender.flush().await.unwrap();
    }
    if received.load(Ordering::SeqCst) < expected
        && tokio::time::timeout(Duration::from_secs(60), notified)
            .await
            .is_err()
    {
        eprintln!(
            "only {} of {expected} deliveries arrived within 60 s",
            received.load(Ordering::SeqCst)
        );
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu() - cpu0;
    let mut after = Vec::new();
    for s in &servers {
        after.push(stats(s.port).await);
    }
    for t in tasks {
        t.abort();
    }
    for s in servers {
        s.stop().await;
    }
    let got = received.load(Ordering::SeqCst);
    Waste {
        nodes: before
            .iter()
            .zip(&after)
            .map(|(b, a)| (a.0 - b.0, a.1 - b.1))
            .collect(),
        deliveries_per_sec: got as f64 / elapsed,
        cpu_us_per_delivery: cpu * 1e6 / got.max(1) as f64,
    }
}

/// Fan-out to one room of `receivers`, spread evenly over `nodes` node
/// processes, from a sender on the first: deliveries per second.
async fn fanout(nodes: usize, receivers: usize, burst: usize, rounds: usize) -> (f64, f64) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let prefix = format!(
        "zocket-bench-fanout-{}-{:?}",
        std::process::id(),
        Instant::now()
    );
    let mut servers = Vec::new();
    for _ in 0..nodes {
        servers.push(Server::start(&format!("zocket-redis {url} {prefix}")).await);
    }
    let mut clients = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        let share = receivers / nodes + usize::from(i < receivers % nodes);
        for ws in connect_many(s.port, share).await {
            clients.push((ws, "r".to_owned()));
        }
    }
    let received = Arc::new(AtomicUsize::new(0));
    let target = Arc::new(AtomicUsize::new(usize::MAX));
    let done = Arc::new(Notify::new());
    let tasks = join_all(clients, received.clone(), target.clone(), done.clone()).await;
    let mut sender = connect_many(servers[0].port, 1).await.pop().unwrap();
    let say = r#"{"type":"say","payload":{"room":"r","text":"0123456789012345678901234567890123456789"}}"#;
    let cpu = || servers.iter().map(|s| s.cpu()).sum::<f64>();
    let mut total = 0.0;
    let mut cpu_total = 0.0;
    for round in 0..rounds {
        let before = received.load(Ordering::SeqCst);
        target.store(before + receivers * burst, Ordering::SeqCst);
        let notified = done.notified();
        let (t0, c0) = (Instant::now(), cpu());
        for _ in 0..burst {
            sender.feed(Message::text(say)).await.unwrap();
        }
        sender.flush().await.unwrap();
        if received.load(Ordering::SeqCst) < before + receivers * burst
            && tokio::time::timeout(Duration::from_secs(60), notified)
                .await
                .is_err()
        {
            eprintln!("a fan-out round did not complete within 60 s");
        }
        if round > 0 {
            total += t0.elapsed().as_secs_f64();
            cpu_total += cpu() - c0;
        }
    }
    for t in tasks {
        t.abort();
    }
    for s in servers {
        s.stop().await;
    }
    let deliveries = (receivers * burst * (rounds - 1)) as f64;
    (deliveries / total, cpu_total * 1e6 / deliveries)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if serve_or_pin() {
        return;
    }
    let smoke = std::env::args().any(|a| a == "--smoke");
    let (repeats, rooms, members, sends, receivers, burst, rounds) = if smoke {
        (1, 8, 2, 20, 20, 2, 2)
    } else {
        (3, 64, 8, 500, 1000, 20, 6)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let nodes = 4;
        println!();
        println!(
            "Waste: {nodes} node processes; {rooms} rooms of {members} members, each room's members on one node; one sender per node, {sends} messages each over all rooms; median of {repeats}{}",
            if smoke { " [SMOKE RUN: figures meaningless]" } else { "" }
        );
        println!();
        println!("| routing | received from Redis per node | of which no recipient here | waste ratio | deliveries/s (cluster) | node CPU µs/delivery (all nodes) |");
        println!("|---|---|---|---|---|---|");
        for (label, kind) in [
            ("one channel (route_per_room(false), as before)", "zocket-redis-flat"),
            ("per room (default)", "zocket-redis"),
        ] {
            let (mut recv, mut unused, mut rate, mut cpu) = (vec![], vec![], vec![], vec![]);
            for _ in 0..repeats {
                let w = waste(kind, nodes, rooms, members, sends).await;
                let r: u64 = w.nodes.iter().map(|n| n.0).sum();
                let u: u64 = w.nodes.iter().map(|n| n.1).sum();
                recv.push(r as f64 / nodes as f64);
                unused.push(u as f64 / nodes as f64);
                rate.push(w.deliveries_per_sec);
                cpu.push(w.cpu_us_per_delivery);
            }
            let (r, u) = (median(recv), median(unused));
            println!(
                "| {label} | {r:.0} | {u:.0} | {:.2} | {:.0} | {:.1} |",
                if r > 0.0 { u / r } else { 0.0 },
                median(rate),
                median(cpu)
            );
        }
        println!();
        println!(
            "Fan-out: one room of {receivers} receivers spread evenly over the nodes, sender on the first; bursts of {burst}, {rounds} rounds (first is warm-up); median of {repeats}"
        );
        println!();
        println!("| nodes | deliveries/s (cluster) | node CPU µs/delivery (all nodes) |");
        println!("|---|---|---|");
        for n in [1usize, 2, 4] {
            let (mut rate, mut cpu) = (vec![], vec![]);
            for _ in 0..repeats {
                let (r, c) = fanout(n, receivers, burst, rounds).await;
                rate.push(r);
                cpu.push(c);
            }
            println!("| {n} | {:.0} | {:.2} |", median(rate), median(cpu));
        }
    });
}
