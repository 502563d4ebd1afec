//! A test app exercising every server feature, and a raw WebSocket client
//! (tokio-tungstenite sending JSON text frames, as a Zocket or browser client would).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tungstenite::Message;
use zocket::{
    ClientId, Config, Conn, Ctx, HandlerError, Incoming, Middleware, MiddlewareExt, Namespace,
    Outgoing, Reject, Scope, ServerHandle, Zocket,
};

/// Safety net for every wait: a test that hangs fails instead.
pub const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct Text {
    #[garde(length(min = 1, max = 200))]
    pub text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct Dm {
    #[garde(skip)]
    pub to: Vec<ClientId>,
    #[garde(length(min = 1, max = 200))]
    pub text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct Room {
    #[garde(length(min = 1, max = 64))]
    pub room: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct RoomText {
    #[garde(length(min = 1, max = 64))]
    pub room: String,
    #[garde(length(min = 1, max = 200))]
    pub text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct Said {
    #[garde(skip)]
    pub room: String,
    #[garde(skip)]
    pub from: ClientId,
    #[garde(skip)]
    pub text: String,
}
#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct Whoami {
    #[garde(skip)]
    pub id: ClientId,
    #[garde(skip)]
    pub name: String,
    #[garde(skip)]
    pub rooms: Vec<String>,
}
#[derive(Debug, Deserialize, Validate)]
pub struct AuthHeaders {
    #[garde(length(min = 1, max = 32))]
    pub name: String,
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
pub struct Broadcast;
impl Incoming for Broadcast {
    const NAME: &'static str = "broadcast";
    type Payload = Text;
}
pub struct Shout;
impl Incoming for Shout {
    const NAME: &'static str = "shout";
    type Payload = Text;
}
pub struct OnBroadcast;
impl Outgoing for OnBroadcast {
    const NAME: &'static str = "onBroadcast";
    type Payload = Text;
}
pub struct SendDm;
impl Incoming for SendDm {
    const NAME: &'static str = "dm";
    type Payload = Dm;
}
pub struct OnDm;
impl Outgoing for OnDm {
    const NAME: &'static str = "onDm";
    type Payload = Text;
}
pub struct Join;
impl Incoming for Join {
    const NAME: &'static str = "join";
    type Payload = Room;
}
pub struct Leave;
impl Incoming for Leave {
    const NAME: &'static str = "leave";
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
    type Payload = Said;
}
pub struct AskWhoami;
impl Incoming for AskWhoami {
    const NAME: &'static str = "whoami";
    type Payload = ();
}
pub struct OnWhoami;
impl Outgoing for OnWhoami {
    const NAME: &'static str = "onWhoami";
    type Payload = Whoami;
}
pub struct Fail;
impl Incoming for Fail {
    const NAME: &'static str = "fail";
    type Payload = ();
}
pub struct Panic;
impl Incoming for Panic {
    const NAME: &'static str = "panic";
    type Payload = ();
}
#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct Count {
    #[garde(range(max = 100_000))]
    pub n: u32,
}
pub struct Flood;
impl Incoming for Flood {
    const NAME: &'static str = "flood";
    type Payload = Count;
}

#[derive(Debug, Serialize, Deserialize, Validate)]
pub struct Blob {
    #[garde(skip)]
    pub seq: u64,
    #[garde(length(max = 100_000))]
    pub data: String,
}
pub struct OnBlob;
impl Outgoing for OnBlob {
    const NAME: &'static str = "onBlob";
    type Payload = Blob;
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Validate)]
pub struct Num {
    #[garde(range(min = -1_000_000, max = 1_000_000))]
    pub n: i64,
}
/// Request: answers `2n`.
pub struct Double;
impl zocket::Request for Double {
    const NAME: &'static str = "double";
    type Payload = Num;
    type Response = Num;
}
/// Request: answers `1000 / n`; refuses 0 (handler) and 13 (middleware).
pub struct Divide;
impl zocket::Request for Divide {
    const NAME: &'static str = "divide";
    type Payload = Num;
    type Response = Num;
}
/// Request: never answers.
pub struct Hang;
impl zocket::Request for Hang {
    const NAME: &'static str = "hang";
    type Payload = ();
    type Response = ();
}
pub struct MathNs;
impl Namespace for MathNs {
    const NAME: &'static str = "math";
}
pub type Math = (Double, (Divide, (Hang, ())));

/// Refuses 13.
pub struct NotThirteen;
impl Middleware<User, Num> for NotThirteen {
    type Out = User;
    async fn call(&self, user: User, n: &Num, _: &Conn) -> Result<User, Reject> {
        if n.n == 13 {
            Err(Reject::forbidden("unlucky"))
        } else {
            Ok(user)
        }
    }
}

pub struct RoomsNs;
impl Namespace for RoomsNs {
    const NAME: &'static str = "rooms";
}
pub struct DebugNs;
impl Namespace for DebugNs {
    const NAME: &'static str = "debug";
}

pub type Rooms = (Join, (Leave, (Say, (OnSay, ()))));
pub type Debug = (Fail, (Panic, (Flood, ())));
pub type TestRouter = (
    Echo,
    (
        OnEcho,
        (
            Broadcast,
            (
                Shout,
                (
                    OnBroadcast,
                    (
                        SendDm,
                        (
                            OnDm,
                            (
                                AskWhoami,
                                (
                                    OnWhoami,
                                    (
                                        OnBlob,
                                        (
                                            Scope<RoomsNs, Rooms>,
                                            (Scope<DebugNs, Debug>, (Scope<MathNs, Math>, ())),
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
);

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
}

/// Rejects a room message from a client that is not in the room.
pub struct MemberOnly;
impl Middleware<User, RoomText> for MemberOnly {
    type Out = User;
    async fn call(&self, user: User, p: &RoomText, conn: &Conn) -> Result<User, Reject> {
        if conn.in_room(&p.room) {
            Ok(user)
        } else {
            Err(Reject::forbidden(format!("not a member of {}", p.room)))
        }
    }
}

/// What the test app reports to the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    pub id: ClientId,
    pub name: String,
    pub rooms: Vec<String>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub handle: ServerHandle<TestRouter>,
    pub disconnects: mpsc::UnboundedReceiver<Disconnected>,
    pub echo_calls: Arc<AtomicUsize>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
    /// Waits for the next `on_disconnect`.
    pub async fn next_disconnect(&mut self) -> Disconnected {
        tokio::time::timeout(WAIT, self.disconnects.recv())
            .await
            .expect("on_disconnect within the wait")
            .expect("server alive")
    }
    /// Shuts down, waits for `serve` to return, and returns the
    /// `on_disconnect` calls not yet taken (the channel closes once the app is
    /// dropped, so this cannot miss a late one).
    pub async fn stop_collecting(mut self) -> Vec<Disconnected> {
        self.handle.shutdown();
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("no panic")
            .expect("no error");
        let mut out = Vec::new();
        while let Some(d) = tokio::time::timeout(WAIT, self.disconnects.recv())
            .await
            .expect("channel closes once the app is dropped")
        {
            out.push(d);
        }
        out
    }
    /// Shuts down and waits for `serve` to return.
    pub async fn stop(self) {
        self.handle.shutdown();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("no panic")
            .expect("no error");
    }
}

type C = Ctx<TestRouter, User>;

/// The built app, its `on_disconnect` events, and its echo handler's call count.
pub type TestApp = (
    Zocket<TestRouter, User>,
    mpsc::UnboundedReceiver<Disconnected>,
    Arc<AtomicUsize>,
);

pub fn app(config: Config) -> TestApp {
    app_with(config, None::<NoAdapter>)
}

/// Stands for "no adapter" in [`app_with`].
pub struct NoAdapter;
impl zocket::adapter::Adapter for NoAdapter {
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

pub fn app_with<A: zocket::adapter::Adapter>(config: Config, adapter: Option<A>) -> TestApp {
    let (tx, rx) = mpsc::unbounded_channel();
    let echo_calls = Arc::new(AtomicUsize::new(0));
    let calls = echo_calls.clone();
    let mut builder = Zocket::<TestRouter>::builder().config(config);
    if let Some(adapter) = adapter {
        builder = builder.adapter(adapter);
    }
    let app = builder
        .on_connect(|h: AuthHeaders, _id| async move {
            match h.name.as_str() {
                "anon" => Err(Reject::unauthorized("who are you?")),
                "banned" => Err(Reject::forbidden("you are banned")),
                _ => Ok(User { name: h.name }),
            }
        })
        .on_disconnect(move |ctx: C, rooms| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Disconnected {
                    id: ctx.id(),
                    name: ctx.data().name.clone(),
                    rooms,
                });
                Ok(())
            }
        })
        .on_recover(|ctx: C| async move {
            // With recovery on: tells a resumed client, after its missed messages.
            assert!(ctx.conn().recovered());
            ctx.reply(
                OnEcho,
                Text {
                    text: "recovered".into(),
                },
            )?;
            Ok(())
        })
        .on(Echo, move |msg: Text, ctx: C| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                ctx.reply(OnEcho, msg)?;
                Ok(())
            }
        })
        .on(Broadcast, |msg: Text, ctx: C| async move {
            ctx.send(OnBroadcast, msg)?.broadcast();
            Ok(())
        })
        .on(Shout, |msg: Text, ctx: C| async move {
            ctx.send(OnBroadcast, msg)?.except(ctx.id()).broadcast();
            Ok(())
        })
        .on(SendDm, |dm: Dm, ctx: C| async move {
            ctx.send(OnDm, Text { text: dm.text })?.to(dm.to);
            Ok(())
        })
        .on(AskWhoami, |_: (), ctx: C| async move {
            let me = Whoami {
                id: ctx.id(),
                name: ctx.data().name.clone(),
                rooms: ctx.rooms(),
            };
            ctx.reply(OnWhoami, me)?;
            Ok(())
        })
        .on(Join, |r: Room, ctx: C| async move {
            ctx.join(&r.room)?;
            Ok(())
        })
        .on(Leave, |r: Room, ctx: C| async move {
            ctx.leave(&r.room);
            Ok(())
        })
        .on(
            Say,
            MemberOnly.then(|m: RoomText, ctx: C| async move {
                let said = Said {
                    room: m.room.clone(),
                    from: ctx.id(),
                    text: m.text,
                };
                ctx.send(OnSay, said)?.to_room([m.room]);
                Ok(())
            }),
        )
        .on(Fail, |_: (), _: C| async move {
            Err(HandlerError::msg("database is down (secret detail)"))
        })
        .on(Panic, |_: (), _: C| async move {
            panic!("handler panicked on purpose")
        })
        .on(Flood, |c: Count, ctx: C| async move {
            for i in 0..c.n {
                ctx.reply(
                    OnEcho,
                    Text {
                        text: i.to_string(),
                    },
                )?;
            }
            Ok(())
        })
        .on_request(Double, |x: Num, _: C| async move {
            Ok::<_, HandlerError>(Num { n: x.n * 2 })
        })
        .on_request(
            Divide,
            NotThirteen.then(|x: Num, _: C| async move {
                if x.n == 0 {
                    return Err(Reject::new("division by zero").into());
                }
                Ok::<_, HandlerError>(Num { n: 1000 / x.n })
            }),
        )
        .on_request(Hang, |_: (), _: C| async move {
            std::future::pending::<()>().await;
            Ok::<_, HandlerError>(())
        })
        .build()
        .expect("valid router");
    (app, rx, echo_calls)
}

/// Test defaults: short timeouts so failures show quickly.
pub fn config() -> Config {
    Config::default()
        .close_timeout(Duration::from_millis(300))
        .shutdown_timeout(Duration::from_secs(5))
}

pub async fn start() -> Server {
    start_with(config()).await
}

pub async fn start_with(config: Config) -> Server {
    start_node(config, None::<NoAdapter>).await
}

/// Starts a server with an adapter (one node of several).
pub async fn start_node<A: zocket::adapter::Adapter>(config: Config, adapter: Option<A>) -> Server {
    let (app, disconnects, echo_calls) = app_with(config, adapter);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = app.handle();
    let task = tokio::spawn(app.serve_listener(listener));
    Server {
        addr,
        handle,
        disconnects,
        echo_calls,
        task,
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw JSON-over-WebSocket client.
pub struct Client {
    pub ws: Ws,
}

impl Client {
    pub async fn connect(server: &Server, name: &str) -> Client {
        Self::connect_url(&format!("{}?name={name}", server.url())).await
    }
    pub async fn connect_url(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect within the wait")
            .expect("handshake accepted");
        Client { ws }
    }
    pub async fn send(&mut self, route: &str, payload: Value) {
        self.send_raw(&json!({"type": route, "payload": payload}).to_string())
            .await;
    }
    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }
    /// The next text frame as JSON.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message within the wait")
                .expect("stream open")
                .expect("no error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).expect("server sends JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }
    /// The next message, which must be on `route`; returns its payload.
    pub async fn expect(&mut self, route: &str) -> Value {
        let v = self.recv().await;
        assert_eq!(v["type"], route, "unexpected message {v}");
        v["payload"].clone()
    }
    /// The next message must be the reserved error; returns its payload.
    pub async fn expect_error(&mut self, kind: &str) -> Value {
        let p = self.expect("$zocket.error").await;
        assert_eq!(p["kind"], kind, "unexpected error {p}");
        p
    }
    /// Round-trips an echo: everything the server queued for this client
    /// before it handled the echo arrives first, so after this returns, the
    /// client has seen all of it.
    pub async fn barrier(&mut self) {
        self.send("echo", json!({"text": "barrier"})).await;
        let p = self.expect("onEcho").await;
        assert_eq!(p["text"], "barrier");
    }
    pub async fn whoami(&mut self) -> Whoami {
        self.send("whoami", Value::Null).await;
        serde_json::from_value(self.expect("onWhoami").await).unwrap()
    }
    /// Waits for the server's close frame; returns its code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close within the wait");
            match next {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// Sends a raw HTTP request and returns (status, body). Reads the body by its
/// `Content-Length` when there is one, else to the end of the stream.
pub async fn http(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if let Some(length) = length
                    && out.len() >= end + 4 + length
                {
                    out.truncate(end + 4 + length);
                    return;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("response within the wait");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// An upgrade request for `target` with extra header lines.
pub fn upgrade_request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}
