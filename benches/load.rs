//! Load generator: zocket against two raw servers, in the same run, on this
//! machine: a hand-written tokio-tungstenite server, and a few lines of Bun
//! (whose WebSockets are uWebSockets; installed from npm into `target/` on
//! first use, or the row says SKIPPED).
//!
//! ```text
//! cargo bench --bench load                 # the full run (a few minutes)
//! cargo bench --bench load -- --smoke      # a tiny run that checks it all works
//! cargo bench --bench load -- --only echo,fanout,idle --fanout 1000   # what BENCHMARKS.md shows
//! ZOCKET_BENCH_BEFORE=<the load bench binary of an earlier commit> \
//!   cargo bench --bench load -- --only before --fanout 1000   # that commit's zocket vs this one
//! ```
//!
//! Each server runs in its own process pinned to core 0 (`taskset -c 0`) on a
//! single-threaded tokio runtime; this load generator pins itself to core 1.
//! Workloads: echo (64 B, 1 KiB, 16 KiB and 64 KiB frames), fan-out to a
//! room of N (and of 1,000 with 16 KiB messages), idle memory per
//! connection. Every figure is the median of the repeats; the table prints
//! each zocket figure as a ratio of both baselines'.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;
use tungstenite::Message;

mod support;
use support::{Server, connect_many, serve_or_pin};

/// Echo payload sizes: the text's length, and the row label (the whole
/// frame is about 40 bytes longer).
const ECHO_SIZES: &[(usize, &str)] = &[
    (40, "64 B"),
    (1024, "1 KiB"),
    (16 * 1024, "16 KiB"),
    (64 * 1024, "64 KiB"),
];

fn echo_frame(size: usize) -> String {
    let text = "x".repeat(size);
    format!(r#"{{"type":"echo","payload":{{"text":"{text}"}}}}"#)
}

struct EchoResult {
    msgs_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    server_cpu_us_per_msg: f64,
}

async fn echo(server: &Server, conns: usize, depth: usize, size: usize, secs: f64) -> EchoResult {
    let frame = echo_frame(size);
    let clients = connect_many(server.port, conns).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cpu0 = server.cpu();
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|ws| {
            let frame = frame.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut sink, mut stream) = ws.split();
                let mut lat = Vec::with_capacity(100_000);
                let mut sent = std::collections::VecDeque::with_capacity(depth);
                for _ in 0..depth {
                    sent.push_back(Instant::now());
                    sink.send(Message::text(frame.as_str())).await.unwrap();
                }
                while let Some(Ok(msg)) = stream.next().await {
                    if !matches!(msg, Message::Text(_)) {
                        continue;
                    }
                    let t0 = sent.pop_front().unwrap();
                    lat.push(t0.elapsed().as_micros() as u32);
                    if stop.load(Ordering::Relaxed) {
                        if sent.is_empty() {
                            break;
                        }
                        continue;
                    }
                    sent.push_back(Instant::now());
                    sink.send(Message::text(frame.as_str())).await.unwrap();
                }
                let _ = sink.close().await;
                lat
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = server.cpu() - cpu0;
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
    };
    EchoResult {
        msgs_per_sec: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        server_cpu_us_per_msg: cpu * 1e6 / all.len().max(1) as f64,
    }
}

struct FanoutResult {
    deliveries_per_sec: f64,
    last_receiver_ms: f64,
    server_cpu_us_per_delivery: f64,
}

async fn fanout(
    server: &Server,
    receivers: usize,
    burst: usize,
    rounds: usize,
    text_len: usize,
) -> FanoutResult {
    fanout_across(&[server], receivers, burst, rounds, text_len).await
}

/// Fan-out with the receivers spread evenly over `servers` and the sender on
/// the first; server CPU is summed over all of them.
async fn fanout_across(
    servers: &[&Server],
    receivers: usize,
    burst: usize,
    rounds: usize,
    text_len: usize,
) -> FanoutResult {
    let join = r#"{"type":"join","payload":{"room":"r"}}"#;
    let mut conns = Vec::with_capacity(receivers);
    for (i, s) in servers.iter().enumerate() {
        let share = receivers / servers.len() + usize::from(i < receivers % servers.len());
        conns.extend(connect_many(s.port, share).await);
    }
    let mut sender = connect_many(servers[0].port, 1).await.pop().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let target = Arc::new(AtomicUsize::new(usize::MAX));
    let done = Arc::new(Notify::new());
    let joined = Arc::new(AtomicUsize::new(0));
    let all_joined = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for mut ws in conns {
        let (received, target, done) = (received.clone(), target.clone(), done.clone());
        let (joined, all_joined) = (joined.clone(), all_joined.clone());
        tasks.push(tokio::spawn(async move {
            ws.send(Message::text(join)).await.unwrap();
            // Joining is confirmed by a round-trip: echo is handled after join.
            ws.send(Message::text(echo_frame(1))).await.unwrap();
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if t.contains("echo") || t.contains("onEcho") {
                            if joined.fetch_add(1, Ordering::SeqCst) + 1 == receivers {
                                all_joined.notify_one();
                            }
                            continue;
                        }
                        let n = received.fetch_add(1, Ordering::Relaxed) + 1;
                        if n == target.load(Ordering::Relaxed) {
                            done.notify_one();
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
        }));
    }
    if joined.load(Ordering::SeqCst) < receivers {
        all_joined.notified().await;
    }
    let say = format!(
        r#"{{"type":"say","payload":{{"room":"r","text":"{}"}}}}"#,
        "0123456789".repeat(text_len.div_ceil(10))[..text_len].to_owned()
    );
    let say = say.as_str();
    if servers.len() > 1 {
        // Wait until deliveries cross nodes (every adapter subscribed): probe
        // until a message has reached every receiver, then let stragglers land.
        loop {
            let before = received.load(Ordering::SeqCst);
            sender.send(Message::text(say)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            if received.load(Ordering::SeqCst) - before == receivers {
                break;
            }
        }
    }
    let mut latencies = Vec::new();
    let mut total_time = 0.0;
    let cpu = || servers.iter().map(|s| s.cpu()).sum::<f64>();
    let cpu0 = cpu();
    for round in 0..rounds {
        let before = received.load(Ordering::SeqCst);
        target.store(before + receivers * burst, Ordering::SeqCst);
        let t0 = Instant::now();
        let notified = done.notified();
        for _ in 0..burst {
            sender.feed(Message::text(say)).await.unwrap();
        }
        sender.flush().await.unwrap();
        if received.load(Ordering::SeqCst) < before + receivers * burst {
            notified.await;
        }
        let dt = t0.elapsed().as_secs_f64();
        if round > 0 {
            // The first round warms up.
            total_time += dt;
            latencies.push(dt * 1000.0);
        }
    }
    let cpu = cpu() - cpu0;
    for t in tasks {
        t.abort();
    }
    let deliveries = (receivers * burst * (rounds - 1)) as f64;
    latencies.sort_by(f64::total_cmp);
    FanoutResult {
        deliveries_per_sec: deliveries / total_time,
        last_receiver_ms: latencies[latencies.len() / 2],
        server_cpu_us_per_delivery: cpu * 1e6 / (receivers * burst * rounds) as f64,
    }
}

async fn idle_memory(server: &Server, n: usize) -> f64 {
    // Let the server settle, measure, connect n idle clients, measure again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss_kib();
    let conns = connect_many(server.port, n).await;
    // Every handshake is complete; one round-trip per connection proves the
    // server side is set up for each.
    let mut conns = conns;
    for ws in conns.iter_mut() {
        ws.send(Message::text(echo_frame(1))).await.unwrap();
    }
    for ws in conns.iter_mut() {
        loop {
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                break;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server.rss_kib();
    drop(conns);
    (after - before) / n as f64
}

/// Connects `n` clients to a server with recovery on, then cuts them all
/// (no close frame): KiB of server memory per connected client, and per
/// session kept for its window after the cut.
async fn detached_memory(server: &Server, n: usize) -> (f64, f64) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.rss_kib();
    let mut conns = connect_many(server.port, n).await;
    for ws in conns.iter_mut() {
        ws.send(Message::text(echo_frame(1))).await.unwrap();
    }
    for ws in conns.iter_mut() {
        loop {
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                break;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let connected = server.rss_kib();
    for ws in &conns {
        if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            let _ = tcp.set_zero_linger();
        }
    }
    drop(conns);
    // The server notices every reset and keeps each session for its window.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let detached = server.rss_kib();
    (
        (connected - before) / n as f64,
        (detached - before) / n as f64,
    )
}

/// Echo, fan-out and memory with recovery off and on: (figure, off, on).
/// The same zocket app without and with a feature (server kinds `off` and
/// `on`): echo 64 B and 16 KiB, fan-out, and with `memory` the idle memory
/// (for recovery: also the memory of sessions kept after a drop). Median of
/// the repeats: (figure, off, on).
async fn off_on(
    args: &Args,
    off_kind: &str,
    on_kind: &str,
    memory: bool,
) -> Vec<(String, f64, f64)> {
    let mut off: HashMap<String, Vec<f64>> = HashMap::new();
    let mut on: HashMap<String, Vec<f64>> = HashMap::new();
    let fanout_n = args.fanout[0];
    for rep in 0..args.repeats {
        eprintln!(
            "[{off_kind} / {on_kind}] repeat {}/{}",
            rep + 1,
            args.repeats
        );
        // Alternate which runs first, so a drift of the machine during a
        // repeat does not count against one side.
        let order = if rep % 2 == 0 {
            [(off_kind, &mut off), (on_kind, &mut on)]
        } else {
            [(on_kind, &mut on), (off_kind, &mut off)]
        };
        for (kind, into) in order {
            support::EXPECT_WELCOME.store(kind == "zocket-recovery", Ordering::Relaxed);
            let mut put = |k: String, v: f64| into.entry(k).or_default().push(v);
            for (size, label) in [(40, "64 B"), (16 * 1024, "16 KiB")] {
                let s = Server::start(kind).await;
                let r = echo(&s, args.echo_conns, args.depth, size, args.secs).await;
                put(format!("echo {label} msg/s"), r.msgs_per_sec);
                put(
                    format!("echo {label} server CPU µs/msg"),
                    r.server_cpu_us_per_msg,
                );
                s.stop().await;
            }
            let s = Server::start(kind).await;
            let r = fanout(&s, fanout_n, args.burst, args.rounds, 40).await;
            put(
                format!("fan-out {fanout_n} deliveries/s"),
                r.deliveries_per_sec,
            );
            put(
                format!("fan-out {fanout_n} server CPU µs/delivery"),
                r.server_cpu_us_per_delivery,
            );
            s.stop().await;
            if !memory {
                continue;
            }
            let s = Server::start(kind).await;
            if kind == "zocket-recovery" {
                let (connected, detached) = detached_memory(&s, args.idle).await;
                put(format!("idle {} conns KiB/conn", args.idle), connected);
                put(
                    format!("KiB per session kept after a drop ({})", args.idle),
                    detached,
                );
            } else {
                let kib = idle_memory(&s, args.idle).await;
                put(format!("idle {} conns KiB/conn", args.idle), kib);
            }
            s.stop().await;
        }
    }
    support::EXPECT_WELCOME.store(false, Ordering::Relaxed);
    let mut rows: Vec<(String, f64, f64)> = on
        .into_iter()
        .map(|(k, v)| {
            let off = off.get(&k).map_or(f64::NAN, |o| median(o.clone()));
            (k, off, median(v))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn print_off_on(title: &str, rows: &[(String, f64, f64)]) {
    print_two(title, ["off", "on"], rows)
}

/// A table of two columns of the same figures, and their ratio.
fn print_two(title: &str, [a, b]: [&str; 2], rows: &[(String, f64, f64)]) {
    if rows.is_empty() {
        return;
    }
    println!();
    println!("{title}");
    println!();
    println!("| workload | {a} | {b} | {b} / {a} |");
    println!("|---|---|---|---|");
    for (name, off, on) in rows {
        // Per-delivery CPU is a fraction of a µs: two decimals, or the
        // rounding alone would read as a difference.
        if *off < 10.0 {
            println!("| {name} | {off:.2} | {on:.2} | {:.2}x |", on / off);
        } else {
            println!("| {name} | {off:.1} | {on:.1} | {:.2}x |", on / off);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    name: String,
    raw: f64,
    /// NaN when Bun could not be installed.
    bun: f64,
    zocket: f64,
    better_high: bool,
}

async fn measure(kind: &str, args: &Args) -> HashMap<String, f64> {
    let mut m = HashMap::new();
    for rep in 0..args.repeats {
        eprintln!("[{kind}] repeat {}/{}", rep + 1, args.repeats);
        let mut put = |k: String, v: f64| m.entry(k).or_insert_with(Vec::new).push(v);
        for &(size, label) in ECHO_SIZES {
            if !args.runs("echo") {
                break;
            }
            let s = Server::start(kind).await;
            let r = echo(&s, args.echo_conns, args.depth, size, args.secs).await;
            put(format!("echo {label} msg/s"), r.msgs_per_sec);
            put(format!("echo {label} p50 µs"), r.p50_us);
            put(format!("echo {label} p99 µs"), r.p99_us);
            put(
                format!("echo {label} server CPU µs/msg"),
                r.server_cpu_us_per_msg,
            );
            s.stop().await;
        }
        // Small messages to every room size; 16 KiB messages to the first.
        let large = args.fanout.first().map(|&n| (n, 16 * 1024, " 16 KiB"));
        let runs = args.fanout.iter().map(|&n| (n, 40, "")).chain(large);
        for (n, text_len, label) in runs {
            if !args.runs("fanout") {
                break;
            }
            let burst = if text_len > 1024 {
                args.burst.div_ceil(4)
            } else {
                args.burst
            };
            let s = Server::start(kind).await;
            let r = fanout(&s, n, burst, args.rounds, text_len).await;
            put(
                format!("fan-out {n}{label} deliveries/s"),
                r.deliveries_per_sec,
            );
            put(
                format!("fan-out {n}{label} burst to last receiver ms"),
                r.last_receiver_ms,
            );
            put(
                format!("fan-out {n}{label} server CPU µs/delivery"),
                r.server_cpu_us_per_delivery,
            );
            s.stop().await;
        }
        if args.runs("idle") {
            let s = Server::start(kind).await;
            let kib = idle_memory(&s, args.idle).await;
            put(format!("idle {} conns KiB/conn", args.idle), kib);
            s.stop().await;
        }
    }
    m.into_iter().map(|(k, v)| (k, median(v))).collect()
}

struct Args {
    smoke: bool,
    repeats: usize,
    echo_conns: usize,
    depth: usize,
    secs: f64,
    fanout: Vec<usize>,
    burst: usize,
    rounds: usize,
    idle: usize,
    only: Option<String>,
}

impl Args {
    fn runs(&self, workload: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|w| w == workload))
    }
}

fn parse_args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let smoke = argv.iter().any(|a| a == "--smoke");
    let get = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    if smoke {
        Args {
            smoke,
            repeats: 1,
            echo_conns: 4,
            depth: 1,
            secs: 0.3,
            fanout: vec![20],
            burst: 5,
            rounds: 3,
            idle: 50,
            only: None,
        }
    } else {
        Args {
            smoke,
            repeats: get("--repeats").unwrap_or(3),
            echo_conns: get("--conns").unwrap_or(50),
            depth: get("--depth").unwrap_or(1),
            secs: get("--secs").unwrap_or(5) as f64,
            fanout: argv
                .iter()
                .position(|a| a == "--fanout")
                .and_then(|i| argv.get(i + 1))
                .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_else(|| vec![1000, 10_000]),
            burst: get("--burst").unwrap_or(20),
            rounds: 6,
            idle: get("--idle").unwrap_or(10_000),
            only: argv
                .iter()
                .position(|a| a == "--only")
                .and_then(|i| argv.get(i + 1).cloned()),
        }
    }
}

fn main() {
    if serve_or_pin() {
        return;
    }
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let raw = measure("raw", &args).await;
        let bun = if args.runs("echo") || args.runs("fanout") || args.runs("idle") {
            match support::bun_binary() {
                Some(_) => Some(measure("bun", &args).await),
                None => None,
            }
        } else {
            None
        };
        let zocket = measure("zocket", &args).await;
        let raw4k_idle = if args.runs("idle") {
            let s = Server::start("raw-4k").await;
            let kib = idle_memory(&s, args.idle).await;
            s.stop().await;
            kib
        } else {
            f64::NAN
        };
        // The same app built from an earlier commit, against this one.
        let before_rows = match std::env::var("ZOCKET_BENCH_BEFORE") {
            Ok(_) if args.runs("before") => off_on(&args, "before", "zocket", true).await,
            _ => Vec::new(),
        };
        let recovery_rows = if args.runs("recovery") {
            off_on(&args, "zocket", "zocket-recovery", true).await
        } else {
            Vec::new()
        };
        #[cfg(feature = "metrics")]
        let metrics_rows = if args.runs("metrics") {
            off_on(&args, "zocket", "zocket-metrics", false).await
        } else {
            Vec::new()
        };
        #[cfg(feature = "redis")]
        let redis_rows = if args.runs("fanout-redis") {
            fanout_redis(&args).await
        } else {
            Vec::new()
        };
        let mut keys: Vec<&String> = raw.keys().collect();
        keys.sort();
        let mut rows: Vec<Row> = keys
            .into_iter()
            .map(|k| Row {
                name: k.clone(),
                raw: raw[k],
                bun: bun
                    .as_ref()
                    .and_then(|b| b.get(k).copied())
                    .unwrap_or(f64::NAN),
                zocket: zocket[k],
                better_high: k.contains("/s"),
            })
            .collect();
        rows.sort_by_key(|r| order(&r.name));
        if !rows.is_empty() {
            print_table(&args, &rows, raw4k_idle);
        }
        print_two(
            &format!(
                "zocket built from an earlier commit ($ZOCKET_BENCH_BEFORE) vs this one (median of {} run(s), alternating which runs first)",
                args.repeats
            ),
            ["before", "now"],
            &before_rows,
        );
        print_off_on(
            &format!(
                "zocket with connection-state recovery off vs on (Recovery::default(); median of {} run(s))",
                args.repeats
            ),
            &recovery_rows,
        );
        #[cfg(feature = "metrics")]
        print_off_on(
            &format!(
                "zocket with Prometheus metrics off vs on (feature `metrics`, Config::metrics_path: histograms recorded; median of {} run(s))",
                args.repeats
            ),
            &metrics_rows,
        );
        #[cfg(feature = "redis")]
        if !redis_rows.is_empty() {
            println!();
            println!("zocket fan-out, one node vs two nodes through Redis (receivers split evenly; both servers on core 0, redis-server unpinned)");
            println!();
            println!("| workload | one node | two nodes + Redis | two / one |");
            println!("|---|---|---|---|");
            for (name, one, two) in &redis_rows {
                println!("| {name} | {one:.1} | {two:.1} | {:.2}x |", two / one);
            }
        }
    });
}

fn print_table(args: &Args, rows: &[Row], raw4k_idle: f64) {
    {
        println!();
        println!(
            "zocket vs raw tokio-tungstenite — servers pinned to core 0 (one tokio thread), load on core 1; median of {} run(s){}",
            args.repeats,
            if args.smoke {
                " [SMOKE RUN: figures meaningless]"
            } else {
                ""
            }
        );
        println!(
            "echo: {} connections, pipelining depth {}, {} s per run",
            args.echo_conns, args.depth, args.secs
        );
        println!(
            "fan-out: bursts of {} messages to a room, {} rounds (first is warm-up)",
            args.burst, args.rounds
        );
        println!();
        println!(
            "| workload | raw tokio-tungstenite | raw Bun (uWebSockets) | zocket | zocket / raw | zocket / Bun |"
        );
        println!("|---|---|---|---|---|---|");
        for r in rows {
            let note = if r.better_high {
                "higher is better"
            } else {
                "lower is better"
            };
            let bun = if r.bun.is_nan() {
                ("SKIPPED".to_owned(), "SKIPPED".to_owned())
            } else {
                (format!("{:.1}", r.bun), format!("{:.2}x", r.zocket / r.bun))
            };
            println!(
                "| {} | {:.1} | {} | {:.1} | {:.2}x ({note}) | {} |",
                r.name,
                r.raw,
                bun.0,
                r.zocket,
                r.zocket / r.raw,
                bun.1
            );
        }
        println!(
            "| idle {} conns KiB/conn, raw with a 4 KiB read buffer | {:.1} | – | – | – | – |",
            args.idle, raw4k_idle
        );
    }
}

/// Fan-out through Redis across two zocket nodes, against one node, median of
/// the repeats: (figure, one node, two nodes).
#[cfg(feature = "redis")]
async fn fanout_redis(args: &Args) -> Vec<(String, f64, f64)> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let mut one: HashMap<String, Vec<f64>> = HashMap::new();
    let mut two: HashMap<String, Vec<f64>> = HashMap::new();
    for rep in 0..args.repeats {
        eprintln!("[zocket + redis] repeat {}/{}", rep + 1, args.repeats);
        for &n in &args.fanout {
            let prefix = format!("zocket-bench-{}-{rep}-{n}", std::process::id());
            let kind = format!("zocket-redis {url} {prefix}");
            let single = Server::start(&kind).await;
            let r1 = fanout_across(&[&single], n, args.burst, args.rounds, 40).await;
            single.stop().await;
            let prefix2 = format!("{prefix}-two");
            let kind2 = format!("zocket-redis {url} {prefix2}");
            let (a, b) = (Server::start(&kind2).await, Server::start(&kind2).await);
            let r2 = fanout_across(&[&a, &b], n, args.burst, args.rounds, 40).await;
            a.stop().await;
            b.stop().await;
            for (m, r) in [(&mut one, r1), (&mut two, r2)] {
                m.entry(format!("fan-out {n} deliveries/s"))
                    .or_default()
                    .push(r.deliveries_per_sec);
                m.entry(format!("fan-out {n} burst to last receiver ms"))
                    .or_default()
                    .push(r.last_receiver_ms);
                m.entry(format!("fan-out {n} server CPU µs/delivery"))
                    .or_default()
                    .push(r.server_cpu_us_per_delivery);
            }
        }
    }
    let mut rows: Vec<(String, f64, f64)> = one
        .into_iter()
        .map(|(k, v)| {
            let t = median(two.remove(&k).unwrap_or_default());
            (k, median(v), t)
        })
        .collect();
    rows.sort_by_key(|r| order(&r.0));
    rows
}

fn order(name: &str) -> (u8, String) {
    let groups = [
        "echo 64 B",
        "echo 1 KiB",
        "echo 16 KiB",
        "echo 64 KiB",
        "fan-out 1000 16 KiB",
        "fan-out 1000 ",
        "fan-out",
    ];
    let group = groups
        .iter()
        .position(|g| name.starts_with(g))
        .unwrap_or(groups.len());
    (group as u8, name.to_owned())
}
