//! Rooms: joining, leaving, listing, and leaving them all when a
//! connection ends, a batch at a time.

use std::sync::Arc;

use super::{Hub, State};
use crate::engine::adapter::RoomReady;
use crate::engine::tasks::ScopeSlot;
use crate::protocol::client_id::ClientId;

/// What [`Hub::join`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// The client is now a member.
    Member,
    /// It was a member already.
    AlreadyMember,
    /// The connection is gone.
    Gone,
    /// It is in `max_rooms_per_client` rooms already; nothing changed.
    TooManyRooms,
}

/// Rooms a leaving connection is removed from per hold of the lock.
const LEAVE_BATCH: usize = 256;

/// Room names, sorted, for `on_disconnect`.
fn sorted_names(rooms: Vec<Arc<str>>) -> Vec<String> {
    let mut names: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
    names.sort();
    names
}

impl Hub {
    /// Removes a connection and makes it leave all its rooms at once; returns
    /// the rooms. For connections with few rooms (a refused handshake has none).
    pub(crate) fn unregister(&self, id: ClientId) -> Vec<String> {
        let Some((key, rooms)) = self.begin_leave(id) else {
            return Vec::new();
        };
        self.leave_rooms(key, &rooms);
        self.finish_leave(id);
        sorted_names(rooms)
    }

    /// Removes a connection and makes it leave all its rooms a batch at a
    /// time, yielding between batches, so a client in many rooms does not
    /// hold the registry's lock (and every other client) for the whole
    /// cleanup. Returns the rooms.
    ///
    /// Until it is done the connection keeps its slot, marked as leaving: it
    /// gets nothing, counts as gone, and its slot key is not reused, so no
    /// new connection can inherit a membership that is not removed yet.
    pub(crate) async fn unregister_gradually(&self, id: ClientId) -> Vec<String> {
        let Some((key, rooms)) = self.begin_leave(id) else {
            return Vec::new();
        };
        let mut batches = rooms.chunks(LEAVE_BATCH).peekable();
        while let Some(batch) = batches.next() {
            self.leave_rooms(key, batch);
            if batches.peek().is_some() {
                tokio::task::yield_now().await;
            }
        }
        self.finish_leave(id);
        sorted_names(rooms)
    }

    /// Marks the connection as leaving and takes its rooms (the set moves
    /// out in constant time; it becomes a list after the lock is released),
    /// with its slot key.
    pub(super) fn begin_leave(&self, id: ClientId) -> Option<(usize, Vec<Arc<str>>)> {
        let mut state = self.lock();
        let key = state.key(id);
        let slot = state.slot_mut(id).filter(|s| !s.leaving)?;
        slot.leaving = true;
        let rooms = std::mem::take(&mut slot.rooms);
        state.leaving += 1;
        drop(state);
        Some((key, rooms.into_iter().collect()))
    }

    /// Removes slot `key` from the member lists of `rooms`, under one lock.
    pub(super) fn leave_rooms(&self, key: usize, rooms: &[Arc<str>]) {
        let mut state = self.lock();
        for room in rooms {
            self.remove_member(&mut state, room, key);
        }
    }

    /// Removes slot `key` from `room`'s members; the room goes when it is
    /// empty, and the adapter hears that this node no longer needs it.
    fn remove_member(&self, state: &mut State, room: &str, key: usize) {
        if let Some(members) = state.rooms.get_mut(room) {
            members.remove(&key);
            if members.is_empty() {
                state.rooms.remove(room);
                state.opening.remove(room);
                if let Some(adapter) = &self.adapter {
                    adapter.close_room(room);
                }
            }
        }
    }

    /// Frees the slot of a connection that has left its rooms.
    pub(super) fn finish_leave(&self, id: ClientId) {
        let mut state = self.lock();
        let key = state.key(id);
        if state.conns.get(key).is_none_or(|s| s.id != id) {
            return;
        }
        let slot = state.conns.remove(key);
        state.adopted.remove(&id);
        state.leaving -= 1;
        if let Some(ip) = slot.ip
            && let Some(n) = state.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                state.per_ip.remove(&ip);
            }
        }
        drop(state);
        // A session that moved to another node ends here without `session_ended`.
        if let ScopeSlot::Running(scope) = slot.scope {
            scope.end();
        }
    }

    /// Makes `id` a member of `room`.
    pub(crate) fn join(&self, id: ClientId, room: &str) -> Joined {
        let mut state = self.lock();
        let state = &mut *state;
        let key = state.key(id);
        let Some(slot) = state
            .conns
            .get_mut(key)
            .filter(|s| s.id == id && !s.leaving)
        else {
            return Joined::Gone;
        };
        if slot.rooms.contains(room) {
            return Joined::AlreadyMember;
        }
        if slot.rooms.len() >= self.config.max_rooms_per_client {
            return Joined::TooManyRooms;
        }
        let (name, ready) = match state.rooms.get_key_value(room) {
            Some((k, _)) => {
                let ready = state.opening.get(room).cloned();
                if ready.as_ref().is_some_and(RoomReady::is_ready) {
                    state.opening.remove(room);
                }
                (k.clone(), ready)
            }
            None => {
                let name: Arc<str> = Arc::from(room);
                // The first member here: the node needs the room's
                // deliveries from the other nodes from now on.
                let ready = self.adapter.as_ref().map(|a| a.open_room(room));
                if let Some(r) = ready.as_ref().filter(|r| !r.is_ready()) {
                    state.opening.insert(name.clone(), r.clone());
                }
                (name, ready)
            }
        };
        if let Some(ready) = ready.filter(|r| !r.is_ready()) {
            // Nothing reaches this member until the node listens to the
            // room: whatever it receives after joining, the room's traffic
            // from other nodes that follows reaches it too.
            slot.outbox.hold_until(ready);
        }
        slot.rooms.insert(name.clone());
        state.rooms.entry(name).or_default().insert(key);
        Joined::Member
    }

    pub(crate) fn leave(&self, id: ClientId, room: &str) -> bool {
        let mut state = self.lock();
        let state = &mut *state;
        let key = state.key(id);
        let Some(slot) = state.conns.get_mut(key).filter(|s| s.id == id) else {
            return false;
        };
        if !slot.rooms.remove(room) {
            return false;
        }
        self.remove_member(state, room, key);
        true
    }

    pub(crate) fn in_room(&self, id: ClientId, room: &str) -> bool {
        let state = self.lock();
        state.slot(id).is_some_and(|s| s.rooms.contains(room))
    }

    pub(crate) fn rooms_of(&self, id: ClientId) -> Vec<String> {
        let state = self.lock();
        let mut rooms: Vec<String> = state
            .slot(id)
            .map(|s| s.rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    pub(crate) fn room_names(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.lock().rooms.keys().map(|r| r.to_string()).collect();
        rooms.sort();
        rooms
    }

    pub(crate) fn members(&self, room: &str) -> Vec<ClientId> {
        let state = self.lock();
        let mut ids: Vec<ClientId> = state
            .rooms
            .get(room)
            .map(|m| {
                m.iter()
                    .filter_map(|k| state.conns.get(*k))
                    .filter(|s| !s.leaving)
                    .map(|s| s.id)
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub(crate) fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }
}
