//! Connections and rooms: the server's shared, router-independent state.
//!
//! Connections live in a slab. A [`ClientId`] is the slab key plus a generation
//! taken from a process-wide counter, so an id is never reused while anyone may
//! still hold it. Rooms map a name to the set of member keys; a room is removed
//! when its last member leaves. One `std::sync::Mutex` guards both; it is never
//! held across an `.await`, and delivery only does non-blocking `try_send`s under it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tungstenite::Message;
use tungstenite::protocol::frame::CloseFrame;

use crate::config::{Config, SlowConsumer};
use crate::connection::{Outbox, QueueError};
use crate::metrics::Counters;

/// A connected client's id: stable for the connection's life, never reused
/// while the connection lives, and unique over the process's life up to 2³²
/// connections. With an [`Adapter`](crate::adapter::Adapter) it also names the
/// node (server process) that issued it, so ids are unique across nodes.
///
/// On the wire (and in `Display`/serde) it is a decimal string, e.g. `"4294967296"`.
///
/// ```
/// use zocket::ClientId;
///
/// let id: ClientId = "4294967299".parse().unwrap();
/// assert_eq!(id.to_string(), "4294967299");
/// assert_eq!(id.node(), 0);
/// assert_eq!(serde_json::to_string(&id).unwrap(), "\"4294967299\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(u128);

impl ClientId {
    fn new(node: u32, generation: u32, key: usize) -> Self {
        ClientId((u128::from(node) << 64) | (u128::from(generation) << 32) | key as u128)
    }
    pub(crate) fn from_u128(v: u128) -> Self {
        ClientId(v)
    }
    fn key(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
    /// The node (server process) that issued this id; 0 without an adapter.
    pub fn node(self) -> u32 {
        (self.0 >> 64) as u32
    }
    /// The id as a number.
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for ClientId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ClientId)
    }
}

impl Serialize for ClientId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl garde::Validate for ClientId {
    type Context = ();
    fn validate_into(
        &self,
        _: &Self::Context,
        _: &mut dyn FnMut() -> garde::Path,
        _: &mut garde::Report,
    ) {
    }
}

/// Why the server is closing a connection.
#[derive(Debug, Clone)]
pub(crate) struct CloseCmd {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

impl CloseCmd {
    pub(crate) fn frame(&self) -> CloseFrame {
        CloseFrame {
            code: self.code.into(),
            reason: self.reason.into(),
        }
    }
}

pub(crate) struct Slot {
    id: ClientId,
    outbox: Arc<Outbox>,
    rooms: HashSet<Arc<str>>,
    dropped: u64,
}

#[derive(Default)]
pub(crate) struct State {
    conns: slab::Slab<Slot>,
    rooms: HashMap<Arc<str>, HashSet<usize>>,
    closed: bool,
}

/// Shared state of one running app.
pub(crate) struct Core {
    /// This node's id (0 without an adapter).
    pub(crate) node: u32,
    /// Carries deliveries to other nodes, when scaled out.
    pub(crate) adapter: Option<crate::adapter::DynAdapter>,
    adapter_started: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
    generation: AtomicU32,
    pub(crate) config: Config,
    pub(crate) counters: Counters,
    /// Connection tasks not yet finished (their `on_disconnect` included).
    tasks: watch::Sender<usize>,
    /// Set once when a graceful shutdown starts.
    pub(crate) shutdown: watch::Sender<bool>,
}

/// Why a new connection cannot be registered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RegisterError {
    Full,
    ShuttingDown,
}

/// A new connection's id and outgoing queue.
pub(crate) struct Registered {
    pub(crate) id: ClientId,
    pub(crate) outbox: Arc<Outbox>,
}

impl Core {
    pub(crate) fn new(
        config: Config,
        counters: Counters,
        adapter: Option<crate::adapter::DynAdapter>,
    ) -> Arc<Self> {
        Arc::new(Core {
            node: adapter.as_ref().map_or(0, |a| a.node()),
            adapter,
            adapter_started: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State::default()),
            generation: AtomicU32::new(1),
            config,
            counters,
            tasks: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way
        // that matters more than stopping the whole server would.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves a slot for a new connection.
    pub(crate) fn register(&self) -> Result<Registered, RegisterError> {
        let mut state = self.lock();
        if state.closed {
            return Err(RegisterError::ShuttingDown);
        }
        if state.conns.len() >= self.config.max_connections {
            return Err(RegisterError::Full);
        }
        let outbox = Arc::new(Outbox::new(self.config.queue_len));
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let entry = state.conns.vacant_entry();
        let id = ClientId::new(self.node, generation, entry.key());
        entry.insert(Slot {
            id,
            outbox: outbox.clone(),
            rooms: HashSet::new(),
            dropped: 0,
        });
        Ok(Registered { id, outbox })
    }

    /// Removes a connection and makes it leave all its rooms; returns the rooms.
    pub(crate) fn unregister(&self, id: ClientId) -> Vec<String> {
        let mut state = self.lock();
        let key = id.key();
        if state.conns.get(key).is_none_or(|s| s.id != id) {
            return Vec::new();
        }
        let slot = state.conns.remove(key);
        let mut left = Vec::with_capacity(slot.rooms.len());
        for room in slot.rooms {
            if let Some(members) = state.rooms.get_mut(&room) {
                members.remove(&key);
                if members.is_empty() {
                    state.rooms.remove(&room);
                }
            }
            left.push(room.to_string());
        }
        left.sort();
        left
    }

    pub(crate) fn join(&self, id: ClientId, room: &str) -> bool {
        let mut state = self.lock();
        let state = &mut *state;
        let key = id.key();
        let Some(slot) = state.conns.get_mut(key).filter(|s| s.id == id) else {
            return false;
        };
        if slot.rooms.contains(room) {
            return false;
        }
        let name: Arc<str> = match state.rooms.get_key_value(room) {
            Some((k, _)) => k.clone(),
            None => Arc::from(room),
        };
        slot.rooms.insert(name.clone());
        state.rooms.entry(name).or_default().insert(key);
        true
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
                    .map(|s| s.id)
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.lock().conns.len()
    }

    pub(crate) fn room_count(&self) -> usize {
        self.lock().rooms.len()
    }

    pub(crate) fn is_connected(&self, id: ClientId) -> bool {
        self.lock().conns.get(id.key()).is_some_and(|s| s.id == id)
    }

    /// Queues `msg` for one slot; applies the slow-consumer policy when full.
    fn enqueue(&self, slot: &mut Slot, msg: &Message) -> bool {
        match slot.outbox.push(msg.clone()) {
            Ok(()) => true,
            Err(QueueError::Closed) => false,
            Err(QueueError::Full) => {
                self.counters
                    .dropped_slow
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

    /// Queues `msg` for each id; returns how many queued it.
    pub(crate) fn deliver_to(
        &self,
        ids: impl IntoIterator<Item = ClientId>,
        msg: &Message,
        except: Option<ClientId>,
    ) -> usize {
        let mut state = self.lock();
        let mut n = 0;
        for id in ids {
            if Some(id) == except {
                continue;
            }
            if let Some(slot) = state.conns.get_mut(id.key()).filter(|s| s.id == id) {
                n += usize::from(self.enqueue(slot, msg));
            }
        }
        n
    }

    /// Queues `msg` for every member of the rooms (each member once).
    pub(crate) fn deliver_to_rooms<S: AsRef<str>>(
        &self,
        rooms: impl IntoIterator<Item = S>,
        msg: &Message,
        except: Option<ClientId>,
    ) -> usize {
        let mut guard = self.lock();
        let State {
            conns, rooms: all, ..
        } = &mut *guard;
        let mut rooms = rooms.into_iter();
        let mut n = 0;
        let mut deliver_one = |key: usize| {
            if let Some(slot) = conns.get_mut(key)
                && Some(slot.id) != except
            {
                n += usize::from(self.enqueue(slot, msg));
            }
        };
        let Some(first) = rooms.next() else { return 0 };
        match rooms.next() {
            None => {
                // One room: members are distinct already.
                if let Some(members) = all.get(first.as_ref()) {
                    members.iter().for_each(|&key| deliver_one(key));
                }
            }
            Some(second) => {
                let mut keys = HashSet::new();
                for room in [first, second].into_iter().chain(rooms) {
                    if let Some(members) = all.get(room.as_ref()) {
                        keys.extend(members.iter().copied());
                    }
                }
                keys.into_iter().for_each(deliver_one);
            }
        }
        n
    }

    /// Queues `msg` for every connection.
    pub(crate) fn deliver_all(&self, msg: &Message, except: Option<ClientId>) -> usize {
        let mut state = self.lock();
        let mut n = 0;
        for (_, slot) in state.conns.iter_mut() {
            if Some(slot.id) == except {
                continue;
            }
            n += usize::from(self.enqueue(slot, msg));
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
        self.shutdown.send_replace(true);
    }

    /// Counts a connection task as running until the guard drops.
    pub(crate) fn task_guard(self: &Arc<Self>) -> TaskGuard {
        self.tasks.send_modify(|n| *n += 1);
        TaskGuard(self.clone())
    }

    /// Starts the adapter (once) so deliveries from other nodes arrive here.
    pub(crate) fn start_adapter(self: &Arc<Self>) {
        if let Some(adapter) = &self.adapter
            && !self
                .adapter_started
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            adapter.start(crate::adapter::Inbox {
                core: Arc::downgrade(self),
            });
        }
    }

    /// Sockets being served: connections and handshakes in progress.
    pub(crate) fn task_count(&self) -> usize {
        *self.tasks.borrow()
    }

    /// Waits until no connection task is running.
    pub(crate) async fn wait_idle(&self) {
        let mut rx = self.tasks.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// Keeps a connection task counted; see [`Core::task_guard`].
pub(crate) struct TaskGuard(Arc<Core>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.tasks.send_modify(|n| *n -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> Arc<Core> {
        Core::new(
            Config::default().max_connections(3).queue_len(2),
            Counters::default(),
            None,
        )
    }

    #[test]
    fn ids_are_not_reused_when_slots_are() {
        let core = core();
        let a = core.register().unwrap();
        let a_id = a.id;
        core.unregister(a_id);
        let b = core.register().unwrap();
        assert_eq!(a_id.key(), b.id.key(), "slab slot is reused");
        assert_ne!(a_id, b.id, "but the id is not");
        assert!(!core.join(a_id, "lobby"), "a stale id cannot join");
        assert!(core.join(b.id, "lobby"));
    }

    #[test]
    fn rooms_are_removed_when_empty_and_on_unregister() {
        let core = core();
        let a = core.register().unwrap();
        let b = core.register().unwrap();
        assert!(core.join(a.id, "x"));
        assert!(!core.join(a.id, "x"), "joining twice is a no-op");
        assert!(core.join(b.id, "x"));
        assert!(core.join(a.id, "y"));
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
        let core = core();
        let _k: Vec<_> = (0..3).map(|_| core.register().unwrap()).collect();
        assert_eq!(core.register().err(), Some(RegisterError::Full));
    }

    #[test]
    fn full_queue_applies_close_policy_and_others_still_get_messages() {
        let core = core();
        let slow = core.register().unwrap();
        let fast = core.register().unwrap();
        let msg = Message::text("x");
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
        let core = core();
        let a = core.register().unwrap();
        let b = core.register().unwrap();
        core.join(a.id, "x");
        core.join(a.id, "y");
        core.join(b.id, "y");
        let msg = Message::text("m");
        assert_eq!(core.deliver_to_rooms(["x", "y"], &msg, None), 2);
        assert_eq!((a.outbox.len(), b.outbox.len()), (1, 1), "each member once");
        assert_eq!(core.deliver_to_rooms(["y"], &msg, Some(a.id)), 1);
        assert_eq!((a.outbox.len(), b.outbox.len()), (1, 2));
    }
}
