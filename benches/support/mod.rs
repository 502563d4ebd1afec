//! Shared by the load and soak benchmarks: the servers (zocket, the raw
//! tokio-tungstenite baseline and the raw Bun baseline), each run as its own
//! pinned process, and client connection helpers.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
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
    /// Asks the node for its adapter counters (the cluster benchmark).
    pub struct Stats;
    impl Incoming for Stats {
        const NAME: &'static str = "stats";
        type Payload = ();
    }
    pub type Router = (Echo, (OnEcho, (Join, (Say, (OnSay, (Stats, ()))))));
    type C = Ctx<Router>;

    /// This process's server, for `stats`.
    static HANDLE: std::sync::OnceLock<zocket::ServerHandle<Router>> = std::sync::OnceLock::new();

    /// Answers on `onEcho` with "<remote_received> <remote_unused>".
    async fn stats(_: (), ctx: C) -> HandlerResult {
        let m = HANDLE.get().expect("serving").metrics();
        let text = format!("{} {}", m.remote_received, m.remote_unused);
        ctx.reply(OnEcho, Text { text })?;
        Ok(())
    }

    async fn echo(t: Text, ctx: C) -> HandlerResult {
        ctx.reply(OnEcho, t)?;
        Ok(())
    }
    async fn join(r: Room, ctx: C) -> HandlerResult {
        ctx.join(&r.room)?;
        Ok(())
    }
    async fn say(m: RoomText, ctx: C) -> HandlerResult {
        let room = m.room.clone();
        ctx.send(OnSay, m)?.except(ctx.id()).to_room([room]);
        Ok(())
    }

    pub async fn serve(listener: tokio::net::TcpListener) {
        serve_with(listener, None::<Local>).await
    }

    /// No adapter.
    pub struct Local;
    impl zocket::adapter::Adapter for Local {
        fn node(&self) -> u32 {
            0
        }
        fn publish(&self, _: zocket::adapter::Remote) {}
        fn start(&self, _: zocket::adapter::Inbox) {}
        fn open_room(&self, _: &str) -> zocket::adapter::RoomReady {
            zocket::adapter::RoomReady::now()
        }
        fn close_room(&self, _: &str) {}
    }

    /// The same app with connection-state recovery on (default settings).
    pub async fn serve_recovering(listener: tokio::net::TcpListener) {
        serve_configured::<Local>(listener, None, Some(zocket::Recovery::default()), false).await
    }

    /// The same app recording and serving Prometheus metrics.
    #[cfg(feature = "metrics")]
    pub async fn serve_with_metrics(listener: tokio::net::TcpListener) {
        serve_configured::<Local>(listener, None, None, true).await
    }

    pub async fn serve_with<A: zocket::adapter::Adapter>(
        listener: tokio::net::TcpListener,
        adapter: Option<A>,
    ) {
        serve_configured(listener, adapter, None, false).await
    }

    async fn serve_configured<A: zocket::adapter::Adapter>(
        listener: tokio::net::TcpListener,
        adapter: Option<A>,
        recovery: Option<zocket::Recovery>,
        metrics: bool,
    ) {
        let mut builder = Zocket::<Router>::builder();
        if let Some(adapter) = adapter {
            builder = builder.adapter(adapter);
        }
        // The per-client rate limit is off: each echo connection sends
        // thousands of messages a second, which is the point. So are the
        // per-address caps: every client of the load generator comes from
        // 127.0.0.1.
        let config = Config::default()
            .max_connections(100_000)
            .max_message_size(1 << 20)
            .max_frame_size(1 << 20)
            .rate_limit(None)
            .max_pending_handshakes_per_ip(None)
            .max_connections_per_ip(None)
            .recovery(recovery);
        #[cfg(feature = "metrics")]
        let config = if metrics {
            config.metrics_path("/metrics")
        } else {
            config
        };
        #[cfg(not(feature = "metrics"))]
        let _ = metrics;
        let app = builder
            .config(config)
            .on(Echo, echo)
            .on(Join, join)
            .on(Say, say)
            .on(Stats, stats)
            .build()
            .expect("router");
        let _ = HANDLE.set(app.handle());
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

/// In a server process (`--serve KIND`), serves and returns `true`. Otherwise
/// re-runs this benchmark pinned to core 1 (servers get core 0) and exits with
/// its status, or returns `false` once pinned (or without `taskset`).
pub fn serve_or_pin() -> bool {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--serve") {
        run_server(&argv[i + 1]);
        return true;
    }
    if std::env::var_os("ZOCKET_BENCH_PINNED").is_none() && has_taskset() {
        let status = std::process::Command::new("taskset")
            .args(["-c", "1"])
            .args(&argv)
            .env("ZOCKET_BENCH_PINNED", "1")
            .status()
            .expect("re-run pinned");
        std::process::exit(status.code().unwrap_or(1));
    }
    false
}

pub fn run_server(kind: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap().port());
        match kind {
            "zocket" => zocket_server::serve(listener).await,
            "zocket-recovery" => zocket_server::serve_recovering(listener).await,
            #[cfg(feature = "metrics")]
            "zocket-metrics" => zocket_server::serve_with_metrics(listener).await,
            "raw" => raw_server::serve(listener, None).await,
            "raw-4k" => raw_server::serve(listener, Some(4096)).await,
            #[cfg(feature = "redis")]
            other if other.starts_with("zocket-redis ") => {
                // "zocket-redis <url> <prefix>"
                let mut parts = other.split(' ').skip(1);
                let (url, prefix) = (parts.next().unwrap(), parts.next().unwrap());
                let adapter = zocket::RedisAdapter::connect(url, prefix)
                    .await
                    .expect("redis-server reachable");
                zocket_server::serve_with(listener, Some(adapter)).await
            }
            // Every delivery on the cluster channel (before per-room routing).
            #[cfg(feature = "redis")]
            other if other.starts_with("zocket-redis-flat ") => {
                let mut parts = other.split(' ').skip(1);
                let (url, prefix) = (parts.next().unwrap(), parts.next().unwrap());
                let adapter = zocket::RedisAdapter::connect(url, prefix)
                    .await
                    .expect("redis-server reachable")
                    .route_per_room(false);
                zocket_server::serve_with(listener, Some(adapter)).await
            }
            other => panic!("unknown server {other}"),
        }
    });
}

pub struct Server {
    child: Child,
    pub port: u16,
    pub pid: u32,
}

/// The Bun version the second baseline runs (npm package `bun`).
const BUN_VERSION: &str = "1.4.5";

/// The `bun` binary for the Bun baseline: `ZOCKET_BENCH_BUN`, or the npm
/// package installed (once) into `target/bench-bun` with the machine's own
/// npm configuration. `None` (and a loud line) when it cannot be had.
pub fn bun_binary() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("ZOCKET_BENCH_BUN") {
        return Some(path.into());
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-bun");
    let bin = dir.join("node_modules/.bin/bun");
    let works = |bin: &std::path::Path| {
        std::process::Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(&bin) {
        return Some(bin);
    }
    eprintln!(
        "installing bun {BUN_VERSION} from npm into {} ...",
        dir.display()
    );
    let _ = std::fs::create_dir_all(&dir);
    let installed = std::process::Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&dir)
        .arg(format!("bun@{BUN_VERSION}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if installed && works(&bin) {
        return Some(bin);
    }
    eprintln!(
        "\n***** SKIPPED: the raw Bun baseline (bun {BUN_VERSION} could not be installed with npm) *****\n"
    );
    None
}

impl Server {
    pub async fn start(kind: &str) -> Server {
        if kind == "bun" {
            let bun = bun_binary().expect("bun is installed (checked before)");
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/support/bun_server.js");
            let mut cmd = if has_taskset() {
                let mut c = Command::new("taskset");
                c.args(["-c", "0"]).arg(bun);
                c
            } else {
                Command::new(bun)
            };
            return Server::spawn(cmd.arg(script)).await;
        }
        // "before": the zocket server of another build of this benchmark
        // (an earlier commit), to compare the two in one run.
        let (exe, kind) = match (kind, std::env::var_os("ZOCKET_BENCH_BEFORE")) {
            ("before", Some(path)) => (std::path::PathBuf::from(path), "zocket"),
            _ => (std::env::current_exe().unwrap(), kind),
        };
        let mut cmd = if has_taskset() {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        Server::spawn(cmd.args(["--serve", kind])).await
    }

    async fn spawn(cmd: &mut Command) -> Server {
        let mut child = cmd
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
    pub fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|s| s.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
        ticks / 100.0
    }
    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

pub fn has_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Set while measuring a server with recovery on: every connection starts
/// with a `$zocket.welcome`, which the workloads must not count.
pub static EXPECT_WELCOME: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub async fn connect(port: u16) -> Ws {
    for _ in 0..50 {
        let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let url = format!("ws://127.0.0.1:{port}/");
        if let Ok((mut ws, _)) =
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await
        {
            if EXPECT_WELCOME.load(std::sync::atomic::Ordering::Relaxed) {
                let _welcome = ws.next().await;
            }
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot connect to port {port}");
}

/// Opens `n` connections, at most 200 handshakes at a time.
pub async fn connect_many(port: u16, n: usize) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    let mut pending =
        futures_util::stream::iter((0..n).map(|_| connect(port))).buffer_unordered(200);
    while let Some(ws) = pending.next().await {
        out.push(ws);
    }
    out
}
