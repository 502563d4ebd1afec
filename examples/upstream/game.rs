//! Upstream Zocket's docs example "Real-Time Game", ported (the guide:
//! `src/docs/from_typescript.md`): Pong for two players per room; the server
//! runs each room's game loop and sends its state to the room 30 times a second.
//!
//! ```text
//! cargo run --example upstream_game             # serves ws://127.0.0.1:3000
//! cargo run --example upstream_game -- --demo   # server and two players
//! ```
//!
//! Longer than the TypeScript snippet (about 2.5x): the upstream page leaves out
//! the game itself (`createInitialState`, `updateGamePhysics`, the client-to-room
//! map, the imports and the server's start); this port has them, about 70 lines,
//! and its nested state is four small types where zod nests objects inline.

// ---- server ----
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use garde::Validate;
use serde::{Deserialize, Serialize};
use zocket::{
    BuildError, Client, ClientId, Ctx, Incoming, Namespace, Outgoing, Scope, ServerHandle, Zocket,
};

#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "camelCase")]
struct JoinGame {
    room_id: String,
    username: String,
}
#[derive(Clone, Copy, Default, PartialEq, Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "lowercase")]
enum Dir {
    Up,
    Down,
    #[default]
    Stop,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Move {
    dir: Dir,
}
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
#[serde(rename_all = "lowercase")]
enum Side {
    Left,
    Right,
    Spectator,
}
#[derive(Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Assign {
    side: Side,
}
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Waiting,
    Playing,
}
#[derive(Clone, Default, Serialize, Deserialize)]
struct Pair<T> {
    left: T,
    right: T,
}
/// What the room sees 30 times a second (upstream's `game.state`).
#[derive(Clone, Serialize, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct GameState {
    ball: (f64, f64),
    paddles: Pair<f64>,
    scores: Pair<u32>,
    status: Status,
    players: Pair<Option<String>>,
}

struct Join;
impl Incoming for Join {
    const NAME: &'static str = "join";
    type Payload = JoinGame;
}
struct MoveIt;
impl Incoming for MoveIt {
    const NAME: &'static str = "move";
    type Payload = Move;
}
struct OnAssign;
impl Outgoing for OnAssign {
    const NAME: &'static str = "assign";
    type Payload = Assign;
}
struct OnState;
impl Outgoing for OnState {
    const NAME: &'static str = "state";
    type Payload = GameState;
}
struct GameNs;
impl Namespace for GameNs {
    const NAME: &'static str = "game";
}
type GameRouter = (Scope<GameNs, (Join, MoveIt, OnAssign, OnState)>,);

/// One room's game: what is sent, plus the ball's velocity, the inputs and the players' ids.
struct Game {
    state: GameState,
    velocity: (f64, f64),
    inputs: Pair<Dir>,
    ids: Pair<Option<ClientId>>,
}
#[derive(Default)]
struct Games {
    rooms: Mutex<HashMap<String, Game>>,
    client_to_room: Mutex<HashMap<ClientId, (String, Side)>>,
}
type C = Ctx<GameRouter, (), Arc<Games>>;

fn new_game() -> Game {
    let state = GameState {
        ball: (0.5, 0.5),
        paddles: Pair { left: 0.5, right: 0.5 },
        scores: Pair::default(),
        status: Status::Waiting,
        players: Pair::default(),
    };
    Game { state, velocity: (0.01, 0.007), inputs: Pair::default(), ids: Pair::default() }
}

async fn join(p: JoinGame, ctx: C) -> zocket::HandlerResult {
    ctx.join(&p.room_id)?;
    let (side, start) = {
        let mut rooms = ctx.state().rooms.lock().unwrap();
        let game = rooms.entry(p.room_id.clone()).or_insert_with(new_game);
        let side = if game.ids.left.is_none() {
            (game.ids.left, game.state.players.left) = (Some(ctx.id()), Some(p.username));
            Side::Left
        } else if game.ids.right.is_none() {
            (game.ids.right, game.state.players.right) = (Some(ctx.id()), Some(p.username));
            Side::Right
        } else {
            Side::Spectator
        };
        (side, side == Side::Right)
    };
    ctx.state().client_to_room.lock().unwrap().insert(ctx.id(), (p.room_id.clone(), side));
    ctx.reply(OnAssign, Assign { side })?;
    if start {
        tokio::spawn(game_loop(p.room_id, ctx.state().clone(), ctx.server()));
    }
    Ok(())
}

async fn move_paddle(p: Move, ctx: C) -> zocket::HandlerResult {
    let Some((room, side)) = ctx.state().client_to_room.lock().unwrap().get(&ctx.id()).cloned()
    else {
        return Ok(());
    };
    if let Some(game) = ctx.state().rooms.lock().unwrap().get_mut(&room) {
        match side {
            Side::Left => game.inputs.left = p.dir,
            Side::Right => game.inputs.right = p.dir,
            Side::Spectator => {}
        }
    }
    Ok(())
}

/// The room's loop: 30 steps a second while anyone is in the room.
async fn game_loop(room: String, games: Arc<Games>, server: ServerHandle<GameRouter>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(1000 / 30));
    while !server.members(&room).is_empty() {
        tick.tick().await;
        let Some(state) = games.rooms.lock().unwrap().get_mut(&room).map(|g| step(g).clone())
        else {
            return;
        };
        let _ = server.send(OnState, state).map(|d| d.to_room([&room]));
    }
    games.rooms.lock().unwrap().remove(&room);
}

/// Moves the paddles and the ball; a ball past a paddle scores and restarts from the middle.
fn step(g: &mut Game) -> &GameState {
    let s = &mut g.state;
    s.status = Status::Playing;
    let speed = |d: Dir| match d {
        Dir::Up => -0.02,
        Dir::Down => 0.02,
        Dir::Stop => 0.0,
    };
    s.paddles.left = (s.paddles.left + speed(g.inputs.left)).clamp(0.0, 1.0);
    s.paddles.right = (s.paddles.right + speed(g.inputs.right)).clamp(0.0, 1.0);
    s.ball = (s.ball.0 + g.velocity.0, s.ball.1 + g.velocity.1);
    if !(0.0..=1.0).contains(&s.ball.1) {
        g.velocity.1 = -g.velocity.1;
    }
    let (paddle, past) =
        if s.ball.0 < 0.0 { (s.paddles.left, true) } else { (s.paddles.right, s.ball.0 > 1.0) };
    if past && (s.ball.1 - paddle).abs() < 0.15 {
        g.velocity.0 = -g.velocity.0;
    } else if past {
        if s.ball.0 < 0.0 {
            s.scores.right += 1
        } else {
            s.scores.left += 1
        }
        s.ball = (0.5, 0.5);
    }
    &g.state
}

fn app() -> Result<Zocket<GameRouter>, BuildError> {
    Zocket::<GameRouter>::builder()
        .state(Arc::new(Games::default()))
        .on(Join, join)
        .on(MoveIt, move_paddle)
        .build()
}

async fn serve(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("🚀 Server running on ws://{addr}");
    Ok(app()?.serve(addr).await?)
}

// ---- client ----
/// Joins `room1` as `name`; returns the client and the side it was given.
async fn player(
    url: &str,
    name: &str,
) -> Result<(Client<GameRouter>, Side), Box<dyn std::error::Error>> {
    let client = Client::<GameRouter>::connect(url).await?;
    let mut assigned = client.stream(OnAssign);
    client.send(Join, JoinGame { room_id: "room1".into(), username: name.into() })?;
    let side = futures_util::StreamExt::next(&mut assigned).await.ok_or("no side")?.side;
    println!("{name}: assigned to {side:?}");
    Ok((client, side))
}

fn send_input(client: &Client<GameRouter>, dir: Dir) -> Result<(), Box<dyn std::error::Error>> {
    Ok(client.send(MoveIt, Move { dir })?)
}

// ---- main ----
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !std::env::args().any(|a| a == "--demo") {
        return serve("127.0.0.1:3000").await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}", listener.local_addr()?);
    let server = app()?;
    let handle = server.handle();
    tokio::spawn(server.serve_listener(listener));
    let (left, left_side) = player(&url, "Player1").await?;
    let mut states = left.stream(OnState);
    let (right, right_side) = player(&url, "Player2").await?;
    assert_eq!((left_side, right_side), (Side::Left, Side::Right));
    send_input(&left, Dir::Up)?;
    // The left paddle moves up as the frames come in.
    use futures_util::StreamExt;
    let first = states.next().await.ok_or("no state")?;
    let mut last = first.clone();
    for _ in 0..30 {
        last = states.next().await.ok_or("no state")?;
    }
    println!(
        "30 frames: ball at {:?}, left paddle {:.2} -> {:.2}, scores {}:{}",
        last.ball, first.paddles.left, last.paddles.left, last.scores.left, last.scores.right
    );
    assert_eq!(last.status, Status::Playing);
    assert!(last.paddles.left < first.paddles.left || last.paddles.left == 0.0);
    assert_eq!(last.players.left.as_deref(), Some("Player1"));
    left.close().await;
    right.close().await;
    handle.shutdown();
    handle.closed().await;
    Ok(())
}
