//! tests/handshake.rs through the test kit: the handshake checks, in memory.
mod common;
mod kit;
use common::*;
use kit::*;

#[tokio::test]
async fn query_string_and_headers_reach_on_connect() {
    let app = kit();
    let mut a = app.client("from query").await;
    assert_eq!(whoami(&mut a).await.name, "from query");
    let mut b = app
        .server
        .connect_with_headers(&[("name", "query")], &[("Name", "header")])
        .await
        .unwrap();
    assert_eq!(whoami(&mut b).await.name, "query", "the query wins");
    let mut c = app
        .server
        .connect_with_headers(&[], &[("NAME", "only-header")])
        .await
        .unwrap();
    assert_eq!(whoami(&mut c).await.name, "only-header");
}

#[tokio::test]
async fn missing_or_invalid_headers_get_400_with_details() {
    let app = kit();
    let refused = app
        .server
        .connect(Vec::<(String, String)>::new())
        .await
        .unwrap_err();
    assert_eq!(refused.status, 400);
    let body = refused.json();
    assert_eq!(body["error"], "Invalid headers");
    assert!(
        body["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("name"),
        "{body}"
    );
    let refused = app
        .server
        .connect([("name", "x".repeat(33))])
        .await
        .unwrap_err();
    assert_eq!(
        (refused.status, refused.json()["details"][0]["path"].clone()),
        (400, "name".into())
    );
    assert_eq!(
        app.server.handle().connection_count(),
        0,
        "no connection was opened"
    );
}

#[tokio::test]
async fn on_connect_rejections_get_401_and_403() {
    let app = kit();
    let refused = app.server.connect([("name", "anon")]).await.unwrap_err();
    assert_eq!(
        (refused.status, refused.json()["error"].clone()),
        (401, "who are you?".into())
    );
    let refused = app.server.connect([("name", "banned")]).await.unwrap_err();
    assert_eq!(
        (refused.status, refused.json()["error"].clone()),
        (403, "you are banned".into())
    );
    assert_eq!(app.server.handle().connection_count(), 0);
}

#[tokio::test]
async fn cross_site_origins_are_refused_when_an_allowlist_is_set() {
    let app = kit_with(config().allowed_origins(["https://good.example"]));
    let refused = app
        .server
        .connect_with_headers(&[("name", "a")], &[("Origin", "https://evil.example")])
        .await
        .unwrap_err();
    assert_eq!(
        (refused.status, refused.json()["error"].clone()),
        (403, "Origin not allowed".into())
    );
    let mut good = app
        .server
        .connect_with_headers(&[("name", "a")], &[("Origin", "https://good.example")])
        .await
        .unwrap();
    barrier(&mut good).await;
    let mut tool = app.client("b").await; // no Origin: not a browser
    barrier(&mut tool).await;
}

#[tokio::test]
async fn upgrades_happen_on_the_configured_path() {
    let app = kit_with(config().path("/ws"));
    let mut c = app.client("a").await;
    assert_eq!(whoami(&mut c).await.name, "a");
}

#[tokio::test]
async fn a_full_server_answers_503() {
    let app = kit_with(config().max_connections(2));
    let (mut a, mut b) = (app.client("a").await, app.client("b").await);
    barrier(&mut a).await;
    barrier(&mut b).await;
    let refused = app.server.connect([("name", "c")]).await.unwrap_err();
    assert_eq!(
        (refused.status, refused.json()["error"].clone()),
        (503, "Server is full".into())
    );
    a.close().await;
    let mut c = loop {
        // The slot frees once the server has finished a's connection.
        match app.server.connect([("name", "c")]).await {
            Ok(c) => break c,
            Err(r) => assert_eq!(r.status, 503),
        }
        tokio::task::yield_now().await;
    };
    barrier(&mut c).await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_dropped_after_two_heartbeat_intervals_in_virtual_time() {
    let mut app = kit_with(config().heartbeat(Some(std::time::Duration::from_secs(30))));
    let start = tokio::time::Instant::now();
    let _quiet = app.client("quiet").await; // reads nothing, so answers no ping
    let gone = tokio::time::timeout(std::time::Duration::from_secs(600), app.disconnects.recv())
        .await
        .expect("the server ends the silent connection")
        .unwrap();
    assert_eq!(gone.name, "quiet");
    let after = start.elapsed().as_secs();
    assert!(
        (60..=100).contains(&after),
        "ended after {after} virtual seconds"
    );
}
