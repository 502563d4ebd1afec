//! The hub: connections, rooms and delivery, the server's shared,
//! router-independent state.
//!
//! It is a few types with one job each:
//!
//! - [`Conn`](registry::Conn): one connection: its outbox, its rooms, its
//!   recovery session, its tasks' scope, each behind its own lock;
//! - the registry (`registry`): connections by id in 256 shards, and the
//!   admission counts (how many, from which address, shutting down);
//! - the room table (`rooms`): which rooms exist, in 1,024 shards by the
//!   name's hash, and each room's members behind the room's own lock;
//! - delivery (`delivery`): queuing a message for clients, rooms, everyone,
//!   and the adapter; sessions, hand-overs and cluster questions
//!   (`session`, `sessions`, `handover`, `cluster`).
//!
//! A [`ClientId`] is the slot key plus a generation taken from a process-wide
//! counter, so an id is never reused while anyone may still hold it.
//!
//! # Which lock guards what
//!
//! No lock is held across an `.await`, and under none of them does anything
//! block: queuing is a non-blocking push to an outbox.
//!
//! | lock | guards | taken by |
//! |---|---|---|
//! | `admission` | the open count, per-address counts, the shutdown flag | registering and freeing a connection |
//! | one registry shard | the slab of 1/256 of the connections (and the map of adopted ids, a read-write lock beside them) | every lookup by id (a reply), a broadcast (one shard at a time) |
//! | a connection's `rooms` | the rooms it is in; its `leaving` flag is set under it | join, leave, leaving every room |
//! | one room-table shard | which rooms of 1/1,024 of the names exist | finding a room (held only for that), creating and removing one |
//! | a room's own lock | its members, and whether its adapter subscription is ready | a room send (for the whole send), join, leave |
//! | a connection's `session`, `scope` | its recovery state; its tasks and timers | recovery, a full queue, the scope |
//! | an outbox's own lock | the connection's queue | every push and every write |
//!
//! Locks are taken in that order (top to bottom) and never the other way,
//! so they cannot deadlock: a join holds the connection's `rooms`, then the
//! room's shard (so no leave removes the room under it), then the room; a
//! room send finds the room under its shard lock, lets go of it, and holds
//! only the room's lock while it pushes to the members' outboxes (reading a
//! member's `session` only when its queue is full). What this gives:
//!
//! - a reply locks one registry shard; a room send one room: on different
//!   rooms and connections, cores do not wait for each other;
//! - a member that joined receives every later message of the room: the
//!   join and the room's sends meet on the room's lock (and a join that
//!   waits for the adapter's subscription holds the member's outbox under
//!   it, see `join`);
//! - per-sender order: one task sends one message after the other, each
//!   queued before the send returns;
//! - a broadcast holds one registry shard at a time;
//! - what still serializes: sends to one room (its lock, for all its
//!   members), and every connection's registration and removal (`admission`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tungstenite::Utf8Bytes;

use crate::engine::adapter::{DeliverRemote, DynAdapter, Inbox, Opaque, Packet, Remote};
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
mod registry; // connections by id, in shards; admission counts
pub(crate) mod rooms; // the room table; join, leave, listings, leaving every room
pub(crate) mod session; // a recovery session's own state machine
pub(crate) mod sessions; // recovery: detaching a dropped client's session, resuming it, expiry

pub(crate) use registry::OutboxRef;
use registry::{Admission, Conn, Registry};

/// Shared state of one running app: connections, rooms, delivery (local
/// and, through the adapter, to other nodes), configuration, counters and
/// the lifecycle.
pub(crate) struct Hub {
    /// This node's id (0 without an adapter).
    pub(crate) node: u32,
    /// Carries deliveries to other nodes, when scaled out.
    adapter: Option<DynAdapter>,
    adapter_started: AtomicBool,
    /// Admission counts (see the module's lock table).
    admission: Mutex<Admission>,
    /// Connections by id.
    conns: Registry,
    /// Rooms by name.
    rooms: rooms::Table,
    generation: AtomicU32,
    pub(crate) config: Config,
    /// Every outbox's limits, from the configuration.
    limits: Arc<QueueLimits>,
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
    pub(crate) outbox: OutboxRef,
    /// With recovery on: what to greet the client with.
    pub(crate) welcome: Option<session::Welcome>,
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
            admission: Mutex::default(),
            conns: Registry::default(),
            rooms: rooms::Table::default(),
            generation: AtomicU32::new(1),
            limits: QueueLimits {
                soft_len: config.queue_len,
                soft_bytes: config.queue_bytes,
                grace: config.slow_consumer_grace,
                timed: counters.timed(),
            }
            .shared(),
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

    fn admission(&self) -> MutexGuard<'_, Admission> {
        lock_unpoisoned(&self.admission)
    }

    /// A new connection's outbox, with the configured limits.
    fn new_outbox(&self) -> Outbox {
        Outbox::sharing(self.limits.clone())
    }

    /// Counts a connection from `ip` in, if the limits allow it (the
    /// per-address one only with `per_ip_limit`).
    fn admit(
        &self,
        admission: &mut Admission,
        ip: Option<IpAddr>,
        per_ip_limit: bool,
    ) -> Result<(), RegisterError> {
        if admission.closed {
            return Err(RegisterError::ShuttingDown);
        }
        if admission.open >= self.config.max_connections {
            return Err(RegisterError::Full);
        }
        if let (Some(ip), Some(limit), true) =
            (ip, self.config.max_connections_per_ip, per_ip_limit)
            && admission.per_ip.get(&ip).copied().unwrap_or(0) >= limit
        {
            return Err(RegisterError::TooManyFromAddress);
        }
        if let Some(ip) = ip {
            *admission.per_ip.entry(ip).or_default() += 1;
        }
        admission.open += 1;
        Ok(())
    }

    /// Reserves a slot for a new connection from `ip` (when known);
    /// `identity` binds its session (with recovery on) to its handshake.
    pub(crate) fn register(
        &self,
        ip: Option<IpAddr>,
        identity: u64,
    ) -> Result<Registered, RegisterError> {
        // Admission is held until the connection is in the registry, so a
        // shutdown that starts meanwhile finds it there and closes it.
        let mut admission = self.admission();
        self.admit(&mut admission, ip, true)?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let mut welcome = None;
        let conn = self.conns.insert(
            |key| {
                let id = ClientId::new(self.node, generation, key);
                let outbox = self.new_outbox();
                let session = match &self.config.recovery {
                    Some(recovery) => session::Session::new(id, identity).map(|(s, w)| {
                        outbox.record_history(History::new(recovery));
                        welcome = Some(w);
                        Box::new(s)
                    }),
                    None => None,
                };
                Conn::new(id, outbox, ip, session)
            },
            false,
        );
        drop(admission);
        Ok(Registered {
            id: conn.id,
            outbox: OutboxRef(conn),
            welcome,
        })
    }

    /// Bytes waiting in every connection's outgoing queue.
    #[cfg(feature = "metrics")]
    pub(crate) fn queued_bytes(&self) -> usize {
        let mut bytes = 0;
        self.conns.each(|c| bytes += c.outbox.queued_bytes());
        bytes
    }

    /// Why this node is not ready for new clients, if it is not: shutting
    /// down, or its adapter is not connected to the other nodes.
    pub(crate) fn unready(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        if self.admission().closed {
            reasons.push("shutting down");
        }
        if self.adapter.as_ref().is_some_and(|a| !a.connected()) {
            reasons.push("adapter disconnected");
        }
        reasons
    }

    pub(crate) fn connection_count(&self) -> usize {
        let open = self.admission().open;
        open.saturating_sub(self.conns.leaving.load(Ordering::Relaxed))
            .saturating_sub(self.conns.detached.load(Ordering::Relaxed))
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
                packet: Packet::Presence(Opaque(text.into_bytes().into_boxed_slice())),
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
        let conn = self.conns.get(id).filter(|c| !c.is_leaving())?;
        let mut slot = lock_unpoisoned(&conn.scope);
        match &*slot {
            ScopeSlot::Running(scope) => Some(scope.clone()),
            ScopeSlot::Ended => None,
            ScopeSlot::None => {
                let scope = ConnScope::new(self.config.close_timeout);
                *slot = ScopeSlot::Running(scope.clone());
                Some(scope)
            }
        }
    }

    /// Ends `id`'s tasks and timers (its session ended); none can start after.
    fn end_scope(&self, id: ClientId) {
        let scope = self
            .conns
            .get(id)
            .map(|c| std::mem::replace(&mut *lock_unpoisoned(&c.scope), ScopeSlot::Ended));
        if let Some(ScopeSlot::Running(scope)) = scope {
            scope.end();
        }
    }

    /// The outgoing queue of `id`'s slot.
    pub(crate) fn outbox_of(&self, id: ClientId) -> Option<OutboxRef> {
        self.conns.get(id).map(OutboxRef)
    }

    /// Whether `id` has a session here (connected, or away and resumable).
    pub(crate) fn is_present(&self, id: ClientId) -> bool {
        self.conns.with(id, |c| !c.is_leaving()).unwrap_or(false)
    }

    pub(crate) fn is_connected(&self, id: ClientId) -> bool {
        self.conns
            .get(id)
            .is_some_and(|c| !c.is_leaving() && !Hub::away(&c))
    }

    /// Empties one connection's queue (for the fuzz harness, which has no socket).
    #[cfg(any(fuzzing, test))]
    pub(crate) fn drain(&self, id: ClientId) {
        self.conns.with(id, |c| c.outbox.clear());
    }

    /// Asks one connection to close.
    pub(crate) fn close(
        &self,
        id: ClientId,
        code: u16,
        reason: impl Into<std::borrow::Cow<'static, str>>,
    ) -> bool {
        let reason = reason.into();
        self.conns
            .with(id, |c| {
                c.outbox.close(CloseCmd { code, reason });
            })
            .is_some()
    }

    /// Stops registrations and asks every connection to close with 1001.
    pub(crate) fn begin_shutdown(&self) {
        self.admission().closed = true;
        self.conns.each(|c| {
            c.outbox.close(CloseCmd {
                code: 1001,
                reason: "server shutting down".into(),
            });
        });
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
        let (target, except, text) = match remote.packet {
            Packet::Delivery {
                target,
                except,
                text,
            } => (target, except, text),
            Packet::Session(body) => {
                self.on_session_message(&body);
                return 0;
            }
            Packet::Cluster { body, .. } => {
                self.on_cluster_message(&body);
                return 0;
            }
            Packet::Presence(body) => {
                let Ok(text) = std::str::from_utf8(&body.0) else {
                    tracing::warn!("ignoring a malformed presence message from another node");
                    return 0;
                };
                let hooks: Vec<PresenceHook> = lock_unpoisoned(&self.presence).clone();
                for hook in hooks {
                    hook(text);
                }
                return 0;
            }
        };
        let text = Utf8Bytes::from(text);
        let n = self.deliver_local(&target, &text, &except);
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
