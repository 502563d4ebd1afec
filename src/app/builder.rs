//! The app builder: a typestate that compiles only when every incoming route
//! has exactly one handler.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::app::context::Ctx;
use crate::app::handle::ServerHandle;
use crate::app::headers::{Headers, parse_headers};
use crate::app::presence::{Presence, PresenceDiff, PresenceMeta};
use crate::engine::adapter::{Adapter, DynAdapter};
use crate::engine::config::Config;
use crate::engine::dispatch::{
    ConnectFn, ConnectRefusal, DisconnectFn, ErasedHandler, ExpiryFn, Handlers, ReauthFn, RecoverFn,
};
use crate::engine::hub::Hub;
use crate::engine::metrics::Counters;
use crate::protocol::client_id::ClientId;
use crate::protocol::error::{BuildError, HandlerResult, Reject};
use crate::protocol::route::Outgoing;
use crate::protocol::route::marker_name;
use crate::protocol::router::{
    Contains, EveryRouteHandled, RouteInfo, RouteTable, Router, wire_name,
};

/// A zocket app: a router `R` whose every incoming route has a handler, with
/// per-connection user data `U`.
///
/// Start with [`Zocket::builder`], serve with [`Zocket::serve`].
pub struct Zocket<R, U = ()> {
    pub(crate) handlers: Arc<Handlers<U>>,
    pub(crate) hub: Arc<Hub>,
    routes: Arc<RouteTable>,
    _router: PhantomData<fn() -> R>,
}

impl<R, U> Clone for Zocket<R, U> {
    fn clone(&self) -> Self {
        Zocket {
            handlers: self.handlers.clone(),
            hub: self.hub.clone(),
            routes: self.routes.clone(),
            _router: PhantomData,
        }
    }
}

impl<R> Zocket<R, ()> {
    /// Starts building an app for router `R`.
    ///
    /// `Shape` is inferred from `R` alone, and cannot be written by hand (its
    /// types are private): a route marker that implements two of `Incoming`,
    /// `Outgoing` and `Request` gives `R` two shapes, and this call does not
    /// compile (E0283, naming the marker; see the debugging guide).
    pub fn builder<Shape>() -> Builder<R, (), R>
    where
        R: Router<Shape>,
    {
        Builder {
            config: Config::default(),
            adapter: None,
            on_connect: Arc::new(|_, _| Box::pin(async { Ok(()) })),
            on_disconnect: None,
            on_recover: None,
            on_reauth: None,
            expiry: None,
            attach: Vec::new(),
            handlers: Vec::new(),
            state: Arc::new(()),
            _types: PhantomData,
        }
    }
}

impl<R, U> Zocket<R, U> {
    /// A handle for sending and managing the server from outside handlers.
    pub fn handle(&self) -> ServerHandle<R> {
        ServerHandle::new(self.hub.clone())
    }
    /// Every route of the router, with wire names and directions.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes.routes
    }
}

/// Builds a [`Zocket`] app. See [`Zocket::builder`].
///
/// Type parameters: `R` the router; `U` the per-connection data made by
/// `on_connect`; `S` the handler state (the router with each handled route
/// marked); `A` the app's state ([`Builder::state`], `()` by default). You
/// never write `S`.
#[must_use = "call .build() to get the app"]
pub struct Builder<R, U, S, A = ()> {
    config: Config,
    adapter: Option<DynAdapter>,
    on_connect: ConnectFn<U>,
    on_disconnect: Option<DisconnectFn<U>>,
    on_recover: Option<RecoverFn<U>>,
    /// Set in `app::reauth`.
    pub(super) on_reauth: Option<ReauthFn<U>>,
    pub(super) expiry: Option<ExpiryFn<U>>,
    /// Run with the app's hub at `build` (presence attachments).
    attach: Vec<Attach>,
    handlers: Vec<(String, Box<dyn ErasedHandler<U>>)>,
    /// The app's state (`Builder::state`), `()` until set.
    state: Arc<dyn std::any::Any + Send + Sync>,
    _types: crate::util::Types<(R, S, A)>,
}

/// Something to do with the app's hub once it exists.
type Attach = Box<dyn FnOnce(&Arc<Hub>) + Send>;

/// A builder on which no handler is registered yet: the only place
/// [`Builder::on_connect`] can go, since handlers take the data it makes.
///
/// You never implement or name it; it is here so that calling `.on_connect(..)`
/// too late reads as a sentence.
#[diagnostic::on_unimplemented(
    message = "`.on_connect(..)` must come before the first `.on(..)` or `.on_request(..)`",
    label = "handlers are already registered on this builder",
    note = "handlers receive the data `on_connect` makes: call `.on_connect(..)` right after `Zocket::builder()`"
)]
pub trait BeforeHandlers<R, A> {
    #[doc(hidden)]
    fn fresh(self) -> Builder<R, (), R, A>;
}

impl<R, A> BeforeHandlers<R, A> for Builder<R, (), R, A> {
    fn fresh(self) -> Self {
        self
    }
}

impl<R, U, S, A> Builder<R, U, S, A>
where
    R: 'static,
{
    /// Sets how a connection starts: `f` gets the validated handshake headers
    /// (`H`, any serde + garde type; `()` when the app needs none) and the new
    /// client's id, and returns the connection's data `U` or a [`Reject`]
    /// (answered with 401/403, no socket).
    ///
    /// Call it before registering handlers: they receive `Ctx<R, U>`.
    pub fn on_connect<H, U2, F, Fut>(self, f: F) -> Builder<R, U2, R, A>
    where
        Self: BeforeHandlers<R, A>,
        H: Headers,
        U2: Clone + Send + Sync + 'static,
        F: Fn(H, ClientId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U2, Reject>> + Send + 'static,
    {
        let this = self.fresh();
        let f = Arc::new(f);
        let on_connect: ConnectFn<U2> = Arc::new(move |map, id| {
            let f = f.clone();
            Box::pin(async move {
                let headers = parse_headers::<H>(map).map_err(ConnectRefusal::InvalidHeaders)?;
                f(headers, id).await.map_err(ConnectRefusal::Rejected)
            })
        });
        let on_disconnect = this.on_disconnect.map(|old| -> DisconnectFn<U2> {
            Arc::new(move |conn, _data: U2, rooms| old(conn, (), rooms))
        });
        let on_recover = this
            .on_recover
            .map(|old| -> RecoverFn<U2> { Arc::new(move |conn, _data: U2| old(conn, ())) });
        // Set before `on_connect`, they were written for data `()`: the
        // re-authentication checks the new credentials and keeps the data
        // `on_connect` made; the expiry is the same for every connection.
        let on_reauth = this.on_reauth.map(|old| -> ReauthFn<U2> {
            Arc::new(move |map, id, data: U2| {
                let checked = old(map, id, ());
                Box::pin(async move { checked.await.map(|()| data) })
            })
        });
        let expiry = this
            .expiry
            .map(|old| -> ExpiryFn<U2> { Arc::new(move |_: &U2| old(&())) });
        Builder {
            config: this.config,
            adapter: this.adapter,
            on_connect,
            on_disconnect,
            on_recover,
            on_reauth,
            expiry,
            attach: this.attach,
            handlers: Vec::new(),
            state: this.state,
            _types: PhantomData,
        }
    }
}

impl<R, U, S> Builder<R, U, S, ()> {
    /// The same builder with the app state `state` of type `A2` (see
    /// `app::state`). Hooks set before keep running; their contexts have no
    /// state (`()`), as their closures were written for.
    pub(super) fn with_state<A2>(
        self,
        state: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Builder<R, U, S, A2> {
        let mut next = self.rebuild();
        next.state = state;
        next
    }
}

impl<R, U, S, A> Builder<R, U, S, A> {
    /// The same parts under other type parameters; the caller proves the step.
    fn rebuild<S2, A2>(self) -> Builder<R, U, S2, A2> {
        Builder {
            config: self.config,
            adapter: self.adapter,
            on_connect: self.on_connect,
            on_disconnect: self.on_disconnect,
            on_recover: self.on_recover,
            on_reauth: self.on_reauth,
            expiry: self.expiry,
            attach: self.attach,
            handlers: self.handlers,
            state: self.state,
            _types: PhantomData,
        }
    }
}

impl<R, U, S, A> Builder<R, U, S, A>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
    A: Send + Sync + 'static,
{
    /// Sets the server configuration (limits, policies, path, pages).
    pub fn config(mut self, config: Config) -> Self {
        let contract = self.config.contract.take();
        self.config = config;
        self.config.contract = self.config.contract.take().or(contract);
        self
    }

    /// Declares the app's contract (its router, and `H`, the handshake data
    /// type of `on_connect`; `()` for none), so the server can tell when a
    /// client was built against another one: clients generated from a
    /// [`Contract`](crate::contract::Contract) send its fingerprint in the
    /// handshake (`zocket-contract`). On a mismatch, `check` decides:
    /// [`ContractCheck::Warn`](crate::contract::ContractCheck) logs the routes
    /// that differ and accepts; `Strict` refuses with HTTP 409 naming them.
    /// Clients that send no fingerprint are accepted either way. Needs the
    /// `schema` feature; `Shape` is inferred (`.contract::<Hello, _>(..)`).
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// use schemars::JsonSchema;
    /// use zocket::contract::ContractCheck;
    /// use zocket::{Incoming, Zocket};
    /// # #[derive(Serialize, Deserialize, Validate, JsonSchema)]
    /// # struct Text { #[garde(length(chars, min = 1))] text: String }
    /// struct Post;
    /// impl Incoming for Post {
    ///     const NAME: &'static str = "post";
    ///     type Payload = Text;
    /// }
    /// type AppRouter = (Post, ());
    ///
    /// let app = Zocket::<AppRouter>::builder()
    ///     .contract::<(), _>(ContractCheck::Strict)
    ///     .on(Post, |_: Text, _ctx: zocket::Ctx<AppRouter>| async { Ok(()) })
    ///     .build()
    ///     .unwrap();
    /// # let _ = app;
    /// ```
    #[cfg(feature = "schema")]
    pub fn contract<H, Shape>(
        mut self,
        check: crate::protocol::contract::identity::ContractCheck,
    ) -> Self
    where
        H: schemars::JsonSchema,
        R: crate::protocol::router::describe::Describe<Shape>,
    {
        let contract =
            crate::protocol::contract::document::Contract::of::<R, Shape>().with_handshake::<H>();
        self.config.contract = Some((Arc::new(contract.identity()), check));
        self
    }

    /// Scales out: room sends, broadcasts and sends to client ids also reach
    /// the clients of other server processes through `adapter` (for example
    /// `RedisAdapter` with the `redis` feature). The
    /// default is in-process delivery.
    pub fn adapter(mut self, adapter: impl Adapter) -> Self {
        self.adapter = Some(Arc::new(adapter));
        self
    }

    /// Runs `f` once for every connection that closes, for whatever reason,
    /// after it has left all its rooms. `f` gets a context (to notify others) and
    /// the rooms the client was in.
    pub fn on_disconnect<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Ctx<R, U, A>, Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let f = Arc::new(f);
        self.on_disconnect = Some(Arc::new(move |conn, data, rooms| {
            let f = f.clone();
            Box::pin(async move { f(Ctx::new(data, conn), rooms).await })
        }));
        self
    }

    /// Runs `f` when a client resumes its dropped session (connection-state
    /// recovery, [`Config::recovery`]): after `on_connect` accepted it again
    /// and the messages it missed were queued, before its first message is
    /// handled. Its id and rooms are the session's; `f` gets a context for it.
    /// `ctx.conn().recovered()` tells the same in any handler.
    pub fn on_recover<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Ctx<R, U, A>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let f = Arc::new(f);
        self.on_recover = Some(Arc::new(move |conn, data| {
            let f = f.clone();
            Box::pin(async move { f(Ctx::new(data, conn)).await })
        }));
        self
    }

    /// Attaches `presence`: its diffs go to the room's members on `route`,
    /// an outgoing route of this router carrying [`PresenceDiff`](crate::presence::PresenceDiff)s
    /// of its metadata type, and a session's entries are removed when it ends.
    pub fn presence<M, O, I>(mut self, presence: &Presence<M>, route: O) -> Self
    where
        M: PresenceMeta,
        O: Outgoing<Payload = PresenceDiff<M>>,
        R: Contains<O, I>,
    {
        let _ = route;
        let name = wire_name::<R, O, I>(marker_name!(O));
        let presence = presence.clone();
        self.attach
            .push(Box::new(move |hub| presence.attach(name, hub)));
        self
    }

    /// Adds an erased entry and moves to the next handler state `S2`.
    pub(super) fn register<S2>(
        mut self,
        name: String,
        entry: Box<dyn ErasedHandler<U>>,
    ) -> Builder<R, U, S2, A> {
        self.push(name, entry);
        self.retype()
    }

    /// Adds an erased entry under its wire name; the handler state is the caller's.
    pub(super) fn push(&mut self, name: String, entry: Box<dyn ErasedHandler<U>>) {
        self.handlers.push((name, entry));
    }

    /// The same builder with handler state `S2`: the caller proved the step.
    pub(super) fn retype<S2>(self) -> Builder<R, U, S2, A> {
        self.rebuild()
    }

    /// Builds the app: compiles only when every incoming route has a handler.
    ///
    /// # Errors
    ///
    /// [`BuildError`] when two routes share a wire name or a name is malformed.
    pub fn build<Shape>(self) -> Result<Zocket<R, U>, BuildError>
    where
        R: Router<Shape>,
        S: EveryRouteHandled<Shape>,
    {
        let routes = RouteTable::of::<R, Shape>()?;
        let mut table: HashMap<Box<str>, Box<dyn ErasedHandler<U>>> =
            HashMap::with_capacity(self.handlers.len());
        for (name, entry) in self.handlers {
            table.insert(name.into_boxed_str(), entry);
        }
        debug_assert!(
            routes
                .incoming()
                .all(|r| table.contains_key(r.name.as_str()))
        );
        Ok(Zocket {
            handlers: Arc::new(Handlers {
                table,
                on_connect: self.on_connect,
                on_disconnect: self.on_disconnect,
                on_recover: self.on_recover,
                on_reauth: self.on_reauth,
                expiry: self.expiry,
            }),
            hub: {
                let timed = self.config.records_timings();
                let hub = Hub::new(
                    self.config,
                    Counters::new(&routes.routes, timed),
                    self.adapter,
                );
                hub.set_app_state(self.state);
                for attach in self.attach {
                    attach(&hub);
                }
                hub
            },
            routes: Arc::new(routes),
            _router: PhantomData,
        })
    }
}
