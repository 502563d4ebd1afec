//! Graceful shutdown: stop accepting, close every socket with 1001, run every
//! `on_disconnect`, then return.
mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn shutdown_closes_everyone_with_1001_and_runs_on_disconnect() {
    let server = start().await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(&server, &format!("c{i}")).await;
        c.send("rooms.join", json!({"room": format!("r{i}")})).await;
        c.barrier().await;
        clients.push(c);
    }
    let addr = server.addr;
    let handle = server.handle.clone();
    handle.shutdown();
    for c in &mut clients {
        assert_eq!(c.closed().await, Some(1001));
    }
    let mut gone = server.stop_collecting().await;
    gone.sort_by(|a, b| a.name.cmp(&b.name));
    let summary: Vec<(String, Vec<String>)> = gone.into_iter().map(|d| (d.name, d.rooms)).collect();
    assert_eq!(
        summary,
        [
            ("c0".to_owned(), vec!["r0".to_owned()]),
            ("c1".to_owned(), vec!["r1".to_owned()]),
            ("c2".to_owned(), vec!["r2".to_owned()]),
        ]
    );
    assert_eq!(handle.connection_count(), 0);
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_signal_future_stops_the_server() {
    let (app, _rx, _calls) = app(config());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.serve_with_shutdown(listener, async {
        let _ = rx.await;
    }));
    let mut c = Client::connect_url(&format!("ws://{addr}/?name=a")).await;
    c.barrier().await;
    tx.send(()).unwrap();
    assert_eq!(c.closed().await, Some(1001));
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
