//! Scope-wide guards: one middleware in front of every handler of a scope,
//! checked at compile time like any chain, for the whole scope.

use std::marker::PhantomData;

use crate::app::builder::Builder;
use crate::app::handler::{Handler, MessageEntry, RequestEntry};
use crate::app::middleware::{Middleware, MiddlewareExt};
use crate::protocol::route::marker_name;
use crate::protocol::route::{Incoming, Namespace, Request, ServerReceives, ServerSends};
use crate::protocol::router::{
    EveryRouteHandled, MarkScope, MarkScoped, Untouched, scope_prefix, scoped_wire_name,
};

/// Registers the handlers of one scope's routes, each behind the scope's
/// guard. Made by [`Builder::scope`]; you never name it.
///
/// `S` is the scope's handler state (its router, each handled route marked),
/// `N` its namespace, `G` the guard.
#[must_use = "return it from the closure given to .scope(..)"]
pub struct ScopedBuilder<R, U, S, N, G, A = ()> {
    builder: Builder<R, U, (), A>,
    /// The scope's full wire-name prefix (`"chat.admin."`).
    prefix: String,
    guard: G,
    _scope: PhantomData<fn() -> (S, N)>,
}

impl<R, U, S, A> Builder<R, U, S, A>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
    A: Send + Sync + 'static,
{
    /// Registers the handlers of every incoming and request route under
    /// `Scope<N, _>` behind one `guard`: every handler registered in `routes`
    /// gets the guard's output as its context data.
    ///
    /// The compiler checks, for the whole scope:
    /// - each route registered in `routes` is inside that scope, and the guard
    ///   runs with the connection's data and the route's payload;
    /// - every incoming and request route of the scope gets its handler in
    ///   `routes` ("no handler for incoming route `Kick`" otherwise);
    /// - no route of the scope takes a handler anywhere else: an `.on(Kick, ..)`
    ///   on the builder, before or after `.scope(AdminNs, ..)`, or a second
    ///   `.scope(AdminNs, ..)`, does not compile. So a guarded scope cannot
    ///   grow an unguarded route by mistake.
    ///
    /// ```
    /// # use garde::Validate; use serde::{Deserialize, Serialize};
    /// use zocket::{Conn, Ctx, HandlerResult, Incoming, Middleware, Namespace, Reject, Scope, Zocket};
    /// # #[derive(Serialize, Deserialize, Validate)]
    /// # struct Target { #[garde(length(min = 1))] name: String }
    /// #[derive(Clone)]
    /// struct User { admin: bool }
    /// struct Admin;
    ///
    /// #[derive(Clone)]
    /// struct RequireAdmin;
    /// impl<P: Sync> Middleware<User, P> for RequireAdmin {
    ///     type Out = Admin;
    ///     async fn call(&self, user: User, _: &P, _: &Conn) -> Result<Admin, Reject> {
    ///         if user.admin { Ok(Admin) } else { Err(Reject::forbidden("admins only")) }
    ///     }
    /// }
    ///
    /// struct AdminNs;
    /// impl Namespace for AdminNs { const NAME: &'static str = "admin"; }
    /// struct Ban;
    /// impl Incoming for Ban { const NAME: &'static str = "ban"; type Payload = Target; }
    /// struct Kick;
    /// impl Incoming for Kick { const NAME: &'static str = "kick"; type Payload = Target; }
    /// type AppRouter = (Scope<AdminNs, (Ban, (Kick, ()))>, ());
    ///
    /// async fn ban(_: Target, _: Ctx<AppRouter, Admin>) -> HandlerResult { Ok(()) }
    /// async fn kick(_: Target, _: Ctx<AppRouter, Admin>) -> HandlerResult { Ok(()) }
    ///
    /// let app = Zocket::<AppRouter>::builder()
    ///     .on_connect(|_: (), _| async { Ok(User { admin: false }) })
    ///     .scope(AdminNs, RequireAdmin, |admin| admin.on(Ban, ban).on(Kick, kick))
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn scope<N, K, G, S2, P, F>(
        self,
        namespace: N,
        guard: G,
        routes: F,
    ) -> Builder<R, U, <S as MarkScope<N, K>>::Out, A>
    where
        N: Namespace,
        S: MarkScope<N, K>,
        <S as MarkScope<N, K>>::Found: Untouched<N, P>,
        S2: EveryRouteHandled<P>,
        G: Clone + Send + Sync + 'static,
        F: FnOnce(
            ScopedBuilder<R, U, <S as MarkScope<N, K>>::Found, N, G, A>,
        ) -> ScopedBuilder<R, U, S2, N, G, A>,
    {
        let _ = namespace;
        let prefix = scope_prefix::<S, N, K>();
        let scoped = routes(ScopedBuilder {
            builder: self.retype(),
            prefix,
            guard,
            _scope: PhantomData,
        });
        scoped.builder.retype()
    }
}

impl<R, U, S, N, G, A> ScopedBuilder<R, U, S, N, G, A>
where
    R: 'static,
    U: Clone + Send + Sync + 'static,
    G: Clone + Send + Sync + 'static,
    A: Send + Sync + 'static,
{
    /// Registers the handler of incoming route `route` of this scope, behind
    /// the scope's guard: `handler` takes `Ctx<R, G::Out>`.
    pub fn on<X, I, H>(mut self, route: X, handler: H) -> ScopedBuilder<R, U, S::Out, N, G, A>
    where
        X: Incoming,
        X::Payload: ServerReceives<X>,
        S: MarkScoped<X, I>,
        G: Middleware<U, X::Payload>,
        H: Handler<R, X::Payload, <G as Middleware<U, X::Payload>>::Out, (), A>,
    {
        let _ = route;
        let name = scoped_wire_name::<S, X, I>(&self.prefix, marker_name!(X));
        let guarded = self.guard.clone().then(handler);
        self.builder
            .push(name, Box::new(MessageEntry::<R, X, _, A, U>::new(guarded)));
        self.retype()
    }

    /// Registers the handler of request route `route` of this scope, behind
    /// the scope's guard.
    pub fn on_request<X, I, H>(
        mut self,
        route: X,
        handler: H,
    ) -> ScopedBuilder<R, U, S::Out, N, G, A>
    where
        X: Request,
        X::Payload: ServerReceives<X>,
        X::Response: ServerSends<X>,
        S: MarkScoped<X, I>,
        G: Middleware<U, X::Payload>,
        H: Handler<R, X::Payload, <G as Middleware<U, X::Payload>>::Out, X::Response, A>,
    {
        let _ = route;
        let name = scoped_wire_name::<S, X, I>(&self.prefix, marker_name!(X));
        let guarded = self.guard.clone().then(handler);
        self.builder
            .push(name, Box::new(RequestEntry::<R, X, _, A, U>::new(guarded)));
        self.retype()
    }

    fn retype<S2>(self) -> ScopedBuilder<R, U, S2, N, G, A> {
        ScopedBuilder {
            builder: self.builder,
            prefix: self.prefix,
            guard: self.guard,
            _scope: PhantomData,
        }
    }
}
