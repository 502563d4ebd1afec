//! The hub: connections, rooms and delivery, the server's shared,
//! router-independent state.
//!
//! Connections live in a slab. A [`ClientId`] is the slab key plus a generation
//! taken from a process-wide counter, so an id is never reused while anyone may
//! still hold it. Rooms map a name to the set of member keys; a room is removed
//! when its last member leaves. One `std::sync::Mutex` guards both; it is never
//! held across an `.await`, and delivery only does non-blocking `try_send`s under it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tungstenite::{Message, Utf8Bytes};

use crate::engine::adapter::{DeliverRemote, DynAdapter, Inbox, Remote, Target};
use crate::engine::config::{Config, SlowConsumer};
use crate::engine::lifecycle::Lifecycle;
use crate::engine::metrics::Counters;
use crate::engine::outbox::{CloseCmd, Outbox, QueueError, QueueLimits};
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

pub(crate) struct Slot {
    id: ClientId,
    outbox: Arc<Outbox>,
    rooms: HashSet<Arc<str>>,
    dropped: u64,
    /// The address the connection counts against, when known.
    ip: Option<IpAddr>,
    /// Gone, and still leaving its rooms (see `Hub::unregister_gradually`).
    leaving: bool,
}

#[derive(Default)]
pub(crate) struct State {
    conns: slab::Slab<Slot>,
    rooms: HashMap<Arc<str>, HashSet<usize>>,
    /// Connections per address, for `max_connections_per_ip`.
    per_ip: HashMap<IpAddr, usize>,
    /// Slots of connections that are gone but still leaving their rooms.
    leaving: usize,
    closed: bool,
}

/// Rooms a leaving connection is removed from per hold of the lock.
const LEAVE_BATCH: usize = 256;

/// Room names, sorted, for `on_disconnect`.
fn sorted_names(rooms: Vec<Arc<str>>) -> Vec<String> {
    let mut names: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
    names.sort();
    names
}

/// Shared state of one running app: connections, rooms, delivery (local
/// and, through the adapter, to other nodes), configuration, counters and
/// the lifecycle.
pub(crate) struct Hub {
    /// This node's id (0 without an adapter).
    pub(crate) node: u32,
    /// Carries deliveries to other nodes, when scaled out.
    adapter: Option<DynAdapter>,
    adapter_started: AtomicBool,
    state: Mutex<State>,
    generation: AtomicU32,
    pub(crate) config: Config,
    pub(crate) counters: Counters,
    /// Running connection tasks and the shutdown flag.
    pub(crate) lifecycle: Lifecycle,
}

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

/// Why a new connection cannot be registered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RegisterError {
    /// `max_connections` are open.
    Full,
    /// `max_connections_per_ip` are open from this address.
    TooManyFromAddress,
    /// A graceful shutdown has started.
    ShuttingDown,
}

/// A new connection's id and outgoing queue.
pub(crate) struct Registered {
    pub(crate) id: ClientId,
    pub(crate) outbox: Arc<Outbox>,
}

impl Hub {
    pub(crate) fn new(
        config: Config,
        counters: Counters,
        adapter: Option<DynAdapter>,
    ) -> Arc<Self> {
        Arc::new(Hub {
            node: adapter.as_ref().map_or(0, |a| a.node()),
            adapter,
            adapter_started: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            generation: AtomicU32::new(1),
            config,
            counters,
            lifecycle: Lifecycle::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock_unpoisoned(&self.state)
    }

    /// Reserves a slot for a new connection.
    /// Reserves a slot for a new connection from `ip` (when known).
    pub(crate) fn register(&self, ip: Option<IpAddr>) -> Result<Registered, RegisterError> {
        let mut state = self.lock();
        if state.closed {
            return Err(RegisterError::ShuttingDown);
        }
        if state.conns.len() >= self.config.max_connections {
            return Err(RegisterError::Full);
        }
        if let (Some(ip), Some(limit)) = (ip, self.config.max_connections_per_ip)
            && state.per_ip.get(&ip).copied().unwrap_or(0) >= limit
        {
            return Err(RegisterError::TooManyFromAddress);
        }
        if let Some(ip) = ip {
            *state.per_ip.entry(ip).or_default() += 1;
        }
        let outbox = Arc::new(Outbox::new(QueueLimits {
            soft_len: self.config.queue_len,
            soft_bytes: self.config.queue_bytes,
            grace: self.config.slow_consumer_grace,
        }));
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let entry = state.conns.vacant_entry();
        let id = ClientId::new(self.node, generation, entry.key());
        entry.insert(Slot {
            id,
            outbox: outbox.clone(),
            rooms: HashSet::new(),
            dropped: 0,
            ip,
            leaving: false,
        });
        Ok(Registered { id, outbox })
    }

    /// Removes a connection and makes it leave all its rooms at once; returns
    /// the rooms. For connections with few rooms (a refused handshake has none).
    pub(crate) fn unregister(&self, id: ClientId) -> Vec<String> {
        let Some(rooms) = self.begin_leave(id) else {
            return Vec::new();
        };
        self.leave_rooms(id.key(), &rooms);
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
        let Some(rooms) = self.begin_leave(id) else {
            return Vec::new();
        };
        let mut batches = rooms.chunks(LEAVE_BATCH).peekable();
        while let Some(batch) = batches.next() {
            self.leave_rooms(id.key(), batch);
            if batches.peek().is_some() {
                tokio::task::yield_now().await;
            }
        }
        self.finish_leave(id);
        sorted_names(rooms)
    }

    /// Marks the connection as leaving and takes its rooms (the set moves
    /// out in constant time; it becomes a list after the lock is released).
    fn begin_leave(&self, id: ClientId) -> Option<Vec<Arc<str>>> {
        let mut state = self.lock();
        let slot = state
            .conns
            .get_mut(id.key())
            .filter(|s| s.id == id && !s.leaving)?;
        slot.leaving = true;
        let rooms = std::mem::take(&mut slot.rooms);
        state.leaving += 1;
        drop(state);
        Some(rooms.into_iter().collect())
    }

    /// Removes slot `key` from the member lists of `rooms`, under one lock.
    fn leave_rooms(&self, key: usize, rooms: &[Arc<str>]) {
        let mut state = self.lock();
        for room in rooms {
            if let Some(members) = state.rooms.get_mut(room) {
                members.remove(&key);
                if members.is_empty() {
                    state.rooms.remove(room);
                }
            }
        }
    }

    /// Frees the slot of a connection that has left its rooms.
    fn finish_leave(&self, id: ClientId) {
        let mut state = self.lock();
        let key = id.key();
        if state.conns.get(key).is_none_or(|s| s.id != id) {
            return;
        }
        let slot = state.conns.remove(key);
        state.leaving -= 1;
        if let Some(ip) = slot.ip
            && let Some(n) = state.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                state.per_ip.remove(&ip);
            }
        }
    }

    /// Makes `id` a member of `room`.
    pub(crate) fn join(&self, id: ClientId, room: &str) -> Joined {
        let mut state = self.lock();
        let state = &mut *state;
        let key = id.key();
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
        let name: Arc<str> = match state.rooms.get_key_value(room) {
            Some((k, _)) => k.clone(),
            None => Arc::from(room),
        };
        slot.rooms.insert(name.clone());
        state.rooms.entry(name).or_default().insert(key);
        Joined::Member
    }

    pub(crate) fn leave(&self, id: ClientId, room: &str) -> bool {
        let mut state = self.lock();
        let state = &mut *state;
        let key = id.key();
        let Some(slot) = state.conns.get_mut(key).filter(|s| s.id == id) else {
            return false;
        };
        if !slot.rooms.remove(room) {
            return false;
        }
        if let Some(members) = state.rooms.get_mut(room) {
            members.remove(&key);
            if members.is_empty() {
                state.rooms.remove(room);
            }
        }
        true
    }

    pub(crate) fn in_room(&self, id: ClientId, room: &str) -> bool {
        let state = self.lock();
        state
            .conns
            .get(id.key())
            .is_some_and(|s| s.id == id && s.rooms.contains(room))
    }

    pub(crate) fn rooms_of(&self, id: ClientId) -> Vec<String> {
        let state = self.lock();
        let mut rooms: Vec<String> = state
            .conns
            .get(id.key())
            .filter(|s| s.id == id)
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

    pub(crate) fn connection_count(&self) -> usize {
        let state = self.lock();
        state.conns.len() - state.leaving
    }

    pub(crate) fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }

    pub(crate) fn is_connected(&self, id: ClientId) -> bool {
        self.lock()
            .conns
            .get(id.key())
            .is_some_and(|s| s.id == id && !s.leaving)
    }

    /// Queues `text` for one slot; applies the slow-consumer policy when full.
    fn enqueue(&self, slot: &mut Slot, text: &Utf8Bytes) -> bool {
        match slot.outbox.push(Message::Text(text.clone())) {
            Ok(()) => true,
            Err(QueueError::Closed) => false,
            Err(QueueError::Full) => {
                self.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                slot.dropped += 1;
                match self.config.slow_consumer {
                    SlowConsumer::Drop => {
                        if slot.dropped == 1 || slot.dropped.is_multiple_of(1000) {
                            tracing::warn!(client = %slot.id, dropped = slot.dropped,
                                "slow consumer: outgoing queue full, message dropped");
                        }
                    }
                    SlowConsumer::Close(code) => {
                        let cmd = CloseCmd {
                            code,
                            reason: "slow consumer",
                        };
                        if slot.outbox.close(cmd) {
                            tracing::warn!(client = %slot.id, code,
                                "slow consumer: outgoing queue full, closing the connection");
                        }
                    }
                }
                false
            }
        }
    }

    /// Delivers `text` to `target`: first to this node's clients, then, with
    /// an adapter, to the other nodes. Returns how many of this node's
    /// clients it was queued for.
    pub(crate) fn deliver(
        &self,
        target: Target,
        text: &Utf8Bytes,
        except: Option<ClientId>,
    ) -> usize {
        let Some(adapter) = &self.adapter else {
            return self.deliver_local(&target, text, except);
        };
        let n = self.deliver_local(&target, text, except);
        let target = match target {
            Target::Clients(ids) => {
                let remote: Vec<ClientId> = ids
                    .into_iter()
                    .filter(|id| id.node() != self.node)
                    .collect();
                if remote.is_empty() {
                    return n;
                }
                Target::Clients(remote)
            }
            other => other,
        };
        adapter.publish(Remote {
            origin: self.node,
            target,
            except,
            text: text.as_str().to_owned(),
        });
        n
    }

    /// Delivers `text` to this node's clients among `target`.
    fn deliver_local(&self, target: &Target, text: &Utf8Bytes, except: Option<ClientId>) -> usize {
        match target {
            Target::Clients(ids) => self.deliver_to(ids.iter().copied(), text, except),
            Target::Rooms(rooms) => self.deliver_to_rooms(rooms, text, except),
            Target::All => self.deliver_all(text, except),
        }
    }

    /// Queues `text` for each id on this node; returns how many queued it.
    pub(crate) fn deliver_to(
        &self,
        ids: impl IntoIterator<Item = ClientId>,
        text: &Utf8Bytes,
        except: Option<ClientId>,
    ) -> usize {
        let mut state = self.lock();
        let mut n = 0;
        for id in ids {
            if Some(id) == except {
                continue;
            }
            if let Some(slot) = state.conns.get_mut(id.key()).filter(|s| s.id == id) {
                n += usize::from(self.enqueue(slot, text));
            }
        }
        n
    }

    /// Queues `text` for every member of the rooms (each member once).
    fn deliver_to_rooms(
        &self,
        rooms: &[String],
        text: &Utf8Bytes,
        except: Option<ClientId>,
    ) -> usize {
        let mut guard = self.lock();
        let State {
            conns, rooms: all, ..
        } = &mut *guard;
        let mut n = 0;
        let mut deliver_one = |key: usize| {
            if let Some(slot) = conns.get_mut(key)
                && Some(slot.id) != except
            {
                n += usize::from(self.enqueue(slot, text));
            }
        };
        match rooms {
            [] => {}
            [room] => {
                // One room: members are distinct already.
                if let Some(members) = all.get(room.as_str()) {
                    members.iter().for_each(|&key| deliver_one(key));
                }
            }
            several => {
                let mut keys = HashSet::new();
                for room in several {
                    if let Some(members) = all.get(room.as_str()) {
                        keys.extend(members.iter().copied());
                    }
                }
                keys.into_iter().for_each(deliver_one);
            }
        }
        n
    }

    /// Queues `text` for every connection on this node.
    fn deliver_all(&self, text: &Utf8Bytes, except: Option<ClientId>) -> usize {
        let mut state = self.lock();
        let mut n = 0;
        for (_, slot) in state.conns.iter_mut() {
            if Some(slot.id) == except {
                continue;
            }
            n += usize::from(self.enqueue(slot, text));
        }
        n
    }

    /// Empties one connection's queue (for the fuzz harness, which has no socket).
    #[cfg(any(fuzzing, test))]
    pub(crate) fn drain(&self, id: ClientId) {
        let state = self.lock();
        if let Some(slot) = state.conns.get(id.key()).filter(|s| s.id == id) {
            slot.outbox.clear();
        }
    }

    /// Asks one connection to close.
    pub(crate) fn close(&self, id: ClientId, code: u16, reason: &'static str) -> bool {
        let state = self.lock();
        match state.conns.get(id.key()).filter(|s| s.id == id) {
            Some(slot) => {
                slot.outbox.close(CloseCmd { code, reason });
                true
            }
            None => false,
        }
    }

    /// Stops registrations and asks every connection to close with 1001.
    pub(crate) fn begin_shutdown(&self) {
        let mut state = self.lock();
        state.closed = true;
        for (_, slot) in state.conns.iter() {
            slot.outbox.close(CloseCmd {
                code: 1001,
                reason: "server shutting down",
            });
        }
        drop(state);
        self.lifecycle.stop();
    }

    /// Starts the adapter (once) so deliveries from other nodes arrive here.
    pub(crate) fn start_adapter(self: &Arc<Self>) {
        if let Some(adapter) = &self.adapter
            && !self.adapter_started.swap(true, Ordering::SeqCst)
        {
            let weak = Arc::downgrade(self);
            adapter.start(Inbox::new(weak));
        }
    }
}

impl DeliverRemote for Hub {
    fn node(&self) -> u32 {
        self.node
    }
    fn deliver_remote(&self, remote: Remote) -> usize {
        let text = Utf8Bytes::from(remote.text);
        self.deliver_local(&remote.target, &text, remote.except)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Arc<Hub> {
        Hub::new(
            Config::default()
                .max_connections(3)
                .queue_len(2)
                .slow_consumer_grace(std::time::Duration::ZERO)
                .max_rooms_per_client(3),
            Counters::default(),
            None,
        )
    }

    #[test]
    fn ids_are_not_reused_when_slots_are() {
        let core = hub();
        let a = core.register(None).unwrap();
        let a_id = a.id;
        core.unregister(a_id);
        let b = core.register(None).unwrap();
        assert_eq!(a_id.key(), b.id.key(), "slab slot is reused");
        assert_ne!(a_id, b.id, "but the id is not");
        assert_eq!(
            core.join(a_id, "lobby"),
            Joined::Gone,
            "a stale id cannot join"
        );
        assert_eq!(core.join(b.id, "lobby"), Joined::Member);
    }

    #[test]
    fn rooms_are_removed_when_empty_and_on_unregister() {
        let core = hub();
        let a = core.register(None).unwrap();
        let b = core.register(None).unwrap();
        assert_eq!(core.join(a.id, "x"), Joined::Member);
        assert_eq!(
            core.join(a.id, "x"),
            Joined::AlreadyMember,
            "joining twice is a no-op"
        );
        assert_eq!(core.join(b.id, "x"), Joined::Member);
        assert_eq!(core.join(a.id, "y"), Joined::Member);
        assert_eq!(core.room_names(), ["x", "y"]);
        assert_eq!(core.members("x").len(), 2);
        assert!(core.leave(b.id, "x"));
        assert!(!core.leave(b.id, "x"));
        assert_eq!(core.unregister(a.id), ["x", "y"]);
        assert_eq!(core.room_count(), 0);
        assert_eq!(core.connection_count(), 1);
    }

    #[test]
    fn capacity_is_enforced() {
        let core = hub();
        let _k: Vec<_> = (0..3).map(|_| core.register(None).unwrap()).collect();
        assert_eq!(core.register(None).err(), Some(RegisterError::Full));
    }

    #[test]
    fn full_queue_applies_close_policy_and_others_still_get_messages() {
        let core = hub();
        let slow = core.register(None).unwrap();
        let fast = core.register(None).unwrap();
        let msg = Utf8Bytes::from_static("x");
        for _ in 0..2 {
            assert_eq!(core.deliver_to([slow.id, fast.id], &msg, None), 2);
        }
        assert_eq!(
            core.deliver_to([slow.id], &msg, None),
            0,
            "slow one is full"
        );
        assert_eq!(slow.outbox.close_code(), Some(1008));
        assert_eq!(fast.outbox.len(), 2);
        assert_eq!(
            core.deliver_to([fast.id], &msg, None),
            0,
            "fast is full too, but"
        );
        assert_eq!(
            fast.outbox.close_code(),
            Some(1008),
            "each client has its own queue"
        );
    }

    #[test]
    fn room_delivery_dedups_and_honours_except() {
        let core = hub();
        let a = core.register(None).unwrap();
        let b = core.register(None).unwrap();
        core.join(a.id, "x");
        core.join(a.id, "y");
        core.join(b.id, "y");
        let msg = Utf8Bytes::from_static("m");
        assert_eq!(
            core.deliver_to_rooms(&["x".into(), "y".into()], &msg, None),
            2
        );
        assert_eq!((a.outbox.len(), b.outbox.len()), (1, 1), "each member once");
        assert_eq!(core.deliver_to_rooms(&["y".into()], &msg, Some(a.id)), 1);
        assert_eq!((a.outbox.len(), b.outbox.len()), (1, 2));
    }

    #[test]
    fn a_join_beyond_the_room_limit_changes_nothing() {
        let core = hub();
        let b = core.register(None).unwrap();
        for room in ["x", "y", "z"] {
            assert_eq!(core.join(b.id, room), Joined::Member);
        }
        assert_eq!(core.join(b.id, "w"), Joined::TooManyRooms, "the limit is 3");
        assert!(!core.in_room(b.id, "w"));
        assert_eq!(core.join(b.id, "x"), Joined::AlreadyMember);
    }
}
