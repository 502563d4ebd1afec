//! The context a handler gets, and typed delivery of outgoing messages.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use garde::Validate;
use tungstenite::Message;

use crate::adapter::{self, Target};
use crate::error::SendError;
use crate::registry::{ClientId, Core};
use crate::route::Outgoing;
use crate::router::{Contains, wire_name};
use crate::wire;

/// The connection a message came from: its id and its rooms.
///
/// Router-independent, so [`Middleware`](crate::Middleware) can use it whatever
/// the router. Cheap to clone.
#[derive(Clone)]
pub struct Conn {
    pub(crate) core: Arc<Core>,
    pub(crate) id: ClientId,
}

impl Conn {
    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }
    /// Joins `room`; `false` if already a member (or the connection is gone).
    pub fn join(&self, room: &str) -> bool {
        self.core.join(self.id, room)
    }
    /// Leaves `room`; `false` if not a member. An empty room is removed.
    pub fn leave(&self, room: &str) -> bool {
        self.core.leave(self.id, room)
    }
    /// Whether the client is in `room`.
    pub fn in_room(&self, room: &str) -> bool {
        self.core.in_room(self.id, room)
    }
    /// The client's rooms, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.core.rooms_of(self.id)
    }
    /// Closes this connection with a close code (e.g. 1008) and reason.
    pub fn close(&self, code: u16, reason: &'static str) {
        self.core.close(self.id, code, reason);
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").field("id", &self.id).finish()
    }
}

/// What a handler gets besides the payload: the context data `C`, the client's
/// id and rooms, and typed sending through router `R`.
///
/// `C` is the user data built by `on_connect`, as transformed by the handler's
/// middleware chain. `R` is the app's router: [`Ctx::send`] accepts only its
/// outgoing routes. A type alias keeps handler signatures short:
///
/// ```
/// # struct AppRouter; struct User;
/// type Ctx<C = User> = zocket::Ctx<AppRouter, C>;
/// ```
pub struct Ctx<R, C = ()> {
    data: C,
    conn: Conn,
    _router: PhantomData<fn() -> R>,
}

impl<R, C> Ctx<R, C> {
    pub(crate) fn new(data: C, conn: Conn) -> Self {
        Ctx {
            data,
            conn,
            _router: PhantomData,
        }
    }
    /// The client's id.
    pub fn id(&self) -> ClientId {
        self.conn.id
    }
    /// The context data.
    pub fn data(&self) -> &C {
        &self.data
    }
    /// The context data, mutably (changes last for this message only).
    pub fn data_mut(&mut self) -> &mut C {
        &mut self.data
    }
    /// Takes the context data out.
    pub fn into_data(self) -> C {
        self.data
    }
    /// The connection: id and rooms.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }
    /// Replaces the data through `f`.
    pub fn map<D>(self, f: impl FnOnce(C) -> D) -> Ctx<R, D> {
        Ctx::new(f(self.data), self.conn)
    }
    /// Joins `room`; `false` if already a member.
    pub fn join(&self, room: &str) -> bool {
        self.conn.join(room)
    }
    /// Leaves `room`; `false` if not a member.
    pub fn leave(&self, room: &str) -> bool {
        self.conn.leave(room)
    }
    /// Whether the client is in `room`.
    pub fn in_room(&self, room: &str) -> bool {
        self.conn.in_room(room)
    }
    /// The client's rooms, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.conn.rooms()
    }
    /// A handle to the whole server (other clients, rooms, shutdown).
    pub fn server(&self) -> ServerHandle<R> {
        ServerHandle::new(self.conn.core.clone())
    }

    /// Prepares an outgoing message: validates `payload`, serializes it once,
    /// and returns a [`Delivery`] on which you choose the recipients.
    ///
    /// Only outgoing routes of `R` compile, each with its own payload type.
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// # use zocket::{ClientId, Ctx, HandlerResult, Incoming, Outgoing};
    /// # #[derive(Clone, Serialize, Deserialize, Validate)]
    /// # struct Text { #[garde(length(min = 1))] text: String }
    /// # struct Post; impl Incoming for Post { const NAME: &'static str = "post"; type Payload = Text; }
    /// # struct OnPost; impl Outgoing for OnPost { const NAME: &'static str = "onPost"; type Payload = Text; }
    /// # type AppRouter = (Post, (OnPost, ()));
    /// async fn post(msg: Text, ctx: Ctx<AppRouter>) -> HandlerResult {
    ///     ctx.send(OnPost, msg.clone())?.broadcast(); // everyone
    ///     ctx.send(OnPost, msg.clone())?.except(ctx.id()).broadcast(); // all but the sender
    ///     ctx.send(OnPost, msg.clone())?.to_room(["lobby"]); // the room's members
    ///     ctx.send(OnPost, msg.clone())?.except(ctx.id()).to_room(["lobby"]);
    ///     ctx.send(OnPost, msg)?.to([ctx.id()]); // chosen clients
    ///     Ok(())
    /// }
    /// ```
    pub fn send<O, I>(
        &self,
        route: O,
        payload: O::Payload,
    ) -> Result<Delivery, SendError<O::Payload>>
    where
        O: Outgoing,
        R: Contains<O, I>,
    {
        let mut d = prepare::<R, O, I>(&self.conn.core, route, payload)?;
        d.sender = Some(self.conn.id);
        Ok(d)
    }

    /// Sends to this client only; `Ok(false)` if it could not be queued.
    pub fn reply<O, I>(&self, route: O, payload: O::Payload) -> Result<bool, SendError<O::Payload>>
    where
        O: Outgoing,
        R: Contains<O, I>,
    {
        Ok(self.send(route, payload)?.to([self.conn.id]) == 1)
    }
}

impl<R, C: fmt::Debug> fmt::Debug for Ctx<R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("id", &self.conn.id)
            .field("data", &self.data)
            .finish()
    }
}

fn prepare<R, O, I>(
    core: &Arc<Core>,
    _route: O,
    payload: O::Payload,
) -> Result<Delivery, SendError<O::Payload>>
where
    O: Outgoing,
    R: Contains<O, I>,
{
    let route = wire_name::<R, O, I>(O::NAME);
    if let Err(report) = payload.validate() {
        return Err(SendError::Invalid {
            route,
            payload,
            report,
        });
    }
    match wire::encode(&route, &payload) {
        Ok(text) => Ok(Delivery {
            core: core.clone(),
            msg: Message::Text(text.into()),
            except: None,
            sender: None,
            route,
        }),
        Err(source) => Err(SendError::Serialize {
            route,
            payload,
            source,
        }),
    }
}

/// A validated, serialized message waiting for its recipients.
///
/// The message is serialized once; every recipient's queue gets the same shared
/// bytes. Nothing is sent until you pick the recipients; each method returns how
/// many connections (on this server) the message was queued for. Queuing never
/// waits: a client whose queue is full gets the configured
/// [`SlowConsumer`](crate::SlowConsumer) policy.
#[must_use = "a Delivery sends nothing until you choose recipients: .to(..), .to_room(..) or .broadcast()"]
pub struct Delivery {
    core: Arc<Core>,
    msg: Message,
    except: Option<ClientId>,
    sender: Option<ClientId>,
    route: String,
}

impl Delivery {
    /// Leaves `id` out of the recipients (typically the sender: `.except(ctx.id())`).
    pub fn except(mut self, id: ClientId) -> Self {
        self.except = Some(id);
        self
    }
    /// Leaves the sending client out (no effect outside a handler).
    pub fn except_sender(mut self) -> Self {
        self.except = self.sender;
        self
    }
    /// Sends to these clients. Ids of clients that are gone are skipped.
    /// With an adapter, ids issued by other nodes are sent through it.
    pub fn to(self, ids: impl IntoIterator<Item = ClientId>) -> usize {
        let n = if self.core.adapter.is_none() {
            self.core.deliver_to(ids, &self.msg, self.except)
        } else {
            let node = self.core.node;
            let (local, remote): (Vec<ClientId>, Vec<ClientId>) =
                ids.into_iter().partition(|id| id.node() == node);
            let n = self.core.deliver_to(local, &self.msg, self.except);
            adapter::publish(&self.core, Target::Clients(remote), self.except, &self.msg);
            n
        };
        self.counted(n)
    }
    /// Sends to every member of these rooms, each member once (on every
    /// node, with an adapter). Returns this node's count.
    pub fn to_room<S: AsRef<str>>(self, rooms: impl IntoIterator<Item = S>) -> usize {
        let n = if self.core.adapter.is_none() {
            self.core.deliver_to_rooms(rooms, &self.msg, self.except)
        } else {
            let rooms: Vec<String> = rooms.into_iter().map(|r| r.as_ref().to_owned()).collect();
            let n = self.core.deliver_to_rooms(&rooms, &self.msg, self.except);
            adapter::publish(&self.core, Target::Rooms(rooms), self.except, &self.msg);
            n
        };
        self.counted(n)
    }
    /// Sends to every connected client (on every node, with an adapter).
    /// Returns this node's count.
    pub fn broadcast(self) -> usize {
        let n = self.core.deliver_all(&self.msg, self.except);
        adapter::publish(&self.core, Target::All, self.except, &self.msg);
        self.counted(n)
    }
    fn counted(self, recipients: usize) -> usize {
        self.core.counters.message_out(&self.route, recipients);
        recipients
    }
    /// The JSON text that will be sent.
    pub fn text(&self) -> &str {
        match &self.msg {
            Message::Text(t) => t.as_str(),
            _ => "",
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("text", &self.text())
            .field("except", &self.except)
            .finish()
    }
}

/// A handle to a running (or built) app, usable outside handlers: send to any
/// client, room or everyone, inspect rooms, close clients, shut down.
///
/// Cheap to clone. Get one from [`Zocket::handle`](crate::Zocket::handle) or
/// [`Ctx::server`].
pub struct ServerHandle<R> {
    pub(crate) core: Arc<Core>,
    _router: PhantomData<fn() -> R>,
}

impl<R> Clone for ServerHandle<R> {
    fn clone(&self) -> Self {
        ServerHandle::new(self.core.clone())
    }
}

impl<R> fmt::Debug for ServerHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("connections", &self.connection_count())
            .finish()
    }
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Open connections.
    pub connections: usize,
    /// Rooms with at least one member.
    pub rooms: usize,
    /// Messages not queued because a client's queue was full.
    pub dropped_slow: u64,
}

impl<R> ServerHandle<R> {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        ServerHandle {
            core,
            _router: PhantomData,
        }
    }
    /// Prepares an outgoing message for any recipients; see [`Ctx::send`].
    pub fn send<O, I>(
        &self,
        route: O,
        payload: O::Payload,
    ) -> Result<Delivery, SendError<O::Payload>>
    where
        O: Outgoing,
        R: Contains<O, I>,
    {
        prepare::<R, O, I>(&self.core, route, payload)
    }
    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.core.connection_count()
    }
    /// Whether `id` is connected.
    pub fn is_connected(&self, id: ClientId) -> bool {
        self.core.is_connected(id)
    }
    /// Names of the rooms that have members, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.core.room_names()
    }
    /// Members of `room`, sorted.
    pub fn members(&self, room: &str) -> Vec<ClientId> {
        self.core.members(room)
    }
    /// Makes client `id` join `room`.
    pub fn join(&self, id: ClientId, room: &str) -> bool {
        self.core.join(id, room)
    }
    /// Makes client `id` leave `room`.
    pub fn leave(&self, id: ClientId, room: &str) -> bool {
        self.core.leave(id, room)
    }
    /// Closes client `id`'s connection with `code`.
    pub fn close(&self, id: ClientId, code: u16, reason: &'static str) -> bool {
        self.core.close(id, code, reason)
    }
    /// A snapshot of every counter: connections, rooms, messages in and out
    /// per route, errors by kind, slow-consumer drops.
    pub fn metrics(&self) -> crate::Metrics {
        self.core
            .counters
            .snapshot(self.core.connection_count(), self.core.room_count())
    }
    /// The headline counters (cheaper than [`ServerHandle::metrics`]).
    pub fn stats(&self) -> Stats {
        Stats {
            connections: self.core.connection_count(),
            rooms: self.core.room_count(),
            dropped_slow: self
                .core
                .counters
                .dropped_slow
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
    /// Starts a graceful shutdown: stop accepting, close every socket with 1001,
    /// run every `on_disconnect`. `serve` returns once that is done.
    pub fn shutdown(&self) {
        self.core.begin_shutdown();
    }
    /// Waits until a shutdown has started and every connection has finished.
    pub async fn closed(&self) {
        let mut rx = self.core.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
        self.core.wait_idle().await;
    }
}
