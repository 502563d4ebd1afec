//! Presence across nodes: each node tells the others about its own
//! connections' entries, says it is alive, and drops the entries of nodes
//! that fell silent.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::engine::hub::Hub;
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

use super::store::{Presence, PresenceMeta};

/// What nodes tell each other about one presence (its diff route names it).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Wire {
    /// A connection of `node` is tracked (or its metadata changed).
    Track {
        route: String,
        node: u32,
        room: String,
        key: String,
        conn: ClientId,
        meta: serde_json::Value,
    },
    /// A connection of `node` left `room` (every key).
    Untrack {
        route: String,
        node: u32,
        room: String,
        conn: ClientId,
    },
    /// A session of `node` ended: all its entries go.
    Gone {
        route: String,
        node: u32,
        conn: ClientId,
    },
    /// `node` is alive (sent every third of the node timeout).
    Alive { route: String, node: u32 },
}

impl Wire {
    fn route_and_node(&self) -> (&str, u32) {
        match self {
            Wire::Track { route, node, .. }
            | Wire::Untrack { route, node, .. }
            | Wire::Gone { route, node, .. }
            | Wire::Alive { route, node } => (route, *node),
        }
    }
}

impl<M: PresenceMeta> Presence<M> {
    /// Attaches to an app: diffs go out on `route` through `hub`, and a
    /// session's entries go when it ends.
    pub(crate) fn attach(&self, route: String, hub: &Arc<Hub>) {
        if self
            .inner
            .attached
            .set((route, Arc::downgrade(hub)))
            .is_err()
        {
            tracing::warn!("a presence was attached to a second app; it keeps the first");
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        hub.on_gone(Arc::new(move |id| {
            if let Some(inner) = weak.upgrade() {
                Presence { inner }.untrack_all(id);
            }
        }));
        if hub.clustered() {
            let weak = Arc::downgrade(&self.inner);
            hub.on_presence_message(Arc::new(move |text| {
                if let Some(inner) = weak.upgrade() {
                    Presence { inner }.on_remote(text);
                }
            }));
            self.ensure_ticking();
        }
    }

    /// Tells the other nodes (with an adapter).
    pub(super) fn replicate(&self, wire: impl FnOnce(String, u32) -> Wire) {
        let Some((route, hub)) = self.hub() else {
            return;
        };
        if !hub.clustered() {
            return;
        }
        self.ensure_ticking();
        if let Ok(text) = serde_json::to_string(&wire(route, hub.node)) {
            hub.publish_presence(text);
        }
    }

    /// Starts the heartbeat and the sweep of silent nodes (once, inside a runtime).
    fn ensure_ticking(&self) {
        if tokio::runtime::Handle::try_current().is_err()
            || self.inner.ticking.swap(true, Ordering::SeqCst)
        {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let presence = Presence { inner };
                let Some((route, hub)) = presence.hub() else {
                    return;
                };
                let every = presence.timeout() / 3;
                if let Ok(text) = serde_json::to_string(&Wire::Alive {
                    route,
                    node: hub.node,
                }) {
                    hub.publish_presence(text);
                }
                presence.sweep();
                drop((presence, hub));
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Removes the entries of nodes silent for longer than the node timeout;
    /// this node's members get the diffs (each node tells its own).
    fn sweep(&self) {
        let timeout = self.timeout();
        let silent: Vec<u32> = {
            let seen = lock_unpoisoned(&self.inner.last_seen);
            seen.iter()
                .filter(|(_, at)| at.elapsed() > timeout)
                .map(|(n, _)| *n)
                .collect()
        };
        for node in silent {
            lock_unpoisoned(&self.inner.last_seen).remove(&node);
            let conns: Vec<ClientId> = lock_unpoisoned(&self.inner.state)
                .by_conn
                .keys()
                .filter(|c| c.node() == node)
                .copied()
                .collect();
            if !conns.is_empty() {
                tracing::warn!(
                    node,
                    entries = conns.len(),
                    "a node went silent; its presence entries are removed"
                );
            }
            for conn in conns {
                for diff in self.remove(conn, |_| true) {
                    self.publish_here(&diff);
                }
            }
        }
    }

    /// A message from another node.
    fn on_remote(&self, text: &str) {
        let Ok(wire) = serde_json::from_str::<Wire>(text) else {
            tracing::warn!("ignoring a malformed presence message from another node");
            return;
        };
        let Some((route, _hub)) = self.hub() else {
            return;
        };
        let (their_route, node) = wire.route_and_node();
        if their_route != route {
            return;
        }
        let new_node = lock_unpoisoned(&self.inner.last_seen)
            .insert(node, Instant::now())
            .is_none();
        self.ensure_ticking();
        if new_node {
            // A node we did not know: tell it what is tracked here.
            self.send_snapshot();
        }
        match wire {
            Wire::Track {
                room,
                key,
                conn,
                meta,
                ..
            } => {
                let Ok(meta) = serde_json::from_value::<M>(meta) else {
                    return;
                };
                let mut state = lock_unpoisoned(&self.inner.state);
                let entries = state
                    .rooms
                    .entry(room.clone())
                    .or_default()
                    .entry(key.clone())
                    .or_default();
                match entries.iter_mut().find(|(c, _)| *c == conn) {
                    Some(entry) => entry.1 = meta,
                    None => entries.push((conn, meta)),
                }
                state.by_conn.entry(conn).or_default().insert((room, key));
            }
            Wire::Untrack { room, conn, .. } => {
                self.remove(conn, |r| r == room);
            }
            Wire::Gone { conn, .. } => {
                self.remove(conn, |_| true);
            }
            Wire::Alive { .. } => {}
        }
    }

    /// Publishes a `Track` for every entry of this node's connections.
    fn send_snapshot(&self) {
        let Some((_, hub)) = self.hub() else { return };
        let entries: Vec<(String, String, ClientId, serde_json::Value)> = {
            let state = lock_unpoisoned(&self.inner.state);
            let mut out = Vec::new();
            for (room, keys) in &state.rooms {
                for (key, list) in keys {
                    for (conn, meta) in list.iter().filter(|(c, _)| c.node() == hub.node) {
                        if let Ok(meta) = serde_json::to_value(meta) {
                            out.push((room.clone(), key.clone(), *conn, meta));
                        }
                    }
                }
            }
            out
        };
        for (room, key, conn, meta) in entries {
            self.replicate(|route, node| Wire::Track {
                route,
                node,
                room,
                key,
                conn,
                meta,
            });
        }
    }

    /// A session ended: every entry of `id` goes, with the diffs.
    pub(super) fn untrack_all(&self, id: ClientId) {
        let diffs = self.remove(id, |_| true);
        for diff in &diffs {
            self.publish(diff);
        }
        if !diffs.is_empty() {
            self.replicate(|route, node| Wire::Gone {
                route,
                node,
                conn: id,
            });
        }
    }
}
