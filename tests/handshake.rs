//! The HTTP side: headers and query string validated into the headers type,
//! `on_connect` rejections, Origin allowlist, plain HTTP requests.
mod common;
use common::*;
use serde_json::Value;

#[tokio::test]
async fn query_string_and_headers_reach_on_connect() {
    let server = start().await;
    // As a query parameter (what browsers and Zocket clients send)...
    let mut a = Client::connect_url(&format!("{}?name=from%20query", server.url())).await;
    assert_eq!(a.whoami().await.name, "from query");
    // ...or as a real header, and the query wins when both are given.
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("{}?name=query", server.url())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("Name", "header".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut b = Client { ws };
    assert_eq!(b.whoami().await.name, "query");
    let mut req = server.url().into_client_request().unwrap();
    req.headers_mut()
        .insert("NAME", "only-header".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut c = Client { ws };
    assert_eq!(c.whoami().await.name, "only-header");
    server.stop().await;
}

#[tokio::test]
async fn missing_or_invalid_headers_get_400_with_details() {
    let server = start().await;
    let (status, body) = http(server.addr, &upgrade_request("/", "")).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "Invalid headers");
    assert!(
        body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("name"),
        "{body}"
    );

    let long = "x".repeat(33);
    let (status, body) = http(server.addr, &upgrade_request(&format!("/?name={long}"), "")).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["details"][0]["path"], "name", "{body}");
    assert_eq!(server.handle.connection_count(), 0, "no socket was opened");
    server.stop().await;
}

#[tokio::test]
async fn on_connect_rejections_get_401_and_403() {
    let server = start().await;
    let (status, body) = http(server.addr, &upgrade_request("/?name=anon", "")).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "who are you?"
    );
    let (status, body) = http(server.addr, &upgrade_request("/?name=banned", "")).await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "you are banned"
    );
    // tungstenite's client sees the refusal as an HTTP error.
    let err = tokio_tungstenite::connect_async(format!("{}?name=banned", server.url()))
        .await
        .unwrap_err();
    match err {
        tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 403),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.handle.connection_count(), 0);
    server.stop().await;
}

#[tokio::test]
async fn cross_site_origins_are_refused_when_an_allowlist_is_set() {
    let server = start_with(config().allowed_origins(["https://good.example"])).await;
    let (status, body) = http(
        server.addr,
        &upgrade_request("/?name=a", "Origin: https://evil.example\r\n"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "Origin not allowed"
    );
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("{}?name=a", server.url())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Origin", "https://good.example".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut good = Client { ws };
    good.barrier().await;
    // Non-browser clients send no Origin and are not affected.
    let mut tool = Client::connect(&server, "b").await;
    tool.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn plain_http_gets_426_a_page_or_a_health_check() {
    let server = start_with(
        config()
            .path("/ws")
            .page("/", "text/html; charset=utf-8", "<h1>chat</h1>")
            .health_check("/health"),
    )
    .await;
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(http(server.addr, &get("/ws")).await.0, 426);
    assert_eq!(
        http(server.addr, &get("/")).await,
        (200, "<h1>chat</h1>".into())
    );
    let (status, body) = http(server.addr, &get("/health")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "ok"
    );
    assert_eq!(http(server.addr, &get("/nope")).await.0, 404);
    // Upgrades only on the configured path.
    assert_eq!(
        http(server.addr, &upgrade_request("/other?name=a", ""))
            .await
            .0,
        404
    );
    let mut c = Client::connect_url(&format!("ws://{}/ws?name=a", server.addr)).await;
    assert_eq!(c.whoami().await.name, "a");
    // Garbage is answered, not fatal.
    assert_eq!(
        http(server.addr, "\x00\x01\x02 nonsense\r\n\r\n").await.0,
        400
    );
    server.stop().await;
}

#[tokio::test]
async fn a_full_server_answers_503() {
    let server = start_with(config().max_connections(2)).await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    a.barrier().await;
    b.barrier().await;
    assert_eq!(
        http(server.addr, &upgrade_request("/?name=c", "")).await.0,
        503
    );
    drop(a);
    // Once a leaves, there is room again.
    let mut server = server;
    server.next_disconnect().await;
    let mut c = Client::connect(&server, "c").await;
    c.barrier().await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_request_heads_get_431() {
    let server = start().await;
    let many: String = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, body) = http(server.addr, &upgrade_request("/?name=a", &many)).await;
    assert_eq!(status, 431);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "Too many headers"
    );
    let huge = format!("X-Big: {}\r\n", "b".repeat(20 * 1024));
    let (status, body) = http(server.addr, &upgrade_request("/?name=a", &huge)).await;
    assert_eq!(status, 431);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "Request head too large"
    );
    let mut ok = Client::connect(&server, "ok").await;
    ok.barrier().await;
    server.stop().await;
}

/// `on_connect` with `()` headers needs no handshake data: every handshake is
/// accepted, whatever headers and query parameters it carries.
#[tokio::test]
async fn unit_headers_accept_every_handshake() {
    use zocket::{Ctx, HandlerResult, Incoming, Outgoing, Zocket};
    struct Ping;
    impl Incoming for Ping {
        const NAME: &'static str = "ping";
        type Payload = ();
    }
    struct Pong;
    impl Outgoing for Pong {
        const NAME: &'static str = "pong";
        type Payload = ();
    }
    type R = (Ping, (Pong, ()));
    async fn ping(_: (), ctx: Ctx<R, u32>) -> HandlerResult {
        assert_eq!(*ctx.data(), 7);
        ctx.reply(Pong, ())?;
        Ok(())
    }
    let app = Zocket::<R>::builder()
        .on_connect(|_: (), _id| async { Ok(7u32) })
        .on(Ping, ping)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = app.handle();
    let served = tokio::spawn(app.serve_listener(listener));
    for target in ["/", "/?name=x&token=y", "/?=&&x"] {
        let mut client = Client::connect_url(&format!("ws://{addr}{target}")).await;
        client.send("ping", Value::Null).await;
        assert_eq!(client.expect("pong").await["payload"], Value::Null);
    }
    handle.shutdown();
    served.await.unwrap().unwrap();
}
