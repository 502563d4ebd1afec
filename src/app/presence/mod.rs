//! Typed presence: who is in a room, keyed by a user key the app chooses
//! (several connections, e.g. browser tabs, share one key), with metadata
//! of the app's type, and diffs on an outgoing route of the app's router.

mod cluster; // across nodes: replication, heartbeats, the sweep of silent nodes
mod store; // the entries, the diffs and their delivery

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use store::{
    DEFAULT_NODE_TIMEOUT, Presence, PresenceDiff, PresenceError, PresenceEvent, PresenceMeta,
};

use crate::engine::conn::Conn;
use crate::util::lock_unpoisoned;
use cluster::Wire;
use store::diff_meta_of;

impl<M: PresenceMeta> Presence<M> {
    /// With an adapter: after how long without a word from a node its
    /// entries are removed from this node's list, with leave diffs to this
    /// node's members (default [`DEFAULT_NODE_TIMEOUT`], 15 s). Nodes say
    /// they are alive every third of it.
    pub fn node_timeout(self, timeout: Duration) -> Self {
        let ms = (timeout.as_millis() as u64).max(30);
        self.inner.node_timeout_ms.store(ms, Ordering::Relaxed);
        self
    }

    /// Tracks `conn` in `room` under `key` with `meta`. The room's members
    /// get a join diff when the key is new, else an update. Tracking the
    /// same connection again under the same key replaces its metadata.
    ///
    /// # Errors
    ///
    /// [`PresenceError`] when `meta` fails validation or the presence is not
    /// attached (with `?` in a handler, the client is told).
    pub fn track(&self, conn: &Conn, room: &str, key: &str, meta: M) -> Result<(), PresenceError> {
        meta.validate()
            .map_err(|r| PresenceError::Invalid(r.to_string()))?;
        if self.inner.attached.get().is_none() {
            return Err(PresenceError::NotAttached);
        }
        let id = conn.id();
        let diff = {
            let mut state = lock_unpoisoned(&self.inner.state);
            let entries = state
                .rooms
                .entry(room.to_owned())
                .or_default()
                .entry(key.to_owned())
                .or_default();
            let event = if entries.is_empty() {
                PresenceEvent::Join
            } else {
                PresenceEvent::Update
            };
            match entries.iter_mut().find(|(c, _)| *c == id) {
                Some(entry) => entry.1 = meta,
                None => entries.push((id, meta)),
            }
            let metas = entries.iter().map(|(_, m)| m.clone()).collect();
            state
                .by_conn
                .entry(id)
                .or_default()
                .insert((room.to_owned(), key.to_owned()));
            PresenceDiff {
                room: room.to_owned(),
                key: key.to_owned(),
                event,
                metas,
            }
        };
        self.publish(&diff);
        if let Some(meta) = diff_meta_of(&self.inner, id, room, key) {
            self.replicate(|route, node| Wire::Track {
                route,
                node,
                room: room.to_owned(),
                key: key.to_owned(),
                conn: id,
                meta,
            });
        }
        Ok(())
    }

    /// Replaces the metadata of `conn`'s entry in `room` (every key it is
    /// tracked under there); the members get an update. `false` if it is not tracked there.
    ///
    /// # Errors
    ///
    /// [`PresenceError::Invalid`] when `meta` fails validation.
    pub fn update(&self, conn: &Conn, room: &str, meta: M) -> Result<bool, PresenceError> {
        meta.validate()
            .map_err(|r| PresenceError::Invalid(r.to_string()))?;
        let id = conn.id();
        let diffs: Vec<PresenceDiff<M>> = {
            let mut state = lock_unpoisoned(&self.inner.state);
            let Some(keys) = state.rooms.get_mut(room) else {
                return Ok(false);
            };
            let mut diffs = Vec::new();
            for (key, entries) in keys.iter_mut() {
                if let Some(entry) = entries.iter_mut().find(|(c, _)| *c == id) {
                    entry.1 = meta.clone();
                    diffs.push(PresenceDiff {
                        room: room.to_owned(),
                        key: key.clone(),
                        event: PresenceEvent::Update,
                        metas: entries.iter().map(|(_, m)| m.clone()).collect(),
                    });
                }
            }
            diffs
        };
        for diff in &diffs {
            self.publish(diff);
            if let Some(meta) = diff_meta_of(&self.inner, id, room, &diff.key) {
                let key = diff.key.clone();
                self.replicate(|route, node| Wire::Track {
                    route,
                    node,
                    room: room.to_owned(),
                    key,
                    conn: id,
                    meta,
                });
            }
        }
        Ok(!diffs.is_empty())
    }

    /// Stops tracking `conn` in `room`; the members get a leave (its key's
    /// last connection) or an update. `false` if it was not tracked there.
    pub fn untrack(&self, conn: &Conn, room: &str) -> bool {
        let id = conn.id();
        let diffs = self.remove(id, |r| r == room);
        let any = !diffs.is_empty();
        for diff in &diffs {
            self.publish(diff);
        }
        if any {
            self.replicate(|route, node| Wire::Untrack {
                route,
                node,
                room: room.to_owned(),
                conn: id,
            });
        }
        any
    }

    /// Who is in `room`: each key with the metadata of each of its connections.
    pub fn list(&self, room: &str) -> BTreeMap<String, Vec<M>> {
        lock_unpoisoned(&self.inner.state)
            .rooms
            .get(room)
            .map(|keys| {
                keys.iter()
                    .map(|(k, entries)| {
                        (k.clone(), entries.iter().map(|(_, m)| m.clone()).collect())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
