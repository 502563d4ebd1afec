//! Load generator: zocket against a hand-written tokio-tungstenite server, in
//! the same run, on this machine.
//!
//! ```text
//! cargo bench --bench load                 # the full run (a few minutes)
//! cargo bench --bench load -- --smoke      # a tiny run that checks it all works
//! ```
//!
//! Each server runs in its own process pinned to core 0 (`taskset -c 0`) on a
//! single-threaded tokio runtime; this load generator pins itself to core 1.
//! Workloads: echo (small and 16 KiB frames), fan-out to a room of N, idle
//! memory per connection. Every figure is the median of the repeats; the table
//! prints each zocket figure as a ratio of the raw baseline's.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tungstenite::Message;

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

#[allow(unreachable_pub)]
mod zocket_server {
    use garde::Validate;
    use serde::{Deserialize, Serialize};
    use zocket::{Config, Ctx, HandlerResult, Incoming, Outgoing, Zocket};

    #[derive(Serialize, Deserialize, Validate)]
    pub struct Text {
        #[garde(length(max = 100_000))]
        pub text: String,
    }
    #[derive(Serialize, Deserialize, Validate)]
    pub struct Room {
        #[garde(length(min = 1, max = 64))]
        pub room: String,
    }
    #[derive(Serialize, Deserialize, Validate)]
    pub struct RoomText {
        #[garde(length(min = 1, max = 64))]
        pub room: String,
        #[garde(length(max = 100_000))]
        pub text: String,
    }
    pub struct Echo;
    impl Incoming for Echo {
        const NAME: &'static str = "echo";
        type Payload = Text;
    }
    pub struct OnEcho;
    impl Outgoing for OnEcho {
        const NAME: &'static str = "onEcho";
        type Payload = Text;
    }
    pub struct Join;
    impl Incoming for Join {
        const NAME: &'static str = "join";
        type Payload = Room;
    }
    pub struct Say;
    impl Incoming for Say {
        const NAME: &'static str = "say";
        type Payload = RoomText;
    }
    pub struct OnSay;
    impl Outgoing for OnSay {
        const NAME: &'static str = "onSay";
        type Payload = RoomText;
    }
    pub type Router = (Echo, (OnEcho, (Join, (Say, (OnSay, ())))));
    type C = Ctx<Router>;

    async fn echo(t: Text, ctx: C) -> HandlerResult {
        ctx.reply(OnEcho, t)?;
        Ok(())
    }
    async fn join(r: Room, ctx: C) -> HandlerResult {
        ctx.join(&r.room);
        Ok(())
    }
    async fn say(m: RoomText, ctx: C) -> HandlerResult {
        let room = m.room.clone();
        ctx.send(OnSay, m)?.except(ctx.id()).to_room([room]);
        Ok(())
    }

    pub async fn serve(listener: tokio::net::TcpListener) {
        let app = Zocket::<Router>::builder()
            .config(
                Config::default()
                    .max_connections(100_000)
                    .max_message_size(1 << 20)
                    .max_frame_size(1 << 20),
            )
            .on(Echo, echo)
            .on(Join, join)
            .on(Say, say)
            .build()
            .expect("router");
        app.serve_listener(listener).await.expect("serve");
    }
}

/// The baseline: tokio-tungstenite with no routing, validation or context.
/// Echo writes every text frame back; a frame starting with `{"type":"say"`
/// is sent to every other connection that has sent `{"type":"join"`.
#[allow(unreachable_pub)]
mod raw_server {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

    type Peers = Arc<std::sync::Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

    pub async fn serve(listener: TcpListener, read_buffer: Option<usize>) {
        let peers: Peers = Arc::default();
        let mut next = 0u64;
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let _ = stream.set_nodelay(true);
            next += 1;
            let id = next;
            let peers = peers.clone();
            tokio::spawn(async move {
                let mut config = WebSocketConfig::default();
                if let Some(size) = read_buffer {
                    config = config.read_buffer_size(size);
                }
                let Ok(ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
                else {
                    return;
                };
                let (mut sink, mut stream) = ws.split();
                let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
                let writer = tokio::spawn(async move {
                    while let Some(m) = rx.recv().await {
                        if sink.feed(m).await.is_err() {
                            return;
                        }
                        while let Ok(m) = rx.try_recv() {
                            if sink.feed(m).await.is_err() {
                                return;
                            }
                        }
                        if sink.flush().await.is_err() {
                            return;
                        }
                    }
                });
                while let Some(Ok(msg)) = stream.next().await {
                    if let Message::Text(t) = &msg {
                        if t.starts_with(r#"{"type":"join""#) {
                            peers.lock().unwrap().insert(id, tx.clone());
                        } else if t.starts_with(r#"{"type":"say""#) {
                            let peers = peers.lock().unwrap();
                            for (peer, ptx) in peers.iter() {
                                if *peer != id {
                                    let _ = ptx.send(msg.clone());
                                }
                            }
                        } else {
                            let _ = tx.send(msg);
                        }
                    }
                }
                peers.lock().unwrap().remove(&id);
                drop(tx);
                let _ = writer.await;
            });
        }
    }
}

fn run_server(kind: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap().port());
        match kind {
            "zocket" => zocket_server::serve(listener).await,
            "raw" => raw_server::serve(listener, None).await,
            "raw-4k" => raw_server::serve(listener, Some(4096)).await,
            other => panic!("unknown server {other}"),
        }
    });
}

// ---------------------------------------------------------------------------
// Load generator
// ---------------------------------------------------------------------------

struct Server {
    child: Child,
    port: u16,
    pid: u32,
}

impl Server {
    async fn start(kind: &str) -> Server {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = if has_taskset() {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let mut child = cmd
            .args(["--serve", kind])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server");
        let pid = child.id().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next_line().await.unwrap().expect("server output");
            if let Some(p) = line.strip_prefix("LISTENING ") {
                break p.parse().unwrap();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server { child, port, pid }
    }
    /// utime + stime of the server process, in seconds.
    fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|s| s.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
        ticks / 100.0
    }
    /// Resident memory in KiB.
    fn rss_kib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn has_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn connect(port: u16) -> Ws {
    for _ in 0..50 {
        let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let url = format!("ws://127.0.0.1:{port}/");
        if let Ok((ws, _)) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await
        {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot connect to port {port}");
}

/// Opens `n` connections, at most 200 handshakes at a time.
async fn connect_many(port: u16, n: usize) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    let mut pending =
        futures_util::stream::iter((0..n).map(|_| connect(port))).buffer_unordered(200);
    while let Some(ws) = pending.next().await {
        out.push(ws);
    }
    out
}

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

async fn fanout(server: &Server, receivers: usize, burst: usize, rounds: usize) -> FanoutResult {
    let join = r#"{"type":"join","payload":{"room":"r"}}"#;
    let mut conns = connect_many(server.port, receivers + 1).await;
    let mut sender = conns.pop().unwrap();
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
    let say = r#"{"type":"say","payload":{"room":"r","text":"0123456789012345678901234567890123456789"}}"#;
    let mut latencies = Vec::new();
    let mut total_time = 0.0;
    let cpu0 = server.cpu();
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
    let cpu = server.cpu() - cpu0;
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    name: String,
    raw: f64,
    zocket: f64,
    better_high: bool,
}

async fn measure(kind: &str, args: &Args) -> HashMap<String, f64> {
    let mut m = HashMap::new();
    for rep in 0..args.repeats {
        eprintln!("[{kind}] repeat {}/{}", rep + 1, args.repeats);
        let mut put = |k: String, v: f64| m.entry(k).or_insert_with(Vec::new).push(v);
        for &(size, label) in &[(40usize, "64 B"), (16 * 1024, "16 KiB")] {
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
        for &n in &args.fanout {
            if !args.runs("fanout") {
                break;
            }
            let s = Server::start(kind).await;
            let r = fanout(&s, n, args.burst, args.rounds).await;
            put(format!("fan-out {n} deliveries/s"), r.deliveries_per_sec);
            put(
                format!("fan-out {n} burst to last receiver ms"),
                r.last_receiver_ms,
            );
            put(
                format!("fan-out {n} server CPU µs/delivery"),
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
            fanout: vec![1000, 10_000],
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
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--serve") {
        return run_server(&argv[i + 1]);
    }
    // Pin the load generator to core 1 (the servers get core 0).
    if std::env::var_os("ZOCKET_BENCH_PINNED").is_none() && has_taskset() {
        let status = std::process::Command::new("taskset")
            .args(["-c", "1"])
            .args(&argv)
            .env("ZOCKET_BENCH_PINNED", "1")
            .status()
            .expect("re-run pinned");
        std::process::exit(status.code().unwrap_or(1));
    }
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let raw = measure("raw", &args).await;
        let zocket = measure("zocket", &args).await;
        let raw4k_idle = if args.runs("idle") {
            let s = Server::start("raw-4k").await;
            let kib = idle_memory(&s, args.idle).await;
            s.stop().await;
            kib
        } else {
            f64::NAN
        };
        let mut keys: Vec<&String> = raw.keys().collect();
        keys.sort();
        let mut rows: Vec<Row> = keys
            .into_iter()
            .map(|k| Row {
                name: k.clone(),
                raw: raw[k],
                zocket: zocket[k],
                better_high: k.contains("/s"),
            })
            .collect();
        rows.sort_by_key(|r| order(&r.name));
        println!();
        println!(
            "zocket vs raw tokio-tungstenite — servers pinned to core 0 (one tokio thread), load on core 1; median of {} run(s){}",
            args.repeats,
            if args.smoke { " [SMOKE RUN: figures meaningless]" } else { "" }
        );
        println!("echo: {} connections, pipelining depth {}, {} s per run", args.echo_conns, args.depth, args.secs);
        println!("fan-out: bursts of {} messages to a room, {} rounds (first is warm-up)", args.burst, args.rounds);
        println!();
        println!("| workload | raw tokio-tungstenite | zocket | zocket / raw |");
        println!("|---|---|---|---|");
        for r in &rows {
            let ratio = r.zocket / r.raw;
            let note = if r.better_high { "higher is better" } else { "lower is better" };
            println!(
                "| {} | {:.1} | {:.1} | {:.2}x ({note}) |",
                r.name, r.raw, r.zocket, ratio
            );
        }
        println!(
            "| idle {} conns KiB/conn, raw with a 4 KiB read buffer | {:.1} | – | – |",
            args.idle, raw4k_idle
        );
    });
}

fn order(name: &str) -> (u8, String) {
    let group = if name.starts_with("echo 64") {
        0
    } else if name.starts_with("echo 16") {
        1
    } else if name.starts_with("fan-out 1000 ") {
        2
    } else if name.starts_with("fan-out") {
        3
    } else {
        4
    };
    (group, name.to_owned())
}
