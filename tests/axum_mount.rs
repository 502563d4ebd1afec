//! A zocket app mounted on a route of an axum Router: same handshake rules,
//! same protocol, and state shared with the rest of the axum app.
#![cfg(feature = "axum")]

mod common;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use common::*;
use serde_json::{Value, json};
use zocket::{Ctx, HandlerResult, Incoming, Zocket};

/// Serves `router` on a free port; returns the address.
async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

#[tokio::test]
async fn the_mounted_app_speaks_the_protocol_with_the_same_handshake_rules() {
    let (app, _disconnects, _calls) = app(config());
    let handle = app.handle();
    let router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "an axum page" }))
        .route("/ws", app.axum_route());
    let addr = serve(router).await;

    // axum's own routes still work.
    assert_eq!(
        http(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .await,
        (200, "an axum page".into())
    );
    // Plain HTTP to the zocket route: 426.
    assert_eq!(
        http(
            addr,
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .await
        .0,
        426
    );
    // Invalid headers: 400 with details; on_connect refusal: 401.
    let (status, body) = http(addr, &upgrade_request("/ws", "")).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "Invalid headers");
    assert_eq!(body["details"][0]["path"], "name");
    assert_eq!(
        http(addr, &upgrade_request("/ws?name=anon", "")).await.0,
        401
    );

    // A real client: request/reply, errors, rooms.
    let mut a = Client::connect_url(&format!("ws://{addr}/ws?name=alice")).await;
    let mut b = Client::connect_url(&format!("ws://{addr}/ws?name=bob")).await;
    assert_eq!(a.whoami().await.name, "alice");
    a.send("echo", json!({"text": ""})).await;
    a.expect_error("validation_failed").await;
    b.barrier().await;
    a.send("broadcast", json!({"text": "to all"})).await;
    assert_eq!(a.expect("onBroadcast").await["text"], "to all");
    assert_eq!(b.expect("onBroadcast").await["text"], "to all");
    assert_eq!(handle.connection_count(), 2);

    // The handle's shutdown closes connections served through axum too.
    handle.shutdown();
    assert_eq!(a.closed().await, Some(1001));
    assert_eq!(b.closed().await, Some(1001));
}

struct Bump;
impl Incoming for Bump {
    const NAME: &'static str = "bump";
    type Payload = ();
}
type BumpRouter = (Bump, ());

#[tokio::test]
async fn zocket_handlers_and_axum_handlers_share_state() {
    let counter = Arc::new(AtomicUsize::new(0));
    let in_zocket = counter.clone();
    let zocket_app = Zocket::<BumpRouter>::builder()
        .on(Bump, move |_: (), _: Ctx<BumpRouter>| {
            let counter = in_zocket.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                HandlerResult::Ok(())
            }
        })
        .build()
        .unwrap();
    let router = axum::Router::new()
        .route(
            "/count",
            axum::routing::get(|State(c): State<Arc<AtomicUsize>>| async move {
                c.load(Ordering::SeqCst).to_string()
            }),
        )
        .route("/ws", zocket_app.axum_route())
        .with_state(counter.clone());
    let addr = serve(router).await;
    let mut c = Client::connect_url(&format!("ws://{addr}/ws")).await;
    for _ in 0..3 {
        c.send("bump", Value::Null).await;
    }
    // An unknown route is answered with an error, after the three bumps (in order).
    c.send("nope", Value::Null).await;
    c.expect_error("unknown_route").await;
    let (status, body) = http(
        addr,
        "GET /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "3"));
}
