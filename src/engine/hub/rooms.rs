//! The room table, and joining, leaving, listing, and leaving every room
//! when a connection ends, a batch at a time.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Hub;
use super::registry::{Conn, Padded};
use crate::engine::adapter::RoomReady;
use crate::engine::tasks::ScopeSlot;
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

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

/// Rooms a leaving connection is removed from before it yields.
const LEAVE_BATCH: usize = 256;

/// Room names, sorted, for `on_disconnect`.
fn sorted_names(rooms: Vec<Arc<str>>) -> Vec<String> {
    let mut names: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
    names.sort();
    names
}

/// One room on this node, behind its own lock.
pub(super) struct Room {
    pub(super) members: HashMap<ClientId, Arc<Conn>>,
    /// Until the adapter receives the room's deliveries from other nodes
    /// (per-room adapters): members who join meanwhile wait for it too.
    opening: Option<RoomReady>,
}

type Shard = HashMap<Arc<str>, Arc<Mutex<Room>>>;

/// Shards of the room table: a shard is named by a hash that two busy
/// rooms on two cores may share, and each such pair moves the shard lock's
/// cache line between them on every send: with 1,024 shards, two busy
/// rooms meet with odds of 1 in 1,024 (128 KiB of locks per app).
const ROOM_SHARDS: usize = 1024;

/// Rooms by name, in shards by the name's hash (a per-process random key,
/// so clients cannot choose names that all land on one shard). A shard's
/// lock guards which rooms exist; each room's own lock, its members.
pub(crate) struct Table {
    shards: Box<[Padded<Mutex<Shard>>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            shards: (0..ROOM_SHARDS).map(|_| Padded::default()).collect(),
            hasher: Default::default(),
        }
    }
}

impl Table {
    fn shard(&self, room: &str) -> MutexGuard<'_, Shard> {
        let i = self.hasher.hash_one(room) as usize % ROOM_SHARDS;
        lock_unpoisoned(&self.shards[i].0)
    }

    /// Runs `f` with `room`'s members (none when there is no such room),
    /// under the room's own lock; its shard's is held only to find it.
    pub(super) fn with_members<R: Default>(
        &self,
        room: &str,
        f: impl FnOnce(&HashMap<ClientId, Arc<Conn>>) -> R,
    ) -> R {
        let Some(room) = self.shard(room).get(room).cloned() else {
            return R::default();
        };
        f(&lock_unpoisoned(&room).members)
    }

    /// Runs `f` with every room, one shard at a time.
    fn each(&self, mut f: impl FnMut(&Arc<str>, &Room)) {
        for shard in self.shards.iter() {
            for (name, room) in lock_unpoisoned(&shard.0).iter() {
                f(name, &lock_unpoisoned(room));
            }
        }
    }
}

impl Hub {
    /// Removes a connection and makes it leave all its rooms at once; returns
    /// the rooms. For connections with few rooms (a refused handshake has none).
    pub(crate) fn unregister(&self, id: ClientId) -> Vec<String> {
        let Some(rooms) = self.begin_leave(id) else {
            return Vec::new();
        };
        self.leave_rooms(id, &rooms);
        self.finish_leave(id);
        sorted_names(rooms)
    }

    /// Removes a connection and makes it leave all its rooms a batch at a
    /// time, yielding between batches, so a client in many rooms does not
    /// keep the runtime thread for the whole cleanup. Returns the rooms.
    ///
    /// Until it is done the connection keeps its slot, marked as leaving:
    /// it can join nothing, counts as gone, and its slot key is not reused.
    pub(crate) async fn unregister_gradually(&self, id: ClientId) -> Vec<String> {
        let Some(rooms) = self.begin_leave(id) else {
            return Vec::new();
        };
        let mut batches = rooms.chunks(LEAVE_BATCH).peekable();
        while let Some(batch) = batches.next() {
            self.leave_rooms(id, batch);
            if batches.peek().is_some() {
                tokio::task::yield_now().await;
            }
        }
        self.finish_leave(id);
        sorted_names(rooms)
    }

    /// Marks the connection as leaving and takes its rooms (the set moves
    /// out in constant time; it becomes a list after the lock is released).
    pub(super) fn begin_leave(&self, id: ClientId) -> Option<Vec<Arc<str>>> {
        let conn = self.conns.get(id)?;
        let rooms = {
            let mut rooms = lock_unpoisoned(&conn.rooms);
            if conn.leaving.swap(true, Ordering::AcqRel) {
                return None;
            }
            std::mem::take(&mut *rooms)
        };
        self.conns.leaving.fetch_add(1, Ordering::Relaxed);
        Some(rooms.into_iter().collect())
    }

    /// Removes `id` from the member lists of `rooms`.
    pub(super) fn leave_rooms(&self, id: ClientId, rooms: &[Arc<str>]) {
        for room in rooms {
            self.remove_member(room, id);
        }
    }

    /// Removes `id` from `room`'s members; the room goes when it is empty,
    /// and the adapter hears that this node no longer needs it.
    fn remove_member(&self, room: &str, id: ClientId) {
        let mut shard = self.rooms.shard(room);
        let Some(cell) = shard.get(room) else { return };
        let mut r = lock_unpoisoned(cell);
        r.members.remove(&id);
        if r.members.is_empty() {
            drop(r);
            shard.remove(room);
            if let Some(adapter) = &self.adapter {
                adapter.close_room(room);
            }
        }
    }

    /// Frees the slot of a connection that has left its rooms.
    pub(super) fn finish_leave(&self, id: ClientId) {
        let Some(conn) = self.conns.remove(id) else {
            return;
        };
        self.conns.leaving.fetch_sub(1, Ordering::Relaxed);
        {
            let mut admission = self.admission();
            admission.open -= 1;
            if let Some(ip) = conn.ip
                && let Some(n) = admission.per_ip.get_mut(&ip)
            {
                *n -= 1;
                if *n == 0 {
                    admission.per_ip.remove(&ip);
                }
            }
        }
        // A session that moved to another node ends here without `session_ended`.
        let scope = std::mem::replace(&mut *lock_unpoisoned(&conn.scope), ScopeSlot::Ended);
        if let ScopeSlot::Running(scope) = scope {
            scope.end();
        }
    }

    /// Makes `id` a member of `room`.
    pub(crate) fn join(&self, id: ClientId, room: &str) -> Joined {
        let Some(conn) = self.conns.get(id) else {
            return Joined::Gone;
        };
        let mut rooms = lock_unpoisoned(&conn.rooms);
        if conn.is_leaving() {
            return Joined::Gone;
        }
        if rooms.contains(room) {
            return Joined::AlreadyMember;
        }
        if rooms.len() >= self.config.max_rooms_per_client {
            return Joined::TooManyRooms;
        }
        // The shard's lock is held until the member is in: a leave that
        // empties the room meanwhile cannot remove it under this join.
        let mut shard = self.rooms.shard(room);
        let (name, cell) = match shard.get_key_value(room) {
            Some((name, cell)) => (name.clone(), cell.clone()),
            None => {
                let name: Arc<str> = Arc::from(room);
                // The first member here: the node needs the room's
                // deliveries from the other nodes from now on.
                let opening = self.adapter.as_ref().map(|a| a.open_room(room));
                let cell = Arc::new(Mutex::new(Room {
                    members: HashMap::new(),
                    opening,
                }));
                shard.insert(name.clone(), cell.clone());
                (name, cell)
            }
        };
        let mut entry = lock_unpoisoned(&cell);
        if entry.opening.as_ref().is_some_and(RoomReady::is_ready) {
            entry.opening = None;
        }
        if let Some(ready) = &entry.opening {
            // Nothing reaches this member until the node listens to the
            // room: whatever it receives after joining, the room's traffic
            // from other nodes that follows reaches it too.
            conn.outbox.hold_until(ready.clone());
        }
        entry.members.insert(id, conn.clone());
        drop(entry);
        drop(shard);
        rooms.insert(name);
        Joined::Member
    }

    pub(crate) fn leave(&self, id: ClientId, room: &str) -> bool {
        let Some(conn) = self.conns.get(id) else {
            return false;
        };
        let mut rooms = lock_unpoisoned(&conn.rooms);
        if !rooms.remove(room) {
            return false;
        }
        self.remove_member(room, id);
        true
    }

    pub(crate) fn in_room(&self, id: ClientId, room: &str) -> bool {
        self.conns
            .get(id)
            .is_some_and(|c| lock_unpoisoned(&c.rooms).contains(room))
    }

    pub(crate) fn rooms_of(&self, id: ClientId) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .conns
            .get(id)
            .map(|c| {
                lock_unpoisoned(&c.rooms)
                    .iter()
                    .map(|r| r.to_string())
                    .collect()
            })
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    pub(crate) fn room_names(&self) -> Vec<String> {
        let mut rooms = Vec::new();
        self.rooms.each(|name, _| rooms.push(name.to_string()));
        rooms.sort();
        rooms
    }

    pub(crate) fn members(&self, room: &str) -> Vec<ClientId> {
        let mut ids: Vec<ClientId> = self.rooms.with_members(room, |m| {
            m.values()
                .filter(|c| !c.is_leaving())
                .map(|c| c.id)
                .collect()
        });
        ids.sort();
        ids
    }

    pub(crate) fn room_count(&self) -> usize {
        let mut n = 0;
        self.rooms.each(|_, _| n += 1);
        n
    }
}
