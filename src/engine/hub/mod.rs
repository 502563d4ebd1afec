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

use tungstenite::Utf8Bytes;

use crate::engine::adapter::{DeliverRemote, DynAdapter, Inbox, Remote, RoomReady, Target};
use crate::engine::asks::Asks;
use crate::engine::config::Config;
use crate::engine::lifecycle::Lifecycle;
use crate::engine::metrics::Counters;
use crate::engine::outbox::{CloseCmd, Outbox, QueueLimits};
use crate::engine::recovery::History;
use crate::engine::tasks::{ConnScope, ScopeSlot};
use crate::protocol::client_id::ClientId;
use crate::util::lock_unpoisoned;

pub(crate) mod cluster; // cluster-wide operations: questions to other nodes and their answers
mod delivery; // queuing a message for clients, rooms, everyone; the adapter
pub(crate) mod handover; // recovery across nodes: a dropped session moves to the node its client reached
pub(crate) mod rooms; // join, leave, listings, and leaving every room when a connection ends
pub(crate) mod sessions; // recovery: detaching a dropped client's session, resuming it, expiry

pub(crate) struct Slot {
    id: ClientId,
    outbox: Arc<Outbox>,
    rooms: HashSet<Arc<str>>,
    dropped: u64,
    /// The address the connection counts against, when known.
    ip: Option<IpAddr>,
    /// Gone, and still leaving its rooms (see `Hub::unregister_gradually`).
    leaving: bool,
    /// With recovery on: the session's token and whether its client is away.
    session: Option<Box<sessions::Session>>,
    /// The connection's tasks and timers (see `engine::tasks`).
    scope: ScopeSlot,
}

#[derive(Default)]
pub(crate) struct State {
    conns: slab::Slab<Slot>,
    rooms: HashMap<Arc<str>, HashSet<usize>>,
    /// Connections per address, for `max_connections_per_ip`.
    per_ip: HashMap<IpAddr, usize>,
    /// Slots of connections that are gone but still leaving their rooms.
    leaving: usize,
    /// Slots whose client dropped and may resume (recovery).
    detached: usize,
    /// Sessions of other nodes' ids that moved here (recovery across nodes),
    /// by id: their slot keys here.
    adopted: HashMap<ClientId, usize>,
    /// Rooms whose deliveries from other nodes this node does not receive
    /// yet (per-room adapters): members who join meanwhile wait too.
    opening: HashMap<Arc<str>, RoomReady>,
    closed: bool,
}

impl State {
    /// The slot key of `id` here: the one its id names, or the one it got
    /// when its session moved here from another node.
    pub(super) fn key(&self, id: ClientId) -> usize {
        if self.adopted.is_empty() {
            return id.key();
        }
        self.adopted.get(&id).copied().unwrap_or_else(|| id.key())
    }
    pub(super) fn slot(&self, id: ClientId) -> Option<&Slot> {
        self.conns.get(self.key(id)).filter(|s| s.id == id)
    }
    pub(super) fn slot_mut(&mut self, id: ClientId) -> Option<&mut Slot> {
        let key = self.key(id);
        self.conns.get_mut(key).filter(|s| s.id == id)
    }
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
    /// Hand-overs this node asked other nodes for, by request number.
    handovers: handover::Waiting,
    /// Run with a client's id when its session ends, before `on_disconnect`
    /// (presence clean-up).
    gone: Mutex<Vec<GoneHook>>,
    /// Run with the text of every presence message from another node.
    presence: Mutex<Vec<PresenceHook>>,
    /// Questions asked of this node's clients, waiting for their answers.
    pub(crate) asks: Asks,
    /// Cluster-wide questions this node asked, waiting for answers.
    questions: cluster::Questions,
    /// The app's state (`Builder::state`), set once when the app is built.
    app_state: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

/// See [`Hub::on_presence_message`].
pub(crate) type PresenceHook = Arc<dyn Fn(&str) + Send + Sync>;

/// See [`Hub::on_gone`].
pub(crate) type GoneHook = Arc<dyn Fn(ClientId) + Send + Sync>;

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

/// A new (or resumed) connection's id and outgoing queue.
pub(crate) struct Registered {
    pub(crate) id: ClientId,
    pub(crate) outbox: Arc<Outbox>,
    /// With recovery on: what to greet the client with.
    pub(crate) welcome: Option<sessions::Welcome>,
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
            handovers: handover::Waiting::default(),
            gone: Mutex::new(Vec::new()),
            presence: Mutex::new(Vec::new()),
            asks: Asks::default(),
            questions: Default::default(),
            app_state: std::sync::OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock_unpoisoned(&self.state)
    }

    /// Reserves a slot for a new connection from `ip` (when known);
    /// `identity` binds its session (with recovery on) to its handshake.
    pub(crate) fn register(
        &self,
        ip: Option<IpAddr>,
        identity: u64,
    ) -> Result<Registered, RegisterError> {
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
            timed: self.counters.timed(),
        }));
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let entry = state.conns.vacant_entry();
        let id = ClientId::new(self.node, generation, entry.key());
        let (session, welcome) = match (
            &self.config.recovery,
            self.config
                .recovery
                .and_then(|_| sessions::Session::new(id, identity)),
        ) {
            (Some(recovery), Some((session, welcome))) => {
                outbox.record_history(History::new(recovery));
                (Some(Box::new(session)), Some(welcome))
            }
            _ => (None, None),
        };
        entry.insert(Slot {
            id,
            outbox: outbox.clone(),
            rooms: HashSet::new(),
            dropped: 0,
            ip,
            leaving: false,
            session,
            scope: ScopeSlot::None,
        });
        Ok(Registered {
            id,
            outbox,
            welcome,
        })
    }

    /// Bytes waiting in every connection's outgoing queue.
    #[cfg(feature = "metrics")]
    pub(crate) fn queued_bytes(&self) -> usize {
        let state = self.lock();
        state
            .conns
            .iter()
            .map(|(_, slot)| slot.outbox.queued_bytes())
            .sum()
    }

    /// Why this node is not ready for new clients, if it is not: shutting
    /// down, or its adapter is not connected to the other nodes.
    pub(crate) fn unready(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        if self.lock().closed {
            reasons.push("shutting down");
        }
        if self.adapter.as_ref().is_some_and(|a| !a.connected()) {
            reasons.push("adapter disconnected");
        }
        reasons
    }

    pub(crate) fn connection_count(&self) -> usize {
        let state = self.lock();
        state.conns.len() - state.leaving - state.detached
    }

    /// Runs `hook` with the id of every session that ends here (closed,
    /// expired, or handed to another node), before its `on_disconnect`.
    pub(crate) fn on_gone(&self, hook: GoneHook) {
        lock_unpoisoned(&self.gone).push(hook);
    }

    /// Runs `hook` with the text of every presence message other nodes send.
    pub(crate) fn on_presence_message(&self, hook: PresenceHook) {
        lock_unpoisoned(&self.presence).push(hook);
    }

    /// Sends a presence message to the other nodes (nothing without an adapter).
    pub(crate) fn publish_presence(&self, text: String) {
        if let Some(adapter) = &self.adapter {
            adapter.publish(Remote {
                origin: self.node,
                target: Target::Presence,
                except: Vec::new(),
                text,
            });
        }
    }

    /// Whether other nodes may exist (an adapter is configured).
    pub(crate) fn clustered(&self) -> bool {
        self.adapter.is_some()
    }

    /// Tells the [`on_gone`](Hub::on_gone) hooks that `id`'s session ended.
    pub(crate) fn session_ended(&self, id: ClientId) {
        self.asks.end(id);
        self.end_scope(id);
        let hooks: Vec<GoneHook> = lock_unpoisoned(&self.gone).clone();
        for hook in hooks {
            hook(id);
        }
    }

    /// Sets the app's state (once, when the app is built).
    pub(crate) fn set_app_state(&self, state: Arc<dyn std::any::Any + Send + Sync>) {
        let _ = self.app_state.set(state);
    }

    /// The app's state as `A`. The typed front asks only for the type the
    /// app's builder set (or `()`, which every app has), so the lookup holds.
    pub(crate) fn app_state<A: Send + Sync + 'static>(&self) -> &A {
        static NONE: () = ();
        let set = self.app_state.get().and_then(|s| s.downcast_ref::<A>());
        let unit = (&NONE as &(dyn std::any::Any + Send + Sync)).downcast_ref::<A>();
        match set.or(unit) {
            Some(state) => state,
            None => panic!(
                "zocket: no app state of type {} (a bug: the builder's state type and the handler's differ)",
                std::any::type_name::<A>()
            ),
        }
    }

    /// The scope of `id`'s tasks and timers, made at first use; `None` once
    /// its session has ended (or it is not here).
    pub(crate) fn conn_scope(&self, id: ClientId) -> Option<Arc<ConnScope>> {
        let mut state = self.lock();
        let slot = state.slot_mut(id).filter(|s| !s.leaving)?;
        match &slot.scope {
            ScopeSlot::Running(scope) => Some(scope.clone()),
            ScopeSlot::Ended => None,
            ScopeSlot::None => {
                let scope = ConnScope::new(self.config.close_timeout);
                slot.scope = ScopeSlot::Running(scope.clone());
                Some(scope)
            }
        }
    }

    /// Ends `id`'s tasks and timers (its session ended); none can start after.
    fn end_scope(&self, id: ClientId) {
        let scope = self
            .lock()
            .slot_mut(id)
            .map(|s| std::mem::replace(&mut s.scope, ScopeSlot::Ended));
        if let Some(ScopeSlot::Running(scope)) = scope {
            scope.end();
        }
    }

    /// The outgoing queue of `id`'s slot.
    pub(crate) fn outbox_of(&self, id: ClientId) -> Option<Arc<Outbox>> {
        self.lock().slot(id).map(|s| s.outbox.clone())
    }

    /// Whether `id` has a session here (connected, or away and resumable).
    pub(crate) fn is_present(&self, id: ClientId) -> bool {
        self.lock().slot(id).is_some_and(|s| !s.leaving)
    }

    pub(crate) fn is_connected(&self, id: ClientId) -> bool {
        self.lock()
            .slot(id)
            .is_some_and(|s| !s.leaving && !Hub::away(s))
    }

    /// Empties one connection's queue (for the fuzz harness, which has no socket).
    #[cfg(any(fuzzing, test))]
    pub(crate) fn drain(&self, id: ClientId) {
        let state = self.lock();
        if let Some(slot) = state.slot(id) {
            slot.outbox.clear();
        }
    }

    /// Asks one connection to close.
    pub(crate) fn close(
        &self,
        id: ClientId,
        code: u16,
        reason: impl Into<std::borrow::Cow<'static, str>>,
    ) -> bool {
        let state = self.lock();
        match state.slot(id) {
            Some(slot) => {
                slot.outbox.close(CloseCmd {
                    code,
                    reason: reason.into(),
                });
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
                reason: "server shutting down".into(),
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
    fn other_version(&self, version: u8) {
        let n = self
            .counters
            .remote_other_version
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                version,
                speaks = crate::engine::adapter::PACKET_VERSION,
                count = n,
                "a packet from another node in a version this node does not speak (another zocket release?): ignored, not read"
            );
        }
    }
    fn deliver_remote(&self, remote: Remote) -> usize {
        if remote.target == Target::Session {
            self.on_session_message(&remote.text);
            return 0;
        }
        if let Target::Cluster { .. } = remote.target {
            self.on_cluster_message(&remote.text);
            return 0;
        }
        if remote.target == Target::Presence {
            let hooks: Vec<PresenceHook> = lock_unpoisoned(&self.presence).clone();
            for hook in hooks {
                hook(&remote.text);
            }
            return 0;
        }
        let text = Utf8Bytes::from(remote.text);
        let n = self.deliver_local(&remote.target, &text, &remote.except);
        self.counters
            .remote_received
            .fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            self.counters.remote_unused.fetch_add(1, Ordering::Relaxed);
        }
        n
    }
}

#[cfg(test)]
mod tests;
