//! The registry: every connection of this node by id, in shards, and the
//! admission counts (how many, from which address, shutting down).
//!
//! A connection is one [`Conn`], shared (`Arc`) by its registry shard, the
//! rooms it is in and its own tasks. Its slot key says which shard holds it
//! (the low [`SHARD_BITS`] bits) and where in that shard's slab (the rest),
//! so finding an id locks one shard of [`SHARDS`], never the whole registry.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::session::Session;
use crate::engine::outbox::Outbox;
use crate::engine::tasks::ScopeSlot;
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

/// Bits of a slot key that name its shard.
pub(super) const SHARD_BITS: u32 = 8;
/// How many shards the registry (and the room table) has: enough that two
/// cores rarely meet on one, few enough that walking them all is cheap.
pub(super) const SHARDS: usize = 1 << SHARD_BITS;

/// A value alone on its cache line(s), so the locks of neighbouring shards
/// do not bounce one line between cores.
#[repr(align(128))]
#[derive(Default)]
pub(super) struct Padded<T>(pub(super) T);

/// One connection (or a session whose client is away), as the hub knows it.
pub(crate) struct Conn {
    pub(crate) id: ClientId,
    /// Its outgoing queue (one allocation with the rest: see [`OutboxRef`]).
    pub(crate) outbox: Outbox,
    /// The address the connection counts against, when known.
    pub(super) ip: Option<IpAddr>,
    /// Messages dropped because its queue was full (slow-consumer policy).
    pub(super) dropped: AtomicU64,
    /// Gone, and still leaving its rooms (see `Hub::unregister_gradually`):
    /// set under `rooms`, so no join can follow it.
    pub(super) leaving: AtomicBool,
    /// The rooms it is in (its own lock; see the hub's lock order).
    pub(super) rooms: Mutex<HashSet<Arc<str>>>,
    /// With recovery on: the session's token and whether its client is away.
    pub(super) session: Mutex<Option<Box<Session>>>,
    /// The connection's tasks and timers (see `engine::tasks`).
    pub(super) scope: Mutex<ScopeSlot>,
}

impl Conn {
    pub(super) fn new(
        id: ClientId,
        outbox: Outbox,
        ip: Option<IpAddr>,
        session: Option<Box<Session>>,
    ) -> Conn {
        Conn {
            id,
            outbox,
            ip,
            dropped: AtomicU64::new(0),
            leaving: AtomicBool::new(false),
            rooms: Mutex::default(),
            session: Mutex::new(session),
            scope: Mutex::default(),
        }
    }

    pub(super) fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::Acquire)
    }

    pub(super) fn session(&self) -> MutexGuard<'_, Option<Box<Session>>> {
        lock_unpoisoned(&self.session)
    }
}

/// A connection's outgoing queue, as its socket's task holds it: the
/// queue lives in the connection's record (one allocation, not two), so
/// this keeps the record alive.
#[derive(Clone)]
pub(crate) struct OutboxRef(pub(super) Arc<Conn>);

impl std::ops::Deref for OutboxRef {
    type Target = Outbox;
    fn deref(&self) -> &Outbox {
        &self.0.outbox
    }
}

/// How many connections are open, from which addresses, and whether new
/// ones are still taken. Only registration and removal take its lock.
#[derive(Default)]
pub(super) struct Admission {
    /// Slots in the registry: connected, away (recovery) or leaving.
    pub(super) open: usize,
    /// Connections per address, for `max_connections_per_ip`.
    pub(super) per_ip: HashMap<IpAddr, usize>,
    pub(super) closed: bool,
}

/// One shard: connections by the rest of their slot key.
type Shard = slab::Slab<Arc<Conn>>;

/// Connections by slot key, in shards.
pub(super) struct Registry {
    shards: Box<[Padded<Mutex<Shard>>]>,
    /// Where the next connection goes (round robin over the shards).
    next: AtomicUsize,
    /// Sessions of other nodes' ids that moved here (recovery across
    /// nodes): their slot keys here. Counted, so that lookups skip the
    /// map while it is empty, as it nearly always is.
    adopted: RwLock<HashMap<ClientId, usize>>,
    adopted_count: AtomicUsize,
    /// Slots of connections that are gone but still leaving their rooms.
    pub(super) leaving: AtomicUsize,
    /// Slots whose client dropped and may resume (recovery).
    pub(super) detached: AtomicUsize,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
            next: AtomicUsize::new(0),
            adopted: RwLock::default(),
            adopted_count: AtomicUsize::new(0),
            leaving: AtomicUsize::new(0),
            detached: AtomicUsize::new(0),
        }
    }
}

impl Registry {
    fn shard(&self, key: usize) -> MutexGuard<'_, Shard> {
        lock_unpoisoned(&self.shards[key & (SHARDS - 1)].0)
    }

    /// The slot key of `id` here: the one its id names, or the one it got
    /// when its session moved here from another node.
    fn key(&self, id: ClientId) -> usize {
        if self.adopted_count.load(Ordering::Acquire) == 0 {
            return id.key();
        }
        let adopted = self.adopted.read().unwrap_or_else(|p| p.into_inner());
        adopted.get(&id).copied().unwrap_or_else(|| id.key())
    }

    /// Runs `f` with `id`'s connection, under its shard's lock only.
    pub(super) fn with<R>(&self, id: ClientId, f: impl FnOnce(&Arc<Conn>) -> R) -> Option<R> {
        let key = self.key(id);
        let shard = self.shard(key);
        shard.get(key >> SHARD_BITS).filter(|c| c.id == id).map(f)
    }

    /// `id`'s connection.
    pub(super) fn get(&self, id: ClientId) -> Option<Arc<Conn>> {
        self.with(id, Arc::clone)
    }

    /// Places a new connection made by `make` from its slot key; with
    /// `adopted`, under that id's own key (a session from another node).
    pub(super) fn insert(&self, make: impl FnOnce(usize) -> Conn, adopted: bool) -> Arc<Conn> {
        let shard = self.next.fetch_add(1, Ordering::Relaxed) & (SHARDS - 1);
        let mut slab = self.shard(shard);
        let entry = slab.vacant_entry();
        let key = (entry.key() << SHARD_BITS) | shard;
        let conn = Arc::new(make(key));
        entry.insert(conn.clone());
        drop(slab);
        if adopted {
            let mut map = self.adopted.write().unwrap_or_else(|p| p.into_inner());
            map.insert(conn.id, key);
            self.adopted_count.store(map.len(), Ordering::Release);
        }
        conn
    }

    /// Frees `id`'s slot; the connection it held.
    pub(super) fn remove(&self, id: ClientId) -> Option<Arc<Conn>> {
        let key = self.key(id);
        let conn = {
            let mut shard = self.shard(key);
            let inner = key >> SHARD_BITS;
            if shard.get(inner).is_none_or(|c| c.id != id) {
                return None;
            }
            shard.remove(inner)
        };
        // An adopted id's own key may equal its key here: look it up by id.
        if self.adopted_count.load(Ordering::Acquire) > 0 {
            let mut map = self.adopted.write().unwrap_or_else(|p| p.into_inner());
            if map.remove(&id).is_some() {
                self.adopted_count.store(map.len(), Ordering::Release);
            }
        }
        Some(conn)
    }

    /// Runs `f` with every connection, one shard at a time: the others
    /// stay free meanwhile.
    pub(super) fn each(&self, mut f: impl FnMut(&Arc<Conn>)) {
        for shard in self.shards.iter() {
            for (_, conn) in lock_unpoisoned(&shard.0).iter() {
                f(conn);
            }
        }
    }
}
