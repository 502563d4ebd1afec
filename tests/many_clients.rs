//! 1,000 concurrent clients each send and receive; nothing is lost.
mod common;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_send_and_receive_everything() {
    const CLIENTS: usize = 1000;
    const ROOM_SIZE: usize = 10;
    const ECHOES: usize = 5;
    let server = start_with(config().max_connections(CLIENTS)).await;
    let url = server.url();

    // Connect everyone and join rooms of ten.
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut c = Client::connect_url(&format!("{url}?name=u{i}")).await;
        c.send(
            "rooms.join",
            json!({"room": format!("room{}", i / ROOM_SIZE)}),
        )
        .await;
        clients.push(c);
    }
    for c in &mut clients {
        c.barrier().await;
    }
    assert_eq!(server.handle.connection_count(), CLIENTS);
    assert_eq!(server.handle.rooms().len(), CLIENTS / ROOM_SIZE);

    // Every client sends its echoes and one room message, concurrently.
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                let room = format!("room{}", i / ROOM_SIZE);
                for k in 0..ECHOES {
                    c.send("echo", json!({"text": format!("{i}-{k}")})).await;
                }
                c.send(
                    "rooms.say",
                    json!({"room": room, "text": format!("from {i}")}),
                )
                .await;
                let mut echoes = Vec::new();
                let mut says = Vec::new();
                while echoes.len() < ECHOES || says.len() < ROOM_SIZE {
                    let v = c.recv().await;
                    match v["type"].as_str() {
                        Some("onEcho") => {
                            echoes.push(v["payload"]["text"].as_str().unwrap().to_owned())
                        }
                        Some("rooms.onSay") => {
                            says.push(v["payload"]["text"].as_str().unwrap().to_owned())
                        }
                        _ => panic!("unexpected {v}"),
                    }
                }
                let expected: Vec<String> = (0..ECHOES).map(|k| format!("{i}-{k}")).collect();
                assert_eq!(echoes, expected, "own messages come back in order");
                says.sort();
                let base = (i / ROOM_SIZE) * ROOM_SIZE;
                let mut want: Vec<String> = (base..base + ROOM_SIZE)
                    .map(|j| format!("from {j}"))
                    .collect();
                want.sort();
                assert_eq!(says, want, "every room message arrives once");
                c
            })
        })
        .collect();
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("client task"));
    }
    // Nothing else is pending for anyone.
    for c in &mut clients {
        c.barrier().await;
    }
    drop(clients);
    server.stop().await;
}
