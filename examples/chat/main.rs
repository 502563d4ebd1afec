//! A chat server with rooms, typing indicators and a browser page.
//!
//! ```text
//! cargo run --example chat            # then open http://127.0.0.1:3000
//! PORT=4000 cargo run --example chat
//! cargo run --example chat -- --contract ts     # print the TypeScript module (types, zod)
//! cargo run --example chat -- --contract json   # print the contract as JSON Schema
//! ```
//!
//! The contract (other clients are written against it; see PROTOCOL.md):
//! - `GET /` serves the page; WebSocket upgrades at `/ws?name=<1-32 chars>`.
//! - incoming: `chat.join {room}`, `chat.leave {room}`, `chat.send {room, text}`,
//!   `chat.typing {room, typing}`;
//! - outgoing: `chat.onJoin`, `chat.onLeave`, `chat.onMessage`, `chat.onTyping`, each with
//!   `{room, name, clientId, ...}`;
//! - request: `chat.rooms` (payload `null`) answers `{rooms}`, the rooms you are in;
//! - request: `chat.topic {room, topic}` sets a room's topic, or refuses with
//!   the route's own typed error `{reason: "notAMember", room}` | `{reason: "unchanged"}`;
//! - request: `chat.poke {clientId}` asks that client the server question
//!   `chat.poked {name}` and answers with its `{reply}`;
//! - presence: who is online in a room, by name (two tabs of one name count once):
//!   request `chat.who {room}` answers `{room, online: {name: [{name}]}}`, and
//!   `chat.onPresence` carries the join/leave/update diffs;
//! - sending or typing in a room you have not joined is rejected by a middleware.
//!
//! `CHAT_PASSWORD=secret` makes the handshake ask for `&password=secret`
//! (401 without it); `BANNED_NAMES=root,admin` refuses those names (403);
//! `MAX_CONNECTIONS=n` caps the connections (503 beyond). A client that sends
//! `zocket-refusal=message` (the TypeScript client does) hears refusals in
//! band, as a browser can read them.
//!
//! `REDIS_URL=redis://127.0.0.1:6379/` (with `--features redis`) joins a cluster
//! of chat processes sharing rooms and presence through Redis (`REDIS_PREFIX`
//! names the cluster; `PRESENCE_TIMEOUT_SECS` is how long a silent node's
//! users stay listed, 15 by default).
//!
//! `RECOVERY_SECS=120` turns connection-state recovery on: a client that drops
//! for less than that gets its session (id, rooms, missed messages) back.
//! `SESSION_SECS=300` makes credentials expire: a client is warned on
//! `$zocket.expiring` and re-authenticates in place on `$zocket.auth` (here
//! with the same name), or is closed with 4001.
//!
//! `ALLOWED_ORIGINS=http://a,http://b` refuses other `Origin`s (403),
//! `HEARTBEAT_SECS=n` pings every n seconds, `BINARY_AS_TEXT=0` refuses binary
//! frames (the conformance kit's runs use them).
//!
//! Operations: `GET /health` (alive), `GET /ready` (accepting, and connected to
//! Redis when clustered), `GET /metrics` with `--features metrics` (Prometheus);
//! `RUST_LOG` filters the logs and `LOG_FORMAT=json` writes them as JSON lines.
//! Runs until SIGTERM or Ctrl-C, then drains (every client closed with 1001).
//!
//! Every payload derives `JsonSchema` too, so the contract can be exported for
//! TypeScript clients (`clients/ts/`), and clients built against another
//! version of it are noticed (`STRICT_CONTRACT=1` refuses them with 409).

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use zocket::contract::{Contract, ContractCheck};
use zocket::presence::{Presence, PresenceDiff};
use zocket::{
    ClientId, ClientRequest, Config, Conn, Ctx, HandlerError, HandlerResult, Incoming, Middleware,
    MiddlewareExt, Namespace, Outcome, Outgoing, Recovery, Reject, Request, Scope, Zocket,
};

// ---- payloads: plain serde + garde types -------------------------------------------

#[derive(Serialize, Deserialize, Validate, JsonSchema)]
struct Room {
    #[garde(length(chars, min = 1, max = 64))]
    room: String,
}

#[derive(Serialize, Deserialize, Validate, JsonSchema)]
struct Post {
    #[garde(length(chars, min = 1, max = 64))]
    room: String,
    #[garde(length(chars, min = 1, max = 2000))]
    text: String,
}

#[derive(Serialize, Deserialize, Validate, JsonSchema)]
struct Typing {
    #[garde(length(chars, min = 1, max = 64))]
    room: String,
    #[garde(skip)]
    typing: bool,
}

/// `{room, name, clientId}`: who joined or left.
#[derive(Serialize, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[garde(allow_unvalidated)]
struct Member {
    room: String,
    name: String,
    client_id: ClientId,
}

#[derive(Serialize, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ChatMessage {
    #[garde(skip)]
    room: String,
    #[garde(skip)]
    name: String,
    #[garde(skip)]
    client_id: ClientId,
    #[garde(length(chars, min = 1, max = 2000))]
    text: String,
}

#[derive(Clone, Serialize, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[garde(allow_unvalidated)]
struct TypingState {
    room: String,
    name: String,
    client_id: ClientId,
    typing: bool,
}

/// The answer to `chat.rooms`.
#[derive(Serialize, Deserialize, Validate, JsonSchema)]
#[garde(allow_unvalidated)]
struct MyRooms {
    rooms: Vec<String>,
}

/// What a room shows about someone online.
#[derive(Clone, Debug, Serialize, Deserialize, Validate, JsonSchema)]
#[garde(allow_unvalidated)]
struct Online {
    name: String,
}

/// The answer to `chat.who`.
#[derive(Serialize, Deserialize, Validate, JsonSchema)]
#[garde(allow_unvalidated)]
struct WhoIsHere {
    room: String,
    online: std::collections::BTreeMap<String, Vec<Online>>,
}

/// The handshake: `?name=alice` (or a `name` header), and `&password=..`
/// when the server was started with `CHAT_PASSWORD`.
#[derive(Deserialize, Validate, JsonSchema)]
struct Hello {
    /// Shown to everyone: 1 to 32 characters, no control or bidirectional-override characters.
    #[garde(length(chars, min = 1, max = 32), custom(printable_name))]
    #[schemars(extend("x-zocket-custom" = "no control or bidirectional-override characters"))]
    name: String,
    /// The server's password, when it has one (`CHAT_PASSWORD`).
    #[garde(length(max = 256))]
    password: Option<String>,
}

/// Who may connect: with `CHAT_PASSWORD` set, only who sends it (401
/// otherwise); names listed in `BANNED_NAMES` (comma-separated) never (403).
fn admit(hello: &Hello) -> Result<(), Reject> {
    if let Ok(password) = std::env::var("CHAT_PASSWORD")
        && hello.password.as_deref() != Some(password.as_str())
    {
        return Err(Reject::unauthorized("wrong or missing password"));
    }
    let banned = std::env::var("BANNED_NAMES").unwrap_or_default();
    if banned.split(',').any(|b| !b.is_empty() && b == hello.name) {
        return Err(Reject::forbidden(format!(
            "the name \"{}\" is not allowed here",
            hello.name
        )));
    }
    Ok(())
}

/// `chat.poke {clientId}`: ask someone something.
#[derive(Serialize, Deserialize, Validate, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[garde(allow_unvalidated)]
struct PokeTarget {
    client_id: ClientId,
}

/// The question a poked client is asked (`chat.poked`): who pokes.
#[derive(Serialize, Deserialize, Validate, JsonSchema)]
#[garde(allow_unvalidated)]
struct Poked {
    name: String,
}

/// What a poked client answers, passed back to the one who poked.
#[derive(Serialize, Deserialize, Validate, JsonSchema)]
struct PokeReply {
    #[garde(length(chars, max = 200))]
    reply: String,
}

/// `chat.topic {room, topic}`: set the topic of a room you are in.
#[derive(Clone, Debug, Serialize, Deserialize, Validate, JsonSchema)]
struct SetTopic {
    #[garde(length(chars, min = 1, max = 64))]
    room: String,
    #[garde(length(chars, min = 1, max = 200))]
    topic: String,
}

/// Why `chat.topic` is refused: the route's own error, which clients match on
/// (`route_error` on the wire, typed in the Rust and TypeScript clients).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "camelCase")]
enum TopicError {
    /// Only members set a room's topic.
    #[serde(rename_all = "camelCase")]
    NotAMember { room: String },
    /// The room already has this topic.
    Unchanged,
}

/// A name is shown to everyone: no control characters (newlines, escapes)
/// and no bidirectional overrides or isolates, which could make text around it
/// read backwards.
fn printable_name(name: &str, _: &()) -> garde::Result {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}');
    match name.chars().find(|&c| c.is_control() || bidi(c)) {
        Some(c) => Err(garde::Error::new(format!(
            "may not contain control or bidirectional-override characters (found U+{:04X})",
            c as u32
        ))),
        None => Ok(()),
    }
}

// ---- routes: zero-sized markers; the direction is part of the type ----------------

struct Join;
impl Incoming for Join {
    const NAME: &'static str = "join";
    type Payload = Room;
}
struct Leave;
impl Incoming for Leave {
    const NAME: &'static str = "leave";
    type Payload = Room;
}
struct Send;
impl Incoming for Send {
    const NAME: &'static str = "send";
    type Payload = Post;
}
struct SetTyping;
impl Incoming for SetTyping {
    const NAME: &'static str = "typing";
    type Payload = Typing;
}
struct Rooms;
impl Request for Rooms {
    const NAME: &'static str = "rooms";
    type Payload = ();
    type Response = MyRooms;
}
struct Who;
impl Request for Who {
    const NAME: &'static str = "who";
    type Payload = Room;
    type Response = WhoIsHere;
}
struct Topic;
impl Request for Topic {
    const NAME: &'static str = "topic";
    type Payload = SetTopic;
    /// The topic set, or why not.
    type Response = Outcome<SetTopic, TopicError>;
}
struct Poke;
impl Request for Poke {
    const NAME: &'static str = "poke";
    type Payload = PokeTarget;
    type Response = PokeReply;
}
/// The server asks a client (`ctx.ask`): "someone poked you, what do you say?"
struct AskPoked;
impl ClientRequest for AskPoked {
    const NAME: &'static str = "poked";
    type Payload = Poked;
    type Response = PokeReply;
}
struct OnPresence;
impl Outgoing for OnPresence {
    const NAME: &'static str = "onPresence";
    type Payload = PresenceDiff<Online>;
}
struct OnJoin;
impl Outgoing for OnJoin {
    const NAME: &'static str = "onJoin";
    type Payload = Member;
}
struct OnLeave;
impl Outgoing for OnLeave {
    const NAME: &'static str = "onLeave";
    type Payload = Member;
}
struct OnMessage;
impl Outgoing for OnMessage {
    const NAME: &'static str = "onMessage";
    type Payload = ChatMessage;
}
struct OnTyping;
impl Outgoing for OnTyping {
    const NAME: &'static str = "onTyping";
    type Payload = TypingState;
}

/// Everything lives under `chat.`: `chat.join`, `chat.onMessage`, ...
struct ChatNs;
impl Namespace for ChatNs {
    const NAME: &'static str = "chat";
}

type Chat = (
    Join,
    Leave,
    Send,
    SetTyping,
    Rooms,
    Who,
    Topic,
    Poke,
    AskPoked,
    OnPresence,
    OnJoin,
    OnLeave,
    OnMessage,
    OnTyping,
);
type AppRouter = (Scope<ChatNs, Chat>,);

// ---- context and middleware ----------------------------------------------------------

/// Per-connection data made by `on_connect`.
#[derive(Clone)]
struct User {
    name: String,
}

/// What every connection shares (`Builder::state`): who is online where.
struct ChatState {
    presence: Presence<Online>,
    /// Each room's topic (`chat.topic`).
    topics: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

type C = Ctx<AppRouter, User, ChatState>;

/// Payloads that name a room. Typing in a room you are not in means nothing
/// and is dropped without a word (`QUIET`); posting there is refused loudly.
trait InRoom {
    const QUIET: bool = false;
    fn room(&self) -> &str;
}
impl InRoom for Post {
    fn room(&self) -> &str {
        &self.room
    }
}
impl InRoom for Typing {
    const QUIET: bool = true;
    fn room(&self) -> &str {
        &self.room
    }
}

/// Lets a message through only if its sender is in the room it names.
/// One middleware, reused for two payload types.
struct MemberOnly;
impl<P: InRoom + Sync> Middleware<User, P> for MemberOnly {
    type Out = User;
    async fn call(&self, user: User, payload: &P, conn: &Conn) -> Result<User, Reject> {
        if conn.in_room(payload.room()) {
            Ok(user)
        } else if P::QUIET {
            Err(Reject::quiet("typing outside the room"))
        } else {
            Err(Reject::forbidden(format!(
                "join room \"{}\" before writing to it",
                payload.room()
            )))
        }
    }
}

// ---- handlers ------------------------------------------------------------------------

/// Who did something in a room: the sender's name and id.
fn member(ctx: &C, room: &str) -> Member {
    Member {
        name: ctx.data().name.clone(),
        client_id: ctx.id(),
        room: room.to_owned(),
    }
}

async fn join(r: Room, ctx: C) -> HandlerResult {
    if ctx.join(&r.room)? {
        let member = member(&ctx, &r.room);
        // Everyone in the room, the joiner included.
        ctx.send(OnJoin, member)?.to_room([r.room.clone()]);
        // Online under the user's name: two tabs of one name count once.
        let name = ctx.data().name.clone();
        let online = Online { name: name.clone() };
        ctx.state()
            .presence
            .track(ctx.conn(), &r.room, &name, online)?;
    }
    Ok(())
}

async fn leave(r: Room, ctx: C) -> HandlerResult {
    if ctx.leave(&r.room) {
        ctx.state().presence.untrack(ctx.conn(), &r.room);
        let member = member(&ctx, &r.room);
        ctx.send(OnLeave, member)?.to_room([r.room]); // the members who remain
    }
    Ok(())
}

async fn who(r: Room, ctx: C) -> Result<WhoIsHere, HandlerError> {
    let online = ctx.state().presence.list(&r.room);
    Ok(WhoIsHere {
        room: r.room,
        online,
    })
}

async fn send(p: Post, ctx: C) -> HandlerResult {
    let msg = ChatMessage {
        name: ctx.data().name.clone(),
        client_id: ctx.id(),
        room: p.room.clone(),
        text: p.text,
    };
    ctx.send(OnMessage, msg)?.to_room([p.room]); // the sender included
    Ok(())
}

/// Tells the room who is typing. A client that says "typing" and then goes
/// quiet (closed its tab mid-sentence) stops typing for the others after
/// `TYPING_EXPIRES`: each keystroke restarts a timer of the connection, which
/// ends with it.
async fn typing(t: Typing, ctx: C) -> HandlerResult {
    let state = TypingState {
        name: ctx.data().name.clone(),
        client_id: ctx.id(),
        room: t.room.clone(),
        typing: t.typing,
    };
    ctx.send(OnTyping, state.clone())?
        .except(ctx.id())
        .to_room([&t.room]);
    let key = format!("typing:{}", t.room);
    if t.typing {
        let stopped = TypingState {
            typing: false,
            ..state
        };
        ctx.connection()
            .restart_timer(&key, TYPING_EXPIRES, move |conn| async move {
                if let Ok(d) = conn.send(OnTyping, stopped.clone()) {
                    d.except(conn.id()).to_room([&stopped.room]);
                }
            });
    } else {
        ctx.connection().cancel_timer(&key);
    }
    Ok(())
}

/// How long "typing" lasts without another keystroke.
const TYPING_EXPIRES: std::time::Duration = std::time::Duration::from_secs(3);

/// Asks the poked client (a question of the server, answered by its client)
/// and passes its answer back.
async fn poke(target: PokeTarget, ctx: C) -> Result<PokeReply, HandlerError> {
    let question = Poked {
        name: ctx.data().name.clone(),
    };
    let answer = ctx
        .server()
        .ask(target.client_id, AskPoked, question)
        .timeout(std::time::Duration::from_secs(10))
        .await
        .map_err(|e| Reject::new(format!("no answer: {e}")))?;
    Ok(answer)
}

/// Sets a room's topic; refused with the route's own error when the caller
/// is not in the room or the topic is already that.
async fn topic(t: SetTopic, ctx: C) -> Result<Outcome<SetTopic, TopicError>, HandlerError> {
    if !ctx.in_room(&t.room) {
        return Ok(Outcome::Err(TopicError::NotAMember { room: t.room }));
    }
    let mut topics = ctx.state().topics.lock().unwrap_or_else(|e| e.into_inner());
    if topics.get(&t.room) == Some(&t.topic) {
        return Ok(Outcome::Err(TopicError::Unchanged));
    }
    topics.insert(t.room.clone(), t.topic.clone());
    Ok(Outcome::Ok(t))
}

async fn rooms(_: (), ctx: C) -> Result<MyRooms, HandlerError> {
    let mut rooms = ctx.rooms();
    rooms.sort();
    Ok(MyRooms { rooms })
}

/// A closing client has already left its rooms; tell the members who remain.
async fn disconnected(ctx: C, rooms: Vec<String>) -> HandlerResult {
    for room in rooms {
        let member = member(&ctx, &room);
        ctx.send(OnLeave, member)?.to_room([room]);
    }
    Ok(())
}

/// The chat app: its page, routes, handlers and middleware, with `config`
/// for limits and recovery (the tests build it too).
/// The cluster adapter, when the chat runs as several processes.
struct Cluster(Box<dyn zocket::adapter::Adapter>);
impl zocket::adapter::Adapter for Cluster {
    fn node(&self) -> u32 {
        self.0.node()
    }
    fn publish(&self, remote: zocket::adapter::Remote) {
        self.0.publish(remote)
    }
    fn start(&self, inbox: zocket::adapter::Inbox) {
        self.0.start(inbox)
    }
    fn connected(&self) -> bool {
        self.0.connected()
    }
    fn open_room(&self, room: &str) -> zocket::adapter::RoomReady {
        self.0.open_room(room)
    }
    fn close_room(&self, room: &str) {
        self.0.close_room(room)
    }
    fn node_count(&self) -> zocket::adapter::NodeCount<'_> {
        self.0.node_count()
    }
}

/// The chat app on one node (what the tests build).
#[cfg_attr(not(test), allow(dead_code))]
fn app(
    config: Config,
    check: ContractCheck,
) -> Result<Zocket<AppRouter, User>, zocket::BuildError> {
    app_in(config, check, None, zocket::presence::DEFAULT_NODE_TIMEOUT)
}

fn app_in(
    config: Config,
    check: ContractCheck,
    cluster: Option<Cluster>,
    presence_timeout: std::time::Duration,
) -> Result<Zocket<AppRouter, User>, zocket::BuildError> {
    // SESSION_SECS: credentials last that long; clients re-authenticate in
    // place (`$zocket.auth`) when warned, or are closed with 4001.
    let session = std::env::var("SESSION_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(std::time::Duration::from_secs);
    let presence = Presence::<Online>::new().node_timeout(presence_timeout);
    let mut builder = Zocket::<AppRouter>::builder();
    if let Some(cluster) = cluster {
        builder = builder.adapter(cluster);
    }
    builder
        .state(ChatState {
            presence: presence.clone(),
            topics: Default::default(),
        })
        .config(
            config
                .path("/ws")
                .page("/", "text/html; charset=utf-8", include_str!("index.html"))
                // The page's client: the built zocket-rs package (ES modules, no
                // bundler), committed so `cargo run` needs no npm step.
                .page(
                    "/zocket-rs/index.js",
                    JS,
                    include_str!("web/zocket-rs/index.js"),
                )
                .page(
                    "/zocket-rs/client.js",
                    JS,
                    include_str!("web/zocket-rs/client.js"),
                )
                .page(
                    "/zocket-rs/types.js",
                    JS,
                    include_str!("web/zocket-rs/types.js"),
                )
                .page("/contract.js", JS, contract_module())
                .health_check("/health")
                .ready_check("/ready"),
        )
        .contract::<Hello, _>(check)
        .presence(&presence, OnPresence)
        .on_connect(|hello: Hello, _id| async move {
            admit(&hello)?;
            Ok(User { name: hello.name })
        })
        // A client may send its handshake values again on `$zocket.auth`
        // (a fresh token, in a real app); here: the same name.
        .on_reauth(|hello: Hello, _id, user: User| async move {
            if hello.name == user.name {
                Ok(user)
            } else {
                Err(Reject::forbidden("a session keeps its name"))
            }
        })
        .expires(move |_| session)
        .on_disconnect(disconnected)
        .on(Join, join)
        .on(Leave, leave)
        .on(Send, MemberOnly.then(send))
        .on(SetTyping, MemberOnly.then(typing))
        .on_request(Rooms, rooms)
        .on_request(Who, who)
        .on_request(Topic, topic)
        .on_request(Poke, poke)
        .build()
}

const JS: &str = "text/javascript; charset=utf-8";

/// `/contract.js`: the contract's identity for the page, made from the router
/// (the page needs no zod schemas; the TypeScript module has them).
fn contract_module() -> String {
    let identity = Contract::of::<AppRouter, _>()
        .with_handshake::<Hello>()
        .identity();
    format!(
        "// The chat's contract, made from the Rust router when the server started.\n\
         export const contract = {{ fingerprint: {}, routes: {} }};\n",
        serde_json::Value::from(identity.fingerprint()),
        serde_json::Value::from(identity.routes_param())
    )
}

/// With `REDIS_URL` (and the `redis` feature): the Redis adapter.
async fn cluster() -> Result<Option<Cluster>, Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return Ok(None);
    };
    #[cfg(feature = "redis")]
    {
        let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "zocket-chat".into());
        let adapter = zocket::RedisAdapter::connect(&url, &prefix).await?;
        println!(
            "chat: joined the cluster at {url} as node {}",
            zocket::adapter::Adapter::node(&adapter)
        );
        Ok(Some(Cluster(Box::new(adapter))))
    }
    #[cfg(not(feature = "redis"))]
    {
        Err(format!(
            "REDIS_URL={url} needs the `redis` feature: cargo run --features redis --example chat"
        )
        .into())
    }
}

const USAGE: &str = "\
usage: chat                      serve the chat on 127.0.0.1:$PORT (3000), page at /
       chat --contract ts|json   print the contract (TypeScript module, or JSON Schema)
       chat --help               this text

environment: PORT, RECOVERY_SECS, SESSION_SECS, CHAT_PASSWORD, BANNED_NAMES,
MAX_CONNECTIONS, STRICT_CONTRACT=1, ALLOWED_ORIGINS, HEARTBEAT_SECS, BINARY_AS_TEXT=0,
REDIS_URL (feature redis), REDIS_PREFIX, PRESENCE_TIMEOUT_SECS, RUST_LOG, LOG_FORMAT=json
";

#[cfg(test)]
mod tests; // the chat app tested with zocket::testing (tests/chat_app.rs runs them)

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["--contract", _] => {}
        ["--help" | "-h"] => {
            print!("{USAGE}");
            return Ok(());
        }
        _ => {
            eprint!("chat: unexpected arguments {args:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
    if let [flag, format] = args.as_slice()
        && flag == "--contract"
    {
        let contract = Contract::of::<AppRouter, _>().with_handshake::<Hello>();
        match format.as_str() {
            "ts" => print!("{}", contract.typescript()),
            "json" => println!("{}", serde_json::to_string_pretty(&contract.to_json())?),
            other => return Err(format!("--contract takes `ts` or `json`, not `{other}`").into()),
        }
        return Ok(());
    }
    let check = if std::env::var_os("STRICT_CONTRACT").is_some_and(|v| v == "1") {
        ContractCheck::Strict
    } else {
        ContractCheck::Warn
    };
    // RUST_LOG filters (default `info`); LOG_FORMAT=json writes one JSON
    // object per line, for log collectors.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,zocket=info".into());
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);

    let recovery = std::env::var("RECOVERY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|secs| Recovery::default().window(std::time::Duration::from_secs(secs)));
    let cluster = cluster().await?;
    let presence_timeout = std::env::var("PRESENCE_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(
            zocket::presence::DEFAULT_NODE_TIMEOUT,
            std::time::Duration::from_secs,
        );
    let mut config = Config::default().recovery(recovery);
    if let Some(max) = std::env::var("MAX_CONNECTIONS")
        .ok()
        .and_then(|m| m.parse().ok())
    {
        config = config.max_connections(max);
    }
    // The switches the conformance kit's runs use (tests/conformance.rs).
    if std::env::var("BINARY_AS_TEXT").is_ok_and(|v| v == "0") {
        config = config.binary_as_text(false);
    }
    if let Ok(origins) = std::env::var("ALLOWED_ORIGINS") {
        config = config.allowed_origins(origins.split(',').map(str::to_owned));
    }
    if let Some(secs) = std::env::var("HEARTBEAT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config = config.heartbeat(Some(std::time::Duration::from_secs(secs)));
    }
    // With the `metrics` feature: Prometheus metrics at /metrics.
    #[cfg(feature = "metrics")]
    let config = config.metrics_path("/metrics");
    let app = app_in(config, check, cluster, presence_timeout)?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "chat: open http://{}/ in two browser tabs",
        listener.local_addr()?
    );
    app.serve_with_shutdown(listener, zocket::shutdown_signal())
        .await?;
    Ok(())
}
