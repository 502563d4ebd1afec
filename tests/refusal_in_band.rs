//! Refusals told on the socket (`zocket-refusal=message`), the welcome every
//! such client gets, and the `$zocket.ping` liveness route, over real sockets.
mod common;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects with `query` and the in-band parameter; the upgrade always succeeds.
async fn open(server: &Server, query: &str) -> Ws {
    let url = format!("{}?{query}&zocket-refusal=message", server.url());
    tokio_tungstenite::connect_async(url)
        .await
        .expect("a client that asks for in-band refusals is upgraded")
        .0
}

/// The next text frame as JSON, or the close frame's code and reason.
async fn next(ws: &mut Ws) -> Result<Value, (u16, String)> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("within the wait")
            .expect("a frame")
            .expect("no error");
        match msg {
            Message::Text(t) => return Ok(serde_json::from_str(&t).unwrap()),
            Message::Close(Some(f)) => return Err((u16::from(f.code), f.reason.to_string())),
            Message::Close(None) => return Err((1005, String::new())),
            _ => {}
        }
    }
}

/// The refusal frame, then the close: (payload, close code, close reason).
async fn refused(ws: &mut Ws) -> (Value, u16, String) {
    let frame = next(ws).await.expect("the refusal comes first");
    assert_eq!(frame["type"], "$zocket.error", "{frame}");
    let (code, reason) = next(ws).await.expect_err("then the close");
    // Sends our close reply (tungstenite queued it when it read the close).
    let _ = ws.flush().await;
    (frame["payload"].clone(), code, reason)
}

#[tokio::test]
async fn on_connect_refusals_arrive_in_band_with_status_and_a_4xxx_close() {
    let server = start().await;
    let mut ws = open(&server, "name=anon").await;
    let (payload, code, reason) = refused(&mut ws).await;
    assert_eq!(payload["kind"], "refused");
    assert_eq!(payload["status"], 401);
    assert_eq!(payload["message"], "who are you?");
    assert_eq!((code, reason.as_str()), (4401, "who are you?"));

    let mut ws = open(&server, "name=banned").await;
    let (payload, code, _) = refused(&mut ws).await;
    assert_eq!((payload["status"].as_u64(), code), (Some(403), 4403));
    assert_eq!(payload["message"], "you are banned");
    // Nobody was let in, and each counts as a refused handshake.
    assert_eq!(server.handle.connection_count(), 0);
    assert_eq!(server.handle.metrics().handshakes_refused, 2);
    server.stop().await;
}

#[tokio::test]
async fn invalid_handshake_data_in_band_names_the_field() {
    let server = start().await;
    let long = "x".repeat(33);
    let mut ws = open(&server, &format!("name={long}")).await;
    let (payload, code, _) = refused(&mut ws).await;
    assert_eq!((payload["status"].as_u64(), code), (Some(400), 4400));
    assert_eq!(payload["message"], "Invalid headers");
    assert_eq!(payload["details"][0]["path"], "name", "{payload}");
    server.stop().await;
}

#[tokio::test]
async fn a_full_server_refuses_in_band_with_503() {
    let server = start_with(config().max_connections(1)).await;
    let mut first = open(&server, "name=a").await;
    assert_eq!(next(&mut first).await.unwrap()["type"], "$zocket.welcome");
    let mut second = open(&server, "name=b").await;
    let (payload, code, reason) = refused(&mut second).await;
    assert_eq!((payload["status"].as_u64(), code), (Some(503), 4503));
    assert_eq!(reason, "Server is full");
    server.stop().await;
}

#[tokio::test]
async fn without_the_parameter_refusals_stay_plain_http() {
    let server = start().await;
    let err = tokio_tungstenite::connect_async(format!("{}?name=anon", server.url()))
        .await
        .unwrap_err();
    match err {
        tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 401),
        other => panic!("unexpected {other:?}"),
    }
    // Another value than `message` is not a request for in-band refusals.
    let url = format!("{}?name=anon&zocket-refusal=yes", server.url());
    assert!(matches!(
        tokio_tungstenite::connect_async(url).await,
        Err(tungstenite::Error::Http(r)) if r.status() == 401
    ));
    // The parameter is zocket's own: it never reaches the app's headers type.
    let mut ws = open(&server, "name=alice").await;
    let welcome = next(&mut ws).await.unwrap();
    assert_eq!(welcome["type"], "$zocket.welcome");
    server.stop().await;
}

#[tokio::test]
async fn an_accepted_in_band_client_is_welcomed_first_with_its_id_and_no_token_without_recovery() {
    let server = start().await;
    let mut ws = open(&server, "name=alice").await;
    let welcome = next(&mut ws).await.unwrap();
    assert_eq!(welcome["type"], "$zocket.welcome");
    assert_eq!(welcome["payload"]["recovered"], false);
    assert!(welcome["payload"].get("token").is_none(), "{welcome}");
    let id = welcome["payload"]["clientId"].as_str().unwrap().to_owned();
    ws.send(Message::text(
        json!({"type": "whoami", "payload": null}).to_string(),
    ))
    .await
    .unwrap();
    let whoami = next(&mut ws).await.unwrap();
    assert_eq!(
        whoami["payload"]["id"],
        id.as_str(),
        "the welcome's id is the connection's"
    );
    // A plain client (no parameter) still gets no welcome: its first frame is the answer.
    let mut plain = Client::connect(&server, "bob").await;
    assert_eq!(plain.whoami().await.name, "bob");
    server.stop().await;
}

#[tokio::test]
async fn ping_is_answered_with_pong_without_reaching_routes_or_metrics() {
    let server = start().await;
    let mut ws = open(&server, "name=alice").await;
    next(&mut ws).await.unwrap(); // welcome
    for payload in [json!(null), json!({"t": 1})] {
        ws.send(Message::text(
            json!({"type": "$zocket.ping", "payload": payload}).to_string(),
        ))
        .await
        .unwrap();
        let pong = next(&mut ws).await.unwrap();
        assert_eq!(pong, json!({"type": "$zocket.pong", "payload": null}));
    }
    // A ping without a payload is one too; it is answered in its place among the messages.
    ws.send(Message::text(r#"{"type":"$zocket.ping"}"#))
        .await
        .unwrap();
    ws.send(Message::text(
        json!({"type": "whoami", "payload": null}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await.unwrap()["type"], "$zocket.pong");
    assert_eq!(next(&mut ws).await.unwrap()["type"], "onWhoami");
    let metrics = server.handle.metrics();
    assert!(
        metrics
            .messages_in
            .keys()
            .all(|route| !route.starts_with('$')),
        "{:?}",
        metrics.messages_in
    );
    assert!(
        metrics.errors.values().all(|n| *n == 0),
        "{:?}",
        metrics.errors
    );
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await
    .unwrap();
    server.stop().await;
}
