//! Cluster-wide operations in the hub: questions one node asks the others
//! over the adapter (`Packet::Cluster` messages), the answers, and the
//! answering. The public face is `app::cluster`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::Hub;
use super::rooms::Joined;
use crate::engine::adapter::{Opaque, Packet, Remote};
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

/// What one node asks of the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Op {
    /// This node's members of a room.
    Members { room: String },
    /// The rooms of one of this node's clients.
    RoomsOf { client: ClientId },
    /// Make one of this node's clients join a room.
    Join { client: ClientId, room: String },
    /// Make one of this node's clients leave a room.
    Leave { client: ClientId, room: String },
    /// Close one of this node's clients' connection.
    Close {
        client: ClientId,
        code: u16,
        reason: String,
    },
    /// This node's open connections.
    Count,
}

/// A node's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Answer {
    Members(Vec<ClientId>),
    Rooms(Vec<String>),
    /// Whether the join, leave or close changed anything.
    Done(bool),
    /// The client is not connected to the node its id names.
    NotConnected,
    /// The client is in as many rooms as it may be.
    TooManyRooms,
    Count(usize),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Message {
    Ask { id: u64, from: u32, op: Op },
    Answer { id: u64, from: u32, answer: Answer },
}

/// Questions this node asked, waiting for their answers, by number.
#[derive(Default)]
pub(crate) struct Questions {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, mpsc::UnboundedSender<Answer>>>,
}

/// The answers a question got within its timeout.
pub(crate) struct Answers {
    pub(crate) answers: Vec<Answer>,
    /// How many nodes were to answer (this one excluded), when the adapter
    /// could tell.
    pub(crate) expected: Option<usize>,
}

impl Hub {
    /// This node's own answer to `op`.
    pub(crate) fn answer_here(&self, op: &Op) -> Answer {
        let connected = |id: ClientId| self.is_present(id);
        match op {
            Op::Members { room } => Answer::Members(self.members(room)),
            Op::Count => Answer::Count(self.connection_count()),
            Op::RoomsOf { client } if connected(*client) => Answer::Rooms(self.rooms_of(*client)),
            Op::Join { client, room } => match self.join(*client, room) {
                Joined::Member => Answer::Done(true),
                Joined::AlreadyMember => Answer::Done(false),
                Joined::Gone => Answer::NotConnected,
                Joined::TooManyRooms => Answer::TooManyRooms,
            },
            Op::Leave { client, room } if connected(*client) => {
                Answer::Done(self.leave(*client, room))
            }
            Op::Close {
                client,
                code,
                reason,
            } if connected(*client) => Answer::Done(self.close(*client, *code, reason.clone())),
            Op::RoomsOf { .. } | Op::Leave { .. } | Op::Close { .. } => Answer::NotConnected,
        }
    }

    /// Asks `node` (or, with `None`, every other node) and collects the
    /// answers that arrive within `timeout`: one from `node`, or as many as
    /// the adapter counts other nodes (all that come, when it cannot count).
    pub(crate) async fn ask_nodes(&self, node: Option<u32>, op: Op, timeout: Duration) -> Answers {
        let Some(adapter) = &self.adapter else {
            return Answers {
                answers: Vec::new(),
                expected: Some(0),
            };
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let expected = match node {
            Some(_) => Some(1),
            None => tokio::time::timeout_at(deadline, adapter.node_count())
                .await
                .ok()
                .flatten()
                .map(|n| n.saturating_sub(1)),
        };
        if expected == Some(0) {
            return Answers {
                answers: Vec::new(),
                expected,
            };
        }
        let id = self.questions.next.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock_unpoisoned(&self.questions.waiting).insert(id, tx);
        // Removes the entry however this future ends (also when dropped).
        struct Forget<'a>(&'a Questions, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                lock_unpoisoned(&self.0.waiting).remove(&self.1);
            }
        }
        let _forget = Forget(&self.questions, id);
        let body = Opaque::of(&Message::Ask {
            id,
            from: self.node,
            op,
        })
        .expect("a cluster question serializes");
        adapter.publish(Remote {
            origin: self.node,
            packet: Packet::Cluster { node, body },
        });
        let mut answers = Vec::new();
        while expected.is_none_or(|n| answers.len() < n) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(answer)) => answers.push(answer),
                Ok(None) | Err(_) => break,
            }
        }
        Answers { answers, expected }
    }

    /// A `Packet::Cluster` message from another node: answers a question,
    /// or hands an answer to the question waiting for it.
    pub(super) fn on_cluster_message(&self, body: &Opaque) {
        let Some(message) = body.read::<Message>() else {
            tracing::warn!(
                node = self.node,
                "ignoring a malformed cluster message from another node"
            );
            return;
        };
        match message {
            Message::Ask { id, from, op } => {
                let client = match &op {
                    Op::RoomsOf { client }
                    | Op::Join { client, .. }
                    | Op::Leave { client, .. }
                    | Op::Close { client, .. } => Some(*client),
                    Op::Members { .. } | Op::Count => None,
                };
                // A question about a client is for the node that issued its id.
                if client.is_some_and(|c| c.node() != self.node) {
                    return;
                }
                let answer = self.answer_here(&op);
                let Some(adapter) = &self.adapter else { return };
                let body = Opaque::of(&Message::Answer {
                    id,
                    from: self.node,
                    answer,
                })
                .expect("a cluster answer serializes");
                adapter.publish(Remote {
                    origin: self.node,
                    packet: Packet::Cluster {
                        node: Some(from),
                        body,
                    },
                });
            }
            Message::Answer { id, answer, .. } => {
                if let Some(tx) = lock_unpoisoned(&self.questions.waiting).get(&id) {
                    let _ = tx.send(answer);
                }
            }
        }
    }
}
