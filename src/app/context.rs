//! [`Ctx`]: what a handler gets besides the payload.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use crate::app::ask::Ask;
use crate::app::connection::Connection;
use crate::app::delivery::{Delivery, prepare};
use crate::app::handle::ServerHandle;
use crate::engine::conn::Conn;
use crate::protocol::error::SendError;
use crate::protocol::route::{ClientRequest, Outgoing, ServerReceives, ServerSends};
use crate::protocol::router::Contains;

/// What a handler gets besides the payload: the context data `C`, the app's
/// state `A` ([`Builder::state`](crate::Builder::state)), the client's id and
/// rooms, and typed sending through router `R`.
///
/// It dereferences to the [`Conn`] it came from, so `ctx.id()`, `ctx.join(room)`,
/// `ctx.leave(room)`, `ctx.in_room(room)`, `ctx.rooms()` and `ctx.close(..)` are
/// the connection's own methods.
///
/// `C` is the user data built by `on_connect`, as transformed by the handler's
/// middleware chain. `R` is the app's router: [`Ctx::send`] accepts only its
/// outgoing routes. A type alias keeps handler signatures short:
///
/// ```
/// # struct AppRouter; struct User;
/// type Ctx<C = User> = zocket::Ctx<AppRouter, C>;
/// ```
pub struct Ctx<R, C = (), A = ()> {
    data: C,
    conn: Conn,
    _router: PhantomData<fn() -> (R, A)>,
}

impl<R, C, A> Ctx<R, C, A> {
    pub(crate) fn new(data: C, conn: Conn) -> Self {
        Ctx {
            data,
            conn,
            _router: PhantomData,
        }
    }
    /// The app's state, set with [`Builder::state`](crate::Builder::state):
    /// one value every connection shares (a database pool, caches, the
    /// app's own maps behind their locks). `()` when the app set none.
    pub fn state(&self) -> &A
    where
        A: Send + Sync + 'static,
    {
        self.conn.hub.app_state::<A>()
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
    pub fn map<D>(self, f: impl FnOnce(C) -> D) -> Ctx<R, D, A> {
        Ctx::new(f(self.data), self.conn)
    }
    /// This connection as a `'static` handle for work that outlives the
    /// message: typed sends, and tasks and timers that end with the
    /// connection ([`Connection`]).
    pub fn connection(&self) -> Connection<R>
    where
        R: 'static,
    {
        Connection::new(self.conn.clone())
    }
    /// A handle to the whole server (other clients, rooms, shutdown).
    pub fn server(&self) -> ServerHandle<R> {
        ServerHandle::new(self.conn.hub.clone())
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
        O::Payload: ServerSends<O>,
        R: Contains<O, I>,
    {
        prepare::<R, O, I>(&self.conn.hub, Some(self.conn.id), route, payload)
    }

    /// Asks this client on client request route `route` and, once awaited,
    /// returns its typed answer: the server-to-client counterpart of
    /// [`Client::request`](crate::Client::request). The client answers with
    /// the handler it registered with
    /// [`ClientBuilder::on_request`](crate::ClientBuilder::on_request).
    ///
    /// It waits at most [`Config::ask_timeout`](crate::Config::ask_timeout)
    /// (30 s) unless [`Ask::timeout`](crate::Ask::timeout) says otherwise.
    /// While it waits, the connection keeps reading: the answer is taken as
    /// soon as it arrives, and the client's other messages wait for this
    /// handler, in arrival order (up to 64 messages or 64 KiB; then the
    /// server stops reading from this client until the handler is done).
    /// If the connection ends meanwhile, `ask` returns
    /// [`AskError::Disconnected`](crate::AskError::Disconnected) at once; the
    /// handler runs on for up to [`Config::close_timeout`](crate::Config::close_timeout)
    /// (as every handler still running when its connection ends) before the
    /// connection's `on_disconnect`.
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// # use std::time::Duration;
    /// # use zocket::{ClientRequest, Ctx, HandlerResult, Incoming, Reject};
    /// # #[derive(Serialize, Deserialize, Validate)] struct Question { #[garde(length(min = 1))] text: String }
    /// # #[derive(Serialize, Deserialize, Validate)] struct Answer { #[garde(skip)] yes: bool }
    /// # struct Delete; impl Incoming for Delete { const NAME: &'static str = "delete"; type Payload = (); }
    /// struct Confirm;
    /// impl ClientRequest for Confirm {
    ///     const NAME: &'static str = "confirm";
    ///     type Payload = Question;
    ///     type Response = Answer;
    /// }
    /// # type AppRouter = (Delete, (Confirm, ()));
    ///
    /// async fn delete(_: (), ctx: Ctx<AppRouter>) -> HandlerResult {
    ///     let question = Question { text: "Delete everything?".into() };
    ///     let answer = ctx.ask(Confirm, question).timeout(Duration::from_secs(10)).await?;
    ///     if !answer.yes {
    ///         return Err(Reject::new("not confirmed").into());
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn ask<X, I>(&self, route: X, payload: X::Payload) -> Ask<X>
    where
        X: ClientRequest,
        X::Payload: ServerSends<X>,
        X::Response: ServerReceives<X>,
        R: Contains<X, I>,
    {
        let _ = route;
        Ask::new::<R, I>(self.conn.hub.clone(), self.conn.id, payload)
    }

    /// Sends to this client only; `Ok(false)` if it could not be queued.
    pub fn reply<O, I>(&self, route: O, payload: O::Payload) -> Result<bool, SendError<O::Payload>>
    where
        O: Outgoing,
        O::Payload: ServerSends<O>,
        R: Contains<O, I>,
    {
        Ok(self.send(route, payload)?.to([self.conn.id]) == 1)
    }
}

impl<R, C: fmt::Debug, A> fmt::Debug for Ctx<R, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("id", &self.conn.id)
            .field("data", &self.data)
            .finish()
    }
}

impl<R, C, A> Deref for Ctx<R, C, A> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}
