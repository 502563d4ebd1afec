//! The hub's operations without sockets, for `benches/hub.rs` (not part of
//! the API): connections registered with their outboxes, and the four kinds
//! of delivery work a server does under the hub's locks, so the benchmark
//! measures the hub alone and how it scales with threads.

use std::collections::VecDeque;
use std::sync::Arc;

use tungstenite::Utf8Bytes;

use crate::engine::adapter::Target;
use crate::engine::config::Config;
use crate::engine::hub::{Hub, OutboxRef};
use crate::engine::metrics::Counters;
use crate::protocol::client_id::ClientId;

/// A hub with `connections` registered connections, connection `i` a
/// member of room `i % rooms`.
pub struct HubBench {
    hub: Arc<Hub>,
    ids: Vec<ClientId>,
    outboxes: Vec<OutboxRef>,
    rooms: Vec<String>,
}

impl HubBench {
    /// Registers the connections and their rooms. Queues are large enough
    /// for the benchmark's bursts between drains.
    pub fn new(connections: usize, rooms: usize) -> HubBench {
        let config = Config::default()
            .max_connections(connections + 1)
            .queue_len(1 << 16)
            .queue_bytes(1 << 26)
            .max_rooms_per_client(1 << 10);
        let hub = Hub::new(config, Counters::new(&[], false), None);
        let rooms: Vec<String> = (0..rooms.max(1)).map(|r| format!("room-{r}")).collect();
        let mut ids = Vec::with_capacity(connections);
        let mut outboxes = Vec::with_capacity(connections);
        for i in 0..connections {
            let registered = hub.register(None, 0).expect("room for every connection");
            hub.join(registered.id, &rooms[i % rooms.len()]);
            ids.push(registered.id);
            outboxes.push(registered.outbox);
        }
        HubBench {
            hub,
            ids,
            outboxes,
            rooms,
        }
    }

    /// How many connections.
    pub fn connections(&self) -> usize {
        self.ids.len()
    }

    /// How many rooms.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }

    /// A reply: `text` queued for connection `i` alone.
    pub fn reply(&self, i: usize, text: &Utf8Bytes) -> usize {
        self.hub.deliver_to([self.ids[i]], text, &[])
    }

    /// A room send: `text` queued for every member of room `r`.
    pub fn room_send(&self, r: usize, text: &Utf8Bytes) -> usize {
        self.hub.deliver_rooms([&self.rooms[r]], text, &[])
    }

    /// A join and a leave of connection `i` in a room of its own.
    pub fn join_leave(&self, i: usize) {
        let extra = format!("extra-{i}");
        self.hub.join(self.ids[i], &extra);
        self.hub.leave(self.ids[i], &extra);
    }

    /// A broadcast: `text` queued for every connection.
    pub fn broadcast(&self, text: &Utf8Bytes) -> usize {
        self.hub.deliver(Target::All, text, &[])
    }

    /// Wakes `waker` when connection `i`'s queue gets a message (once;
    /// register again after taking the queue), as a writer task's poll does.
    pub fn watch(&self, i: usize, waker: &std::task::Waker) {
        self.outboxes[i].waker.register(waker);
    }

    /// Empties connection `i`'s queue, as its writer would; how many messages it held.
    pub fn drain(&self, i: usize, scratch: &mut VecDeque<tungstenite::Message>) -> usize {
        scratch.clear();
        self.outboxes[i].take(scratch);
        scratch.len()
    }
}
