//! Long-lived authenticated sessions over real sockets: credentials computed
//! anew at every reconnect, re-authentication without reconnecting before a
//! token expires, the close codes of a refused re-authentication (4003) and
//! of a missed expiry (4001), and a client noticing a stopped server
//! (SIGSTOP) by its own heartbeat and coming back when it resumes (SIGCONT).
mod chat_process;
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_process::ChatProcess;
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use zocket::{
    ClientId, ConnState, Ctx, HandlerResult, Incoming, Outgoing, Reject, ServerHandle, Zocket,
};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Deserialize, Validate)]
struct Token {
    #[garde(length(min = 1, max = 64))]
    token: String,
}

/// What a handler sees of the connection's credentials.
#[derive(Debug, Clone, Serialize, Deserialize, Validate)]
struct Claims {
    #[garde(skip)]
    token: String,
    #[garde(skip)]
    ttl_ms: u64,
}

struct WhoAmI;
impl Incoming for WhoAmI {
    const NAME: &'static str = "whoami";
    type Payload = ();
}
struct OnClaims;
impl Outgoing for OnClaims {
    const NAME: &'static str = "onClaims";
    type Payload = Claims;
}
type Router = (WhoAmI, (OnClaims, ()));

async fn whoami(_: (), ctx: Ctx<Router, Claims>) -> HandlerResult {
    ctx.reply(OnClaims, ctx.data().clone())?;
    Ok(())
}

/// The tokens the server accepts now, each with its lifetime.
type Valid = Arc<Mutex<std::collections::HashMap<String, Duration>>>;

fn check(valid: &Valid, token: &str) -> Result<Claims, Reject> {
    let ttl = *valid
        .lock()
        .unwrap()
        .get(token)
        .ok_or_else(|| Reject::unauthorized("token not valid"))?;
    Ok(Claims {
        token: token.to_owned(),
        ttl_ms: ttl.as_millis() as u64,
    })
}

struct Server {
    url: String,
    handle: ServerHandle<Router>,
    /// The id of every accepted connection (`on_connect`), in order.
    connected: mpsc::UnboundedReceiver<ClientId>,
}

async fn start(valid: Valid, expiring: bool) -> Server {
    let (tx, connected) = mpsc::unbounded_channel();
    let (v1, v2) = (valid.clone(), valid);
    let builder = Zocket::<Router>::builder()
        .on_connect(move |t: Token, id| {
            let (valid, tx) = (v1.clone(), tx.clone());
            async move {
                let claims = check(&valid, &t.token)?;
                let _ = tx.send(id);
                Ok(claims)
            }
        })
        .on_reauth(move |t: Token, _id, _old: Claims| {
            let valid = v2.clone();
            async move { check(&valid, &t.token) }
        });
    let builder = if expiring {
        builder.expires(|c: &Claims| Some(Duration::from_millis(c.ttl_ms)))
    } else {
        builder
    };
    let app = builder.on(WhoAmI, whoami).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = app.handle();
    tokio::spawn(app.serve_listener(listener));
    Server {
        url,
        handle,
        connected,
    }
}

impl Server {
    async fn next_connection(&mut self) -> ClientId {
        tokio::time::timeout(WAIT, self.connected.recv())
            .await
            .expect("a connection within the wait")
            .unwrap()
    }
}

/// Asks the server who this client is, as its handlers see it.
async fn claims(client: &zocket::Client<Router>) -> Claims {
    let mut answers = client.stream(OnClaims);
    client.send(WhoAmI, ()).unwrap();
    use futures_util::StreamExt;
    tokio::time::timeout(WAIT, answers.next())
        .await
        .expect("an answer")
        .unwrap()
}

async fn wait_for(client: &zocket::Client<Router>, pred: impl Fn(ConnState) -> bool) {
    let mut states = client.state_changes();
    tokio::time::timeout(WAIT, states.wait_for(|s| pred(*s)))
        .await
        .expect("the state within the wait")
        .unwrap();
}

fn valid(tokens: &[(&str, Duration)]) -> Valid {
    Arc::new(Mutex::new(
        tokens.iter().map(|(t, d)| (t.to_string(), *d)).collect(),
    ))
}

#[tokio::test]
async fn a_token_that_expired_while_away_is_replaced_by_the_provider_at_reconnect() {
    let hour = Duration::from_secs(3600);
    let tokens = valid(&[("first", hour)]);
    let mut server = start(tokens.clone(), false).await;
    let current = Arc::new(Mutex::new("first".to_owned()));
    let provider = current.clone();
    let client = zocket::Client::<Router>::connect(&server.url)
        .headers_with(move || {
            let token = provider.lock().unwrap().clone();
            async move { Ok::<_, String>([("token", token)]) }
        })
        .await
        .expect("connects with the first token");
    let first = server.next_connection().await;
    assert_eq!(claims(&client).await.token, "first");

    // While the connection is down, the first token expires and a new one
    // is issued; a fixed header would be refused at every reconnect now.
    *tokens.lock().unwrap() = [("second".to_owned(), hour)].into();
    *current.lock().unwrap() = "second".to_owned();
    server.handle.close(first, 1012, "restarting");
    wait_for(&client, |s| matches!(s, ConnState::Reconnecting { .. })).await;
    wait_for(&client, |s| s == ConnState::Open).await;
    let second = server.next_connection().await;
    assert_ne!(first, second);
    assert_eq!(claims(&client).await.token, "second");
    client.close().await;
}

#[tokio::test]
async fn a_failing_provider_is_a_typed_connect_error() {
    let server = start(valid(&[]), false).await;
    let err = zocket::Client::<Router>::connect(&server.url)
        .headers_with(|| async { Err::<[(&str, &str); 0], _>("the identity provider is down") })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, zocket::ConnectError::Credentials(m) if m.contains("identity provider")),
        "{err}"
    );
}

#[tokio::test]
async fn a_two_second_token_is_refreshed_in_place_and_handlers_see_the_new_claims() {
    let two = Duration::from_secs(2);
    let tokens = valid(&[]);
    let mut server = start(tokens.clone(), true).await;
    // Every call of the provider issues the next token (valid for 2 s).
    let issued = Arc::new(AtomicU32::new(0));
    let (tokens2, issued2) = (tokens.clone(), issued.clone());
    let client = zocket::Client::<Router>::connect(&server.url)
        .headers_with(move || {
            let n = issued2.fetch_add(1, Ordering::SeqCst) + 1;
            let token = format!("t{n}");
            tokens2.lock().unwrap().insert(token.clone(), two);
            async move { Ok::<_, String>([("token", token)]) }
        })
        .await
        .expect("connects");
    server.next_connection().await;
    let mut states = client.state_changes();
    let started = Instant::now();
    // The scenario itself: six seconds of a connection whose token lasts two.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(started.elapsed() >= Duration::from_secs(6));
    assert_eq!(client.state(), ConnState::Open);
    assert!(
        !states.has_changed().unwrap(),
        "the connection never dropped: {:?}",
        *states.borrow_and_update()
    );
    assert!(
        server.connected.try_recv().is_err(),
        "no second handshake: the token was refreshed in place"
    );
    let now = claims(&client).await;
    let n = issued.load(Ordering::SeqCst);
    assert!(n >= 4, "refreshed about every second: {n} tokens");
    assert_eq!(now.token, format!("t{n}"), "handlers see the latest claims");
    client.close().await;
}

#[tokio::test]
async fn a_refused_reauth_closes_with_4003_and_a_missed_expiry_with_4001() {
    let tokens = valid(&[("short", Duration::from_millis(1200))]);
    let server = start(tokens, true).await;

    // Warned, answers with a token the server refuses.
    let mut c = common::Client::connect_url(&format!("{}?token=short", server.url)).await;
    let warning = c.expect("$zocket.expiring").await;
    let left = warning["expiresInMs"].as_u64().unwrap();
    assert!(left > 0 && left <= 1200, "{warning}");
    c.send_raw(
        &json!({"type": "$zocket.auth", "payload": {"token": "forged"}, "id": 1}).to_string(),
    )
    .await;
    let error = c.expect_error("rejected").await;
    assert_eq!(error["id"], 1);
    assert_eq!(error["route"], "$zocket.auth");
    assert_eq!(c.closed().await, Some(4003));

    // Warned, does nothing: closed at the expiry.
    let mut c = common::Client::connect_url(&format!("{}?token=short", server.url)).await;
    c.expect("$zocket.expiring").await;
    assert_eq!(c.closed().await, Some(4001));

    // A client that answers the warning in time stays.
    let mut c = common::Client::connect_url(&format!("{}?token=short", server.url)).await;
    c.expect("$zocket.expiring").await;
    c.send_raw(
        &json!({"type": "$zocket.auth", "payload": {"token": "short"}, "id": "r1"}).to_string(),
    )
    .await;
    let reply = c.recv().await;
    assert_eq!(
        reply,
        json!({"type": "$zocket.reply", "id": "r1", "payload": null})
    );
    c.send("whoami", json!(null)).await;
    assert_eq!(c.expect("onClaims").await["token"], "short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_noticed_by_the_heartbeat_and_rejoined_when_it_resumes() {
    let chat = ChatProcess::start().await;
    let every = Duration::from_millis(300);
    let timeout = Duration::from_secs(1);
    let client = zocket::Client::<()>::connect(format!("ws://{}/ws?name=sleeper", chat.addr))
        .heartbeat(every, timeout)
        .await
        .expect("connects");
    let mut states = client.state_changes();
    chat.signal("STOP");
    let stopped = Instant::now();
    tokio::time::timeout(
        WAIT,
        states.wait_for(|s| matches!(s, ConnState::Reconnecting { .. })),
    )
    .await
    .expect("the client notices")
    .unwrap();
    let noticed = stopped.elapsed();
    // Silence for `timeout`, noticed at the next tick (one more `every`).
    let bound = timeout + every + Duration::from_millis(500);
    assert!(
        noticed <= bound,
        "noticed after {noticed:?} (bound {bound:?})"
    );
    chat.signal("CONT");
    tokio::time::timeout(
        Duration::from_secs(20),
        states.wait_for(|s| *s == ConnState::Open),
    )
    .await
    .expect("reconnected once the server resumed")
    .unwrap();
    println!("a stopped server was noticed after {noticed:?}");
    client.close().await;
    chat.kill().await;
}

/// `on_reauth` and `expires` set before `on_connect` are kept (they were
/// dropped once): written for data `()`, the re-authentication checks the
/// credentials and keeps the data `on_connect` made, and the expiry applies
/// to every connection.
#[tokio::test]
async fn reauth_and_expiry_set_before_on_connect_are_kept() {
    let tokens = valid(&[("good", Duration::from_secs(60))]);
    let (v1, v2) = (tokens.clone(), tokens);
    let app = Zocket::<Router>::builder()
        .on_reauth(move |t: Token, _id, (): ()| {
            let valid = v2.clone();
            async move { check(&valid, &t.token).map(|_| ()) }
        })
        .expires(|(): &()| Some(Duration::from_millis(1500)))
        .on_connect(move |t: Token, _id| {
            let valid = v1.clone();
            async move { check(&valid, &t.token) }
        })
        .on(WhoAmI, whoami)
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/?token=good", listener.local_addr().unwrap());
    tokio::spawn(app.serve_listener(listener));

    // The expiry set first applies: warned, then closed with 4001.
    let mut c = common::Client::connect_url(&url).await;
    c.expect("$zocket.expiring").await;
    assert_eq!(c.closed().await, Some(4001));

    // The re-authentication set first runs: a good token is accepted and the
    // data stays what on_connect made; a forged one closes with 4003.
    let mut c = common::Client::connect_url(&url).await;
    c.send_raw(&json!({"type": "$zocket.auth", "payload": {"token": "good"}, "id": 1}).to_string())
        .await;
    assert_eq!(
        c.recv().await,
        json!({"type": "$zocket.reply", "id": 1, "payload": null})
    );
    c.send("whoami", json!(null)).await;
    assert_eq!(c.expect("onClaims").await["token"], "good");
    c.send_raw(
        &json!({"type": "$zocket.auth", "payload": {"token": "forged"}, "id": 2}).to_string(),
    )
    .await;
    assert_eq!(c.expect_error("rejected").await["id"], 2);
    assert_eq!(c.closed().await, Some(4003));
}
