//! An adapter written outside zocket, with its public API only: it carries
//! `encode`d packets between two nodes over an in-process byte bus, routes
//! them by the typed `Packet` they are, and never reads zocket's own
//! messages (they are `Opaque`).
mod common;
use common::*;

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::broadcast;
use zocket::adapter::{
    Adapter, Inbox, NodeCount, Packet, Remote, RoomReady, Target, decode, encode,
};

/// One node's end of the bus; `seen` lists what it published, by kind.
struct ByteBus {
    node: u32,
    bus: broadcast::Sender<Vec<u8>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Adapter for ByteBus {
    fn node(&self) -> u32 {
        self.node
    }
    fn publish(&self, remote: Remote) {
        let kind = match &remote.packet {
            Packet::Delivery {
                target: Target::Rooms(rooms),
                text,
                ..
            } => format!("delivery to {rooms:?}: {text}"),
            Packet::Delivery { .. } => "delivery".to_owned(),
            Packet::Cluster { node, body } => format!("cluster for {node:?}: {body:?}"),
            Packet::Session(body) => format!("session: {body:?}"),
            Packet::Presence(body) => format!("presence: {body:?}"),
            other => format!("a kind this adapter does not know: {} bytes", other.len()),
        };
        self.seen.lock().unwrap().push(kind);
        let _ = self.bus.send(encode(&remote));
    }
    fn start(&self, inbox: Inbox) {
        let mut rx = self.bus.subscribe();
        tokio::spawn(async move {
            while let Ok(bytes) = rx.recv().await {
                let remote = decode(&bytes).expect("bytes from encode decode");
                if inbox.deliver(remote).is_none() {
                    break;
                }
            }
        });
    }
    fn open_room(&self, _: &str) -> RoomReady {
        RoomReady::now()
    }
    fn close_room(&self, _: &str) {}
    fn node_count(&self) -> NodeCount<'_> {
        Box::pin(async { Some(2) })
    }
}

#[tokio::test]
async fn a_third_party_adapter_routes_typed_packets_and_never_reads_zockets_own() {
    let (bus, _) = broadcast::channel(1024);
    let seen: [Arc<Mutex<Vec<String>>>; 2] = Default::default();
    let adapter = |node: u32| ByteBus {
        node,
        bus: bus.clone(),
        seen: seen[node as usize - 1].clone(),
    };
    let one = start_node(config(), Some(adapter(1))).await;
    let two = start_node(config(), Some(adapter(2))).await;
    let mut a = Client::connect(&one, "a").await;
    let mut b = Client::connect(&two, "b").await;
    for (x, who) in [(&mut a, "a"), (&mut b, "b")] {
        x.send("rooms.join", json!({"room": "lobby"})).await;
        x.barrier().await;
        assert_eq!(x.whoami().await.name, who);
    }
    let (aid, bid) = (a.whoami().await.id, b.whoami().await.id);
    assert_eq!((aid.node(), bid.node()), (1, 2));

    // A room send on node 1 reaches the member on node 2 through the bus.
    a.send(
        "rooms.say",
        json!({"room": "lobby", "text": "over the bus"}),
    )
    .await;
    let said = b.expect("rooms.onSay").await;
    assert_eq!(said["text"], "over the bus");
    assert_eq!(said["from"], aid.to_string());

    // A cluster question travels as zocket's own packets, answered by node 2.
    let mut members = one.handle.cluster().members("lobby").await.unwrap();
    members.sort();
    assert_eq!(members, [aid, bid]);

    let one_seen = seen[0].lock().unwrap().clone();
    let two_seen = seen[1].lock().unwrap().clone();
    assert!(
        one_seen
            .iter()
            .any(|k| k.starts_with(r#"delivery to ["lobby"]: {"type":"rooms.onSay""#)),
        "the delivery's target and text are the adapter's to read: {one_seen:?}"
    );
    let question = one_seen
        .iter()
        .find(|k| k.starts_with("cluster for None"))
        .expect("the question goes to every node");
    let answer = two_seen
        .iter()
        .find(|k| k.starts_with("cluster for Some(1)"))
        .expect("the answer goes to node 1 alone");
    for body in [question, answer] {
        assert!(
            body.contains(": Opaque(") && !body.contains('{'),
            "zocket's own message is opaque to the adapter: {body}"
        );
    }
    drop((a, b));
    one.stop().await;
    two.stop().await;
}
